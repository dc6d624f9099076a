"""What the configuration app does when stations reports a change; receivers only enqueue tasks."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from stations.configuration.models import FirmwareStandard
from stations.configuration.tasks import firmware_station_check_task
from stations.signals import station_booted


@receiver(station_booted, dispatch_uid="configuration.firmware_after_boot")
def firmware_after_boot(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    """A boot reports the charger's firmware version (after an update, say): check it against the standard."""
    if FirmwareStandard.objects.exists():
        firmware_station_check_task.delay(station_id=station_id)
