"""Live: simulated chargers at a 32 A three-phase site start and stop sessions over real WebSockets to a
daphne gateway (no Redis: the balancer runs in the gateway's event loop); the site never draws more than
32 A on any phase, and a lone car gets the whole site."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from energy.models import Allocation, AllocationChange, AllocationStatus, ChargerWiring, SiteGrid
from stations.models import MeterSample
from stations.simulator.charger import SimulatedCharger
from tests.factories import IdTokenFactory, SiteFactory, StationFactory
from tests.simulator_live import in_db, simulated_charger

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIMIT_A = 32.0
VERSIONS = ["1.6", "2.0.1", "1.6", "2.0.1"]


def site_of_four():
    site = SiteFactory()
    SiteGrid.objects.create(site=site, phase_limit_amps=Decimal(LIMIT_A))
    stations = []
    for n, _ in enumerate(VERSIONS, start=1):
        station = StationFactory(identity=f"LB-{n}", site=site)
        ChargerWiring.objects.create(station=station, phases=3, phase_rotation="RST", max_amps=Decimal(32))
        IdTokenFactory(id_tag=f"LB-CAR-{n}")
        stations.append(station)
    return site, stations


async def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await in_db(check):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def accepted_limit(station, evse_id: int = 1) -> Decimal | None:
    row = Allocation.objects.filter(station=station, evse_id=evse_id, session__isnull=False).first()
    return row.applied_amps if row is not None else None


def site_draw(chargers: list[SimulatedCharger]) -> dict[str, float]:
    """The Current.Import per phase of every charger's meter at this instant, summed (all chargers run in
    this event loop, so this is one simultaneous reading of what each would report in MeterValues)."""
    total = {"L1": 0.0, "L2": 0.0, "L3": 0.0}
    for charger in chargers:
        for connector in charger.connectors.values():
            for sampled in connector.meter.sampled_values(["Current.Import"], "Sample.Periodic"):
                total[sampled["phase"]] += float(sampled["value"])
    return total


def test_simulated_chargers_at_a_32_a_site_never_draw_more_than_32_a(gateway):
    site, stations = site_of_four()
    a, b, c, d = stations

    async def scenario() -> dict[str, Any]:
        chargers = [
            simulated_charger(
                station.identity,
                gateway.url,
                version,
                connectors=1,
                session_every_s=0.4,
                session_length_s=10_000.0,
            )
            for station, version in zip(stations, VERSIONS, strict=True)
        ]
        tasks = [asyncio.create_task(charger.run()) for charger in chargers]
        readings: list[tuple[float, dict[str, float], int]] = []
        lone: list[float] = []
        sampling = True

        async def sample() -> None:
            while sampling:
                charging = sum(1 for ch in chargers for co in ch.connectors.values() if co.transaction_id)
                readings.append((time.monotonic(), site_draw(chargers), charging))
                await asyncio.sleep(0.02)

        def start(n: int) -> None:
            chargers[n].tags.release(f"LB-CAR-{n + 1}")

        def stop(n: int) -> None:
            assert chargers[n].connectors[1].request_stop("Local")

        sampler = asyncio.create_task(sample())
        try:
            for charger in chargers:
                await asyncio.wait_for(charger.online.wait(), 15)

            def defaults_taken() -> bool:
                rows = Allocation.objects.filter(station__in=stations, evse_id=0, default_amps__isnull=False)
                return rows.count() == 4

            await until(defaults_taken, "every charger's default")

            start(0)  # a lone car: the whole site

            def lone_limited() -> bool:
                return AllocationChange.objects.filter(
                    station=a,
                    evse_id=1,
                    session__isnull=False,
                    amps=Decimal(32),
                    status=AllocationStatus.ACCEPTED,
                ).exists()

            await until(lone_limited, "the lone car's limit")
            await asyncio.sleep(2.5)
            lone.append(chargers[0].connectors[1].meter.ev.max_power_w)  # type: ignore[union-attr]
            lone.append(max(r[1]["L1"] for r in readings if r[2] == 1))

            start(1)  # a second car: the first goes down first

            def shared_by_two() -> bool:
                first, second = accepted_limit(a), accepted_limit(b)
                return first is not None and second is not None and first <= 16 and second > 0

            await until(shared_by_two, "two cars sharing")
            start(2)  # two more at once
            start(3)

            def shared_by_four() -> bool:
                limits = [accepted_limit(s) for s in stations]
                return all(limit is not None and limit >= 6 for limit in limits) and sum(limits) <= 32

            await until(shared_by_four, "four cars sharing")
            await asyncio.sleep(2)
            stop(0)  # the first leaves: the others get its share

            def shared_by_three() -> bool:
                limits = [accepted_limit(s) for s in (b, c, d)]
                return all(limit is not None for limit in limits) and sum(limits) > 24

            await until(shared_by_three, "three cars taking the freed share")
            await asyncio.sleep(2)
            for n in (1, 2, 3):
                stop(n)
            await asyncio.sleep(1)
        finally:
            sampling = False
            await sampler
            for charger in chargers:
                charger.halt()
            await asyncio.gather(*tasks)
        return {"readings": readings, "lone": lone, "errors": [ch.stats.protocol_errors for ch in chargers]}

    outcome = asyncio.run(scenario())

    assert outcome["errors"] == [[], [], [], []]  # every call and answer valid for its version
    readings = outcome["readings"]
    assert max(r[2] for r in readings) == 4
    worst = {phase: max(r[1][phase] for r in readings) for phase in ("L1", "L2", "L3")}
    assert max(worst.values()) <= LIMIT_A, worst
    assert worst["L1"] > 30  # the site was used, not just kept safe
    # The lone car drew all it could: its own maximum (the cars here take at most 32 A per phase).
    car_max_w, lone_l1 = outcome["lone"]
    car_max_a = car_max_w / (230 * (3 if car_max_w > 7_400 else 1))
    assert lone_l1 >= min(car_max_a, LIMIT_A) - 0.5

    # What the chargers reported in their MeterValues: every session's currents, none above the site limit.
    currents = MeterSample.objects.filter(station__in=stations, measurand="Current.Import")
    assert currents.values("station").distinct().count() == 4
    assert max(sample.value for sample in currents) <= Decimal(LIMIT_A)
