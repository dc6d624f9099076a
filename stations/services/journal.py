"""The frame journal: every OCPP frame in and out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from stations.models import Direction, Frame
from stations.services.bulk import rows_insert


@dataclass(frozen=True)
class FrameRecord:
    identity: str
    direction: Direction
    text: str
    message_type: int | None = None
    unique_id: str = ""
    action: str = ""
    at: datetime | None = None


def frames_record(*, records: list[FrameRecord]) -> None:
    """Write frames in one INSERT."""
    now = timezone.now()
    rows_insert(
        Frame,
        ("identity", "direction", "text", "message_type", "unique_id", "action", "created_at"),
        [
            (r.identity, r.direction, r.text, r.message_type, r.unique_id[:64], r.action[:64], r.at or now)
            for r in records
        ],
    )


def frames_prune(*, now: datetime | None = None, batch_size: int = 10_000) -> int:
    """Delete frames older than the retention period, in batches to keep locks short."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.CSMS_JOURNAL_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(Frame.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Frame.objects.filter(id__in=ids).delete()[0]
