from __future__ import annotations

from celery import shared_task


@shared_task
def firmware_campaigns_advance_task() -> int:
    """Move running firmware campaigns along (scheduled with django-celery-beat)."""
    from stations.firmware.services import firmware_campaigns_advance

    return firmware_campaigns_advance()
