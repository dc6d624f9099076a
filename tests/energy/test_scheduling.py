"""The fleet charging planner on hand-computed cases: tariffs, competing vehicles, shortfall, min power,
DST nights, bad input and a large depot. `assert_plan_within_limits` is shared with the property tests."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from energy.scheduling import FleetPlan, PlannedPeriod, Slot, Vehicle, VehiclePlan, fleet_plan

D = Decimal
HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


def hourly_slots(start: datetime, prices: Sequence[str], capacity_kw: str | Sequence[str]) -> list[Slot]:
    capacities = [capacity_kw] * len(prices) if isinstance(capacity_kw, str) else capacity_kw
    return [
        Slot(start + n * HOUR, start + (n + 1) * HOUR, D(price), D(capacity))
        for n, (price, capacity) in enumerate(zip(prices, capacities, strict=True))
    ]


def hours(period: PlannedPeriod) -> Decimal:
    return D((period.end - period.start) // timedelta(microseconds=1)) / D(3_600_000_000)


def assert_plan_within_limits(slots: Sequence[Slot], vehicles: Sequence[Vehicle], plan: FleetPlan) -> None:
    """Check the plan against the inputs from its periods alone: powers, windows, capacity at every instant,
    energies, shortfalls and totals."""
    assert [p.vehicle_id for p in plan.vehicles] == [v.id for v in vehicles]
    slot_start = min((s.start for s in slots), default=None)
    slot_end = max((s.end for s in slots), default=None)
    boundaries = {s.start for s in slots} | {s.end for s in slots}
    for vehicle, vehicle_plan in zip(vehicles, plan.vehicles, strict=True):
        periods = vehicle_plan.periods
        for period in periods:
            assert period.start.utcoffset() is not None and period.start < period.end
            assert vehicle.available_from <= period.start and period.end <= vehicle.departure
            assert slot_start <= period.start and period.end <= slot_end
            assert D(0) < period.kw <= vehicle.max_kw and period.kw >= vehicle.min_kw
        for earlier, later in zip(periods, periods[1:], strict=False):
            assert earlier.end <= later.start, "periods overlap or are out of order"
            assert not (earlier.end == later.start and earlier.kw == later.kw), (
                "contiguous periods not merged"
            )
        delivered = sum((p.kw * hours(p) for p in periods), D(0))
        # kW are rounded down to the W and block ends up to the microsecond.
        tolerance = D("0.001") * sum((hours(p) for p in periods), D(0)) + D("0.000001") * len(periods)
        assert abs(delivered - vehicle_plan.energy_kwh) <= tolerance
        assert vehicle_plan.shortfall_kwh >= 0 and vehicle_plan.energy_kwh >= 0
        assert vehicle_plan.energy_kwh + vehicle_plan.shortfall_kwh >= vehicle.energy_kwh
        assert vehicle_plan.energy_kwh + vehicle_plan.shortfall_kwh < vehicle.energy_kwh + D("0.001")
    # Capacity at every instant: sweep the period starts and ends, checking the load on each stretch.
    changes: dict[datetime, Decimal] = defaultdict(Decimal)
    for vehicle_plan in plan.vehicles:
        for period in vehicle_plan.periods:
            changes[period.start] += period.kw
            changes[period.end] -= period.kw
    ordered = sorted(slots, key=lambda s: s.start)
    load = D(0)
    points = sorted(set(changes) | boundaries)
    for start, end in zip(points, points[1:], strict=False):
        load += changes.get(start, D(0))
        slot = ordered[bisect_right([s.start for s in ordered], start) - 1]
        assert end <= slot.end
        assert load <= slot.capacity_kw, f"{load} kW from {start} to {end} exceeds {slot.capacity_kw} kW"
    assert plan.cost == sum((vp.cost for vp in plan.vehicles), D(0))
    assert plan.saving == plan.cost_immediate - plan.cost


def periods(plan: VehiclePlan) -> list[tuple[datetime, datetime, Decimal]]:
    return [(p.start, p.end, p.kw) for p in plan.periods]


def test_one_vehicle_charges_all_its_energy_off_peak_as_early_as_possible():
    evening = datetime(2024, 6, 1, 18, tzinfo=UTC)
    prices = (
        ["0.30"] * 6 + ["0.10"] * 6 + ["0.30"]
    )  # 18:00-00:00 peak, 00:00-06:00 off-peak, 06:00-07:00 peak
    slots = hourly_slots(evening, prices, "50")
    vehicle = Vehicle("van", evening, evening + 13 * HOUR, D("30"), D("11"))

    plan = fleet_plan(slots, [vehicle])

    midnight = evening + 6 * HOUR
    # 30 kWh at 11 kW: 00:00-02:00 at 11 kW, then the last 8 kWh in the 02:00 slot (equal price: earliest).
    assert periods(plan.vehicles[0]) == [
        (midnight, midnight + 2 * HOUR, D("11.000")),
        (midnight + 2 * HOUR, midnight + 3 * HOUR, D("8.000")),
    ]
    assert plan.vehicles[0].energy_kwh == D("30.000") and plan.vehicles[0].shortfall_kwh == 0
    assert plan.cost == D("3.0000")  # 30 kWh * 0.10
    assert plan.cost_immediate == D("9.0000")  # 18:00-20:43 at 11 kW, all peak: 30 kWh * 0.30
    assert plan.saving == D("6.0000") and plan.shortfall_immediate_kwh == 0
    assert_plan_within_limits(slots, [vehicle], plan)


def test_the_vehicle_leaving_first_gets_the_start_of_a_capped_off_peak_window():
    evening = datetime(2024, 6, 1, 20, tzinfo=UTC)
    midnight = evening + 4 * HOUR
    slots = hourly_slots(evening, ["0.30"] * 4 + ["0.10"] * 6, "11")  # one vehicle at a time
    # Listed first, leaving last: planning vehicle by vehicle in this order would give it 00:00-03:00 and
    # push the other, which must leave at 02:00, to peak hours: 33 * 0.10 + 22 * 0.30 = 9.90.
    late = Vehicle("late", evening, midnight + 6 * HOUR, D("33"), D("11"))
    early = Vehicle("early", evening, midnight + 2 * HOUR, D("22"), D("11"))

    plan = fleet_plan(slots, [late, early])

    assert periods(plan.vehicles[1]) == [(midnight, midnight + 2 * HOUR, D("11.000"))]
    assert periods(plan.vehicles[0]) == [(midnight + 2 * HOUR, midnight + 5 * HOUR, D("11.000"))]
    assert plan.cost == D("5.5000")  # 55 kWh off-peak
    # At once, in vehicle order: late 20:00-23:00 (33 * 0.30), early 23:00-01:00 (11 * 0.30 + 11 * 0.10).
    assert plan.cost_immediate == D("14.3000") and plan.saving == D("8.8000")
    assert_plan_within_limits(slots, [late, early], plan)


def test_the_slow_vehicle_shares_the_cheap_hours_although_the_other_leaves_first():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.10", "0.30"], "11")
    fast = Vehicle("fast", start, start + 2 * HOUR, D("11"), D("11"))  # leaves first
    slow = Vehicle("slow", start, start + 3 * HOUR, D("11"), D("5.5"))
    # Earliest departure first, each taking the cheapest hours left, gives fast 00:00-01:00 at 11 kW and
    # slow 5.5 kWh at 0.10 plus 5.5 kWh at 0.30 (3.30). Both fit in the cheap hours at 5.5 kW each.

    plan = fleet_plan(slots, [fast, slow])

    assert periods(plan.vehicles[0]) == [(start, start + 2 * HOUR, D("5.500"))]
    assert periods(plan.vehicles[1]) == [(start, start + 2 * HOUR, D("5.500"))]
    assert plan.cost == D("2.2000")
    assert plan.cost_immediate == D("3.3000")  # fast takes 00:00-01:00 whole; slow 01:00-03:00 at 5.5 kW
    assert_plan_within_limits(slots, [fast, slow], plan)


def test_what_cannot_be_delivered_before_departure_is_reported_as_shortfall():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.20", "0.30"], "11")
    greedy = Vehicle("greedy", start, start + 2 * HOUR, D("33"), D("11"))  # 2 h * 11 kW at most
    gone = Vehicle("gone", start - 3 * HOUR, start - HOUR, D("5"), D("11"))  # left before the slots
    later = Vehicle("later", start + 2 * HOUR, start + 5 * HOUR, D("20"), D("11"))  # one slot left for it

    plan = fleet_plan(slots, [greedy, gone, later])

    assert [(vp.energy_kwh, vp.shortfall_kwh) for vp in plan.vehicles] == [
        (D("22.000"), D("11.000")),
        (D("0.000"), D("5.000")),
        (D("11.000"), D("9.000")),
    ]
    assert plan.vehicles[1].periods == () and plan.vehicles[1].cost == 0
    assert plan.cost == D("6.6000")  # 11 * 0.10 + 11 * 0.20 + 11 * 0.30
    assert_plan_within_limits(slots, [greedy, gone, later], plan)


def test_the_most_energy_is_delivered_before_the_cost_is_minimised():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.50", "0.10"], "10")
    # "now" can only use the dear first hour; "flexible" could use either. Delivering 20 kWh in all needs
    # flexible in the cheap hour and now in the dear one, although both would rather charge at 0.10.
    now = Vehicle("now", start, start + HOUR, D("10"), D("10"))
    flexible = Vehicle("flexible", start, start + 2 * HOUR, D("10"), D("10"))

    plan = fleet_plan(slots, [now, flexible])

    assert periods(plan.vehicles[0]) == [(start, start + HOUR, D("10.000"))]
    assert periods(plan.vehicles[1]) == [(start + HOUR, start + 2 * HOUR, D("10.000"))]
    assert plan.cost == D("6.0000")


def test_vehicles_plugged_in_mid_slot_share_only_their_part_of_the_slot():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.40"], "10")
    early = Vehicle("early", start, start + 2 * HOUR, D("5"), D("10"))
    # Both arrive at 00:30: the cheap slot holds 10 kWh, but only 5 of them after 00:30.
    late = [Vehicle(f"late {n}", start + HOUR / 2, start + 2 * HOUR, D("5"), D("10")) for n in (1, 2)]

    plan = fleet_plan(slots, [early, *late])

    assert periods(plan.vehicles[0]) == [(start, start + HOUR / 2, D("10.000"))]
    assert sorted(vp.cost for vp in plan.vehicles[1:]) == [D("0.5000"), D("2.0000")]
    assert plan.cost == D("3.0000")  # 10 kWh at 0.10, 5 kWh at 0.40
    assert_plan_within_limits(slots, [early, *late], plan)


# Minimum power


def test_energy_below_min_power_runs_at_min_power_from_the_start_of_the_slot():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.30"], "22")
    vehicle = Vehicle("topup", start, start + 2 * HOUR, D("1"), D("11"), min_kw=D("4.14"))

    plan = fleet_plan(slots, [vehicle])

    # 1 kWh at 4.14 kW: 1000 Wh / 4140 W = 869.565217... s, rounded up to the microsecond.
    assert periods(plan.vehicles[0]) == [(start, start + timedelta(microseconds=869_565_218), D("4.140"))]
    assert plan.cost == D("0.1000")
    assert_plan_within_limits(slots, [vehicle], plan)


def test_runs_at_min_power_are_staggered_so_the_capacity_holds_at_every_instant():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.30"], "5")  # room for one vehicle at 4.14 kW at a time
    vehicles = [Vehicle(name, start, start + 2 * HOUR, D("1"), D("11"), min_kw=D("4.14")) for name in "ab"]

    plan = fleet_plan(slots, vehicles)

    block = timedelta(microseconds=869_565_218)
    assert periods(plan.vehicles[0]) == [(start, start + block, D("4.140"))]
    assert periods(plan.vehicles[1]) == [(start + block, start + 2 * block, D("4.140"))]
    assert plan.cost == D("0.2000")
    assert_plan_within_limits(slots, vehicles, plan)


def test_a_cheap_slot_full_of_vehicles_at_max_power_still_holds_a_vehicle_at_min_power():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.30"], "24")
    vehicles = [Vehicle(name, start, start + 2 * HOUR, D("11"), D("11"), min_kw=D("4.14")) for name in "abc"]
    # Without min power the cheap hour takes 11 + 11 + 2 kW; 2 kW cannot run. The optimum still uses all
    # 24 kW: one vehicle at 4.14 kW, one at 8.86 kW, and the dear hour delivers the other 9 kWh.

    plan = fleet_plan(slots, vehicles)

    assert sum(vp.energy_kwh for vp in plan.vehicles) == D("33.000")
    assert plan.cost == D("5.1000")  # 24 * 0.10 + 9 * 0.30
    assert_plan_within_limits(slots, vehicles, plan)


def test_a_vehicle_whose_min_power_exceeds_the_capacity_cannot_charge():
    start = datetime(2024, 6, 1, 0, tzinfo=UTC)
    slots = hourly_slots(start, ["0.10", "0.30"], "3")
    vehicle = Vehicle("three-phase", start, start + 2 * HOUR, D("5"), D("11"), min_kw=D("4.14"))

    plan = fleet_plan(slots, [vehicle])

    assert plan.vehicles[0].periods == () and plan.vehicles[0].shortfall_kwh == D("5.000")
    assert plan.cost == 0 and plan.cost_immediate == 0


# Time zones


def berlin_hourly_slots(first_utc: datetime, count: int, price: str) -> list[Slot]:
    """Slots of one real hour each, as Berlin wall-clock datetimes (the repeated hour has fold=1)."""
    return [
        Slot(
            (first_utc + n * HOUR).astimezone(BERLIN),
            (first_utc + (n + 1) * HOUR).astimezone(BERLIN),
            D(price),
            D("22"),
        )
        for n in range(count)
    ]


def test_the_night_clocks_go_back_has_seven_real_hours_from_midnight_to_six():
    midnight = datetime(2024, 10, 27, 0, tzinfo=BERLIN)  # 22:00 UTC the day before, CEST
    six = datetime(2024, 10, 27, 6, tzinfo=BERLIN)  # 05:00 UTC, CET
    slots = berlin_hourly_slots(midnight.astimezone(UTC), 7, "0.10")
    assert slots[2].start.hour == slots[3].start.hour == 2 and slots[3].start.fold == 1
    vehicle = Vehicle("night", midnight, six, D("77"), D("11"))

    plan = fleet_plan(slots, [vehicle])

    assert periods(plan.vehicles[0]) == [(midnight, six, D("11.000"))]
    assert hours(plan.vehicles[0].periods[0]) == 7
    assert plan.vehicles[0].shortfall_kwh == 0 and plan.cost == D("7.7000")
    assert_plan_within_limits(slots, [vehicle], plan)


def test_the_night_clocks_go_forward_has_five_real_hours_from_midnight_to_six():
    midnight = datetime(2024, 3, 31, 0, tzinfo=BERLIN)
    six = datetime(2024, 3, 31, 6, tzinfo=BERLIN)
    slots = berlin_hourly_slots(midnight.astimezone(UTC), 5, "0.10")
    vehicle = Vehicle("night", midnight, six, D("66"), D("11"))

    plan = fleet_plan(slots, [vehicle])

    assert plan.vehicles[0].energy_kwh == D("55.000") and plan.vehicles[0].shortfall_kwh == D("11.000")
    assert_plan_within_limits(slots, [vehicle], plan)


# Bad input

START = datetime(2024, 6, 1, 0, tzinfo=UTC)
GOOD_SLOT = Slot(START, START + HOUR, D("0.10"), D("11"))
GOOD_VEHICLE = Vehicle("a", START, START + HOUR, D("5"), D("11"))


@pytest.mark.parametrize(
    ("slots", "vehicles", "message"),
    [
        (
            [Slot(START.replace(tzinfo=None), START + HOUR, D("0.1"), D("11"))],
            [],
            "slot 0 start must be an aware",
        ),
        ([Slot(START, START, D("0.1"), D("11"))], [], "slot 0 ends .* before it starts"),
        ([GOOD_SLOT, Slot(START + 2 * HOUR, START + 3 * HOUR, D("0.1"), D("11"))], [], "slot 1 leaves a gap"),
        (
            [GOOD_SLOT, Slot(START + HOUR / 2, START + 2 * HOUR, D("0.1"), D("11"))],
            [],
            "slot 1 overlaps slot 0",
        ),
        ([Slot(START, START + HOUR, D("0.1"), D("-1"))], [], "capacity_kw must be at least 0"),
        ([Slot(START, START + HOUR, 0.1, D("11"))], [], "price_per_kwh must be a Decimal"),
        ([Slot(START, START + HOUR, D("NaN"), D("11"))], [], "price_per_kwh must be finite"),
        (
            [GOOD_SLOT],
            [Vehicle("a", START, START + HOUR, D("5"), D("4"), D("6"))],
            "min_kw .* exceeds max_kw",
        ),
        ([GOOD_SLOT], [Vehicle("a", START, START, D("5"), D("11"))], "'a' departs .* before it is available"),
        ([GOOD_SLOT], [Vehicle("a", START, START + HOUR, D("-5"), D("11"))], "energy_kwh must be at least 0"),
        ([GOOD_SLOT], [Vehicle("a", START.replace(tzinfo=None), START + HOUR, D("5"), D("11"))], "aware"),
        ([GOOD_SLOT], [GOOD_VEHICLE, GOOD_VEHICLE], "vehicle ids must be unique"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_error(slots, vehicles, message):
    with pytest.raises(ValueError, match=message):
        fleet_plan(slots, vehicles)


def test_slots_may_come_in_any_order_and_no_vehicles_means_an_empty_plan():
    later = Slot(START + HOUR, START + 2 * HOUR, D("0.20"), D("11"))
    assert fleet_plan([later, GOOD_SLOT], []) == FleetPlan((), D(0), D(0), D(0))
    plan = fleet_plan([later, GOOD_SLOT], [Vehicle("a", START, START + 2 * HOUR, D("12"), D("11"))])
    assert plan.cost == D("1.3000")  # 11 * 0.10 + 1 * 0.20


# A large depot (its timing is bench/energy_plan.py)


def test_a_depot_of_two_hundred_vehicles_is_planned_within_its_limits_and_cheaper_per_kwh():
    quarter = timedelta(minutes=15)
    start = datetime(2024, 6, 1, 18, tzinfo=UTC)
    now = start + timedelta(minutes=7)
    prices = [D("0.10") if 24 <= n < 48 else D(("0.25", "0.31", "0.28")[n % 3]) for n in range(96)]
    slots = [Slot(start + n * quarter, start + (n + 1) * quarter, prices[n], D("400")) for n in range(96)]
    vehicles = [
        Vehicle(
            f"{n}:1",
            now,
            start + quarter * (40 + n * 7 % 57),
            D(5 + n * 13 % 56),
            D("11.04") if n % 3 else D("3.68"),
            D("4.14") if n % 3 else D("1.38"),
        )
        for n in range(200)
    ]

    plan = fleet_plan(slots, vehicles)

    planned = sum(vp.energy_kwh for vp in plan.vehicles)
    # The site cannot charge everyone at once: compare what a kWh costs.
    assert plan.cost / planned < plan.cost_immediate / (planned - plan.shortfall_immediate_kwh)
    assert_plan_within_limits(slots, vehicles, plan)
