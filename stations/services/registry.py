"""Chargers coming and going: authentication, connections, boot, heartbeat, status.

Services run inside the adapter's transaction for the whole message; `savepoint=False` spares a
SAVEPOINT/RELEASE round trip per call.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stations.credentials import password_hash, password_matches, password_validate
from stations.domain import BootDecision, ConnectorStatus, RegistrationStatus, StationInfo
from stations.models import Connector, Site, Station, StatusChange
from stations.services.bulk import row_update, row_update_latest, rows_insert
from stations.signals import (
    connector_status_changed,
    connector_unplugged,
    station_boot_answered,
    station_booted,
    station_connected,
    station_disconnected,
    station_refused,
)


class Admission(enum.Enum):
    ADMITTED = "admitted"
    UNKNOWN = "unknown identity"
    NO_CREDENTIALS = "no credentials"
    WRONG_PASSWORD = "wrong password"
    IDENTITY_MISMATCH = "Basic auth username is not the identity in the URL"


def station_create(
    *,
    identity: str,
    password: str,
    site_name: str | None = None,
    registration_status: str = RegistrationStatus.ACCEPTED,
) -> Station:
    """Register a charger with its password (profile 1/2 AuthorizationKey)."""
    password_validate(password.encode())
    with transaction.atomic():
        return _station_insert(identity, password, site_name, registration_status)


def _station_insert(identity: str, password: str, site_name: str | None, registration_status: str) -> Station:
    site = Site.objects.get_or_create(name=site_name)[0] if site_name else None
    station = Station(
        identity=identity,
        site=site,
        registration_status=registration_status,
        password_hash=password_hash(password.encode()),
    )
    station.full_clean()
    station.save()
    return station


def station_registration_set(*, station_ids: list[int], status: RegistrationStatus) -> int:
    """Accept or reject chargers; a connected one learns it at its next BootNotification (Pending
    chargers retry theirs every minute)."""
    return Station.objects.filter(pk__in=station_ids).update(registration_status=status)


def station_password_set(*, station: Station, password: str) -> None:
    password_validate(password.encode())
    station.password_hash = password_hash(password.encode())
    station.save(update_fields=["password_hash"])


@dataclass(frozen=True)
class AdmissionResult:
    admission: Admission
    station_id: int | None = None
    accepted: bool = False
    replaced_channel: str = ""  # the channel of the connection this one replaces


@transaction.atomic
def station_connection_open(
    *, identity: str, username: bytes | None, password: bytes | None, protocol: str, channel_name: str
) -> AdmissionResult:
    """Check a handshake's Basic credentials and mark the charger online on this connection.

    With auto-registration an unknown identity is enrolled as Pending, its password becoming the
    charger's. One transaction, so that a reconnect storm costs four round trips per charger.
    """
    if password is None or username is None:
        return AdmissionResult(Admission.NO_CREDENTIALS)
    if username != identity.encode():
        return AdmissionResult(Admission.IDENTITY_MISMATCH)
    station = (
        Station.objects.select_for_update()
        .only("id", "password_hash", "registration_status", "channel_name")
        .filter(identity=identity)
        .first()
    )
    if station is None:
        if not settings.CSMS_AUTO_REGISTER:
            _refused_on_commit(identity, None)
            return AdmissionResult(Admission.UNKNOWN)
        try:
            password_validate(password)
        except ValueError:
            return AdmissionResult(Admission.WRONG_PASSWORD)
        station = Station.objects.create(
            identity=identity,
            password_hash=password_hash(password),
            registration_status=RegistrationStatus.PENDING,
        )
    elif not password_matches(password, station.password_hash):
        _refused_on_commit(identity, station.pk)
        return AdmissionResult(Admission.WRONG_PASSWORD)
    now = timezone.now()
    Station.objects.filter(pk=station.pk).update(
        is_online=True, protocol=protocol, channel_name=channel_name, connected_at=now, last_seen_at=now
    )
    station_pk = station.pk
    transaction.on_commit(lambda: station_connected.send(sender=Station, station_id=station_pk, at=now))
    return AdmissionResult(
        Admission.ADMITTED,
        station.pk,
        accepted=station.registration_status == RegistrationStatus.ACCEPTED,
        replaced_channel=station.channel_name if station.channel_name != channel_name else "",
    )


def _refused_on_commit(identity: str, station_id: int | None) -> None:
    transaction.on_commit(
        lambda: station_refused.send(
            sender=Station, identity=identity, station_id=station_id, unknown=station_id is None
        )
    )


def station_disconnect(*, station_id: int, channel_name: str) -> bool:
    """Mark the charger offline, unless a newer connection has taken over."""
    disconnected = bool(
        Station.objects.filter(pk=station_id, channel_name=channel_name).update(
            is_online=False, channel_name=""
        )
    )
    if disconnected:
        now = timezone.now()
        transaction.on_commit(
            lambda: station_disconnected.send(
                sender=Station, station_id=station_id, reason="socket closed", at=now
            )
        )
    return disconnected


def station_seen(*, station_id: int, at: datetime | None = None) -> None:
    row_update_latest(Station, station_id, {"last_seen_at": at or timezone.now(), "is_online": True})


def station_heartbeat_interval(station: Station) -> int:
    return station.heartbeat_interval_s or settings.CSMS_HEARTBEAT_INTERVAL_S


def station_boot(*, station_id: int, info: StationInfo) -> BootDecision:
    """Record what the charger says about itself and tell it whether it is accepted."""
    now = timezone.now()
    station = Station.objects.get(pk=station_id)
    for field, value in vars(info).items():
        setattr(station, field, value)
    station.last_boot_at = station.last_seen_at = now
    station.save(update_fields=[*vars(info), "last_boot_at", "last_seen_at"])
    status = RegistrationStatus(station.registration_status)
    # A Pending or Rejected charger retries its boot after `interval`: keep that short.
    interval = station_heartbeat_interval(station) if status == RegistrationStatus.ACCEPTED else 60
    if status == RegistrationStatus.ACCEPTED:
        transaction.on_commit(lambda: station_booted.send(sender=Station, station_id=station_id))
    transaction.on_commit(
        lambda: station_boot_answered.send(sender=Station, station_id=station_id, status=status)
    )
    return BootDecision(status=status, interval_s=interval, current_time=now)


def station_mark_offline_overdue(*, now: datetime | None = None) -> int:
    """Mark offline the chargers silent for longer than their heartbeat interval plus grace."""
    now = now or timezone.now()
    grace = settings.CSMS_HEARTBEAT_GRACE_S
    overdue = [
        station.pk
        for station in Station.objects.filter(is_online=True).only(
            "pk", "last_seen_at", "heartbeat_interval_s"
        )
        if station.last_seen_at is None
        or (now - station.last_seen_at).total_seconds() > station_heartbeat_interval(station) + grace
    ]
    marked = Station.objects.filter(pk__in=overdue).update(is_online=False)
    for station_id in overdue:
        transaction.on_commit(
            functools.partial(
                station_disconnected.send,
                sender=Station,
                station_id=station_id,
                reason="heartbeat overdue",
                at=now,
            )
        )
    return marked


def connector_get_or_create(*, station_id: int, evse_id: int, connector_id: int = 1) -> Connector:
    return Connector.objects.get_or_create(station_id=station_id, evse_id=evse_id, connector_id=connector_id)[
        0
    ]


@functools.lru_cache(maxsize=100_000)
def connector_pk(station_id: int, evse_id: int, connector_id: int) -> int:
    """The connector's id, created at its first report; connectors go only with their charger."""
    return connector_get_or_create(station_id=station_id, evse_id=evse_id, connector_id=connector_id).pk


STATUS_CHANGE_COLUMNS = (
    "station",
    "connector",
    "status",
    "error_code",
    "info",
    "vendor_error_code",
    "occurred_at",
    "received_at",
)


@transaction.atomic(savepoint=False)
def connector_status_update(
    *,
    station_id: int,
    evse_id: int | None,
    connector_id: int | None,
    status: ConnectorStatus,
    occurred_at: datetime,
    error_code: str = "",
    info: str = "",
    vendor_error_code: str = "",
) -> None:
    """Record a status report; one older than the current state (queued offline) only joins the history."""
    pk = None
    if evse_id is None:
        row_update(Station, station_id, {"status": status, "error_code": error_code})
    else:
        pk = connector_pk(station_id, evse_id, connector_id or 1)
        values = {
            "status": status,
            "error_code": error_code,
            "info": info,
            "vendor_error_code": vendor_error_code,
            "status_since": occurred_at,
        }
        row_update(Connector, pk, values, unless_newer="status_since")
    rows_insert(
        StatusChange,
        STATUS_CHANGE_COLUMNS,
        [(station_id, pk, status, error_code, info, vendor_error_code, occurred_at, timezone.now())],
    )
    transaction.on_commit(
        lambda: connector_status_changed.send(
            sender=Connector, station_id=station_id, connector_pk=pk, status=status, occurred_at=occurred_at
        )
    )
    if pk is not None and status == ConnectorStatus.AVAILABLE:
        # The car is gone: billing may wait for this to price the idle time of the session before.
        unplugged_pk = pk
        transaction.on_commit(
            lambda: connector_unplugged.send(
                sender=Connector,
                station_id=station_id,
                evse_id=evse_id,
                connector_id=connector_id or 1,
                connector_pk=unplugged_pk,
                unplugged_at=occurred_at,
            )
        )


def station_report_update(
    *, station_id: int, diagnostics_status: str | None = None, firmware_status: str | None = None
) -> None:
    """Record the progress a charger reports of a diagnostics upload or a firmware update."""
    fields = {
        k: v
        for k, v in {"diagnostics_status": diagnostics_status, "firmware_status": firmware_status}.items()
        if v is not None
    }
    Station.objects.filter(pk=station_id).update(**fields)
