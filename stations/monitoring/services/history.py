"""Connection history: one ConnectionPeriod per stretch a charger was connected."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from stations.monitoring.models import ConnectionPeriod

REPLACED = "replaced"


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
