"""Rows describing domain objects, shared by the management commands' listings and the admin's CSV export."""

from __future__ import annotations

from typing import Any

from stations.models import ChargingSession

# Columns of a session row, with the headings the command line prints.
SESSION_COLUMNS = {
    "transaction_id": "TRANSACTION",
    "charger": "CHARGER",
    "connector": "CONNECTOR",
    "id_tag": "ID TAG",
    "started_at": "STARTED",
    "stopped_at": "STOPPED",
    "meter_start": "METER START (Wh)",
    "meter_stop": "METER STOP (Wh)",
    "energy_wh": "ENERGY WH",
    "stop_reason": "STOP REASON",
}


def session_data(session: ChargingSession) -> dict[str, Any]:
    """Describe a charging session; the energy of an open one is the amount so far."""
    return {
        "transaction_id": session.external_id,
        "charger": session.station.identity,
        "connector": session.connector.evse_id if session.connector else None,
        "id_tag": session.id_tag,
        "started_at": session.started_at,
        "stopped_at": session.stopped_at,
        "meter_start": session.meter_start_wh,
        "meter_stop": session.meter_stop_wh,
        "energy_wh": session.live_energy_wh,
        "stop_reason": session.stop_reason,
    }
