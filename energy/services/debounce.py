"""Once per burst, per site: the debounce the balancer (triggers.py) and the fleet planner (fleet_triggers.py)
share, each with keys of its own.

`soon(site_id)` takes a per-site pending key (Django's cache `add`: SET NX with a TTL in Redis) and
schedules one run `delay_s` later; the events until then find the key taken and add nothing. The run frees
the key before it reads the site, so an event arriving while it runs schedules the next one and is never
lost. A per-site lock keeps two runs of one site from overlapping.

Where the run happens: with Redis, in a Celery worker (countdown); the keys are then in Redis, shared by
the gateway, the web processes and the workers (settings point the cache at REDIS_URL). Without Redis,
beside the gateway (stations/ocpp/beside.py), with a periodic run of every site in the gateway's loop in
place of Celery beat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from stations.ocpp.beside import run_beside_gateway, task_keep
from stations.ocpp.consumer import gateway_loop

logger = logging.getLogger(__name__)

T = TypeVar("T")

PENDING_TTL_S = 60  # a scheduled run that never happened frees the site after this
LOCK_TTL_S = 300  # a run that died frees the site after this


@dataclass(eq=False)
class SiteDebounce(Generic[T]):
    name: str  # the keys' namespace: energy:<name>:pending:<site id>
    what: str  # the run in the logs' words
    job: Callable[..., Awaitable[T | None]]  # the run itself: job(site_id=…)
    task: str  # the Celery task running it (dotted path: the tasks module imports this one's users)
    delay_s: float
    period_s: float  # without Celery beat, how often the gateway's loop schedules every site
    sites: Callable[[], Iterable[int]]  # the sites the periodic run schedules
    loops: set[asyncio.AbstractEventLoop] = field(default_factory=set)  # those running the periodic run

    def pending_key(self, site_id: int) -> str:
        return f"energy:{self.name}:pending:{site_id}"

    def lock_key(self, site_id: int) -> str:
        return f"energy:{self.name}:lock:{site_id}"

    def soon(self, site_id: int) -> bool:
        """Run for the site in `delay_s`, once for all the events until then; True if this call did."""
        if not cache.add(self.pending_key(site_id), 1, timeout=PENDING_TTL_S):
            return False
        if settings.REDIS_URL:
            import_string(self.task).apply_async(kwargs={"site_id": site_id}, countdown=self.delay_s)
            return True
        run_beside_gateway(
            functools.partial(self.run_async, site_id=site_id),
            what=f"{self.what} of site {site_id}",
            delay_s=self.delay_s,
        )
        return True

    def all_soon(self) -> int:
        """Schedule a run of every site `sites` names (the periodic job); how many were scheduled."""
        return sum(self.soon(site_id) for site_id in self.sites())

    async def run_async(self, *, site_id: int) -> T | None:
        """The scheduled run: frees the pending key, then runs unless another run holds the site."""
        cache.delete(self.pending_key(site_id))
        if not settings.REDIS_URL:
            self._periodic_ensure()
        if not cache.add(self.lock_key(site_id), 1, timeout=LOCK_TTL_S):
            self.soon(site_id)  # after the one running
            return None
        try:
            return await self.job(site_id=site_id)
        finally:
            cache.delete(self.lock_key(site_id))

    def run(self, *, site_id: int) -> T | None:
        return async_to_sync(self.run_async)(site_id=site_id)

    def _periodic_ensure(self) -> None:
        """In the gateway's loop, start the periodic run there once."""
        loop = asyncio.get_running_loop()
        if loop is gateway_loop() and loop not in self.loops:
            self.loops.add(loop)
            task_keep(loop.create_task(self.every_period()), what=f"the periodic {self.what}")

    async def every_period(self) -> None:
        """The periodic run in the gateway's loop, for as long as the loop runs."""
        while True:
            await asyncio.sleep(self.period_s)
            try:
                await database_sync_to_async(self.all_soon, thread_sensitive=False)()
            except Exception:
                logger.exception("the periodic %s failed", self.what)
