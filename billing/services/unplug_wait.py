"""Billing waits for the unplug when the price depends on it.

Idle time runs until the car is unplugged (billing/services/session_times.py). An OCPP 1.6 charger
usually ends the transaction (StopTransaction) while the car is still plugged in and reports the
unplug later (StatusNotification Available), so a session whose tariff has an idle fee is not billed
at its stop while its unplug is unknown: the connector's Available bills it (stations' signal
connector_unplugged, billing/receivers.py), or a periodic job once the wait is over, at the latest
CSMS_IDLE_BILLING_WAIT_MIN after the stop. A card held at the charger waits at most CARD_HOLD_WAIT:
the driver stands there for the receipt, and the hold is captured when the session is billed.

Nothing is stored about the wait: whether a session waits is read from its stop, its tariff and the
connector's status history each time, so the stop, the unplug and the job may come in any order and
session_bill (which prices and issues once) decides the same way for each of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing.domain import PaymentMethodKind
from billing.models import Payment, SessionPrice, TariffAssignment
from billing.services.session_times import session_charging_until, session_unplugged_at
from billing.services.tariffs import tariff_for_session
from stations.domain import StopReason
from stations.models import ChargingSession

CARD_HOLD_WAIT = timedelta(minutes=30)
# How long past its wait the job still looks at a session: it may have been down for as long.
OVERDUE_LOOKBACK = timedelta(days=2)


def unplug_wait(*, card_hold: bool) -> timedelta:
    """How long after its stop a session at most waits for its unplug to be billed."""
    wait = timedelta(minutes=max(settings.CSMS_IDLE_BILLING_WAIT_MIN, 0))
    return min(wait, CARD_HOLD_WAIT) if card_hold else wait


def session_paid_by_card_hold(session: ChargingSession) -> bool:
    """Whether a card held at the charger pays for the session (read only, unlike card_hold_for_session)."""
    holds = Payment.objects.filter(method=PaymentMethodKind.CARD_HOLD)
    if session.id_token_id is None:
        return holds.filter(session=session).exists()
    return holds.filter(Q(session=session) | Q(id_token_id=session.id_token_id)).exists()


def session_unplug_wait_until(
    session: ChargingSession, *, card_hold: bool, now: datetime | None = None
) -> datetime | None:
    """Until when billing the ended session waits for its unplug; None: bill it now.

    It waits when its tariff charges idle time, its price is not made yet, the stop was not the unplug
    (EVDisconnected) and the charger reported no unplug, for at most unplug_wait() after the stop."""
    if session.started_at is None or session.stopped_at is None or session.connector_id is None:
        return None
    if session.stop_reason == StopReason.EV_DISCONNECTED:
        return None
    until = session.stopped_at + unplug_wait(card_hold=card_hold)
    if (now or timezone.now()) >= until:
        return None
    if SessionPrice.objects.filter(session=session).exists():
        return None  # a run that stopped half way continues with the price it made
    tariff = tariff_for_session(session)
    if tariff is None or tariff.idle_price_per_min <= 0:
        return None
    if session_unplugged_at(session, since=session_charging_until(session)) is not None:
        return None
    if ChargingSession.objects.filter(
        connector_id=session.connector_id, started_at__gt=session.started_at
    ).exists():
        return None  # another car charges there now: the unplug will not be reported any more
    return until


def session_awaits_unplug(session: ChargingSession) -> datetime | None:
    """Until when an ended, unbilled session waits for its unplug (for the driver's pages)."""
    if session.stopped_at is None or session.id_token_id is None:
        return None
    return session_unplug_wait_until(session, card_hold=session_paid_by_card_hold(session))


def _may_wait(*, stopped_since: datetime) -> Q:
    """Unpriced sessions ended since then that an idle fee may apply to (a tariff with one is assigned
    to their connector, charger or site), so that free sessions are not looked at again and again."""
    idle_fee_here = TariffAssignment.objects.filter(tariff__idle_price_per_min__gt=0).filter(
        Q(connector_id=OuterRef("connector_id"))
        | Q(station_id=OuterRef("station_id"))
        | Q(site_id=OuterRef("station__site_id"))
    )
    return (
        Q(stopped_at__gte=stopped_since, id_token__isnull=False, connector__isnull=False, price__isnull=True)
        & ~Q(stop_reason=StopReason.EV_DISCONNECTED)
        & Q(Exists(idle_fee_here))
    )


def sessions_awaiting_unplug(*, connector_pk: int, now: datetime | None = None) -> list[int]:
    """The ids of the connector's ended sessions that may be waiting for their unplug to be billed.

    One query on the connector's sessions, run for every Available a charger reports; session_bill
    decides whether each still waits."""
    since = (now or timezone.now()) - unplug_wait(card_hold=False)
    return list(
        ChargingSession.objects.filter(_may_wait(stopped_since=since), connector_id=connector_pk)
        .order_by("stopped_at", "pk")
        .values_list("pk", flat=True)
    )


def sessions_unplug_wait_over(*, now: datetime | None = None) -> list[int]:
    """The ids of unpriced sessions whose wait for the unplug is over (or may be: a card hold's is
    shorter), oldest first; session_bill decides, and bills the ones that wait no more."""
    now = now or timezone.now()
    shortest = unplug_wait(card_hold=True)
    return list(
        ChargingSession.objects.filter(
            _may_wait(stopped_since=now - unplug_wait(card_hold=False) - OVERDUE_LOOKBACK),
            stopped_at__lte=now - shortest,
        )
        .order_by("stopped_at", "pk")
        .values_list("pk", flat=True)
    )
