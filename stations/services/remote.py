"""Starting and stopping sessions from the CSMS, for other apps: they name a charger, an EVSE and an
id tag or a session, and get back whether the charger accepted and what came of it in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync

from stations.exceptions import CallRejected, StationError
from stations.models import ChargingSession, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.commands import station_call_async


@dataclass(frozen=True)
class RemoteOutcome:
    accepted: bool
    message: str


async def _ask(
    *, station: Station, call: tuple[str, dict[str, Any]], verb: str, requested_by: str, timeout: float | None
) -> RemoteOutcome:
    """Send a start or stop call and put the charger's answer (or silence) in words."""
    action, payload = call
    try:
        answer = await station_call_async(
            identity=station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
        )
    except CallRejected as error:
        return RemoteOutcome(False, f"The charger refused to {verb}: {error}")
    except StationError as error:
        return RemoteOutcome(False, f"The charger could not be reached: {error}")
    status = answer.get("status", "")
    if status == "Accepted":
        return RemoteOutcome(True, f"The charger accepted the {verb}.")
    return RemoteOutcome(False, f"The charger answered {status or 'nothing'} to the {verb}.")


def session_start_remotely(
    *, station: Station, evse_id: int, id_tag: str, requested_by: str, timeout: float | None = None
) -> RemoteOutcome:
    """Ask the charger to start a session on an EVSE for `id_tag` (RemoteStart / RequestStart)."""
    adapter = ADAPTERS.get(station.protocol)
    if adapter is None or not station.is_online:
        return RemoteOutcome(False, "The charger is offline.")
    call = adapter.remote_start_call(evse_id=evse_id, id_tag=id_tag)
    return async_to_sync(_ask)(
        station=station, call=call, verb="start", requested_by=requested_by, timeout=timeout
    )


async def session_stop_remotely_async(
    *, session: ChargingSession, requested_by: str, timeout: float | None = None
) -> RemoteOutcome:
    """Ask the charger to stop an open session (RemoteStop / RequestStop); `session.station` must be
    loaded (select_related) when called from async code."""
    station = session.station
    if not station.is_online:
        return RemoteOutcome(False, "Not stopped yet: the charger is offline.")
    adapter = ADAPTERS.get(station.protocol)
    call = adapter.remote_stop_call(session.external_id or "") if adapter else None
    if call is None:
        return RemoteOutcome(False, "The charger's transaction id or OCPP version is unknown.")
    return await _ask(station=station, call=call, verb="stop", requested_by=requested_by, timeout=timeout)


def session_stop_remotely(
    *, session: ChargingSession, requested_by: str, timeout: float | None = None
) -> RemoteOutcome:
    """session_stop_remotely_async, for the admin, the portal and Celery tasks."""
    session.station  # noqa: B018 (loaded here, where the database may be queried)
    return async_to_sync(session_stop_remotely_async)(
        session=session, requested_by=requested_by, timeout=timeout
    )
