"""Billing vocabulary."""

from __future__ import annotations

from django.db import models


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
