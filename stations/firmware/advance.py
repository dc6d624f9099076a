"""Move one campaign along right away (a charger's update ended, staff started or resumed it) rather than
at the periodic job's next run, 30 s later at worst.

With Redis the run happens in a Celery worker; without it, beside the gateway (stations/ocpp/beside.py):
the report that ended an update is being handled in its charger's consumer, which must not wait on it.
"""

from __future__ import annotations

import functools

from channels.db import database_sync_to_async
from django.conf import settings

from stations.firmware.models import FirmwareCampaign
from stations.firmware.tasks import firmware_campaign_advance_task


def firmware_campaign_advance_soon(campaign_id: int) -> None:
    """Advance the campaign now, elsewhere than the caller (call it after the commit)."""
    if settings.REDIS_URL:
        firmware_campaign_advance_task.delay(campaign_id=campaign_id)
        return
    # The consumer module imports the adapters, which import this one through progress.py.
    from stations.ocpp.beside import run_beside_gateway

    advance = database_sync_to_async(firmware_campaign_advance_now, thread_sensitive=False)
    run_beside_gateway(
        functools.partial(advance, campaign_id), what=f"advancing firmware campaign {campaign_id}"
    )


def firmware_campaign_advance_now(campaign_id: int) -> int:
    """The run itself: how many updates it started; none for a campaign deleted since."""
    from stations.firmware.services import firmware_campaign_advance  # services imports progress, then this

    try:
        return firmware_campaign_advance(campaign_id=campaign_id)
    except FirmwareCampaign.DoesNotExist:
        return 0
