"""Credit notes: a receipt, invoice or statement credited (a refund, a staff correction), once per key;
and the reversal that cancels a credit note whose refund failed.

Amounts of a credit note are negative, so sums over documents give what was billed. A reversal is a
credit note of the opposite sign for the same document, in the same series, pointing at the note it
cancels (`reverses`): documents are never edited or deleted, and the books read receipt + note +
reversal = what the driver paid and kept paying.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from billing.domain import InvoiceKind, InvoiceStatus
from billing.models import Invoice
from billing.services.invoicing import CENT, document_line, invoice_create_numbered, money_text

CREDITABLE = (InvoiceKind.RECEIPT, InvoiceKind.INVOICE, InvoiceKind.STATEMENT)


def credit_note_for_key(idempotency_key: str) -> Invoice | None:
    """The credit note issued under `idempotency_key` (a provider's refund id, a staff form's token)."""
    return Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE, idempotency_key=idempotency_key).first()


def invoice_credited(invoice: Invoice) -> Decimal:
    """How much of a document its credit notes credit now (reversals count back): a positive amount."""
    return -(invoice.credit_notes.aggregate(total=Sum("gross"))["total"] or Decimal(0))


def credit_note_issue(
    *, invoice: Invoice, amount: Decimal, reason: str, idempotency_key: str | None = None
) -> Invoice:
    """Credit `amount` (gross, tax included) of an invoice or receipt; never more than is left of it.

    Issued again with the same `idempotency_key`, it returns the note issued the first time."""
    if invoice.kind not in CREDITABLE:
        raise ValidationError("Only invoices, receipts and statements can be credited.")
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise ValidationError("The amount to credit must be positive.")
    with transaction.atomic():
        original = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # The original's lock queues a concurrent issue with the same key behind this one.
        if idempotency_key and (issued := credit_note_for_key(idempotency_key)) is not None:
            if issued.credit_for_id != original.pk:
                raise ValidationError(f"The key {idempotency_key} credited another document.")
            return issued
        left = original.gross - invoice_credited(original)
        if amount > left:
            raise ValidationError(
                f"Only {money_text(left)} {original.currency} of {original.code} is left to credit."
            )
        tax = (amount * original.tax / original.gross).quantize(CENT, rounding=ROUND_HALF_UP)
        return _credit_document(
            original,
            net=-(amount - tax),
            tax=-tax,
            gross=-amount,
            lines=[document_line(f"Credit for {original.code}: {reason}", -amount)],
            status=InvoiceStatus.OPEN,
            idempotency_key=idempotency_key or None,
        )


def _credit_document(original: Invoice, **fields: Any) -> Invoice:
    """A numbered credit note against `original`, for its customer and in its currency."""
    return invoice_create_numbered(
        organization=original.organization,
        kind=InvoiceKind.CREDIT_NOTE,
        session=original.session,
        user=original.user,
        customer_organization=original.customer_organization,
        credit_for=original,
        currency=original.currency,
        **fields,
    )


def credit_note_reverse(*, note: Invoice, reason: str) -> Invoice:
    """Cancel a credit note with its reversal (once per note): the credit it gave is billed again.

    For a refund that failed or was canceled after its note was issued: the money stayed with the
    operator, so the document it credited is owed (or paid) in full again."""
    if note.kind != InvoiceKind.CREDIT_NOTE or note.credit_for_id is None or note.reverses_id is not None:
        raise ValidationError("Only a credit note can be reversed, and a reversal is not.")
    with transaction.atomic():
        # The credited document's lock, as credit_note_issue takes it: notes and reversals queue.
        original = Invoice.objects.select_for_update().get(pk=note.credit_for_id)
        if (done := Invoice.objects.filter(reverses=note).first()) is not None:
            return done
        return _credit_document(
            original,
            reverses=note,
            net=-note.net,
            tax=-note.tax,
            gross=-note.gross,
            lines=[document_line(f"Cancels credit note {note.code}: {reason}", -note.gross)],
            status=InvoiceStatus.OPEN,
        )
