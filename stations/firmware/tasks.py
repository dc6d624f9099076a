from __future__ import annotations

from celery import shared_task


@shared_task
def firmware_campaigns_advance_task() -> int:
    """Move running firmware campaigns along (scheduled with django-celery-beat)."""
    from stations.firmware.services import firmware_campaigns_advance

    return firmware_campaigns_advance()


@shared_task
def firmware_campaign_advance_task(*, campaign_id: int) -> int:
    """Move one campaign along now: an update of it ended, or staff started or resumed it."""
    from stations.firmware.advance import firmware_campaign_advance_now

    return firmware_campaign_advance_now(campaign_id)
