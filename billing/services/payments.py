"""Card payments: drivers' saved cards, charging them after a session, and the provider's webhooks.

Provider calls happen outside database transactions (a slow provider must not hold row locks); each
one carries an idempotency key derived from our ids, so a retried task repeats nothing at the
provider. Webhooks are a trigger: the handler re-fetches the PaymentIntent (or SetupIntent) and
applies what the provider has now, so events that arrive late, twice or out of order do no harm.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing.domain import InvoiceStatus, PaymentEventStatus, PaymentMethodKind, PaymentStatus
from billing.models import BillingCustomer, Invoice, Payment, PaymentEvent, SavedPaymentMethod, SessionPrice
from billing.payments.base import (
    ActionRequired,
    NotTheDriversMethod,
    PaymentDeclined,
    PaymentGateway,
    PaymentsNotConfigured,
    ProviderEvent,
    ProviderPayment,
    SetupIncomplete,
    gateway,
)
from billing.services.invoicing import credit_note_for_key, credit_note_issue, invoice_for_session
from stations.models import ChargingSession

logger = logging.getLogger(__name__)

PAID = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def _gateway() -> PaymentGateway:
    if (found := gateway()) is None:
        raise PaymentsNotConfigured("Card payments are not configured (STRIPE_SECRET_KEY).")
    return found


# --- customers and saved cards ---------------------------------------------------------------------
def customer_get_or_create(*, user: User) -> BillingCustomer:
    """The driver's customer at the provider, made on first use (once, whatever the concurrency)."""
    if (customer := BillingCustomer.objects.filter(user=user).first()) is not None:
        return customer
    gw = _gateway()
    remote = gw.customer_create(
        email=user.email,
        name=user.get_full_name(),
        reference=str(user.pk),
        idempotency_key=f"customer:user:{user.pk}",  # a concurrent first use gets the same customer
    )
    try:
        with transaction.atomic():
            customer, _ = BillingCustomer.objects.get_or_create(
                user=user, defaults={"provider": gw.identifier, "provider_customer_id": remote.id}
            )
    except IntegrityError:
        customer = BillingCustomer.objects.get(user=user)
    return customer


def payment_method_setup_start(*, user: User) -> str:
    """Start saving a card for charges after sessions; returns the secret the browser confirms with."""
    customer = customer_get_or_create(user=user)
    # A new setup per visit: a succeeded one cannot be reused. The key guards the library's retries.
    setup = _gateway().setup_start(
        customer_id=customer.provider_customer_id, idempotency_key=f"setup:user:{user.pk}:{uuid.uuid4()}"
    )
    return setup.client_secret


def payment_method_saved(*, user: User, provider_payment_method_id: str) -> SavedPaymentMethod:
    """Record a card the provider holds for the driver, with its brand, last 4 and expiry.

    The provider's record decides whose card it is. The driver's first card becomes the default."""
    remote = _gateway().payment_method_retrieve(provider_payment_method_id)
    customer = BillingCustomer.objects.filter(user=user).first()
    if customer is None or remote.customer_id != customer.provider_customer_id:
        raise NotTheDriversMethod("This card is not attached to the driver's customer.")
    fields = {
        "brand": remote.brand[:20],
        "last4": remote.last4,
        "exp_month": remote.exp_month,
        "exp_year": remote.exp_year,
    }
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()  # one default, even when racing
        method = SavedPaymentMethod.objects.filter(provider_payment_method_id=remote.id).first()
        if method is not None:
            if method.user_id != user.pk:
                raise NotTheDriversMethod("This card is recorded for another driver.")
            for name, value in fields.items():
                setattr(method, name, value)
            method.save(update_fields=list(fields))
            return method
        has_default = SavedPaymentMethod.objects.filter(
            user=user, removed_at__isnull=True, is_default=True
        ).exists()
        return SavedPaymentMethod.objects.create(
            user=user, provider_payment_method_id=remote.id, is_default=not has_default, **fields
        )


def payment_method_setup_finish(*, user: User, setup_id: str) -> SavedPaymentMethod:
    """Record the card of a setup the driver completed (the page Stripe returns to)."""
    setup = _gateway().setup_retrieve(setup_id)
    customer = BillingCustomer.objects.filter(user=user).first()
    if customer is None or setup.customer_id != customer.provider_customer_id:
        raise NotTheDriversMethod("This card setup belongs to another customer.")
    if not setup.succeeded or not setup.payment_method_id:
        raise SetupIncomplete("The card was not saved.")
    return payment_method_saved(user=user, provider_payment_method_id=setup.payment_method_id)


def payment_method_remove(*, user: User, method: SavedPaymentMethod) -> SavedPaymentMethod:
    """Detach the card at the provider and forget it; the newest other card becomes the default."""
    if method.user_id != user.pk:
        raise NotTheDriversMethod("This card belongs to another driver.")
    if method.removed_at is not None:
        return method
    _gateway().payment_method_detach(method.provider_payment_method_id)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        was_default = method.is_default
        method.removed_at, method.is_default = timezone.now(), False
        method.save(update_fields=["removed_at", "is_default"])
        if was_default:
            successor = (
                SavedPaymentMethod.objects.filter(user=user, removed_at__isnull=True)
                .order_by("-created_at", "-pk")
                .first()
            )
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
    return method


def payment_method_make_default(*, user: User, method: SavedPaymentMethod) -> SavedPaymentMethod:
    if method.user_id != user.pk or method.removed_at is not None:
        raise NotTheDriversMethod("This card is not one of the driver's cards.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        SavedPaymentMethod.objects.filter(user=user).exclude(pk=method.pk).update(is_default=False)
        method.is_default = True
        method.save(update_fields=["is_default"])
    return method


# --- charging after a session ----------------------------------------------------------------------
def _apply(payment: Payment, remote: ProviderPayment) -> list[str]:
    """Copy the provider's state onto the payment; returns the changed fields."""
    payment.provider_reference = remote.id
    payment.status = remote.status
    payment.currency = remote.currency
    payment.amount_authorized = remote.amount
    payment.amount_captured = remote.amount_captured
    payment.amount_refunded = remote.amount_refunded
    payment.failure_message = remote.failure_message if remote.status != PaymentStatus.CAPTURED else ""
    return [
        "provider_reference",
        "status",
        "currency",
        "amount_authorized",
        "amount_captured",
        "amount_refunded",
        "failure_message",
        "updated_at",
    ]


def _invoice_follow(payment: Payment) -> None:
    """Link the session's invoice and mark it paid once the money is in."""
    if payment.invoice_id is None and payment.session_id is not None:
        if (invoice := invoice_for_session(payment.session)) is not None:
            payment.invoice = invoice
            payment.save(update_fields=["invoice", "updated_at"])
    if payment.invoice_id is not None and payment.status in PAID:
        Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.OPEN).update(
            status=InvoiceStatus.PAID
        )


def payment_charge_saved_card(*, session_price: SessionPrice) -> Payment:
    """Charge a session's price to its driver's default saved card, off session; once per session.

    A decline is recorded as failed with the bank's message, a bank asking for 3-D Secure as
    requires_action; ProviderUnavailable propagates for the caller to retry with the same key.
    Called again for a failed payment it tries again (billing_run's retries count `attempts`)."""
    session = session_price.session
    token = session.id_token
    user = token.owner if token is not None else None
    with transaction.atomic():
        SessionPrice.objects.select_for_update().filter(pk=session_price.pk).get()  # one payment per session
        payment = (
            Payment.objects.filter(session=session, method=PaymentMethodKind.SAVED_CARD)
            .order_by("pk")
            .first()
        )
        if payment is None:
            payment = Payment.objects.create(
                session=session,
                user=user,
                method=PaymentMethodKind.SAVED_CARD,
                status=PaymentStatus.PENDING,
                currency=session_price.currency,
                amount_authorized=session_price.gross,
                attempts=1,
            )
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return payment
    if session_price.gross <= 0:
        payment.status, payment.amount_authorized, payment.amount_captured = PaymentStatus.CAPTURED, 0, 0
        payment.save(update_fields=["status", "amount_authorized", "amount_captured", "updated_at"])
        return payment
    card = (
        SavedPaymentMethod.objects.filter(user=user, removed_at__isnull=True, is_default=True).first()
        if user is not None
        else None
    )
    customer = BillingCustomer.objects.filter(user=user).first() if user is not None else None
    if card is None or customer is None:
        payment.status, payment.failure_message = PaymentStatus.FAILED, "No saved card to charge."
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        return payment
    try:
        remote = _gateway().charge_saved(
            amount=session_price.gross,
            currency=session_price.currency,
            customer_id=customer.provider_customer_id,
            payment_method_id=card.provider_payment_method_id,
            # Same key for retries of one attempt (a lost answer replays the first outcome).
            idempotency_key=f"payment:{payment.pk}:attempt:{payment.attempts}",
            description=f"Charging session {session.pk}",
            metadata={"payment": str(payment.pk), "session": str(session.pk)},
        )
    except ActionRequired as declined:
        remote = declined.payment or ProviderPayment(
            id="", status=PaymentStatus.REQUIRES_ACTION, currency=payment.currency, amount=Decimal(0),
            amount_capturable=Decimal(0), amount_captured=Decimal(0), amount_refunded=Decimal(0),
        )  # fmt: skip
        return _record(payment, remote, status=PaymentStatus.REQUIRES_ACTION, message=declined.message)
    except PaymentDeclined as declined:
        if declined.payment is None:
            payment.status, payment.failure_message = PaymentStatus.FAILED, declined.message[:300]
            payment.save(update_fields=["status", "failure_message", "updated_at"])
            return payment
        return _record(payment, declined.payment, status=PaymentStatus.FAILED, message=declined.message)
    return _record(payment, remote)


def _record(
    payment: Payment, remote: ProviderPayment, *, status: PaymentStatus | None = None, message: str = ""
) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        before = payment.status
        fields = _apply(payment, remote) if remote.id else ["status", "failure_message", "updated_at"]
        if not remote.id:
            payment.provider_reference = None
        if status is not None:
            payment.status = status
        if message:
            payment.failure_message = message[:300]
        payment.save(update_fields=fields)
        _invoice_follow(payment)
        _action_notify(payment, before)
    return payment


# --- a payment the driver must authenticate (3-D Secure) -------------------------------------------
@dataclass(frozen=True)
class PaymentAuthentication:
    """What the browser needs to let the driver authenticate a payment with their bank."""

    client_secret: str
    payment_method_id: str


def _action_notify(payment: Payment, before: str) -> None:
    """Mail the driver a link to authenticate, when the payment has just come to need them (once)."""
    if before == PaymentStatus.REQUIRES_ACTION or payment.status != PaymentStatus.REQUIRES_ACTION:
        return
    payment_id = payment.pk
    transaction.on_commit(lambda: _action_email_after_commit(payment_id))


def _action_email_after_commit(payment_id: int) -> None:
    # The payment is recorded already: a mail server that fails must not fail the caller (a webhook
    # would be marked failed, a billing run retried); the sessions page still links the payment.
    try:
        payment_action_email(payment_id=payment_id)
    except (SMTPException, OSError):
        logger.exception("Mailing the driver about payment %s failed", payment_id)


def payment_action_url(payment: Payment) -> str:
    """The portal page where the driver authenticates the payment (absolute when SITE_URL is set)."""
    path = reverse("billing:payment_authenticate", kwargs={"payment_id": payment.pk})
    return settings.SITE_URL.rstrip("/") + path


def payment_action_email(*, payment_id: int) -> bool:
    """Ask the driver to confirm a payment their bank wants authenticated; returns whether a mail went out."""
    payment = Payment.objects.select_related("user", "session__station").get(pk=payment_id)
    if payment.status != PaymentStatus.REQUIRES_ACTION or payment.user is None or not payment.user.email:
        return False
    context = {"payment": payment, "url": payment_action_url(payment)}
    send_mail(
        subject="Your bank asks you to confirm a charging payment",
        message=render_to_string("billing/email/payment_action.txt", context),
        from_email=None,
        recipient_list=[payment.user.email],
    )
    return True


def payment_get_for_driver(*, user: User, payment_id: int) -> Payment | None:
    """The driver's own charge of a saved card, or None."""
    return (
        Payment.objects.select_related("session__station", "invoice")
        .filter(pk=payment_id, user=user, method=PaymentMethodKind.SAVED_CARD)
        .first()
    )


def payment_needing_driver(*, user: User, session: ChargingSession) -> Payment | None:
    """The driver's payment of the session that waits for them to authenticate it, if any."""
    return (
        Payment.objects.filter(session=session, user=user, status=PaymentStatus.REQUIRES_ACTION)
        .order_by("pk")
        .first()
    )


def payment_authentication_start(*, payment: Payment) -> PaymentAuthentication | None:
    """The secret and card the browser confirms the payment with; None unless it waits for the driver."""
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.provider_reference:
        return None
    remote = _gateway().payment_retrieve(payment.provider_reference)
    card = SavedPaymentMethod.objects.filter(
        user_id=payment.user_id, removed_at__isnull=True, is_default=True
    ).first()
    if remote.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED, PaymentStatus.PENDING):
        _record(payment, remote)  # settled meanwhile (a webhook not yet received)
        return None
    return PaymentAuthentication(
        client_secret=remote.client_secret, payment_method_id=card.provider_payment_method_id if card else ""
    )


def payment_authentication_finish(*, payment: Payment) -> Payment:
    """Apply what the provider has after the driver authenticated (or gave up); paid marks the invoice paid.

    A failed authentication leaves the payment waiting for the driver, who may try again."""
    if not payment.provider_reference:
        return payment
    remote = _gateway().payment_retrieve(payment.provider_reference)
    if remote.status in (PaymentStatus.FAILED, PaymentStatus.PENDING):
        return _record(payment, remote, status=PaymentStatus.REQUIRES_ACTION, message=remote.failure_message)
    return _record(payment, remote)


# --- holds (paying at a charger: billing/services/card_hold.py) -------------------------------------
def payment_capture(*, payment: Payment, amount: Decimal) -> Payment:
    """Take `amount` of a hold (at most the hold) and release the rest; a zero amount releases it all."""
    if amount <= 0:
        return payment_release(payment=payment)
    remote = _gateway().capture(
        payment.provider_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=f"payment:{payment.pk}:capture",
    )
    return _record(payment, remote)


def payment_release(*, payment: Payment) -> Payment:
    """Release a hold without taking anything."""
    remote = _gateway().cancel(
        payment.provider_reference or "", idempotency_key=f"payment:{payment.pk}:cancel"
    )
    return _record(payment, remote)


def payment_refund(*, payment: Payment, amount: Decimal, reference: str) -> Payment:
    """Give back `amount` of a paid payment; `reference` (e.g. the credit note's code) keys the refund."""
    gw = _gateway()
    gw.refund(
        payment.provider_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=f"payment:{payment.pk}:refund:{reference}",
    )
    return _record(payment, gw.payment_retrieve(payment.provider_reference or ""))


# --- webhooks --------------------------------------------------------------------------------------
PAYMENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.amount_capturable_updated",
    "payment_intent.requires_action",
    "charge.refunded",
    "refund.created",
    "refund.updated",
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
    remote = _gateway().payment_retrieve(intent_id)
    payment = Payment.objects.select_for_update().filter(provider_reference=remote.id).first()
    if payment is None and remote.metadata.get("payment", "").isdigit():
        # Our own call may not have stored the reference yet; an older attempt's intent is not adopted.
        candidate = Payment.objects.select_for_update().filter(pk=int(remote.metadata["payment"])).first()
        if candidate is not None and candidate.provider_reference is None:
            payment = candidate
    if payment is None:
        return PaymentEventStatus.IGNORED, f"No payment of ours for {remote.id}."
    _sync(payment, remote, event.event_type, obj)
    if obj.get("object") == "refund":
        _refund_credit(payment, refund_id=obj["id"])
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
    fields = _apply(payment, remote)
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
    _invoice_follow(payment)
    _action_notify(payment, before)
    if event_type == "charge.dispute.closed" and obj.get("status") == "lost" and payment.invoice_id:
        # The cardholder got the money back: the session is unpaid again.
        Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.PAID).update(
            status=InvoiceStatus.OPEN
        )


def _refund_credit(payment: Payment, *, refund_id: str) -> None:
    """Credit the payment's receipt (or invoice) for a refund, once per refund id.

    The amount is what the provider has refunded of the payment (re-fetched) less what its document
    was credited already, so a refund staff made for a credit note (payment_refund) is not credited
    twice; two refunds handled as one event's worth are credited under the first one's id."""
    if payment.invoice_id is None or credit_note_for_key(refund_id) is not None:
        return
    invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    credited = -(invoice.credit_notes.aggregate(total=Sum("gross"))["total"] or Decimal(0))
    amount = min(payment.amount_refunded, invoice.gross) - credited
    if amount <= 0:
        return
    credit_note_issue(invoice=invoice, amount=amount, reason=f"refund {refund_id}", idempotency_key=refund_id)


def _setup_succeeded(setup_id: str) -> tuple[PaymentEventStatus, str]:
    setup = _gateway().setup_retrieve(setup_id)
    customer = (
        BillingCustomer.objects.select_related("user").filter(provider_customer_id=setup.customer_id).first()
    )
    if customer is None or not setup.succeeded or not setup.payment_method_id:
        return PaymentEventStatus.IGNORED, "Not a completed setup of one of our customers."
    payment_method_saved(user=customer.user, provider_payment_method_id=setup.payment_method_id)
    return PaymentEventStatus.HANDLED, ""


def payment_method_list_for_driver(*, user: User) -> QuerySet[SavedPaymentMethod]:
    """The driver's saved cards, the default first."""
    return SavedPaymentMethod.objects.filter(user=user, removed_at__isnull=True).order_by(
        "-is_default", "-created_at", "-pk"
    )
