"""Monitoring's receivers of the stations signals (sent after commit): connection history, and pushes to
the live dashboards (queued to the push thread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from stations.models import Station
from stations.monitoring.services import history, push
from stations.signals import (
    connector_status_changed,
    meter_recorded,
    session_ended,
    session_started,
    station_connected,
    station_disconnected,
)


@receiver(station_connected)
def connection_record_open(sender: Any, *, station_id: int, at: datetime, **kwargs: Any) -> None:
    history.connection_opened(station_id=station_id, at=at)
    push.station_changed(station_id)


@receiver(station_disconnected)
def connection_record_close(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    at = kwargs.get("at") or timezone.now()
    if kwargs.get("reason") == "heartbeat overdue":
        # Silent since its last message: down from then, not from when the job noticed.
        last_seen_at = Station.objects.filter(pk=station_id).values_list("last_seen_at", flat=True).first()
        at = min(at, last_seen_at or at)
    history.connection_closed(station_id=station_id, at=at, reason=kwargs.get("reason", "socket closed"))
    push.station_changed(station_id)


@receiver(connector_status_changed)
@receiver(meter_recorded)
@receiver(session_started)
def dashboard_update(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    push.station_changed(station_id)


@receiver(session_ended)
def dashboard_update_after_session(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    from stations.models import ChargingSession

    station_id = ChargingSession.objects.filter(pk=session_id).values_list("station_id", flat=True).first()
    if station_id is not None:
        push.station_changed(station_id)
