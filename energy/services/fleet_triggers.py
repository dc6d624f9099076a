"""When fleet plans are made: a site is re-planned soon after whatever changes its fleet's plan (a fleet
vehicle plugging in or leaving, a need or a vehicle edited, a grid price or a tariff changed), once per
burst, and every 15 minutes while a fleet is plugged in there or a plan is still in force.

The debounce is the balancer's (energy/services/triggers.py), with keys of its own: a per-site key taken
with SET NX and a TTL schedules one replan DEBOUNCE_S later and the events until then add nothing; the
replan frees the key before it reads the site, so an event during it schedules the next one; a per-site
lock keeps two replans of one site apart. With Redis the replan runs in a Celery worker; without, in the
gateway's event loop (the only place the chargers' sockets are reachable), or in a thread in a process
holding no sockets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone

from energy.models import FleetPlanRecord, FleetPlanStatus
from energy.services.fleet_replan import site_fleet_replan_async
from energy.services.keys import keys
from stations.models import ChargingSession
from stations.ocpp.consumer import gateway_loop

logger = logging.getLogger(__name__)

DEBOUNCE_S = 2.0  # after the balancer's 1 s: a car plugging in has its first limit before its plan
PENDING_TTL_S = 60.0
LOCK_TTL_S = 300.0
PERIOD_S = 15 * 60  # without Celery beat, the in-process periodic replan
_running: set[asyncio.Task[Any]] = set()
_periodic: set[asyncio.AbstractEventLoop] = set()


def _pending(site_id: int) -> str:
    return f"energy:fleet:pending:{site_id}"


def _lock(site_id: int) -> str:
    return f"energy:fleet:lock:{site_id}"


def site_fleet_replan_soon(site_id: int) -> bool:
    """Re-plan the site's fleet in DEBOUNCE_S, once for all the events until then; True if this call
    scheduled it."""
    if not keys().add(_pending(site_id), PENDING_TTL_S):
        return False
    if settings.REDIS_URL:
        from energy.tasks_fleet import site_fleet_replan_task

        site_fleet_replan_task.apply_async(kwargs={"site_id": site_id}, countdown=DEBOUNCE_S)
        return True
    loop = gateway_loop()
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(_later_in_loop, loop, site_id)
    else:
        timer = threading.Timer(DEBOUNCE_S, _in_thread, kwargs={"site_id": site_id})
        timer.daemon = True
        timer.start()
    return True


async def site_fleet_replan_debounced_async(*, site_id: int) -> FleetPlanRecord | None:
    """The scheduled replan: frees the pending key, then runs unless another replan holds the site."""
    store = keys()
    store.delete(_pending(site_id))
    if not store.add(_lock(site_id), LOCK_TTL_S):
        site_fleet_replan_soon(site_id)  # after the one running
        return None
    try:
        return await site_fleet_replan_async(site_id=site_id)
    finally:
        store.delete(_lock(site_id))


def site_fleet_replan_debounced(*, site_id: int) -> FleetPlanRecord | None:
    return async_to_sync(site_fleet_replan_debounced_async)(site_id=site_id)


def _in_thread(*, site_id: int) -> None:
    try:
        site_fleet_replan_debounced(site_id=site_id)
    except Exception:
        logger.exception("re-planning the fleet of site %s failed", site_id)
    finally:
        connections.close_all()


def _spawn(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any]) -> None:
    task = loop.create_task(coroutine)
    _running.add(task)  # the loop keeps only a weak reference
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("re-planning a fleet failed", exc_info=task.exception())


def _later_in_loop(loop: asyncio.AbstractEventLoop, site_id: int) -> None:
    if loop not in _periodic:
        _periodic.add(loop)
        _spawn(loop, _every_period())
    loop.call_later(DEBOUNCE_S, _replan_in_loop, loop, site_id)


def _replan_in_loop(loop: asyncio.AbstractEventLoop, site_id: int) -> None:
    _spawn(loop, site_fleet_replan_debounced_async(site_id=site_id))


async def _every_period() -> None:
    while True:
        await asyncio.sleep(PERIOD_S)
        try:
            await database_sync_to_async(fleet_sites_replan_soon, thread_sensitive=False)()
        except Exception:
            logger.exception("the periodic fleet replan failed")


def fleet_sites() -> set[int]:
    """The sites with a fleet vehicle plugged in, or a plan of the last day still naming vehicles."""
    plugged = (
        ChargingSession.objects.open()
        .filter(id_token__fleet_vehicles__isnull=False, station__site__grid__isnull=False)
        .values_list("station__site_id", flat=True)
    )
    sites = set(plugged)
    recent = FleetPlanRecord.objects.filter(computed_at__gt=timezone.now() - timedelta(days=1)).exclude(
        status=FleetPlanStatus.SUPERSEDED
    )
    for record in recent.only("site_id", "plan"):
        if record.plan.get("vehicles"):
            sites.add(record.site_id)
    return sites


def fleet_sites_replan_soon() -> int:
    """Schedule a replan of every site with a fleet (the periodic job); how many were scheduled."""
    return sum(site_fleet_replan_soon(site_id) for site_id in sorted(fleet_sites()))


def fleet_site_of_session(session_id: int) -> int | None:
    """The session's site when the session is a fleet vehicle's and the site's grid is known."""
    return (
        ChargingSession.objects.filter(
            pk=session_id, id_token__fleet_vehicles__isnull=False, station__site__grid__isnull=False
        )
        .values_list("station__site_id", flat=True)
        .first()
    )
