"""Billing vocabulary, and the currencies' minor units."""

from __future__ import annotations

from django.db import models

# ISO 4217 minor units (the exponent: 2 decimals for EUR) of the currencies where they are not 2.
# Pricing rounds to them; a provider that counts otherwise says so next to its own conversion.
ISO_4217_MINOR_UNITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),  # noqa: SIM905
}


def currency_exponent(code: str) -> int:
    """The currency's ISO 4217 minor unit: 2 for EUR, 0 for JPY, 3 for KWD."""
    return ISO_4217_MINOR_UNITS.get(code.upper(), 2)


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
