"""Properties of the fleet planner on random small instances, against an exhaustive optimum.

With hourly slots, windows in whole (half) hours and whole kW and kWh, the flow's polytope has integral
vertices in units of the energy of 1 kW over a step (1 kWh per hour step, 0.5 kWh per half-hour step), so
the true optimum (most energy, then least cost) is among the allocations of whole units per vehicle and
step. `exhaustive_optimum` enumerates those step by step (dynamic programming over the units still needed),
with no flow and no LP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.scheduling import Slot, Vehicle, fleet_plan
from tests.energy.test_scheduling import assert_plan_within_limits

D = Decimal
HOUR = timedelta(hours=1)
START = datetime(2024, 6, 1, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(
    draw: st.DrawFn, min_power: bool = False, half_hours: bool = False
) -> tuple[list[Slot], list[Vehicle]]:
    """1 to 6 hourly slots and 1 to 3 vehicles whose windows may start before or end after them (with
    half_hours: windows in half hours, up to 4 slots and 2 vehicles, to keep the enumeration small)."""
    count = draw(st.integers(1, 4 if half_hours else 6))
    step = HOUR / 2 if half_hours else HOUR
    steps = 2 if half_hours else 1
    slots = [
        Slot(
            START + n * HOUR,
            START + (n + 1) * HOUR,
            D(draw(st.integers(-5, 40))) / 100,
            D(draw(st.integers(0, 7))),
        )
        for n in range(count)
    ]
    vehicles = []
    for n in range(draw(st.integers(1, 2 if half_hours else 3))):
        arrives = draw(st.integers(-steps, steps * count - 1))
        leaves = draw(st.integers(arrives + 1, steps * (count + 1)))
        max_kw = draw(st.integers(1, 3))
        min_kw = D(draw(st.integers(0, 2 * max_kw))) / 2 if min_power else D(0)
        vehicles.append(
            Vehicle(
                str(n),
                START + arrives * step,
                START + leaves * step,
                D(draw(st.integers(0, 5 if half_hours else 6))),
                D(max_kw),
                min_kw,
            )
        )
    return slots, vehicles


def exhaustive_optimum(
    slots: list[Slot], vehicles: list[Vehicle], steps_per_hour: int
) -> tuple[Decimal, Decimal]:
    """The most kWh deliverable and the least cost of delivering them, over all allocations of whole units
    (1 kW over one step) per vehicle and step."""
    step = HOUR / steps_per_hour
    best: dict[tuple[int, ...], Decimal] = {tuple(int(v.energy_kwh * steps_per_hour) for v in vehicles): D(0)}
    for slot in slots:
        for n in range(steps_per_hour):
            start = slot.start + n * step
            following: dict[tuple[int, ...], Decimal] = {}
            for needed, cost in best.items():
                choices = [
                    range(min(int(v.max_kw), units) + 1)
                    if v.available_from <= start and start + step <= v.departure
                    else range(1)
                    for v, units in zip(vehicles, needed, strict=True)
                ]
                for units in product(*choices):
                    if sum(units) > slot.capacity_kw:
                        continue
                    state = tuple(n - u for n, u in zip(needed, units, strict=True))
                    total = cost + sum(units) * slot.price_per_kwh / steps_per_hour
                    if state not in following or total < following[state]:
                        following[state] = total
            best = following
    needed = sum(int(v.energy_kwh * steps_per_hour) for v in vehicles)
    most = max(needed - sum(state) for state in best)
    return D(most) / steps_per_hour, min(cost for state, cost in best.items() if needed - sum(state) == most)


@PROPERTY_SETTINGS
@given(st.booleans().flatmap(lambda half: st.tuples(st.just(half), instances(half_hours=half))))
def test_the_plan_is_the_exhaustive_optimum_and_respects_every_limit(case):
    half_hours, (slots, vehicles) = case

    plan = fleet_plan(slots, vehicles)

    most_kwh, least_cost = exhaustive_optimum(slots, vehicles, 2 if half_hours else 1)
    assert sum(vp.energy_kwh for vp in plan.vehicles) == most_kwh
    assert plan.cost == least_cost
    assert_plan_within_limits(slots, vehicles, plan)
    if plan.shortfall_immediate_kwh == 0:  # charging at once delivered the same energy
        assert plan.cost <= plan.cost_immediate


@PROPERTY_SETTINGS
@given(instances(min_power=True), st.integers(0, 3))
def test_with_min_power_the_plan_respects_every_limit_and_no_more_than_the_relaxation(instance, late_minutes):
    slots, vehicles = instance
    # Quarter-hour arrivals cut slots into parts, where min-power runs must be staggered too.
    vehicles = [
        Vehicle(
            v.id,
            v.available_from + late_minutes * 15 * timedelta(minutes=1),
            v.departure,
            v.energy_kwh,
            v.max_kw,
            v.min_kw,
        )
        if v.available_from + late_minutes * 15 * timedelta(minutes=1) < v.departure and n == 0
        else v
        for n, v in enumerate(vehicles)
    ]
    relaxed = [Vehicle(v.id, v.available_from, v.departure, v.energy_kwh, v.max_kw) for v in vehicles]

    plan = fleet_plan(slots, vehicles)
    without_min = fleet_plan(slots, relaxed)

    assert_plan_within_limits(slots, vehicles, plan)
    planned = sum(vp.energy_kwh for vp in plan.vehicles)
    assert planned <= sum(vp.energy_kwh for vp in without_min.vehicles)
    if planned == sum(vp.energy_kwh for vp in without_min.vehicles):
        assert plan.cost >= without_min.cost - D("0.0001") * len(vehicles)
