"""What stations does when other apps report a change; receivers only enqueue tasks."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from accounts.signals import access_changed
from stations.models import Station
from stations.tasks import local_lists_sync_task


@receiver(access_changed)
def local_lists_refresh(sender: Any, *, organization_ids: list[int], **kwargs: Any) -> None:
    """Bring the local lists of the organizations' online chargers up to date."""
    station_ids = list(
        Station.objects.filter(site__organization_id__in=organization_ids, is_online=True).values_list(
            "pk", flat=True
        )
    )
    if station_ids:
        local_lists_sync_task.delay(station_ids=station_ids)
