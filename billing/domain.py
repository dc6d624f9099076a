"""Billing vocabulary, and how finely each currency's amounts go."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


@dataclass(frozen=True)
class CurrencyUnits:
    """A currency's exponents: how many decimals its amounts carry, by whom they are counted."""

    iso: int  # ISO 4217 minor unit: 2 for EUR, 0 for JPY, 3 for KWD
    # The finest amount a card charge can carry; pricing rounds every amount to it, so that what is
    # invoiced is what can be charged. It is ISO's, except where Stripe (the card gateway) says less.
    charge: int
    # The decimals of Stripe's integer `amount` (500 for 5 ISK): only payments/stripe.py uses it.
    stripe: int


# The one table of currencies whose exponents are not 2, 2, 2 (EUR, USD and most others), from ISO
# 4217 and https://docs.stripe.com/currencies (zero-decimal, three-decimal and special cases):
# - zero-decimal in both: amounts are whole units everywhere;
# - MGA: ISO gives 2 decimals, Stripe counts whole ariary (a zero-decimal currency there);
# - ISK and UGX: whole units (ISO 0), which Stripe still takes as two-decimal values ending in 00
#   ("to charge 5 UGX, provide an amount value of 500"); a fraction is refused;
# - BHD JOD KWD OMR TND: ISO 3 decimals, and Stripe takes three, but its partners need the last one
#   to be 0: 5.124 KWD cannot be charged, so amounts go in steps of 0.010;
# - HUF and TWD are zero-decimal at Stripe for payouts only; charges keep their 2 decimals;
# - IQD and LYD (ISO 3) are not Stripe currencies; ISO's exponent stands.
CURRENCY_UNITS: dict[str, CurrencyUnits] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF JPY KMF KRW PYG RWF VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        CurrencyUnits(iso=0, charge=0, stripe=0),
    ),
    "MGA": CurrencyUnits(iso=2, charge=0, stripe=0),
    "ISK": CurrencyUnits(iso=0, charge=0, stripe=2),
    "UGX": CurrencyUnits(iso=0, charge=0, stripe=2),
    **dict.fromkeys("BHD JOD KWD OMR TND".split(), CurrencyUnits(iso=3, charge=2, stripe=3)),  # noqa: SIM905
    "HUF": CurrencyUnits(iso=2, charge=2, stripe=2),
    "TWD": CurrencyUnits(iso=2, charge=2, stripe=2),
    **dict.fromkeys("IQD LYD".split(), CurrencyUnits(iso=3, charge=3, stripe=3)),  # noqa: SIM905
}
DECIMAL_CURRENCY = CurrencyUnits(iso=2, charge=2, stripe=2)


def currency_units(code: str) -> CurrencyUnits:
    """The currency's exponents (ISO 4217, chargeable, Stripe's)."""
    return CURRENCY_UNITS.get(code.upper(), DECIMAL_CURRENCY)


def currency_exponent(code: str) -> int:
    """The currency's ISO 4217 minor unit: 2 for EUR, 0 for JPY, 3 for KWD."""
    return currency_units(code).iso


def charge_exponent(code: str) -> int:
    """The decimals an amount in the currency can be charged with: 2 for EUR, 0 for MGA, 2 for KWD."""
    return currency_units(code).charge


class PriceLineKind(models.TextChoices):
    ENERGY = "energy", "Energy"
    TIME = "time", "Charging time"
    IDLE = "idle", "Idle time"
    SESSION_FEE = "session_fee", "Session fee"


class PaymentMethodKind(models.TextChoices):
    SAVED_CARD = "saved_card", "Saved card, charged after the session"
    CARD_HOLD = "card_hold", "Card held before the session, captured after"
    ACCOUNT = "account", "On account (monthly statement)"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REQUIRES_ACTION = "requires_action", "Needs the driver (authentication)"
    AUTHORIZED = "authorized", "Held"
    CAPTURED = "captured", "Paid"
    CANCELED = "canceled", "Hold released"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
    DISPUTED = "disputed", "Disputed"


class PaymentEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    HANDLED = "handled", "Handled"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class InvoiceKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"  # a paid session
    INVOICE = "invoice", "Invoice"  # a session on account
    CREDIT_NOTE = "credit_note", "Credit note"
    STATEMENT = "statement", "Monthly statement"


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"
