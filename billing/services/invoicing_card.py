"""An open invoice charged to the driver's saved card later (the rest of a card-paid session that
cost more than its hold, a session billed on account before the driver saved a card).

The charge is one Payment linked to the invoice; when it is captured (now, or by a webhook after the
driver authenticated it) invoicing_settle.py closes the invoice. A session's earlier declined charge
for the same money is taken over as the next attempt rather than left beside a new one.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import Invoice, Payment
from billing.services.invoicing import PAID_STATUSES
from billing.services.invoicing_settle import invoice_amount_due, invoice_settle
from billing.services.payments import payment_charge_off_session, saved_card_of


def _payment_for_invoice(invoice: Invoice, due: Decimal) -> Payment:
    """The invoice's card payment to try now: its own not yet paid, the session's unlinked declined
    one, or a new one. Run inside the transaction holding the invoice's lock."""
    mine = Q(invoice=invoice) | Q(invoice__isnull=True, session_id=invoice.session_id)
    payment = (
        Payment.objects.select_for_update()
        .filter(mine, method=PaymentMethodKind.SAVED_CARD, session_id=invoice.session_id)
        .exclude(status__in=PAID_STATUSES)
        .order_by("pk")
        .first()
    )
    if payment is None:
        return Payment.objects.create(
            session_id=invoice.session_id,
            invoice=invoice,
            user=invoice.user,
            method=PaymentMethodKind.SAVED_CARD,
            status=PaymentStatus.PENDING,
            currency=invoice.currency,
            amount_authorized=due,
            attempts=1,
        )
    payment.invoice = invoice
    if payment.status == PaymentStatus.FAILED:
        # A new attempt, a new idempotency key; a pending one replays its attempt's outcome.
        payment.status, payment.attempts, payment.amount_authorized = (
            PaymentStatus.PENDING,
            payment.attempts + 1,
            due,
        )
    payment.next_attempt_at = None  # charged from here now, not by the billing run's retries
    payment.save(
        update_fields=["invoice", "status", "attempts", "amount_authorized", "next_attempt_at", "updated_at"]
    )
    return payment


def invoice_charge_saved_card(*, invoice: Invoice) -> Payment:
    """Charge what is due on a session's open invoice to its driver's default saved card, off session.

    A decline leaves the payment failed with the bank's message and the invoice open; a bank asking
    for authentication leaves it waiting for the driver (mailed a link, as any off-session charge).
    ProviderUnavailable propagates: calling again repeats the same attempt."""
    if invoice.kind != InvoiceKind.INVOICE or invoice.session_id is None or invoice.user_id is None:
        raise ValidationError("Only a driver's invoice for a session is charged to their saved card.")
    if (saved := saved_card_of(invoice.user_id)) is None:
        raise ValidationError(f"The driver of {invoice.code} has no saved card.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.OPEN:
            raise ValidationError(f"{invoice.code} is not open.")
        due = invoice_amount_due(invoice)
        if due <= 0:
            raise ValidationError(f"Nothing is left to pay on {invoice.code}.")
        payment = _payment_for_invoice(invoice, due)
    if payment.status != PaymentStatus.PENDING:
        return payment  # waiting for the driver's authentication
    payment = payment_charge_off_session(
        payment,
        saved=saved,
        amount=payment.amount_authorized,
        description=f"Invoice {invoice.code}",
        metadata={"invoice": invoice.code, "session": str(invoice.session_id)},
    )
    if payment.status in PAID_STATUSES:
        invoice_settle(invoice_id=invoice.pk)
    return payment
