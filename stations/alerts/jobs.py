"""The periodic checks: chargers offline too long, sessions that stopped progressing, reconnect storms
that have settled, and the pruning of connection records."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from stations.alerts.domain import AlertKind, Attempt
from stations.alerts.models import Alert, ConnectionAttempt
from stations.alerts.services import alert_clear, alert_raise
from stations.domain import ConnectorStatus, RegistrationStatus
from stations.models import ChargingSession, MeterSample, Station

ENERGY_REGISTER = "Energy.Active.Import.Register"
ATTEMPTS_KEPT = timedelta(days=1)


def _open_keys(kind: AlertKind) -> dict[str, Alert]:
    return {alert.key: alert for alert in Alert.objects.open().filter(kind=kind)}


def offline_scan(*, now: datetime | None = None) -> tuple[int, int]:
    """Open an alert for each accepted charger offline longer than CSMS_ALERT_OFFLINE_MIN, close those
    of chargers back online. Chargers that never connected are left out. Returns (opened, closed)."""
    now = now or timezone.now()
    minutes = settings.CSMS_ALERT_OFFLINE_MIN
    open_alerts = _open_keys(AlertKind.OFFLINE)
    opened = closed = 0
    silent = Station.objects.select_related("site").filter(
        is_online=False,
        registration_status=RegistrationStatus.ACCEPTED,
        last_seen_at__lt=now - timedelta(minutes=minutes),
    )
    for station in silent:
        key = f"offline:{station.pk}"
        if key in open_alerts:
            continue  # one alert per absence, not a report a minute
        assert station.last_seen_at is not None
        alert_raise(
            kind=AlertKind.OFFLINE,
            key=key,
            summary=f"{station.identity} offline since {station.last_seen_at:%Y-%m-%d %H:%M} UTC",
            evidence={"last_seen_at": station.last_seen_at.isoformat(), "threshold_min": minutes},
            station=station,
        )
        opened += 1
    back = Station.objects.filter(pk__in=[a.station_id for a in open_alerts.values()], is_online=True)
    for station_id in back.values_list("pk", flat=True):
        closed += alert_clear(key=f"offline:{station_id}", reason="the charger is online again")
    return opened, closed


def _last_progress(session: ChargingSession) -> tuple[Decimal, datetime] | None:
    """The session's highest energy register reading and when it was first reached."""
    samples = MeterSample.objects.filter(session=session, measurand=ENERGY_REGISTER, phase="")
    top = samples.aggregate(top=Max("value"))["top"]
    if top is None:
        return None
    return top, samples.filter(value=top).aggregate(at=Min("sampled_at"))["at"]


def stuck_sessions_scan(*, now: datetime | None = None) -> tuple[int, int]:
    """Open an alert for each session whose connector reports Charging but whose energy register has not
    risen for CSMS_ALERT_STUCK_SESSION_MIN; close it on progress, another state or the end. Sessions
    without energy readings are left out (nothing to judge by). Returns (opened, closed)."""
    now = now or timezone.now()
    minutes = settings.CSMS_ALERT_STUCK_SESSION_MIN
    cutoff = now - timedelta(minutes=minutes)
    open_alerts = _open_keys(AlertKind.STUCK_SESSION)
    stuck: set[str] = set()
    opened = closed = 0
    charging = ChargingSession.objects.running().select_related("station__site", "connector")
    for session in charging.filter(connector__status=ConnectorStatus.CHARGING, started_at__lt=cutoff):
        progress = _last_progress(session)
        if progress is None or progress[1] >= cutoff:
            continue
        key = f"stuck_session:{session.pk}"
        stuck.add(key)
        if key in open_alerts:
            continue
        energy, since = progress
        alert_raise(
            kind=AlertKind.STUCK_SESSION,
            key=key,
            summary=f"{session.station.identity}: session {session.pk} charging without energy since "
            f"{since:%H:%M} UTC",
            evidence={
                "session_id": session.pk,
                "energy_register": f"{energy.normalize():f}",
                "unchanged_since": since.isoformat(),
                "threshold_min": minutes,
            },
            station=session.station,
            evse_id=session.connector.evse_id if session.connector else None,
        )
        opened += 1
    for key in open_alerts.keys() - stuck:
        closed += alert_clear(key=key, reason="the session progressed, stopped charging or ended")
    return opened, closed


def reconnects_settled_scan(*, now: datetime | None = None) -> int:
    """Close the reconnect alerts of chargers with no new connection for CSMS_ALERT_RECONNECT_WINDOW_MIN."""
    now = now or timezone.now()
    since = now - timedelta(minutes=settings.CSMS_ALERT_RECONNECT_WINDOW_MIN)
    closed = 0
    for alert in Alert.objects.open().filter(kind=AlertKind.RECONNECTS):
        station_id = cast(int, alert.station_id)  # reconnect alerts are always raised on a charger
        recent = ConnectionAttempt.objects.filter(
            station_id=station_id, outcome=Attempt.CONNECTED, at__gt=since
        ).exists()
        if not recent:
            closed += alert_clear(key=alert.key, reason="the connection has been stable")
    return closed


def attempts_prune(*, now: datetime | None = None) -> int:
    return ConnectionAttempt.objects.filter(at__lt=(now or timezone.now()) - ATTEMPTS_KEPT).delete()[0]
