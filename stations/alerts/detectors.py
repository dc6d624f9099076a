"""What chargers report that opens or closes an alert: faults in status reports, 2.0.1 device events
(NotifyEvent) and security events, boots answered Rejected or Pending, refused handshakes, and
reconnects. Each detector names its alert by a key, so a repeated report updates the open alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from stations.alerts.domain import AlertKind, Attempt, DeviceEvent, SecurityEvent, Severity
from stations.alerts.models import Alert, ConnectionAttempt
from stations.alerts.services import alert_clear, alert_raise
from stations.domain import ConnectorStatus
from stations.models import Connector, Station

HEALTHY_ERROR_CODES = ("", "NoError")
# SecurityEventNotification types that report routine operation (OCPP 2.0.1 Appendix 1, not critical).
ROUTINE_SECURITY_EVENTS = frozenset(
    {"FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot"}
)
CRITICAL_SECURITY_EVENTS = frozenset(
    {"TamperDetectionActivated", "InvalidFirmwareSignature", "AttemptedReplayAttacks", "MemoryExhaustion"}
)
FAILED_BOOTS = (Attempt.BOOT_PENDING, Attempt.BOOT_REJECTED, Attempt.UNKNOWN_IDENTITY, Attempt.WRONG_PASSWORD)


def fault_key(station_id: int, evse_id: int | None, connector_id: int | None) -> str:
    return f"fault:{station_id}:{evse_id or 0}:{connector_id or 0}"


def fault_check_needed(*, station_id: int, connector_pk: int | None, status: str) -> bool:
    """Whether a status report can open or close a fault alert: a fault, an error code, or an open
    fault alert of the charger. Most reports are none of these and cost no task."""
    if status == ConnectorStatus.FAULTED:
        return True
    rows = (
        Connector.objects.filter(pk=connector_pk) if connector_pk else Station.objects.filter(pk=station_id)
    )
    if rows.exclude(error_code__in=HEALTHY_ERROR_CODES).exists():
        return True
    return Alert.objects.open().filter(kind=AlertKind.FAULT, station_id=station_id).exists()


def connector_fault_check(*, station_id: int, connector_pk: int | None) -> None:
    """Open or close the fault alert of a connector (None: the charger as a whole) from its current
    status: Faulted or an error code (1.6 errorCode other than NoError) opens, a healthy report closes."""
    station = Station.objects.select_related("site").get(pk=station_id)
    if connector_pk is None:
        status, error_code, info, vendor_code = station.status, station.error_code, "", ""
        evse_id = connector_id = None
        where = station.identity
    else:
        connector = Connector.objects.get(pk=connector_pk)
        status, error_code = connector.status, connector.error_code
        info, vendor_code = connector.info, connector.vendor_error_code
        evse_id, connector_id = connector.evse_id, connector.connector_id
        where = f"{station.identity} connector {evse_id}/{connector_id}"
    key = fault_key(station_id, evse_id, connector_id)
    if status == ConnectorStatus.FAULTED or error_code not in HEALTHY_ERROR_CODES:
        alert_raise(
            kind=AlertKind.FAULT,
            key=key,
            summary=f"{where}: {ConnectorStatus(status).label}" + (f" ({error_code})" if error_code else ""),
            evidence={
                "status": status,
                "error_code": error_code,
                "info": info,
                "vendor_error_code": vendor_code,
            },
            station=station,
            evse_id=evse_id,
            severity=Severity.CRITICAL if status == ConnectorStatus.FAULTED else Severity.WARNING,
        )
    elif status != ConnectorStatus.UNKNOWN:
        alert_clear(key=key, reason=f"reported {ConnectorStatus(status).label} without an error")


def device_events_record(*, station_id: int, events: list[DeviceEvent]) -> None:
    """Open an alert for each problem a 2.0.1 charger reports (NotifyEvent: a monitor's Alerting
    trigger, a component's Problem variable), and close it when the charger reports it cleared."""
    station = Station.objects.select_related("site").get(pk=station_id)
    for event in events:
        if event.trigger != "alerting" and event.variable != "Problem":
            continue  # periodic and delta reports of ordinary variables are not faults
        key = f"fault:{station_id}:event:{event.component}:{event.variable}:{event.evse_id or 0}"
        if event.is_problem:
            alert_raise(
                kind=AlertKind.FAULT,
                key=key,
                summary=f"{station.identity}: {event.component} {event.variable} = {event.actual_value}"[
                    :300
                ],
                evidence={
                    "event_id": event.event_id,
                    "occurred_at": event.occurred_at.isoformat(),
                    "trigger": event.trigger,
                    "component": event.component,
                    "variable": event.variable,
                    "actual_value": event.actual_value,
                    "tech_code": event.tech_code,
                    "tech_info": event.tech_info,
                    "notification_type": event.notification_type,
                },
                station=station,
                evse_id=event.evse_id,
            )
        else:
            alert_clear(key=key, reason=f"the charger reported {event.component} {event.variable} cleared")


def security_event_record(*, station_id: int, event: SecurityEvent) -> None:
    """Open an alert for a security event that is not routine; it stays open until someone closes it,
    since nothing reports a security event over."""
    if event.type in ROUTINE_SECURITY_EVENTS:
        return
    station = Station.objects.select_related("site").get(pk=station_id)
    alert_raise(
        kind=AlertKind.SECURITY_EVENT,
        key=f"security_event:{station_id}:{event.type}",
        summary=f"{station.identity}: security event {event.type}",
        evidence={
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "tech_info": event.tech_info,
        },
        station=station,
        severity=Severity.CRITICAL if event.type in CRITICAL_SECURITY_EVENTS else Severity.WARNING,
    )


def boot_failed_key(identity: str) -> str:
    return f"boot_failed:{identity}"


def attempt_record(
    *, identity: str, station_id: int | None, outcome: Attempt, at: datetime | None = None
) -> None:
    """Record a connection or a boot and open or close what it bears on: an accepted boot closes the
    failed-boot alert; failures (Pending, Rejected, unknown identity, bad credentials) repeated
    CSMS_ALERT_BOOT_FAILURES times within CSMS_ALERT_BOOT_WINDOW_MIN since the last accepted boot open it;
    a connection closes the offline alert and counts towards repeated reconnects."""
    at = at or timezone.now()
    ConnectionAttempt.objects.create(identity=identity, station_id=station_id, outcome=outcome, at=at)
    if outcome == Attempt.BOOT_ACCEPTED:
        alert_clear(key=boot_failed_key(identity), reason="the charger booted and was accepted")
    elif outcome == Attempt.CONNECTED:
        assert station_id is not None
        alert_clear(key=f"offline:{station_id}", reason="the charger connected again")
        _reconnects_check(identity, station_id, at)
    else:
        _boot_failures_check(identity, station_id, at)


def _boot_failures_check(identity: str, station_id: int | None, at: datetime) -> None:
    since = at - timedelta(minutes=settings.CSMS_ALERT_BOOT_WINDOW_MIN)
    attempts = ConnectionAttempt.objects.filter(identity=identity, at__gt=since, at__lte=at)
    last_accepted = (
        attempts.filter(outcome=Attempt.BOOT_ACCEPTED).order_by("-at").values_list("at", flat=True)
    )
    if last_accepted:
        attempts = attempts.filter(at__gt=last_accepted[0])
    failures = list(attempts.filter(outcome__in=FAILED_BOOTS).order_by("at").values_list("outcome", "at"))
    if len(failures) < settings.CSMS_ALERT_BOOT_FAILURES:
        return
    station = Station.objects.select_related("site").filter(pk=station_id).first() if station_id else None
    outcomes = sorted({Attempt(outcome).label for outcome, _ in failures})
    alert_raise(
        kind=AlertKind.BOOT_FAILED,
        key=boot_failed_key(identity),
        summary=f"{identity}: {len(failures)} failed connections or boots ({', '.join(outcomes)})"[:300],
        evidence={
            "identity": identity,
            "failures": len(failures),
            "window_min": settings.CSMS_ALERT_BOOT_WINDOW_MIN,
            "last": [{"outcome": outcome, "at": when.isoformat()} for outcome, when in failures[-10:]],
        },
        station=station,
    )


def _reconnects_check(identity: str, station_id: int, at: datetime) -> None:
    window = settings.CSMS_ALERT_RECONNECT_WINDOW_MIN
    times = list(
        ConnectionAttempt.objects.filter(
            station_id=station_id,
            outcome=Attempt.CONNECTED,
            at__gt=at - timedelta(minutes=window),
            at__lte=at,
        )
        .order_by("at")
        .values_list("at", flat=True)
    )
    if len(times) <= settings.CSMS_ALERT_RECONNECTS:
        return
    alert_raise(
        kind=AlertKind.RECONNECTS,
        key=f"reconnects:{station_id}",
        summary=f"{identity}: {len(times)} connections in {window} minutes",
        evidence={
            "connections": len(times),
            "window_min": window,
            "last": [t.isoformat() for t in times[-10:]],
        },
        station=Station.objects.select_related("site").get(pk=station_id),
    )
