"""Refunds made at the provider, mirrored in the books: one credit note per refund, a reversal when
a refund fails or is canceled after it was credited.

Whatever the order of the events (a second refund's event first, both refunds already made when the
first event is handled, a redelivery), the handler re-fetches the payment with all its refunds and
brings the credit notes in line with them:
- a refund pending or succeeded gets a credit note keyed by its id, for its amount, but never more
  than the document has left to credit against what was refunded in all (a refund made for a credit
  note staff issued, payments.payment_refund, is covered by that note and gets none);
- a refund that failed or was canceled gets its credit note, if any, cancelled by a reversal
  (invoicing_credit.credit_note_reverse): the money stayed with the operator, so the document is
  paid in full again. A receipt stays paid; an invoice's status follows its payments.

A refund made before the session's document exists is credited when the billing run issues it
(payment_refunds_sync), from the provider's refunds re-fetched then.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from billing.models import Invoice, Payment
from billing.payments.base import ProviderRefund
from billing.services.invoicing_credit import (
    credit_note_for_key,
    credit_note_issue,
    credit_note_reverse,
    invoice_credited,
)
from billing.services.payments import gateway_required, payment_record
from stations.models import ChargingSession

REFUNDED = ("pending", "succeeded")
UNDONE = ("failed", "canceled")


def payment_refunds_credit(payment: Payment, refunds: Sequence[ProviderRefund]) -> list[Invoice]:
    """Credit the payment's document for its refunds (oldest first) and reverse the credits of those
    that failed; returns the notes and reversals issued now. Nothing happens while the payment has
    no document. Run inside the transaction that locked the payment."""
    if payment.invoice_id is None or not refunds:
        return []
    issued: list[Invoice] = []
    with transaction.atomic():
        # The document's lock, taken first, queues concurrent handlers of the same payment's refunds.
        document = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
        for refund in refunds:
            note = credit_note_for_key(refund.id)
            if refund.status in UNDONE and note is not None and not hasattr(note, "reversal"):
                issued.append(credit_note_reverse(note=note, reason=f"refund {refund.id} {refund.status}"))
        refunded = sum((r.amount for r in refunds if r.status in REFUNDED), Decimal(0))
        for refund in refunds:
            if refund.status not in REFUNDED or credit_note_for_key(refund.id) is not None:
                continue
            room = min(refunded, document.gross) - invoice_credited(document)
            if (amount := min(refund.amount, room)) > 0:
                issued.append(
                    credit_note_issue(
                        invoice=document,
                        amount=amount,
                        reason=f"refund {refund.id}",
                        idempotency_key=refund.id,
                    )
                )
    return issued


def payment_refunds_sync(*, session: ChargingSession) -> list[Invoice]:
    """Credit refunds the session's payments had before its document was issued (re-fetched now).

    Asks the provider only about payments whose stored refunds are not all credited yet; raises
    ProviderUnavailable for the billing run to retry."""
    issued: list[Invoice] = []
    for payment in Payment.objects.filter(session=session, amount_refunded__gt=0, invoice__isnull=False):
        assert payment.invoice is not None  # filtered on
        if invoice_credited(payment.invoice) >= min(payment.amount_refunded, payment.invoice.gross):
            continue
        remote = gateway_required().payment_retrieve(payment.provider_reference or "")
        payment = payment_record(payment, remote)
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment.pk)
            issued += payment_refunds_credit(payment, remote.refunds)
    return issued
