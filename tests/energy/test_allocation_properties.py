"""Properties of the site load allocator over random circuit trees and loads, checked in plain Decimal amps.

The checks recompute every phase and power total from the result, independently of the allocator's
integer bookkeeping, and compare them with the limits as given.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.allocation import Circuit, Load, allocate

D = Decimal
TENTH = D("0.1")
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PHASE_SETS = [(1,), (2,), (3,), (1, 2, 3), (2, 3, 1), (3, 1, 2), (1, 2)]
amps = st.one_of(
    st.sampled_from([D(6), D(10), D(13), D(16), D(20), D(25), D(32), D(40), D(63)]),
    st.integers(0, 800).map(lambda tenths: D(tenths) / 10),
    st.integers(0, 8000).map(lambda hundredths: D(hundredths) / 100),
)
phase_limits = st.one_of(
    st.none(),
    amps.map(lambda a: (a * 2, a * 2, a * 2)),
    st.tuples(amps, amps, amps),
)
# A pick is reduced modulo the number of choices once those are known (the circuits above, the circuits).
picks = st.integers(0, 1000)
circuit_specs = st.tuples(
    picks,
    phase_limits,
    st.none() | st.integers(0, 60000).map(D),
    st.sampled_from(["230", "220", "240", "120"]),
)
load_specs = st.tuples(
    picks,
    st.sampled_from(PHASE_SETS),
    amps,
    st.sampled_from([D(0), D(6), D(6)]),
    st.none() | picks,
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 7),
)


@st.composite
def sites(draw: st.DrawFn) -> tuple[list[Circuit], list[Load]]:
    """A tree of 1 to 7 circuits (1 to 4 levels; power limits on some sites) with 0 to 24 loads."""
    with_power = draw(st.booleans())
    circuits: list[Circuit] = []
    depth: list[int] = []
    count = draw(st.integers(1, 7))
    for pick, limits, power, voltage in draw(st.lists(circuit_specs, min_size=count, max_size=count)):
        parent = None
        if circuits:
            eligible = [index for index, level in enumerate(depth) if level < 4]
            parent = eligible[pick % len(eligible)]
        depth.append(1 if parent is None else depth[parent] + 1)
        circuits.append(
            Circuit(
                f"c{len(circuits)}",
                None if parent is None else f"c{parent}",
                limits,
                power if with_power else None,
                D(voltage),
            )
        )
    loads = []
    count = draw(st.integers(0, 24))
    for index, spec in enumerate(draw(st.lists(load_specs, min_size=count, max_size=count))):
        circuit_pick, phases, max_amps, min_amps, wanted_pick, priority, rank, fixed_pick = spec
        wanted = None if wanted_pick is None else D(wanted_pick % (int(max_amps * 10) + 6)) / 10
        loads.append(
            Load(
                id=f"L{index}",
                circuit_id=circuits[circuit_pick % len(circuits)].id,
                grid_phases=phases,
                max_amps=max_amps,
                min_amps=min_amps if min_amps <= max_amps else D(0),
                wanted_amps=wanted,
                priority=priority,
                rank=rank,
                fixed=fixed_pick == 0,
            )
        )
    return circuits, loads


@dataclass(frozen=True)
class Limit:
    circuit: Circuit
    phase: int | None  # None: the power limit

    def uses(self, load: Load, path: Sequence[str]) -> bool:
        return self.circuit.id in path and (self.phase is None or self.phase in load.grid_phases)

    def draw(self, load: Load, load_amps: Decimal) -> Decimal:
        """Amps on the phase, or watts, that a load drawing load_amps adds to this limit."""
        if self.phase is None:
            return load_amps * self.circuit.voltage * len(load.grid_phases)
        return load_amps

    @property
    def value(self) -> Decimal:
        if self.phase is None:
            return self.circuit.power_limit_watts  # type: ignore[return-value]
        return self.circuit.phase_limit_amps[self.phase - 1]  # type: ignore[index]


class Site:
    """The limits of a site and what a result puts on each, computed from the inputs as given."""

    def __init__(self, circuits: Sequence[Circuit], loads: Sequence[Load]) -> None:
        self.loads = list(loads)
        by_id = {c.id: c for c in circuits}
        limits = [Limit(c, phase) for c in circuits if c.phase_limit_amps for phase in (1, 2, 3)]
        limits += [Limit(c, None) for c in circuits if c.power_limit_watts is not None]
        self.limits = limits
        self.on: dict[str, list[Limit]] = {}  # load id -> the limits it counts against
        self.users: dict[Limit, list[Load]] = {limit: [] for limit in limits}
        for load in loads:
            path, circuit_id = [], load.circuit_id
            while circuit_id is not None:
                path.append(circuit_id)
                circuit_id = by_id[circuit_id].parent_id
            self.on[load.id] = [limit for limit in limits if limit.uses(load, path)]
            for limit in self.on[load.id]:
                self.users[limit].append(load)

    def totals(self, result: Mapping[str, Decimal]) -> dict[Limit, Decimal]:
        """Amps per phase limit, watts per power limit."""
        totals = dict.fromkeys(self.limits, D(0))
        for load in self.loads:
            self.add(totals, load, result[load.id])
        return totals

    def add(self, totals: dict[Limit, Decimal], load: Load, amps: Decimal) -> None:
        for limit in self.on[load.id]:
            totals[limit] += limit.draw(load, amps)

    def broken_by(self, load: Load, extra: Decimal, totals: Mapping[Limit, Decimal]) -> list[Limit]:
        """The limits on the load's path that giving it extra amps more would exceed."""
        return [limit for limit in self.on[load.id] if totals[limit] + limit.draw(load, extra) > limit.value]

    def fixed_only(self, result: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {load.id: result[load.id] if load.fixed else D(0) for load in self.loads}


def cap(load: Load) -> Decimal:
    wanted = load.max_amps if load.wanted_amps is None else min(load.max_amps, load.wanted_amps)
    return max(wanted.quantize(TENTH, ROUND_FLOOR), minimum(load))


def minimum(load: Load) -> Decimal:
    return load.min_amps.quantize(TENTH, ROUND_CEILING)


def admission_order(loads: Sequence[Load]) -> list[Load]:
    return sorted((load for load in loads if not load.fixed), key=lambda ld: (-ld.priority, ld.rank, ld.id))


def is_admitted(load: Load, result: Mapping[str, Decimal]) -> bool:
    return result[load.id] > 0 or minimum(load) == 0


def check_limits(site: Site, result: Mapping[str, Decimal]) -> None:
    """No limit is exceeded, except by fixed loads alone; then nothing adjustable under it draws."""
    totals, fixed = site.totals(result), site.totals(site.fixed_only(result))
    for limit in site.limits:
        if fixed[limit] <= limit.value:
            assert totals[limit] <= limit.value, f"{limit} exceeded: {totals[limit]}"
        else:
            assert all(result[load.id] == 0 for load in site.users[limit] if not load.fixed), limit


def check_bounds(site: Site, result: Mapping[str, Decimal]) -> None:
    """Every load gets 0 or an amount within its minimum and cap, in tenths of an amp."""
    assert list(result) == [load.id for load in site.loads]
    for load in site.loads:
        amount = result[load.id]
        assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -1, amount
        if load.fixed:
            wanted = load.max_amps if load.wanted_amps is None else min(load.max_amps, load.wanted_amps)
            assert amount == wanted.quantize(TENTH, ROUND_CEILING), load.id
        else:
            assert amount == 0 or minimum(load) <= amount <= cap(load), load.id


def check_full(site: Site, result: Mapping[str, Decimal]) -> None:
    """No paused load could get its minimum, and no load below its cap 0.1 A more, within the limits."""
    totals = site.totals(result)
    for load in admission_order(site.loads):
        if not is_admitted(load, result):
            assert site.broken_by(load, minimum(load), totals), f"{load.id} paused though its minimum fits"
        elif result[load.id] < cap(load):
            assert site.broken_by(load, TENTH, totals), f"{load.id} below its cap though 0.1 A more fits"


def check_admission(site: Site, result: Mapping[str, Decimal]) -> None:
    """A load is paused only if its minimum did not fit beside the fixed loads and those admitted first."""
    totals = site.totals(site.fixed_only(result))
    for load in admission_order(site.loads):
        if is_admitted(load, result):
            site.add(totals, load, minimum(load))
        else:
            assert site.broken_by(load, minimum(load), totals), (
                f"{load.id} paused though admitted loads left room"
            )


def check_priority(site: Site, result: Mapping[str, Decimal]) -> None:
    """With all lower priorities back at their minimum, no higher-priority load could get 0.1 A more."""
    for priority in {load.priority for load in site.loads}:
        lowered = dict(result)
        for load in site.loads:
            if result[load.id] and not load.fixed and load.priority < priority:
                lowered[load.id] = minimum(load)
        totals = site.totals(lowered)
        for high in admission_order(site.loads):
            if high.priority == priority and is_admitted(high, result) and result[high.id] < cap(high):
                assert site.broken_by(high, TENTH, totals), f"{high.id} held back by lower priorities"


def check_max_min_fair(site: Site, result: Mapping[str, Decimal]) -> None:
    """Some saturated limit holds each load below its cap back, and no load of its class on that limit has
    more than a step above it (0.1 A; on a power limit, 0.1 A per phase of the load), minimums aside."""
    totals = site.totals(result)
    for load in admission_order(site.loads):
        amount = result[load.id]
        if not is_admitted(load, result) or amount >= cap(load):
            continue
        bottlenecks = []
        for limit in site.broken_by(load, TENTH, totals):
            step = TENTH * (1 if limit.phase is not None else len(load.grid_phases))
            peers = [o for o in site.users[limit] if o.priority == load.priority and not o.fixed]
            if all(result[o.id] <= max(minimum(o), amount) + step for o in peers):
                bottlenecks.append(limit)
        assert bottlenecks, f"{load.id} at {amount} A is held back by no limit it tops"


ALL_CHECKS = (check_limits, check_bounds, check_full, check_admission, check_priority, check_max_min_fair)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites())
def test_every_allocation_keeps_limits_bounds_fullness_admission_priority_and_fairness(site_and_loads):
    circuits, loads = site_and_loads
    site, result = Site(circuits, loads), allocate(circuits, loads)

    for check in ALL_CHECKS:
        check(site, result)


@PROPERTY_SETTINGS
@given(sites(), st.data())
def test_two_identical_loads_on_one_circuit_differ_by_at_most_a_tenth(site_and_loads, data):
    circuits, loads = site_and_loads
    adjustable = [load for load in loads if not load.fixed]
    if not adjustable:
        return
    original = data.draw(st.sampled_from(adjustable))
    twin = replace(original, id=original.id + "-twin")
    result = allocate(circuits, [*loads, twin])

    if is_admitted(original, result) and is_admitted(twin, result):
        assert abs(result[original.id] - result[twin.id]) <= TENTH


@PROPERTY_SETTINGS
@given(sites(), st.randoms(use_true_random=False))
def test_the_result_depends_on_the_loads_not_on_the_order_they_are_given_in(site_and_loads, rnd):
    circuits, loads = site_and_loads
    shuffled_circuits, shuffled_loads = list(circuits), list(loads)
    rnd.shuffle(shuffled_circuits)
    rnd.shuffle(shuffled_loads)

    first = allocate(circuits, loads)
    assert allocate(circuits, loads) == first
    assert allocate(shuffled_circuits, shuffled_loads) == first


def large_site(rng: random.Random, circuit_count: int, load_count: int) -> tuple[list[Circuit], list[Load]]:
    """A site of three levels whose boards are oversubscribed: every rule has many loads to apply to."""
    circuits = [Circuit("grid", None, (D(1250), D(1200), D(1250)), D(800_000))]
    for index in range(1, circuit_count):
        parent = rng.choice([c.id for c in circuits[: max(1, index // 3)]])
        limits = tuple(D(rng.randrange(630, 4000)) / 10 for _ in range(3))
        power = rng.choice([None, D(rng.randrange(40_000, 250_000))])
        circuits.append(Circuit(f"board-{index}", parent, limits, power))  # type: ignore[arg-type]
    loads = []
    for index in range(load_count):
        max_amps = D(rng.choice([16, 32, 32, 63])) if rng.random() < 0.9 else D(rng.randrange(0, 400)) / 10
        loads.append(
            Load(
                id=f"{index}:1",
                circuit_id=rng.choice(circuits).id,
                grid_phases=rng.choice(PHASE_SETS),
                max_amps=max_amps,
                min_amps=D(6) if max_amps >= 6 and rng.random() < 0.8 else D(0),
                wanted_amps=rng.choice([None, None, D(rng.randrange(0, 400)) / 10]),
                priority=rng.choice([0, 0, 0, 1, 2]),
                rank=rng.randrange(load_count),
                fixed=rng.random() < 0.03,
            )
        )
    return circuits, loads


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_site_of_400_loads_on_40_circuits_keeps_every_rule(seed):
    circuits, loads = large_site(random.Random(seed), 40, 400)
    site, result = Site(circuits, loads), allocate(circuits, loads)

    for check in ALL_CHECKS:
        check(site, result)
    assert 50 < sum(1 for amount in result.values() if amount == 0) < 350  # contention, not a trivial site
