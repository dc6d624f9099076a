"""The fleet charging planner: when each plugged-in vehicle charges, and at what power, so that every one has
its energy by its departure at the least cost within the site's power. A pure function, no Django.

How: the time slots are cut wherever a vehicle arrives or leaves, then the plan is a min-cost flow (see
energy/scheduling_flow.py) solved exactly by network simplex on integers: it delivers the most energy
possible and, for that energy, costs the least; at equal cost it charges earlier.

Units and rounding (the integers the solver sees, and back):
- Inputs: capacity_kw and max_kw are rounded down to the W, min_kw up to the W, energy_kwh up to the Wh;
  datetimes may be in any time zone, all durations are real (UTC) durations, so DST nights are right.
  Prices enter the solver rounded to 6 decimals; costs are then computed with the exact prices.
- Outputs: energy in whole Wh (kWh with 3 decimals); kW rounded down to the W (3 decimals), so a period never
  exceeds a limit and may deliver up to 1 W times its duration less than planned; each vehicle's cost is
  rounded half-even to 4 decimals and a plan's cost is the sum of its vehicles' costs. Datetimes are in UTC.

Minimum power: a vehicle given less than min_kw on average over a stretch of a slot runs at min_kw for part
of it. Such runs are staggered within the stretch so that the site's capacity holds at every instant (see
energy/scheduling_stagger.py). A run that cannot be placed (too little power left beside the others, as in a
stretch filled by vehicles at max power) is first made steady by an exchange with another vehicle that
changes no cost; failing that it is refused, and the planner plans the refused energy again in the room left
elsewhere, for at most REPAIR_ROUNDS rounds; what is still refused then is reported as shortfall. So the
capacity and both power limits hold at every instant. Min power makes the exact problem non-convex: a plan
where nothing was refused is the exact optimum; one with refusals is feasible but may cost a little more
than the true optimum, or leave up to a min power's worth of a full stretch unused.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from energy.scheduling_flow import (
    PRICE_UNITS_PER_CURRENCY,
    Interval,
    Load,
    Pair,
    solve_flow,
)
from energy.scheduling_stagger import IntervalPlan, Run, swap_refused

REPAIR_ROUNDS = 6
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KWH = Decimal("0.001")
MONEY = Decimal("0.0001")


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware
    end: datetime
    price_per_kwh: Decimal  # energy price in this slot (tariff time-of-use band + grid price)
    capacity_kw: Decimal  # site power available to the fleet in this slot


@dataclass(frozen=True)
class Vehicle:
    id: str  # e.g. "12:1" (station pk:evse) or the vehicle's name
    available_from: datetime  # plugged in from (usually now)
    departure: datetime
    energy_kwh: Decimal  # still needed by departure
    max_kw: Decimal  # what charger and car can take
    min_kw: Decimal = Decimal("0")  # below this AC charging cannot run (6 A * 230 V * phases)


@dataclass(frozen=True)
class PlannedPeriod:
    start: datetime
    end: datetime
    kw: Decimal


@dataclass(frozen=True)
class VehiclePlan:
    vehicle_id: str
    periods: tuple[PlannedPeriod, ...]  # in time order, only periods with kw > 0, contiguous ones merged
    energy_kwh: Decimal  # planned
    shortfall_kwh: Decimal  # what cannot be delivered before departure (0 when feasible)
    cost: Decimal


@dataclass(frozen=True)
class FleetPlan:
    vehicles: tuple[VehiclePlan, ...]
    cost: Decimal  # of the plan
    cost_immediate: Decimal  # of charging at once (as soon as plugged, at max power, sharing capacity in
    # vehicle order), for the same energy
    saving: Decimal  # cost_immediate - cost
    # Planned energy that charging at once could not deliver by departure (capacity taken by vehicles
    # earlier in the order): when it is not 0, cost_immediate covers less energy than cost.
    shortfall_immediate_kwh: Decimal = Decimal("0")


def fleet_plan(slots: Sequence[Slot], vehicles: Sequence[Vehicle]) -> FleetPlan:
    """Plan the fleet's charging over the slots at the least cost; raise ValueError on invalid input."""
    ids = [vehicle.id for vehicle in vehicles]
    if len(set(ids)) != len(ids):
        raise ValueError(f"vehicle ids must be unique, got {ids}")
    intervals = _intervals(slots, vehicles)
    loads = [_load(vehicle) for vehicle in vehicles]
    energy, runs = _energy_and_runs(intervals, loads)
    energy_by_load: list[dict[int, int]] = [{} for _ in loads]
    for (i, k), wh in energy.items():
        energy_by_load[i][k] = wh
    planned_wh = [sum(per_interval.values()) for per_interval in energy_by_load]
    immediate_wh = _immediate_energy(intervals, loads, planned_wh)
    runs_by_load: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        runs_by_load[run.load].append(run)
    plans = tuple(
        VehiclePlan(
            vehicle_id=vehicle.id,
            periods=_periods(runs_by_load[i]),
            energy_kwh=_kwh(planned_wh[i]),
            shortfall_kwh=_kwh(loads[i].need_wh - planned_wh[i]),
            cost=_cost(energy_by_load[i], intervals),
        )
        for i, vehicle in enumerate(vehicles)
    )
    cost = sum((plan.cost for plan in plans), Decimal("0.0000"))
    cost_immediate = sum((_cost(per_interval, intervals) for per_interval in immediate_wh), Decimal("0.0000"))
    return FleetPlan(
        vehicles=plans,
        cost=cost,
        cost_immediate=cost_immediate,
        saving=cost_immediate - cost,
        shortfall_immediate_kwh=_kwh(sum(planned_wh) - sum(sum(wh.values()) for wh in immediate_wh)),
    )


def _energy_and_runs(
    intervals: Sequence[Interval], loads: Sequence[Load]
) -> tuple[dict[Pair, int], list[Run]]:
    """Plan in rounds: solve the flow for what is still needed, stagger it into each interval, and offer
    what was refused (blocks with no room) again in the next round, elsewhere."""
    plans = [IntervalPlan(interval) for interval in intervals]
    need_wh = [load.need_wh for load in loads]
    for round_number in range(REPAIR_ROUNDS):
        offers = {
            (i, k): offer
            for i, load in enumerate(loads)
            if need_wh[i] > 0
            for k in _present(load, intervals)
            if (offer := plans[k].offer_wh(i, load)) > 0
        }
        if not offers:
            break
        energy = solve_flow(intervals, need_wh, offers, [plan.room_wh() for plan in plans])
        by_interval: dict[int, dict[int, int]] = defaultdict(dict)
        for (i, k), wh in energy.items():
            by_interval[k][i] = wh
            need_wh[i] -= wh
        if round_number == 0:  # the plans are still empty: energy may be exchanged freely
            swap_refused(by_interval, intervals, loads)
        refused = False
        for k, energy_wh in by_interval.items():
            for i in plans[k].add(energy_wh, loads):
                need_wh[i] += energy_wh[i]
                refused = True
        if not refused:
            break
    planned = {(i, k): wh for k, plan in enumerate(plans) for i, wh in plan.energy_wh().items() if wh}
    return planned, [run for plan in plans for run in plan.runs()]


def _present(load: Load, intervals: Sequence[Interval]) -> range:
    """The indexes of the intervals the vehicle is plugged in through (intervals are sorted and cut at its
    arrival and departure)."""
    first = bisect_left(intervals, load.from_us, key=lambda interval: interval.start_us)
    last = bisect_left(intervals, load.until_us, key=lambda interval: interval.end_us)
    if last < len(intervals) and intervals[last].end_us == load.until_us:
        last += 1
    return range(first, last)


def _immediate_energy(
    intervals: Sequence[Interval], loads: Sequence[Load], planned_wh: Sequence[int]
) -> list[dict[int, int]]:
    """Per vehicle, the Wh per interval of charging at once up to the planned energy: each interval's energy
    goes to the vehicles in their order, each at most at max power, none starting below its min power."""
    remaining = list(planned_wh)
    taken: list[dict[int, int]] = [{} for _ in loads]
    for k, interval in enumerate(intervals):
        left_wh = interval.energy_wh(interval.capacity_w)
        for i, load in enumerate(loads):
            if remaining[i] <= 0 or not load.present(interval) or not interval.reaches(left_wh, load.min_w):
                continue
            wh = min(remaining[i], interval.energy_wh(load.max_w), left_wh)
            if wh > 0:
                taken[i][k] = wh
                remaining[i] -= wh
                left_wh -= wh
    return taken


def _periods(runs: Sequence[Run]) -> tuple[PlannedPeriod, ...]:
    merged: list[list[int]] = []
    for run in sorted(runs, key=lambda run: run.start_us):
        if run.power_w <= 0 or run.end_us <= run.start_us:
            continue
        if merged and merged[-1][1] == run.start_us and merged[-1][2] == run.power_w:
            merged[-1][1] = run.end_us
        else:
            merged.append([run.start_us, run.end_us, run.power_w])
    return tuple(
        PlannedPeriod(start=_datetime(start), end=_datetime(end), kw=_kw(power))
        for start, end, power in merged
    )


def _cost(energy_wh: dict[int, int], intervals: Sequence[Interval]) -> Decimal:
    exact = sum((Decimal(wh) * intervals[k].price / 1000 for k, wh in energy_wh.items()), Decimal(0))
    return exact.quantize(MONEY, rounding=ROUND_HALF_EVEN)


def _kwh(wh: int) -> Decimal:
    return (Decimal(wh) / 1000).quantize(KWH)


def _kw(power_w: int) -> Decimal:
    return (Decimal(power_w) / 1000).quantize(KWH)


def _datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# Validation and conversion to integer units.


def _us(value: datetime, name: str) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    # Subtracting two datetimes of the same zone ignores DST; converting to UTC first does not.
    return (value.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)


def _decimal(value: object, name: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{name} must be a Decimal, got {value!r}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _scaled(value: Decimal, scale: int, rounding: str) -> int:
    return int((value * scale).to_integral_value(rounding=rounding))


def _intervals(slots: Sequence[Slot], vehicles: Sequence[Vehicle]) -> list[Interval]:
    """Validate the slots and cut them wherever a vehicle arrives or leaves."""
    bounds = []
    for n, slot in enumerate(slots):
        start, end = _us(slot.start, f"slot {n} start"), _us(slot.end, f"slot {n} end")
        if end <= start:
            raise ValueError(f"slot {n} ends ({slot.end}) before it starts ({slot.start})")
        price = _decimal(slot.price_per_kwh, f"slot {n} price_per_kwh", minimum=None)
        capacity = _decimal(slot.capacity_kw, f"slot {n} capacity_kw")
        bounds.append((start, end, price, capacity, n))
    bounds.sort()
    for (_, end, *_, n), (start, _, *_, m) in zip(bounds, bounds[1:], strict=False):
        if start != end:
            kind = "overlaps" if start < end else "leaves a gap after"
            raise ValueError(f"slots must be contiguous: slot {m} {kind} slot {n}")
    cuts = set()
    for vehicle in vehicles:
        cuts.add(_us(vehicle.available_from, f"vehicle {vehicle.id!r} available_from"))
        cuts.add(_us(vehicle.departure, f"vehicle {vehicle.id!r} departure"))
    intervals: list[Interval] = []
    for start, end, price, capacity, _ in bounds:
        price_units = _scaled(price, PRICE_UNITS_PER_CURRENCY, ROUND_HALF_EVEN)
        capacity_w = _scaled(capacity, 1000, ROUND_FLOOR)
        points = [start, *sorted(cut for cut in cuts if start < cut < end), end]
        intervals.extend(
            Interval(a, b, price, price_units, capacity_w) for a, b in zip(points, points[1:], strict=False)
        )
    return intervals


def _load(vehicle: Vehicle) -> Load:
    name = f"vehicle {vehicle.id!r}"
    energy = _decimal(vehicle.energy_kwh, f"{name} energy_kwh")
    max_kw = _decimal(vehicle.max_kw, f"{name} max_kw")
    min_kw = _decimal(vehicle.min_kw, f"{name} min_kw")
    if min_kw > max_kw:
        raise ValueError(f"{name} min_kw ({min_kw}) exceeds max_kw ({max_kw})")
    from_us = _us(vehicle.available_from, f"{name} available_from")
    until_us = _us(vehicle.departure, f"{name} departure")
    if until_us <= from_us:
        raise ValueError(
            f"{name} departs ({vehicle.departure}) before it is available ({vehicle.available_from})"
        )
    max_w = _scaled(max_kw, 1000, ROUND_FLOOR)
    return Load(
        need_wh=_scaled(energy, 1000, ROUND_CEILING),
        max_w=max_w,
        min_w=min(_scaled(min_kw, 1000, ROUND_CEILING), max_w),  # both within the same watt
        from_us=from_us,
        until_us=until_us,
    )
