"""Connection history: one ConnectionPeriod per stretch a charger was connected."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from stations.models import Station
from stations.monitoring.models import ConnectionPeriod

REPLACED = "replaced"
RECONCILED = "offline, no close seen"


@transaction.atomic
def connection_opened(*, station_id: int, at: datetime) -> ConnectionPeriod:
    """Start a period; one still open ends here (its socket was replaced, or its close never came)."""
    ConnectionPeriod.objects.filter(station_id=station_id, disconnected_at__isnull=True).update(
        disconnected_at=at, reason=REPLACED
    )
    return ConnectionPeriod.objects.create(station_id=station_id, connected_at=at)


def connection_closed(*, station_id: int, at: datetime, reason: str) -> int:
    """End the open period; a second notice (socket closing after a heartbeat timeout) changes nothing."""
    return ConnectionPeriod.objects.filter(station_id=station_id, disconnected_at__isnull=True).update(
        disconnected_at=at, reason=reason[:40]
    )


def connection_periods_reconcile(*, now: datetime | None = None) -> tuple[int, int]:
    """Bring the history in line with the chargers' online flags; return (opened, closed).

    A charger marked offline after a silence that then speaks again on the same socket is online
    without a new connection: its period starts at its last message (at most one job interval late,
    which counts as down). A period left open by a gateway that died ends at the charger's last message.
    """
    now = now or timezone.now()
    open_periods = ConnectionPeriod.objects.filter(disconnected_at__isnull=True)
    resumed = Station.objects.filter(is_online=True).exclude(pk__in=open_periods.values("station_id"))
    opened = [
        ConnectionPeriod(station_id=pk, connected_at=last_seen_at or now)
        for pk, last_seen_at in resumed.values_list("pk", "last_seen_at")
    ]
    ConnectionPeriod.objects.bulk_create(opened)
    closed = 0
    for period in open_periods.filter(station__is_online=False).select_related("station"):
        ended = max(period.station.last_seen_at or now, period.connected_at)
        closed += connection_closed(station_id=period.station_id, at=ended, reason=RECONCILED)
    return len(opened), closed
