"""Charging sessions: start, meter values, stop. Chargers retry, so every step is idempotent.

Services run inside the adapter's transaction for the whole message; `savepoint=False` spares a
SAVEPOINT/RELEASE round trip per call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.domain import Authorization, AuthorizationStatus
from accounts.services import id_token_authorize
from stations.domain import MeterReading, StopReason
from stations.models import ChargingSession, MeterSample
from stations.services.access import access_authorize
from stations.services.bulk import row_update_latest, rows_insert
from stations.services.registry import connector_get_or_create
from stations.signals import meter_recorded, meter_sampled, session_ended, session_started


@dataclass(frozen=True)
class SessionOutcome:
    session: ChargingSession
    authorization: Authorization | None


def _authorize_for_session(
    *, station_id: int, id_tag: str, at: datetime, exclude_pk: int | None = None, rules: bool = True
) -> Authorization:
    """The card's answer for a session: the site's access rules (unless `rules` is off, for a stop),
    then whether the card is busy elsewhere."""
    authorization = (
        access_authorize(station_id=station_id, id_tag=id_tag, at=at)
        if rules
        else id_token_authorize(id_tag=id_tag, at=at)
    )
    if authorization.status == AuthorizationStatus.ACCEPTED and authorization.id_token_pk is not None:
        # A session left open by a charger that went away or rebooted without its stop does not
        # keep the driver from charging elsewhere.
        busy = ChargingSession.objects.running().filter(
            id_token_id=authorization.id_token_pk, station__is_online=True
        )
        if exclude_pk is not None:
            busy = busy.exclude(pk=exclude_pk)
        if busy.exists():
            return dataclasses.replace(authorization, status=AuthorizationStatus.CONCURRENT_TX)
    return authorization


def _recorded_authorization(session: ChargingSession) -> Authorization | None:
    if not session.authorization_status:
        return None
    return Authorization(
        status=AuthorizationStatus(session.authorization_status),
        id_token_pk=session.id_token_id,
        allowed_until=session.allowed_until,
        limit=session.limit,
    )


@transaction.atomic(savepoint=False)
def session_start(
    *,
    station_id: int,
    evse_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int | None,
    started_at: datetime | None,
    reservation_id: int | None = None,
    external_id: str | None = None,
) -> SessionOutcome:
    """Open a session, or return the one a repeated start message already opened.

    A 2.0.1 event that arrives before its transaction's start (`started_at` None) opens the session
    incomplete, and the start, when it comes, completes it. No id tag: nothing to authorize yet.
    """
    if external_id is not None:
        known = (
            ChargingSession.objects.select_related("connector")
            .filter(station_id=station_id, external_id=external_id)
            .first()
        )
        if known is not None:
            if known.started_at is None and started_at is not None:
                _session_start_complete(
                    known, evse_id, connector_id, id_tag, meter_start_wh, started_at, reservation_id
                )
            return SessionOutcome(known, _recorded_authorization(known))
    connector = (
        connector_get_or_create(station_id=station_id, evse_id=evse_id, connector_id=connector_id)
        if evse_id
        else None
    )
    if connector is not None and started_at is not None:
        repeated = ChargingSession.objects.filter(
            connector=connector, started_at=started_at, meter_start_wh=meter_start_wh
        ).first()
        if repeated is not None:
            return SessionOutcome(repeated, _recorded_authorization(repeated))

    authorization = (
        _authorize_for_session(station_id=station_id, id_tag=id_tag, at=started_at or timezone.now())
        if id_tag
        else None
    )
    session = ChargingSession.objects.create(
        station_id=station_id,
        connector=connector,
        id_tag=id_tag,
        id_token_id=authorization.id_token_pk if authorization else None,
        authorization_status=authorization.status if authorization else "",
        allowed_until=authorization.allowed_until if authorization else None,
        limit=authorization.limit if authorization else "",
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        meter_last_wh=meter_start_wh,
        reservation_id=reservation_id,
        external_id=external_id,
    )
    if external_id is None:  # the charger takes our id as its transaction id (1.6)
        session.external_id = str(session.pk)
        session.save(update_fields=["external_id"])
    if started_at is not None:
        _session_started_announce(session)
    return SessionOutcome(session, authorization)


def _session_started_announce(session: ChargingSession) -> None:
    session_id, station_id = session.pk, session.station_id
    transaction.on_commit(
        lambda: session_started.send(sender=ChargingSession, session_id=session_id, station_id=station_id)
    )


def _session_start_complete(
    session: ChargingSession,
    evse_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int | None,
    started_at: datetime,
    reservation_id: int | None,
) -> None:
    """Fill in the start of a session that a later event of the same transaction opened first."""
    if evse_id and session.connector_id is None:
        session.connector = connector_get_or_create(
            station_id=session.station_id, evse_id=evse_id, connector_id=connector_id
        )
    session.started_at, session.meter_start_wh, session.reservation_id = (
        started_at,
        meter_start_wh,
        reservation_id,
    )
    if session.meter_last_wh is None:
        session.meter_last_wh = meter_start_wh
    if id_tag and not session.id_tag:
        authorization = _authorize_for_session(station_id=session.station_id, id_tag=id_tag, at=started_at)
        _session_token_set(session, id_tag, authorization)
    session.save()
    _session_started_announce(session)


def _session_token_set(session: ChargingSession, id_tag: str, authorization: Authorization) -> None:
    session.id_tag, session.id_token_id = id_tag, authorization.id_token_pk
    session.authorization_status = authorization.status
    session.allowed_until, session.limit = authorization.allowed_until, authorization.limit


@transaction.atomic(savepoint=False)
def session_token_attach(*, session: ChargingSession, id_tag: str, at: datetime) -> Authorization:
    """Authorize a token shown during a session (2.0.1: plugged in first, badged afterwards); the
    session takes the first token that authorizes it."""
    authorization = _authorize_for_session(
        station_id=session.station_id, id_tag=id_tag, at=at, exclude_pk=session.pk
    )
    if not session.id_tag:
        _session_token_set(session, id_tag, authorization)
        session.save(update_fields=["id_tag", "id_token", "authorization_status", "allowed_until", "limit"])
    return authorization


SAMPLE_COLUMNS = (
    "station",
    "session",
    "evse_id",
    "sampled_at",
    "measurand",
    "phase",
    "unit",
    "context",
    "location",
    "value",
)


def _samples_store(*, station_id: int, evse_id: int, session_id: int | None, reading: MeterReading) -> None:
    rows_insert(
        MeterSample,
        SAMPLE_COLUMNS,
        [
            (
                station_id,
                session_id,
                evse_id,
                s.sampled_at,
                s.measurand,
                s.phase,
                s.unit,
                s.context,
                s.location,
                s.value,
            )
            for s in reading.samples
        ],
        skip_duplicates=True,  # a repeated MeterValues message
    )


def session_id_find(
    *, station_id: int, external_id: str | None = None, evse_id: int | None = None
) -> int | None:
    """Return the id of the session with this transaction id, or else of the one open on the EVSE."""
    if external_id is not None:
        sessions = ChargingSession.objects.filter(station_id=station_id, external_id=external_id)
    elif evse_id:
        sessions = ChargingSession.objects.open().filter(station_id=station_id, connector__evse_id=evse_id)
    else:
        return None
    return sessions.order_by("-started_at").values_list("pk", flat=True).first()


@transaction.atomic(savepoint=False)
def session_meter_record(
    *, station_id: int, evse_id: int, reading: MeterReading, session_id: int | None
) -> None:
    """Store the samples (one INSERT) and advance the session's live meter reading."""
    _samples_store(station_id=station_id, evse_id=evse_id, session_id=session_id, reading=reading)
    register_wh = reading.energy_register_wh()
    if session_id is not None and register_wh is not None:
        row_update_latest(
            ChargingSession, session_id, {"meter_last_wh": register_wh}, where_null="stopped_at"
        )
    if session_id is not None:
        transaction.on_commit(
            lambda: meter_recorded.send(sender=MeterSample, station_id=station_id, session_id=session_id)
        )
    currents = [s for s in reading.samples if s.measurand == "Current.Import" and s.phase != "N"]
    if session_id is not None and currents:
        latest = max(s.sampled_at for s in currents)
        current_a = max(s.value for s in currents if s.sampled_at == latest)
        transaction.on_commit(
            lambda: meter_sampled.send(
                sender=MeterSample,
                station_id=station_id,
                evse_id=evse_id,
                session_id=session_id,
                current_a=current_a,
                sampled_at=latest,
            )
        )


@transaction.atomic(savepoint=False)
def session_stop(
    *,
    station_id: int,
    external_id: str,
    meter_stop_wh: int | None,
    stopped_at: datetime,
    reason: StopReason = StopReason.LOCAL,
    id_tag: str = "",
    reading: MeterReading | None = None,
) -> SessionOutcome:
    """End the session; a repeated stop is a no-op and a stop for an unknown session is kept as such.
    Without a final reading (`meter_stop_wh` None) the last one received counts."""
    session = (
        ChargingSession.objects.select_for_update()
        .filter(station_id=station_id, external_id=external_id)
        .first()
    )
    if session is None:
        session, created = ChargingSession.objects.get_or_create(
            station_id=station_id,
            external_id=None,
            stopped_at=stopped_at,
            meter_stop_wh=meter_stop_wh,
            defaults={
                "stop_reason": reason,
                "stop_id_tag": id_tag,
                "anomaly": f"Stop for unknown transaction {external_id}",
            },
        )
        ended_now = False
    elif session.stopped_at is None:
        if meter_stop_wh is None:
            meter_stop_wh = session.meter_last_wh
        session.stopped_at, session.meter_stop_wh, session.meter_last_wh = (
            stopped_at,
            meter_stop_wh,
            meter_stop_wh,
        )
        session.stop_reason, session.stop_id_tag = reason, id_tag
        fields = ["stopped_at", "meter_stop_wh", "meter_last_wh", "stop_reason", "stop_id_tag", "energy_wh"]
        energy = None if meter_stop_wh is None else meter_stop_wh - (session.meter_start_wh or 0)
        session.energy_wh = None if energy is None else max(energy, 0)
        if energy is not None and energy < 0:
            session.anomaly = f"Meter went backwards by {-energy} Wh"
            fields.append("anomaly")
        session.save(update_fields=fields)
        ended_now = True
        if reading is not None and reading.samples:
            evse_id = session.connector.evse_id if session.connector else 0
            _samples_store(station_id=station_id, evse_id=evse_id, session_id=session.pk, reading=reading)
    else:
        ended_now = False

    authorization = None
    if id_tag:
        authorization = _authorize_for_session(
            station_id=station_id, id_tag=id_tag, at=stopped_at, exclude_pk=session.pk, rules=False
        )
        if authorization.status == AuthorizationStatus.CONCURRENT_TX:
            authorization = Authorization(
                status=AuthorizationStatus.ACCEPTED, id_token_pk=authorization.id_token_pk
            )
    if ended_now:
        session_pk = session.pk
        transaction.on_commit(lambda: session_ended.send(sender=ChargingSession, session_id=session_pk))
    return SessionOutcome(session, authorization)
