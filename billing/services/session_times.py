"""What pricing reads from a charger's records of a session: its energy register, when charging
stopped, and when the car was unplugged.

Charging stops at the connector's first status after the start that is Finishing or Available (in
OCPP 2.0.1 the chargingState Idle, reported once the transaction ended, is Finishing), else at the
session's stop; SuspendedEV, SuspendedEVSE and 2.0.1's EVConnected still count as charging. A tariff
with `idle_from_suspended_ev` starts idle time earlier: where the last SuspendedEV stretch before
charging stopped began (no Charging status after it), and not before the register stopped rising,
so a charger that reports SuspendedEV while the car still draws energy does not start it.

Idle time ends when the car was unplugged: the connector's first Available at or after charging
stopped, before the next session on the connector started. That is after the stop when an OCPP 1.6
charger ends the transaction (StopTransaction) before the driver unplugs. A stop that is the unplug
(a 2.0.1 TransactionEvent Ended with stoppedReason EVDisconnected, a 1.6 StopTransaction with
EVDisconnected) ends idle time there.

A session is priced once, when it is billed. A session whose tariff has an idle fee is billed when the
charger reports the unplug, or at the latest CSMS_IDLE_BILLING_WAIT_MIN after its stop
(billing/services/unplug_wait.py). With no Available on record then, idle time ends at the charger's
last report, after the stop and within that wait, that the car was still plugged in (1.6 Finishing,
2.0.1 Occupied), else at the stop: idle time is charged only as far as the charger vouched for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from stations.domain import ConnectorStatus, StopReason
from stations.models import ChargingSession, MeterSample, StatusChange

ENERGY_REGISTER = "Energy.Active.Import.Register"
# Locations other than these (the EV's own meter, a cable) do not measure what the site delivers.
REGISTER_LOCATIONS = ("", "Outlet")
CHARGING_ENDED = (ConnectorStatus.FINISHING, ConnectorStatus.AVAILABLE)
# Reported after the stop, these say the car is still plugged in (the next car would start a session).
STILL_PLUGGED_IN = (ConnectorStatus.FINISHING, ConnectorStatus.OCCUPIED)

RegisterPoint = tuple[datetime, Decimal]


def seconds_of(span: timedelta) -> Decimal:
    """Return a duration in seconds, exactly."""
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)


def register_at(points: Sequence[RegisterPoint], at: datetime) -> Decimal:
    """Return the register's value at `at`, linear between the readings around it, in Wh."""
    if not points:
        return Decimal(0)
    if at <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t0 <= at <= t1:
            if t1 == t0:
                return v1
            return v0 + (v1 - v0) * seconds_of(at - t0) / seconds_of(t1 - t0)
    return points[-1][1]


def register_still_since(points: Sequence[RegisterPoint], *, until: datetime) -> datetime:
    """Return since when the register has stood still at `until`; `until` itself while it rises.

    Read as rising linearly between readings, the register stops at a reading, never between two:
    with sparse readings this is the first reading that shows the final value."""
    if register_at(points, until) < register_at(points, until + timedelta(microseconds=1)):
        return until
    value = register_at(points, until)
    since = until
    for at, reading in reversed(points):
        if at > until:
            continue
        if reading < value:
            break
        since = at
    return since


def session_register(session: ChargingSession) -> list[RegisterPoint]:
    """Return the session's energy register readings in Wh, from its start to its stop, never falling."""
    assert session.started_at is not None and session.stopped_at is not None
    samples = MeterSample.objects.filter(
        session=session,
        measurand=ENERGY_REGISTER,
        phase="",
        location__in=REGISTER_LOCATIONS,
        sampled_at__gt=session.started_at,
        sampled_at__lte=session.stopped_at,
    ).order_by("sampled_at", "pk")
    readings = [
        (sample.sampled_at, sample.value * 1000 if sample.unit.lower() == "kwh" else sample.value)
        for sample in samples
    ]
    start = Decimal(session.meter_start_wh) if session.meter_start_wh is not None else None
    if start is None:
        start = readings[0][1] if readings else Decimal(0)
    if session.meter_stop_wh is not None:
        # The stop's meter value is the last reading; a sample at the same moment repeats it.
        readings = [reading for reading in readings if reading[0] < session.stopped_at]
        readings.append((session.stopped_at, Decimal(session.meter_stop_wh)))
    points: list[RegisterPoint] = [(session.started_at, start)]
    for at, value in readings:
        if at > points[-1][0]:
            # A register never runs backwards; a lower reading is a glitch and counts as no energy.
            points.append((at, max(value, points[-1][1])))
    if points[-1][0] < session.stopped_at:
        points.append((session.stopped_at, points[-1][1]))
    return points


def session_charging_until(session: ChargingSession) -> datetime:
    """Return when the session stopped charging: Finishing or Available after the start, else its stop."""
    assert session.started_at is not None and session.stopped_at is not None
    if session.connector_id is None:
        return session.stopped_at
    change = (
        StatusChange.objects.filter(
            connector_id=session.connector_id,
            status__in=CHARGING_ENDED,
            occurred_at__gt=session.started_at,
            occurred_at__lte=session.stopped_at,
        )
        .order_by("occurred_at", "pk")
        .first()
    )
    return change.occurred_at if change is not None else session.stopped_at


def session_suspended_since(session: ChargingSession, *, until: datetime) -> datetime | None:
    """Return where the last SuspendedEV stretch before `until` began (None: there is none)."""
    assert session.started_at is not None
    if session.connector_id is None:
        return None
    changes = StatusChange.objects.filter(
        connector_id=session.connector_id,
        status__in=(ConnectorStatus.SUSPENDED_EV, ConnectorStatus.CHARGING),
        occurred_at__gt=session.started_at,
        occurred_at__lte=until,
    ).order_by("occurred_at", "pk")
    since = None
    for status, occurred_at in changes.values_list("status", "occurred_at"):
        if status == ConnectorStatus.CHARGING:
            since = None  # the car took energy again
        elif since is None:
            since = occurred_at
    return since


def session_unplugged_at(session: ChargingSession, *, since: datetime) -> datetime | None:
    """Return when the car was unplugged: the connector's first Available at or after `since`, before
    the connector's next session started; None when the charger reported none (yet)."""
    assert session.started_at is not None
    if session.connector_id is None:
        return None
    unplugs = StatusChange.objects.filter(
        connector_id=session.connector_id,
        status=ConnectorStatus.AVAILABLE,
        occurred_at__gte=since,
        occurred_at__gt=session.started_at,
    )
    unplugs = _before_next_session(session, unplugs)
    return unplugs.order_by("occurred_at", "pk").values_list("occurred_at", flat=True).first()


def _before_next_session(session: ChargingSession, changes: QuerySet[StatusChange]) -> QuerySet[StatusChange]:
    assert session.connector_id is not None  # the callers return early without a connector
    following = (
        ChargingSession.objects.filter(connector_id=session.connector_id, started_at__gt=session.started_at)
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    return changes if following is None else changes.filter(occurred_at__lt=following)


def session_plugged_in_seen_until(session: ChargingSession) -> datetime | None:
    """Return the connector's last report after the stop, within the billing's wait for the unplug
    and before its next session, that the car was still plugged in; None when there is none."""
    assert session.started_at is not None and session.stopped_at is not None
    if session.connector_id is None:
        return None
    reports = StatusChange.objects.filter(
        connector_id=session.connector_id,
        status__in=STILL_PLUGGED_IN,
        occurred_at__gt=session.stopped_at,
        occurred_at__lte=session.stopped_at + timedelta(minutes=settings.CSMS_IDLE_BILLING_WAIT_MIN),
    )
    reports = _before_next_session(session, reports)
    return reports.order_by("-occurred_at", "-pk").values_list("occurred_at", flat=True).first()


def session_idle_span(
    session: ChargingSession, *, register: Sequence[RegisterPoint], from_suspended_ev: bool
) -> tuple[datetime, datetime]:
    """Return when idle time starts (charging time ends there) and when it ends (see the module's doc)."""
    assert session.stopped_at is not None
    charging_until = session_charging_until(session)
    idle_from = charging_until
    if from_suspended_ev and (suspended := session_suspended_since(session, until=charging_until)):
        idle_from = max(suspended, register_still_since(register, until=charging_until))
    unplugged = session_unplugged_at(session, since=charging_until)
    if unplugged is None and session.stop_reason != StopReason.EV_DISCONNECTED:
        unplugged = session_plugged_in_seen_until(session)
    return idle_from, unplugged or session.stopped_at
