"""Helpers of the live gateway tests: simulated chargers on a live gateway (daphne on the test database),
this test process pointed at the gateway's Redis, and waiting for what the gateway or a charger does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from channels.db import database_sync_to_async

from stations.simulator.charger import ChargerOptions, Opener, SimulatedCharger
from stations.simulator.drivers import TagPool
from stations.simulator.fleet import FleetOptions
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


def simulated_charger(
    identity: str,
    url: str,
    ocpp: str = "1.6",
    *,
    tags: Sequence[str] = (),
    opener: Opener | None = None,
    **options: Any,
) -> SimulatedCharger:
    """A strict simulated charger (every payload checked against its version's schemas) metering every
    second, whose drivers start no session of their own for a long while; `options` override these.
    With an `opener` it talks to whatever that opens (a fake CSMS) instead of `url`."""
    defaults = {
        "password": STATION_PASSWORD,
        "session_every_s": 1000.0,
        "session_length_s": 1000.0,
        "meter_interval_s": 1,
        "strict": True,
    }
    options = defaults | options
    return SimulatedCharger(
        identity, ChargerOptions(url=url, ocpp=ocpp, **options), tags=TagPool(list(tags)), opener=opener
    )


def short_fleet(url: str, **fleet: Any) -> FleetOptions:
    """A fleet run of 9 s (one strict two-connector charger unless `fleet` says otherwise) whose drivers
    start a session of about 3 s about every second, metered every second."""
    charger = ChargerOptions(
        url=url,
        password=STATION_PASSWORD,
        connectors=2,
        session_every_s=1.0,
        session_length_s=3.0,
        meter_interval_s=1,
        strict=True,
    )
    return FleetOptions(**({"chargers": 1, "charger": charger, "duration_s": 9.0, "seed": 1} | fleet))


@asynccontextmanager
async def charger_online(
    identity: str, url: str, ocpp: str = "1.6", **options: Any
) -> AsyncIterator[SimulatedCharger]:
    """A simulated charger running and connected (within 10 s), halted (within 10 s) when the block ends."""
    charger = simulated_charger(identity, url, ocpp, **options)
    task = asyncio.create_task(charger.run())
    try:
        await asyncio.wait_for(charger.online.wait(), 10)
        yield charger
    finally:
        charger.halt()
        await asyncio.wait_for(task, 10)


async def station_send(identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A call to the charger through the CSMS's command path (the channel layer, the live gateway)."""
    from stations.ocpp.commands import station_call_async

    return await station_call_async(identity=identity, action=action, payload=payload, timeout=10)


async def in_db(query: Callable[[], Any]) -> Any:
    """Run a database query from the scenario's event loop."""
    return await database_sync_to_async(query, thread_sensitive=False)()


async def eventually_in_db(query: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    """Poll a database query from the scenario's event loop until its result is true or `timeout_s` has
    passed; its last result (false when it never came true)."""
    deadline = time.monotonic() + timeout_s
    while not (found := await in_db(query)):
        if time.monotonic() >= deadline:
            return found
        await asyncio.sleep(0.05)
    return found


async def eventually(condition: Callable[[], Any], timeout_s: float = 5.0) -> None:
    """Wait in the scenario's event loop until `condition` (of the charger's state, say) holds; fail if it
    does not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0) -> bool:
    """Poll `predicate` (a database query, say) from synchronous test code until it is true or `timeout`
    seconds have passed; whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
