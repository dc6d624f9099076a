"""Helpers of the live simulator tests: simulated chargers on a live gateway (daphne on the test database),
and this test process pointed at the gateway's Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from channels.db import database_sync_to_async

from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import TagPool
from tests.conftest import redis_test_url
from tests.factories import STATION_PASSWORD


def point_at_redis(settings: Any, url: str) -> None:
    """This process's channel layer and cache in the Redis at `url`, as csms/settings.py makes them with
    REDIS_URL: its calls reach the chargers of a gateway on that Redis, and its debounce keys are the
    gateway's."""
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def use_redis(gateways: Any, settings: Any) -> str:
    """A live gateway on the test Redis, with this process pointed at the same Redis; the gateway's URL."""
    url = redis_test_url()
    point_at_redis(settings, url)
    return gateways("simulator-redis", REDIS_URL=url).url


def simulated_charger(identity: str, url: str, ocpp: str = "1.6", **options: Any) -> SimulatedCharger:
    """A strict simulated charger (every payload checked against its version's schemas) metering every
    second, whose drivers start no session of their own for a long while; `options` override these."""
    defaults = {
        "password": STATION_PASSWORD,
        "session_every_s": 1000.0,
        "session_length_s": 1000.0,
        "meter_interval_s": 1,
        "strict": True,
    }
    options = defaults | options
    return SimulatedCharger(identity, ChargerOptions(url=url, ocpp=ocpp, **options), tags=TagPool([]))


@asynccontextmanager
async def charger_online(
    identity: str, url: str, ocpp: str = "1.6", **options: Any
) -> AsyncIterator[SimulatedCharger]:
    """A simulated charger running and connected (within 10 s), halted when the block ends."""
    charger = simulated_charger(identity, url, ocpp, **options)
    task = asyncio.create_task(charger.run())
    try:
        await asyncio.wait_for(charger.online.wait(), 10)
        yield charger
    finally:
        charger.halt()
        await task


async def station_send(identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A call to the charger through the CSMS's command path (the channel layer, the live gateway)."""
    from stations.ocpp.commands import station_call_async

    return await station_call_async(identity=identity, action=action, payload=payload, timeout=10)


async def in_db(query: Callable[[], Any]) -> Any:
    """Run a database query from the scenario's event loop."""
    return await database_sync_to_async(query, thread_sensitive=False)()


async def eventually_in_db(query: Callable[[], Any], timeout_s: float = 15.0) -> bool:
    """Poll a database query from the scenario's event loop until it is true or `timeout_s` has passed;
    whether it came true."""
    deadline = time.monotonic() + timeout_s
    while not await in_db(query):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True
