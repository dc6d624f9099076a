"""When the balancer runs: soon after whatever changes a site's load, once per burst.

`site_rebalance_soon` sets a per-site key (SET NX with a TTL) and schedules one recompute a second later;
the events of that second find the key set and add nothing. The recompute deletes the key before it
reads the site, so an event arriving while it runs schedules the next one and is never lost. A per-site
lock keeps two recomputes of one site from overlapping.

Where the recompute runs: with Redis, in a Celery worker (countdown). Without Redis (one process, the
in-memory channel layer), in the gateway's event loop, the only place from which the chargers' sockets
are reachable; a process holding no sockets (a test, a command) runs it in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone

from energy.models import Allocation, AllocationStatus, SiteGrid
from energy.services.balancing import RebalanceOutcome, site_rebalance_async
from energy.services.keys import keys
from energy.services.loads import GIVE_BACK_BELOW_A, SETTLE, wanted_amps
from stations.models import ChargingSession, Station
from stations.ocpp.consumer import gateway_loop

logger = logging.getLogger(__name__)

DEBOUNCE_S = 1.0
PENDING_TTL_S = 60.0  # a scheduled recompute that never ran frees the site after this
LOCK_TTL_S = 300.0  # a recompute that died frees the site after this
SAFETY_NET_S = 60.0  # without Celery beat, the in-process periodic recompute of every site
_running: set[asyncio.Task[Any]] = set()
_safety_nets: set[asyncio.AbstractEventLoop] = set()


def _pending(site_id: int) -> str:
    return f"energy:rebalance:pending:{site_id}"


def _lock(site_id: int) -> str:
    return f"energy:rebalance:lock:{site_id}"


def site_rebalance_soon(site_id: int) -> bool:
    """Recompute the site in a second, once for all the events until then; True if this call scheduled it."""
    if not keys().add(_pending(site_id), PENDING_TTL_S):
        return False
    if settings.REDIS_URL:
        from energy.tasks import site_rebalance_task

        site_rebalance_task.apply_async(kwargs={"site_id": site_id}, countdown=DEBOUNCE_S)
        return True
    loop = gateway_loop()
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(_later_in_loop, loop, site_id)
    else:
        timer = threading.Timer(DEBOUNCE_S, _in_thread, kwargs={"site_id": site_id})
        timer.daemon = True
        timer.start()
    return True


async def site_rebalance_debounced_async(*, site_id: int) -> RebalanceOutcome | None:
    """The scheduled recompute: frees the pending key, then runs unless another recompute holds the site."""
    store = keys()
    store.delete(_pending(site_id))
    if not store.add(_lock(site_id), LOCK_TTL_S):
        site_rebalance_soon(site_id)  # after the one running
        return None
    try:
        return await site_rebalance_async(site_id=site_id)
    finally:
        store.delete(_lock(site_id))


def site_rebalance_debounced(*, site_id: int) -> RebalanceOutcome | None:
    return async_to_sync(site_rebalance_debounced_async)(site_id=site_id)


def _in_thread(*, site_id: int) -> None:
    try:
        site_rebalance_debounced(site_id=site_id)
    except Exception:
        logger.exception("rebalancing site %s failed", site_id)
    finally:
        connections.close_all()


def _spawn(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any]) -> None:
    task = loop.create_task(coroutine)
    _running.add(task)  # the loop keeps only a weak reference
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("rebalancing failed", exc_info=task.exception())


def _later_in_loop(loop: asyncio.AbstractEventLoop, site_id: int) -> None:
    if loop not in _safety_nets:
        _safety_nets.add(loop)
        _spawn(loop, _safety_net())
    loop.call_later(DEBOUNCE_S, _rebalance_in_loop, loop, site_id)


def _rebalance_in_loop(loop: asyncio.AbstractEventLoop, site_id: int) -> None:
    _spawn(loop, site_rebalance_debounced_async(site_id=site_id))


async def _safety_net() -> None:
    while True:
        await asyncio.sleep(SAFETY_NET_S)
        try:
            await database_sync_to_async(sites_rebalance_soon, thread_sensitive=False)()
        except Exception:
            logger.exception("the periodic rebalance failed")


def sites_rebalance_soon() -> int:
    """Schedule a recompute of every site that balances (the periodic safety net); how many."""
    site_ids = list(SiteGrid.objects.filter(balancing_enabled=True).values_list("site_id", flat=True))
    return sum(site_rebalance_soon(site_id) for site_id in site_ids)


def balanced_site_of_station(station_id: int) -> int | None:
    return (
        Station.objects.filter(pk=station_id, site__grid__balancing_enabled=True)
        .values_list("site_id", flat=True)
        .first()
    )


def balanced_site_of_session(session_id: int) -> int | None:
    return (
        ChargingSession.objects.filter(pk=session_id, station__site__grid__balancing_enabled=True)
        .values_list("station__site_id", flat=True)
        .first()
    )


def station_after_boot(*, station_id: int) -> int | None:
    """A charger booted: what it held may be gone, so everything is sent to it again; the site's id."""
    site_id = balanced_site_of_station(station_id)
    if site_id is None:
        return None
    Allocation.objects.filter(station_id=station_id).update(
        applied_amps=None, default_amps=None, status=AllocationStatus.PENDING, answered_at=None
    )
    site_rebalance_soon(site_id)
    return site_id


def meter_sample_check(
    *, station_id: int, evse_id: int, session_id: int, current_a: Any, sampled_at: Any
) -> int | None:
    """The site to recompute when a car draws clearly less than it was given, wants more again, or draws
    more than allocated; None otherwise (one indexed read per reading)."""
    row = (
        Allocation.objects.filter(station_id=station_id, evse_id=evse_id, session_id=session_id)
        .values("amps", "wanted_amps", "sent_at", "answered_at", "station__site_id")
        .first()
    )
    if row is None:
        return None
    settled = row["answered_at"] or row["sent_at"]
    if settled is not None and (sampled_at or timezone.now()) < settled + SETTLE:
        return None
    wanted = wanted_amps(measured=current_a, given=row["amps"], previous=row["wanted_amps"])
    previous = row["wanted_amps"]
    if (wanted is None) != (previous is None) or (
        wanted is not None and previous is not None and abs(wanted - previous) >= 1
    ):
        return row["station__site_id"]
    if current_a > row["amps"] + GIVE_BACK_BELOW_A:
        return row["station__site_id"]
    return None
