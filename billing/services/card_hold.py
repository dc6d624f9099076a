"""Paying at a charger by card: a hold the driver authorizes in the browser, a remote start, the exact
price captured at the end (the rest released), and a stop when the running cost reaches the hold.

Incremental authorization is not available under strong customer authentication, so the hold is sized
in advance (CSMS_CARD_HOLD_AMOUNT) and a job stops a session whose cost comes within
CSMS_CARD_HOLD_MARGIN of it (a guest's earlier: see GUEST_LOOKAHEAD). The charger is asked to start
with a one-off id tag, PAY-<payment id>, owned by the driver (by nobody for a guest): the session it
starts carries that tag, which is how billing finds the payment (stations knows nothing of payments).

Paying without an account, following the session by a signed link and its stop button are in
card_hold_guest.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.domain import PAYMENT_TAG_PREFIX
from accounts.models import IdToken, IdTokenStatus, User
from billing.domain import PaymentMethodKind, PaymentStatus
from billing.models import Payment, SessionPrice
from billing.payments.base import PaymentError, ProviderRejected
from billing.services.card_hold_offer import card_hold_offer
from billing.services.payment_methods import customer_get_or_create
from billing.services.payments import (
    PAID,
    gateway_required,
    payment_capture,
    payment_charge_off_session,
    payment_record,
    payment_release,
    saved_card_of,
)
from billing.services.pricing import money_round
from billing.services.running_cost import session_cost_so_far
from stations.models import ChargingSession, Station
from stations.services.remote import session_start_remotely, session_stop_remotely

logger = logging.getLogger(__name__)

HOLD_TAG_PREFIX = PAYMENT_TAG_PREFIX
# Stripe keeps a customer-initiated card authorization for 7 days; the tag is no use after that.
HOLD_VALID = timedelta(days=7)
# A charger that did not stop is asked again after this long.
STOP_RETRY = timedelta(minutes=2)
# A started hold whose charger never reported a session (the driver never plugged in) is released.
START_GIVE_UP = timedelta(minutes=15)


class HoldNotOffered(PaymentError):
    """Paying at this connector is not possible now; the message says why."""


class HoldNotFound(PaymentError):
    """No card payment of this driver with that reference."""


def card_hold_start(
    *, station: Station, evse_id: int, user: User | None, guest_email: str = ""
) -> tuple[Payment, str]:
    """Open a hold for a session at this connector; returns it and the secret the browser confirms with.

    A driver without an account (no user) gives the address their receipt goes to; their hold has no
    provider customer, as nothing is ever charged to their card again."""
    if user is None and not guest_email:
        raise ValueError("A hold is for a driver or for a guest's email address.")
    offer = card_hold_offer(station=station, evse_id=evse_id, user=user, at=timezone.now())
    if offer.unavailable or offer.preview is None:
        raise HoldNotOffered(offer.unavailable)
    customer = customer_get_or_create(user=user) if user is not None else None
    payment = Payment.objects.create(
        method=PaymentMethodKind.CARD_HOLD,
        status=PaymentStatus.PENDING,
        user=user,
        guest_email=guest_email if user is None else "",
        currency=offer.preview.currency,
        amount_authorized=offer.hold_amount,
        station=station,
        evse_id=evse_id,
    )
    remote = gateway_required().hold_start(
        amount=offer.hold_amount,
        currency=offer.preview.currency,
        idempotency_key=f"payment:{payment.pk}:hold",
        customer_id=customer.provider_customer_id if customer is not None else None,
        description=f"Charging at {station.identity}, connector {evse_id}",
        metadata={"payment": str(payment.pk), "station": station.identity, "evse": str(evse_id)},
    )
    payment.provider_reference = remote.id
    payment.save(update_fields=["provider_reference", "updated_at"])
    return payment, remote.client_secret


def card_hold_client_secret(*, payment: Payment) -> str:
    """The secret of a hold not yet authorized, for the browser (asked of the provider, never stored)."""
    return gateway_required().payment_retrieve(payment.provider_reference or "").client_secret


def card_hold_confirm(*, provider_reference: str, user: User) -> Payment:
    """The driver is back from authorizing: check their hold with the provider, then start the session."""
    payment = Payment.objects.filter(
        provider_reference=provider_reference, method=PaymentMethodKind.CARD_HOLD, user=user
    ).first()
    if payment is None:
        raise HoldNotFound("No such card payment.")
    return card_hold_check(payment=payment)


def card_hold_check(*, payment: Payment) -> Payment:
    """Record the hold as the provider has it, and start the session once it is held.

    Nothing the browser says is trusted: only a PaymentIntent the provider reports as held
    (requires_capture) starts the charger."""
    payment = payment_record(payment, gateway_required().payment_retrieve(payment.provider_reference or ""))
    if payment.status == PaymentStatus.AUTHORIZED:
        payment = card_hold_session_start(payment_id=payment.pk)
    return payment


def card_hold_session_start(*, payment_id: int) -> Payment:
    """Ask the charger to start the session of an authorized hold, once; release the hold if it won't.

    The return page and the provider's webhook may both get here: the first one to make the
    payment's id tag sends the start, the other finds the tag and does nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("station").get(pk=payment_id)
        if payment.status != PaymentStatus.AUTHORIZED or payment.id_token_id is not None:
            return payment
        if payment.station is None or payment.evse_id is None:
            return payment
        payment.id_token = IdToken.objects.create(
            id_tag=f"{HOLD_TAG_PREFIX}{payment.pk}",
            owner=payment.user,
            label=f"Card payment at {payment.station.identity}",
            expires_at=timezone.now() + HOLD_VALID,
        )
        payment.start_outcome = "Asking the charger to start."
        payment.save(update_fields=["id_token", "start_outcome", "updated_at"])
    outcome = session_start_remotely(
        station=payment.station,
        evse_id=payment.evse_id,
        id_tag=payment.id_token.id_tag,
        requested_by=f"card payment {payment.pk}",
    )
    payment.start_outcome = outcome.message[:200]
    payment.save(update_fields=["start_outcome", "updated_at"])
    if not outcome.accepted:
        IdToken.objects.filter(pk=payment.id_token.pk).update(status=IdTokenStatus.BLOCKED)
        payment = payment_release(payment=payment)
    return payment


def card_hold_session(*, payment: Payment) -> ChargingSession | None:
    """The session the hold's id tag started (open or ended), linking it to the payment when found."""
    if payment.session_id is not None:
        return payment.session
    if payment.id_token_id is None:
        return None
    session = (
        ChargingSession.objects.filter(id_token_id=payment.id_token_id).order_by("-started_at", "-pk").first()
    )
    if session is not None:
        Payment.objects.filter(pk=payment.pk, session__isnull=True).update(session=session)
        payment.session = session
    return session


def card_hold_for_session(*, session: ChargingSession) -> Payment | None:
    """The card hold that pays for a session, linked to it (found by the session's one-off id tag)."""
    payment = (
        Payment.objects.filter(method=PaymentMethodKind.CARD_HOLD)
        .filter(Q(session=session) | Q(id_token_id=session.id_token_id, id_token__isnull=False))
        .order_by("pk")
        .first()
    )
    if payment is not None and payment.session_id is None:
        Payment.objects.filter(pk=payment.pk, session__isnull=True).update(session=session)
        payment.session = session
    return payment


def card_hold_settle(*, payment: Payment, price: SessionPrice | None) -> Payment:
    """Capture the session's gross price from the hold (at most the hold), or release it all when there
    is nothing to pay; a payment already settled is left as it is.

    A hold the provider no longer has (it lapsed after 7 days, or was canceled) cannot be captured:
    the payment is recorded as the provider has it, with why, and billing_run bills the session as
    on account."""
    amount = price.gross if price is not None else Decimal(0)
    if payment.status != PaymentStatus.AUTHORIZED:
        if payment.status in (PaymentStatus.CANCELED, PaymentStatus.FAILED) and amount > 0:
            _note_lapsed(payment, "The hold had lapsed before the session was billed")
        return payment
    if amount > payment.amount_authorized:
        logger.warning("Session of payment %s cost %s, more than its hold", payment.pk, amount)
    try:
        if amount <= 0:
            payment = payment_release(payment=payment)
        else:
            payment = payment_capture(payment=payment, amount=min(amount, payment.amount_authorized))
    except ProviderRejected as refused:
        remote = gateway_required().payment_retrieve(payment.provider_reference or "")
        if remote.status == PaymentStatus.AUTHORIZED:
            raise  # still held: the refusal is about the request, not the hold
        payment = payment_record(payment, remote)
        if amount > 0 and payment.status not in PAID:
            _note_lapsed(payment, f"The hold could not be captured ({refused})")
    if payment.id_token_id is not None:  # the one-off tag starts nothing more
        IdToken.objects.filter(pk=payment.id_token_id).update(status=IdTokenStatus.BLOCKED)
    return payment


LAPSED_NOTE = "; the session is billed as on account."


def _note_lapsed(payment: Payment, why: str) -> None:
    if payment.failure_message.endswith(LAPSED_NOTE):
        return  # the first run's reason stays
    payment.failure_message = f"{why[: 300 - len(LAPSED_NOTE)]}{LAPSED_NOTE}"
    Payment.objects.filter(pk=payment.pk).update(failure_message=payment.failure_message)


def card_hold_rest_charge(*, hold: Payment, price: SessionPrice) -> Payment | None:
    """Charge what a session cost beyond its hold to the driver's default saved card, once.

    Returns that payment (captured, or failed with the bank's message: a driver not there cannot
    authenticate, so a bank asking for it fails it too), or None when the driver has no saved card.
    ProviderUnavailable propagates: the billing task retries with the same idempotency key."""
    rest = price.gross - hold.amount_captured
    saved = saved_card_of(hold.user_id)
    if rest <= 0 or saved is None:
        return None
    with transaction.atomic():
        Payment.objects.select_for_update().filter(pk=hold.pk).get()  # one payment for the rest
        payment = (
            Payment.objects.filter(session_id=price.session_id, method=PaymentMethodKind.SAVED_CARD)
            .order_by("pk")
            .first()
        )
        if payment is None:
            payment = Payment.objects.create(
                session_id=price.session_id,
                user=hold.user,
                method=PaymentMethodKind.SAVED_CARD,
                status=PaymentStatus.PENDING,
                currency=price.currency,
                amount_authorized=rest,
                attempts=1,
            )
    if payment.status != PaymentStatus.PENDING:
        return payment
    return payment_charge_off_session(
        payment,
        saved=saved,
        amount=rest,
        description=f"Charging session {price.session_id}: the cost beyond the card hold",
        metadata={"session": str(price.session_id), "hold": str(hold.pk)},
        authentication_waits=False,
    )


def card_hold_rest_note(*, hold: Payment, note: str) -> None:
    """Record on the hold how the cost beyond it was collected (next to why the charger stopped)."""
    if note in hold.stop_outcome:
        return
    hold.stop_outcome = f"{hold.stop_outcome} {note}".strip()[:200]
    Payment.objects.filter(pk=hold.pk).update(stop_outcome=hold.stop_outcome)


# --- the watch job ---------------------------------------------------------------------------------
# A guest (no account, no saved card) can never be charged beyond the hold, so their session is stopped
# early enough for what it may still cost until the charger has stopped (this job's next run, the
# charger's answer, meter values not yet sent): GUEST_LOOKAHEAD more at its pace over GUEST_PACE_WINDOW.
GUEST_PACE_WINDOW = timedelta(minutes=10)
GUEST_LOOKAHEAD = timedelta(minutes=5)


def card_hold_pace_reserve(*, session: ChargingSession, now: datetime, gross: Decimal) -> Decimal:
    """What the open session would cost in GUEST_LOOKAHEAD more at its pace over the last
    GUEST_PACE_WINDOW (`gross`: its cost so far at `now`)."""
    if session.started_at is None:
        return Decimal(0)
    since = max(now - GUEST_PACE_WINDOW, session.started_at)
    window_s = Decimal(str((now - since).total_seconds()))
    if window_s <= 0:
        return Decimal(0)
    earlier = session_cost_so_far(session=session, at=since)
    spent = gross - (earlier.gross if earlier is not None else Decimal(0))
    return max(spent, Decimal(0)) * Decimal(int(GUEST_LOOKAHEAD.total_seconds())) / window_s


def _holds_to_stop(now: datetime) -> list[tuple[Payment, ChargingSession, str]]:
    margin = Decimal(settings.CSMS_CARD_HOLD_MARGIN)
    due = Payment.objects.filter(
        method=PaymentMethodKind.CARD_HOLD, status=PaymentStatus.AUTHORIZED, id_token__isnull=False
    ).filter(Q(stop_requested_at__isnull=True) | Q(stop_requested_at__lte=now - STOP_RETRY))
    found = []
    for payment in due:
        session = (
            ChargingSession.objects.open()
            .filter(id_token_id=payment.id_token_id)
            .select_related("station__site", "connector")
            .first()
        )
        if session is None:
            continue
        card_hold_session(payment=payment)
        cost = session_cost_so_far(session=session, at=now)
        if cost is None:
            continue
        currency, hold = payment.currency, payment.amount_authorized
        shown = f"The cost ({money_round(cost.gross, currency)} {currency})"
        held = f"the hold of {money_round(hold, currency)} {currency}"
        if cost.gross >= hold - margin:
            found.append((payment, session, f"{shown} reached {held}"))
        elif payment.user_id is None and (  # a guest: nothing above the hold can be charged later
            cost.gross + card_hold_pace_reserve(session=session, now=now, gross=cost.gross) >= hold - margin
        ):
            found.append((payment, session, f"{shown} would pass {held} at its pace"))
    return found


def card_holds_stop_at_limit(*, now: datetime | None = None) -> int:
    """Ask chargers to stop card-paid sessions whose cost has reached their hold (a guest's before it
    would pass it); return how many accepted. Each payment is marked before its call, so an
    overlapping run does not ask again."""
    now = now or timezone.now()
    accepted = 0
    for payment, session, why in _holds_to_stop(now):
        claimed = (
            Payment.objects.filter(pk=payment.pk)
            .filter(Q(stop_requested_at__isnull=True) | Q(stop_requested_at__lte=now - STOP_RETRY))
            .update(stop_requested_at=now)
        )
        if not claimed:
            continue
        outcome = session_stop_remotely(session=session, requested_by=f"card payment {payment.pk} hold")
        accepted += outcome.accepted
        Payment.objects.filter(pk=payment.pk).update(stop_outcome=f"{why}: {outcome.message}"[:200])
    return accepted


def card_holds_release_unused(*, now: datetime | None = None) -> int:
    """Release holds whose charger accepted the start but never reported a session."""
    now = now or timezone.now()
    stale = Payment.objects.filter(
        method=PaymentMethodKind.CARD_HOLD,
        status=PaymentStatus.AUTHORIZED,
        id_token__isnull=False,
        session__isnull=True,
        updated_at__lte=now - START_GIVE_UP,
    )
    released = 0
    for payment in stale:
        if card_hold_session(payment=payment) is not None:
            continue
        payment_release(payment=payment)
        assert payment.id_token_id is not None  # filtered on
        IdToken.objects.filter(pk=payment.id_token_id).update(status=IdTokenStatus.BLOCKED)
        released += 1
    return released


def card_holds_watch(*, now: datetime | None = None) -> int:
    """The minute job: stop sessions at their hold, release holds that never started one."""
    now = now or timezone.now()
    stopped = card_holds_stop_at_limit(now=now)
    card_holds_release_unused(now=now)
    return stopped
