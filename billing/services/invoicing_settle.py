"""What pays an open invoice: the payments linked to it (the driver's saved card charged later, see
invoicing_card.py), or staff recording a payment made outside the card provider (a bank transfer,
cash at the desk) with its reference.

An invoice is paid once what its payments took covers what is due on it: its gross less what its
credit notes credit. Refunds of those payments do not reopen it; they are credited by credit notes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.domain import InvoiceKind, InvoiceStatus
from billing.models import Invoice, Payment
from billing.services.invoicing import PAID_STATUSES
from billing.services.invoicing_credit import invoice_credited
from billing.services.pricing import money_round

PAYABLE = (InvoiceKind.INVOICE, InvoiceKind.STATEMENT)


def invoice_amount_due(invoice: Invoice) -> Decimal:
    """What is left to pay on a document: its gross, less credits, less what its payments took."""
    taken = Payment.objects.filter(invoice=invoice, status__in=PAID_STATUSES).aggregate(
        total=Sum("amount_captured")
    )["total"] or Decimal(0)
    return money_round(invoice.gross - invoice_credited(invoice) - taken, invoice.currency)


def invoice_settle(*, invoice_id: int) -> Invoice:
    """Mark an open invoice paid when its payments (and credits) cover it; otherwise leave it open."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if (
            invoice.status == InvoiceStatus.OPEN
            and invoice.kind in PAYABLE
            and invoice_amount_due(invoice) <= 0
        ):
            invoice.status, invoice.paid_at = InvoiceStatus.PAID, timezone.now()
            invoice.save(update_fields=["status", "paid_at"])
        return invoice


def invoice_mark_paid(*, invoice: Invoice, reference: str, paid_at: datetime | None = None) -> Invoice:
    """Record that an open invoice was paid outside the card provider, with the payment's reference.

    Marking it again with the same reference changes nothing (a resent form); another reference
    for a paid invoice is refused."""
    reference = reference.strip()
    if not reference:
        raise ValidationError("Say how it was paid (e.g. the bank transfer's reference).")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind not in PAYABLE:
            raise ValidationError(f"{invoice.code} is not an invoice or statement.")
        if invoice.status == InvoiceStatus.PAID:
            if invoice.payment_reference == reference:
                return invoice
            raise ValidationError(f"{invoice.code} is paid already.")
        if invoice.status != InvoiceStatus.OPEN:
            raise ValidationError(f"{invoice.code} is not open.")
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = paid_at or timezone.now()
        invoice.payment_reference = reference
        invoice.save(update_fields=["status", "paid_at", "payment_reference"])
        return invoice
