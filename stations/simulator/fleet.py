"""A fleet of simulated chargers, started gradually and stopped gracefully."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress
from dataclasses import dataclass, replace

from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import Stats, TagPool

logger = logging.getLogger("stations.simulator")


@dataclass(frozen=True)
class FleetOptions:
    chargers: int
    charger: ChargerOptions
    prefix: str = "SIM-"
    id_tags: tuple[str, ...] = ("DEMO-TAG-1", "DEMO-TAG-2")
    duration_s: float | None = None  # None: until stopped
    start_rate_per_s: float = 20.0  # chargers connecting per second, as after a power cut
    seed: int | None = None
    # OCPP versions the chargers speak, in turn: ("1.6", "2.0.1") makes a mixed site.
    versions: tuple[str, ...] = ("1.6",)

    def identities(self) -> list[str]:
        return [f"{self.prefix}{i:03d}" for i in range(1, self.chargers + 1)]


async def fleet_run(
    options: FleetOptions, *, stop: asyncio.Event | None = None, stats: Stats | None = None
) -> Stats:
    """Run the chargers until the duration elapses or `stop` is set; then end sessions and disconnect."""
    stats = stats or Stats()
    stop = stop or asyncio.Event()
    tags = TagPool(list(options.id_tags))
    seeds = random.Random(options.seed)
    chargers = [
        SimulatedCharger(
            identity,
            replace(options.charger, ocpp=options.versions[n % len(options.versions)]),
            tags=tags,
            stats=stats,
            rng=random.Random(f"{identity}:{seeds.random()}" if options.seed is not None else None),
        )
        for n, identity in enumerate(options.identities())
    ]
    logger.info("simulating %d chargers against %s", len(chargers), options.charger.url)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(options.duration_s):
            for charger in chargers:
                tasks.append(asyncio.create_task(charger.run()))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1 / options.start_rate_per_s)
                if stop.is_set():
                    break
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        logger.info("stopping: ending transactions and closing connections")
        await _shut_down(chargers, tasks)
    logger.info("done: %s", stats.summary())
    return stats


async def _shut_down(chargers: list[SimulatedCharger], tasks: list[asyncio.Task[None]]) -> None:
    running = chargers[: len(tasks)]
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.stop() for c in running), return_exceptions=True), 15)
    for charger in running:
        charger.halt()
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
