"""Card payments: charging a saved card after a session, 3-D Secure, and holds' capture and refund.

Saved cards are in payment_methods.py, the provider's webhooks in payment_events.py, the driver's mail
in payment_mail.py.

Provider calls happen outside database transactions (a slow provider must not hold row locks); each
one carries an idempotency key derived from our ids, so a retried task repeats nothing at the
provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from accounts.models import User
from billing.domain import PaymentMethodKind, PaymentStatus
from billing.models import BillingCustomer, Payment, SavedPaymentMethod, SessionPrice
from billing.payments.base import (
    ActionRequired,
    PaymentDeclined,
    PaymentGateway,
    PaymentsNotConfigured,
    ProviderPayment,
    gateway,
)
from billing.services.invoicing import invoice_payable_for_session
from billing.services.invoicing_settle import invoice_settle
from billing.services.payment_mail import payment_action_notify
from stations.models import ChargingSession

PAID = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def gateway_required() -> PaymentGateway:
    """The configured gateway; PaymentsNotConfigured when card payments are off."""
    if (found := gateway()) is None:
        raise PaymentsNotConfigured("Card payments are not configured (STRIPE_SECRET_KEY).")
    return found


# --- charging after a session ----------------------------------------------------------------------
def payment_apply(payment: Payment, remote: ProviderPayment) -> list[str]:
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


def payment_invoice_follow(payment: Payment) -> None:
    """Link the session's document (its open invoice first) and close the invoice once paid."""
    if payment.invoice_id is None and payment.session is not None:
        if (invoice := invoice_payable_for_session(payment.session)) is not None:
            payment.invoice = invoice
            payment.save(update_fields=["invoice", "updated_at"])
    if payment.invoice_id is not None and payment.status in PAID:
        invoice_settle(invoice_id=payment.invoice_id)


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
    if (saved := saved_card_of(user.pk if user is not None else None)) is None:
        payment.status, payment.failure_message = PaymentStatus.FAILED, "No saved card to charge."
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        return payment
    return payment_charge_off_session(
        payment,
        saved=saved,
        amount=session_price.gross,
        description=f"Charging session {session.pk}",
        metadata={"session": str(session.pk)},
    )


@dataclass(frozen=True)
class SavedCard:
    card: SavedPaymentMethod
    customer: BillingCustomer


def saved_card_of(user_id: int | None) -> SavedCard | None:
    """The driver's default saved card and their customer at the provider, if they have both."""
    if user_id is None:
        return None
    card = SavedPaymentMethod.objects.filter(
        user_id=user_id, is_default=True, removed_at__isnull=True
    ).first()
    customer = BillingCustomer.objects.filter(user_id=user_id).first()
    return SavedCard(card, customer) if card is not None and customer is not None else None


def payment_charge_off_session(
    payment: Payment,
    *,
    saved: SavedCard,
    amount: Decimal,
    description: str,
    metadata: dict[str, str],
    authentication_waits: bool = True,
) -> Payment:
    """Charge `amount` to a saved card, off session, as `payment`'s current attempt.

    The key is the attempt's, so a retry after a lost answer replays the first outcome. A decline is
    recorded as failed with the bank's message; a bank asking for 3-D Secure leaves the payment waiting
    for the driver (mailed a link), or fails it when `authentication_waits` is off. ProviderUnavailable
    propagates for the caller to retry."""
    try:
        remote = gateway_required().charge_saved(
            amount=amount,
            currency=payment.currency,
            customer_id=saved.customer.provider_customer_id,
            payment_method_id=saved.card.provider_payment_method_id,
            idempotency_key=f"payment:{payment.pk}:attempt:{payment.attempts}",
            description=description,
            metadata={"payment": str(payment.pk), **metadata},
        )
    except PaymentDeclined as declined:
        waits = authentication_waits and isinstance(declined, ActionRequired)
        if declined.payment is None:
            payment.status, payment.failure_message = PaymentStatus.FAILED, declined.message[:300]
            payment.save(update_fields=["status", "failure_message", "updated_at"])
            return payment
        status = PaymentStatus.REQUIRES_ACTION if waits else PaymentStatus.FAILED
        return payment_record(payment, declined.payment, status=status, message=declined.message)
    return payment_record(payment, remote)


def payment_record(
    payment: Payment, remote: ProviderPayment, *, status: PaymentStatus | None = None, message: str = ""
) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        before = payment.status
        fields = payment_apply(payment, remote) if remote.id else ["status", "failure_message", "updated_at"]
        if not remote.id:
            payment.provider_reference = None
        if status is not None:
            payment.status = status
        if message:
            payment.failure_message = message[:300]
        payment.save(update_fields=fields)
        payment_invoice_follow(payment)
        payment_action_notify(payment, before)
    return payment


# --- a payment the driver must authenticate (3-D Secure) -------------------------------------------
@dataclass(frozen=True)
class PaymentAuthentication:
    """What the browser needs to let the driver authenticate a payment with their bank."""

    client_secret: str
    payment_method_id: str


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
    remote = gateway_required().payment_retrieve(payment.provider_reference)
    assert payment.user_id is not None  # a driver's own payment (payment_get_for_driver)
    card = SavedPaymentMethod.objects.filter(
        user_id=payment.user_id, removed_at__isnull=True, is_default=True
    ).first()
    if remote.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED, PaymentStatus.PENDING):
        payment_record(payment, remote)  # settled meanwhile (a webhook not yet received)
        return None
    return PaymentAuthentication(
        client_secret=remote.client_secret, payment_method_id=card.provider_payment_method_id if card else ""
    )


def payment_authentication_finish(*, payment: Payment) -> Payment:
    """Apply what the provider has after the driver authenticated (or gave up); paid marks the invoice paid.

    A failed authentication leaves the payment waiting for the driver, who may try again."""
    if not payment.provider_reference:
        return payment
    remote = gateway_required().payment_retrieve(payment.provider_reference)
    if remote.status in (PaymentStatus.FAILED, PaymentStatus.PENDING):
        return payment_record(
            payment, remote, status=PaymentStatus.REQUIRES_ACTION, message=remote.failure_message
        )
    return payment_record(payment, remote)


# --- holds (paying at a charger: billing/services/card_hold.py) -------------------------------------
def payment_capture(*, payment: Payment, amount: Decimal) -> Payment:
    """Take `amount` of a hold (at most the hold) and release the rest; a zero amount releases it all."""
    if amount <= 0:
        return payment_release(payment=payment)
    remote = gateway_required().capture(
        payment.provider_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=f"payment:{payment.pk}:capture",
    )
    return payment_record(payment, remote)


def payment_release(*, payment: Payment) -> Payment:
    """Release a hold without taking anything."""
    remote = gateway_required().cancel(
        payment.provider_reference or "", idempotency_key=f"payment:{payment.pk}:cancel"
    )
    return payment_record(payment, remote)


def payment_refund(*, payment: Payment, amount: Decimal, reference: str) -> Payment:
    """Give back `amount` of a paid payment; `reference` (e.g. the credit note's code) keys the refund."""
    gw = gateway_required()
    gw.refund(
        payment.provider_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=f"payment:{payment.pk}:refund:{reference}",
    )
    return payment_record(payment, gw.payment_retrieve(payment.provider_reference or ""))
