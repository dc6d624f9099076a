"""The payment provider's webhooks: each verified event stored once and applied once.

Webhooks are a trigger: the handler re-fetches the PaymentIntent (or SetupIntent) and applies what the
provider has now, so events that arrive late, twice or out of order do no harm. Refunds are credited
(and failed ones reversed) from the re-fetched list of all the payment's refunds: payment_refunds.py.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.domain import InvoiceStatus, PaymentEventStatus, PaymentMethodKind, PaymentStatus
from billing.models import BillingCustomer, Invoice, Payment, PaymentEvent
from billing.payments.base import ProviderEvent, ProviderPayment
from billing.services.payment_mail import payment_action_notify
from billing.services.payment_methods import payment_method_saved
from billing.services.payment_refunds import payment_refunds_credit
from billing.services.payments import gateway_required, payment_apply, payment_invoice_follow

logger = logging.getLogger(__name__)

PAYMENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.amount_capturable_updated",
    "payment_intent.requires_action",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.closed",
}


def payment_webhook_receive(*, event: ProviderEvent) -> PaymentEvent:
    """Store a verified event (once per event id) and handle it unless it was handled before."""
    try:
        with transaction.atomic():
            record, _ = PaymentEvent.objects.get_or_create(
                event_id=event.id,
                defaults={"provider": "stripe", "event_type": event.type, "payload": event.payload},
            )
    except IntegrityError:
        record = PaymentEvent.objects.get(event_id=event.id)
    if record.status in (PaymentEventStatus.HANDLED, PaymentEventStatus.IGNORED):
        return record
    return payment_event_handle(event=record)


def payment_event_handle(*, event: PaymentEvent) -> PaymentEvent:
    """Apply one stored event; marks it handled, ignored (not about our payments) or failed."""
    try:
        with transaction.atomic():
            event = PaymentEvent.objects.select_for_update().get(pk=event.pk)
            if event.status in (PaymentEventStatus.HANDLED, PaymentEventStatus.IGNORED):
                return event  # a concurrent delivery of the same event got here first
            outcome, error = _dispatch(event)
            event.status, event.error, event.handled_at = outcome, error, timezone.now()
            event.save(update_fields=["status", "error", "handled_at"])
    except Exception as failure:  # recorded, and answered 500 so that Stripe delivers it again
        logger.exception("Payment event %s (%s) failed", event.event_id, event.event_type)
        event.status, event.error = PaymentEventStatus.FAILED, repr(failure)[:500]
        event.save(update_fields=["status", "error"])
    return event


def _dispatch(event: PaymentEvent) -> tuple[PaymentEventStatus, str]:
    obj = event.payload["data"]["object"]
    if event.event_type == "setup_intent.succeeded":
        return _setup_succeeded(obj["id"])
    if event.event_type not in PAYMENT_EVENTS:
        return PaymentEventStatus.IGNORED, "Not an event billing handles."
    intent_id = obj["id"] if obj.get("object") == "payment_intent" else obj.get("payment_intent")
    if not intent_id:
        return PaymentEventStatus.IGNORED, "No PaymentIntent in the event."
    remote = gateway_required().payment_retrieve(intent_id)
    payment = Payment.objects.select_for_update().filter(provider_reference=remote.id).first()
    if payment is None and remote.metadata.get("payment", "").isdigit():
        # Our own call may not have stored the reference yet; an older attempt's intent is not adopted.
        candidate = Payment.objects.select_for_update().filter(pk=int(remote.metadata["payment"])).first()
        if candidate is not None and candidate.provider_reference is None:
            payment = candidate
    if payment is None:
        return PaymentEventStatus.IGNORED, f"No payment of ours for {remote.id}."
    _sync(payment, remote, event.event_type, obj)
    payment_refunds_credit(payment, remote.refunds)  # every refund so far, whichever this event is about
    if (
        payment.method == PaymentMethodKind.CARD_HOLD
        and payment.status == PaymentStatus.AUTHORIZED
        and payment.id_token_id is None
    ):
        # Held at a charger, and the driver's browser has not come back (yet): start the session.
        from billing.tasks import card_hold_session_start_task

        payment_id = payment.pk
        transaction.on_commit(lambda: card_hold_session_start_task.delay(payment_id=payment_id))
    return PaymentEventStatus.HANDLED, ""


def _sync(payment: Payment, remote: ProviderPayment, event_type: str, obj: dict) -> None:
    before = payment.status
    fields = payment_apply(payment, remote)
    if event_type == "charge.dispute.created" or (before == PaymentStatus.DISPUTED and remote.disputed):
        payment.status = PaymentStatus.DISPUTED  # only the dispute's close moves a payment out of it
    if event_type == "charge.dispute.closed":
        if obj.get("status") == "lost":
            payment.status, payment.failure_message = (
                PaymentStatus.DISPUTED,
                "Dispute lost: the money went back.",
            )
        else:
            payment.status = remote.status
    if before == PaymentStatus.REQUIRES_ACTION and payment.status == PaymentStatus.FAILED:
        payment.status = PaymentStatus.REQUIRES_ACTION  # the failed event of our own off-session attempt
    payment.save(update_fields=fields)
    payment_invoice_follow(payment)
    payment_action_notify(payment, before)
    if event_type == "charge.dispute.closed" and obj.get("status") == "lost" and payment.invoice_id:
        # The cardholder got the money back: the session is unpaid again.
        Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.PAID).update(
            status=InvoiceStatus.OPEN
        )


def _setup_succeeded(setup_id: str) -> tuple[PaymentEventStatus, str]:
    setup = gateway_required().setup_retrieve(setup_id)
    customer = (
        BillingCustomer.objects.select_related("user").filter(provider_customer_id=setup.customer_id).first()
    )
    if customer is None or not setup.succeeded or not setup.payment_method_id:
        return PaymentEventStatus.IGNORED, "Not a completed setup of one of our customers."
    payment_method_saved(user=customer.user, provider_payment_method_id=setup.payment_method_id)
    return PaymentEventStatus.HANDLED, ""
