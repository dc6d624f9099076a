"""Read-only queries for the back office: chargers, their commands and charging sessions."""

from __future__ import annotations

from django.db.models import QuerySet

from stations.exceptions import StationNotFound
from stations.models import ChargingSession, OutgoingCall, Station


def station_list() -> QuerySet[Station]:
    """Return every charger with its site and connectors loaded."""
    return Station.objects.select_related("site").prefetch_related("connectors")


def station_get(*, identity: str) -> Station:
    """Return the charger with this identity, or raise StationNotFound."""
    station = station_list().filter(identity=identity).first()
    if station is None:
        raise StationNotFound(f"No charger {identity!r}.")
    return station


def outgoing_call_list(*, station: Station, limit: int = 10) -> list[OutgoingCall]:
    """Return the charger's most recent CSMS-initiated calls, newest first."""
    return list(station.calls.order_by("-created_at", "-id")[:limit])


def session_list(*, identity: str | None = None, open_only: bool = False) -> QuerySet[ChargingSession]:
    """Return charging sessions, newest first, of one charger when an identity is given."""
    sessions = ChargingSession.objects.select_related("station", "connector").order_by("-started_at", "-id")
    if identity is not None:
        sessions = sessions.filter(station__identity=identity)
    return sessions.open() if open_only else sessions
