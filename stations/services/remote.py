"""Starting and stopping sessions from the CSMS, for other apps: they name a charger, an EVSE and an
id tag or a session, and get back whether the charger accepted and what came of it in words."""

from __future__ import annotations

from dataclasses import dataclass

from stations.exceptions import CallRejected, StationError
from stations.models import ChargingSession, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.commands import station_call


@dataclass(frozen=True)
class RemoteOutcome:
    accepted: bool
    message: str


def session_start_remotely(
    *, station: Station, evse_id: int, id_tag: str, requested_by: str, timeout: float | None = None
) -> RemoteOutcome:
    """Ask the charger to start a session on an EVSE for `id_tag` (RemoteStart / RequestStart)."""
    adapter = ADAPTERS.get(station.protocol)
    if adapter is None or not station.is_online:
        return RemoteOutcome(False, "The charger is offline.")
    action, payload = adapter.remote_start_call(evse_id=evse_id, id_tag=id_tag)
    try:
        answer = station_call(
            identity=station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
        )
    except CallRejected as error:
        return RemoteOutcome(False, f"The charger refused to start: {error}")
    except StationError as error:
        return RemoteOutcome(False, f"The charger could not be reached: {error}")
    status = answer.get("status", "")
    if status == "Accepted":
        return RemoteOutcome(True, "The charger accepted the start.")
    return RemoteOutcome(False, f"The charger answered {status or 'nothing'} to the start.")


def session_stop_remotely(
    *, session: ChargingSession, requested_by: str, timeout: float | None = None
) -> RemoteOutcome:
    """Ask the charger to stop an open session (RemoteStop / RequestStop)."""
    if not session.station.is_online:
        return RemoteOutcome(False, "Not stopped yet: the charger is offline.")
    adapter = ADAPTERS.get(session.station.protocol)
    call = adapter.remote_stop_call(session.external_id or "") if adapter else None
    if call is None:
        return RemoteOutcome(False, "The charger's transaction id or OCPP version is unknown.")
    action, payload = call
    try:
        answer = station_call(
            identity=session.station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
        )
    except CallRejected as error:
        return RemoteOutcome(False, f"The charger refused to stop: {error}")
    except StationError as error:
        return RemoteOutcome(False, f"Not stopped yet: {error}")
    status = answer.get("status", "")
    if status == "Accepted":
        return RemoteOutcome(True, "The charger accepted the stop.")
    return RemoteOutcome(False, f"The charger answered {status or 'nothing'} to the stop.")
