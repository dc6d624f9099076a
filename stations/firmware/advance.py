"""Move one campaign along right away (a charger's update ended, staff started or resumed it) rather than
at the periodic job's next run, 30 s later at worst.

Where the run happens: with Redis, in a Celery worker. Without Redis (one process, the in-memory channel
layer), in the gateway's event loop, the only place from which the chargers' sockets are reachable. Not
inline: the report that ended an update is being handled in its charger's consumer, and a call sent
synchronously from there would wait on consumers that may be busy (that one's among them), so the run is
scheduled in the loop, in a thread of its own. A process holding no sockets (a test, a command) runs it
in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from stations.firmware.models import FirmwareCampaign
from stations.firmware.tasks import firmware_campaign_advance_task

logger = logging.getLogger(__name__)

_running: set[asyncio.Task[Any]] = set()  # the loop keeps only weak references to its tasks


def firmware_campaign_advance_soon(campaign_id: int) -> None:
    """Advance the campaign now, elsewhere than the caller (call it after the commit)."""
    if settings.REDIS_URL:
        firmware_campaign_advance_task.delay(campaign_id=campaign_id)
        return
    # The consumer module imports the adapters, which import this one through progress.py.
    from stations.ocpp.consumer import gateway_loop

    loop = gateway_loop()
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(_spawn, campaign_id)
    else:
        threading.Thread(target=_advance_in_thread, args=(campaign_id,), daemon=True).start()


def firmware_campaign_advance_now(campaign_id: int) -> int:
    """The run itself: how many updates it started; none for a campaign deleted since."""
    from stations.firmware.services import firmware_campaign_advance  # services imports progress, then this

    try:
        return firmware_campaign_advance(campaign_id=campaign_id)
    except FirmwareCampaign.DoesNotExist:
        return 0


def _guarded(campaign_id: int) -> None:
    try:
        firmware_campaign_advance_now(campaign_id)
    except Exception:
        logger.exception("firmware campaign %s could not advance", campaign_id)


def _spawn(campaign_id: int) -> None:
    task = asyncio.get_running_loop().create_task(
        database_sync_to_async(_guarded, thread_sensitive=False)(campaign_id)
    )
    _running.add(task)
    task.add_done_callback(_running.discard)


def _advance_in_thread(campaign_id: int) -> None:
    try:
        _guarded(campaign_id)
    finally:
        connections.close_all()
