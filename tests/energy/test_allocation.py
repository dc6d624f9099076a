"""Worked examples of the site load allocator, as a site operator would check them, and its input errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from energy.allocation import Circuit, Load, allocate

D = Decimal
ROTATIONS = [(1,), (2,), (3,)]


def three_phase(amps: str | int) -> tuple[Decimal, Decimal, Decimal]:
    return (D(amps), D(amps), D(amps))


def site(amps: int = 32, power_w: int | None = None) -> Circuit:
    return Circuit("site", None, three_phase(amps), None if power_w is None else D(power_w))


def charger(load_id: str, phases: tuple[int, ...] = (1, 2, 3), max_amps: int = 32, **kwargs: object) -> Load:
    return Load(load_id, kwargs.pop("circuit_id", "site"), phases, D(max_amps), D(6), **kwargs)  # type: ignore[arg-type]


def test_three_three_phase_chargers_share_a_32_a_site_to_the_tenth_of_an_amp():
    result = allocate([site(32)], [charger("a"), charger("b"), charger("c")])

    assert result == {"a": D("10.7"), "b": D("10.7"), "c": D("10.6")}
    assert sum(result.values()) == 32


def test_leftover_tenths_go_in_admission_order_priority_then_rank_then_id():
    loads = [charger("a", rank=2), charger("b", rank=1), charger("c", rank=1)]

    assert allocate([site(32)], loads) == {"a": D("10.6"), "b": D("10.7"), "c": D("10.7")}


def test_single_phase_chargers_spread_by_rotation_use_all_three_phases():
    rotated = [charger(f"r{i}", ROTATIONS[i % 3]) for i in range(6)]
    all_on_l1 = [charger(f"s{i}", (1,)) for i in range(6)]

    assert set(allocate([site(32)], rotated).values()) == {D(16)}
    # On one phase only five 6 A minimums fit in 32 A: the sixth car waits.
    assert list(allocate([site(32)], all_on_l1).values()) == [D("6.4")] * 5 + [D(0)]


def test_a_car_drawing_8_a_of_16_offered_gives_the_rest_to_the_other_car():
    circuit = Circuit("site", None, (D(24), D(24), D(24)))
    loads = [charger("slow", (1,), 16, wanted_amps=D(8)), charger("fast", (1,), 32)]

    assert allocate([circuit], loads) == {"slow": D(8), "fast": D(16)}


def test_a_fourth_car_is_paused_when_only_5_a_remain_for_its_6_a_minimum():
    loads = [charger(name, rank=1) for name in "abc"] + [charger("late", rank=2)]

    # Three cars at their 6 A minimum leave 5 A of 23 A: the fourth waits, the three share the 5 A.
    assert allocate([site(23)], loads) == {"a": D("7.7"), "b": D("7.7"), "c": D("7.6"), "late": D(0)}


def test_a_car_is_paused_when_the_building_leaves_it_less_than_its_minimum():
    loads = [Load("building", "site", (1, 2, 3), D(27), fixed=True), charger("car")]

    assert allocate([site(32)], loads) == {"building": D(27), "car": D(0)}


def test_a_car_that_wants_less_than_its_minimum_is_still_offered_the_minimum():
    loads = [charger("sleeping", (1,), wanted_amps=D(0)), charger("charging", (1,))]

    assert allocate([site(16)], loads) == {"sleeping": D(6), "charging": D(10)}


def test_a_fleet_car_with_priority_gets_its_full_want_before_the_others_share():
    loads = [charger("visitor-1"), charger("fleet", wanted_amps=D(16), priority=1), charger("visitor-2")]

    assert allocate([site(32)], loads) == {"fleet": D(16), "visitor-1": D(8), "visitor-2": D(8)}


def test_a_fleet_car_is_admitted_first_even_when_it_plugged_in_last():
    loads = [charger("visitor", rank=1), charger("fleet", rank=2, priority=1)]

    assert allocate([site(10)], loads) == {"fleet": D(10), "visitor": D(0)}


def test_a_22_kw_grid_connection_limits_two_three_phase_cars_below_their_phase_limit():
    result = allocate([site(63, power_w=22000)], [charger("a"), charger("b")])

    assert result == {"a": D("15.9"), "b": D("15.9")}
    assert (result["a"] + result["b"]) * 230 * 3 <= 22000 < (result["a"] + result["b"] + D("0.1")) * 230 * 3


def test_a_power_limit_counts_single_phase_cars_once_and_three_phase_cars_three_times():
    loads = [charger("three"), charger("one", (2,))]

    # 11,040 W at 230 V is 48 phase-amps: 3 x 12 + 1 x 12.
    assert allocate([site(63, power_w=11040)], loads) == {"three": D(12), "one": D(12)}


def test_a_sub_board_limit_binds_its_chargers_while_the_rest_of_the_site_gets_what_is_left():
    circuits = [site(40), Circuit("garage", "site", three_phase(16))]
    loads = [
        charger("g1", circuit_id="garage"),
        charger("g2", circuit_id="garage"),
        charger("street", circuit_id="site"),
    ]

    assert allocate(circuits, loads) == {"g1": D(8), "g2": D(8), "street": D(24)}


def test_fixed_loads_are_counted_first_at_their_cap():
    loads = [
        Load("building", "site", (1, 2, 3), D("7.55"), fixed=True),
        Load("offline", "site", (1,), D(32), D(6), wanted_amps=D(6), fixed=True),
        charger("car"),
    ]

    # The building's 7.55 A is counted as 7.6; phase 1 also carries the offline charger's 6 A.
    assert allocate([site(32)], loads) == {"building": D("7.6"), "offline": D(6), "car": D("18.4")}


def test_fixed_loads_above_a_limit_leave_only_the_loads_under_that_limit_at_zero():
    circuits = [site(63), Circuit("board", "site", (D(10), D(32), D(32)))]
    loads = [
        Load("base", "board", (1,), D(12), fixed=True),
        charger("on-l1", (1,), circuit_id="board"),
        Load("any-l1", "board", (1,), D(32)),
        charger("on-l2", (2,), circuit_id="board"),
        charger("elsewhere", (1,), circuit_id="site"),
    ]

    result = allocate(circuits, loads)

    assert result == {"base": D(12), "on-l1": 0, "any-l1": 0, "on-l2": D(32), "elsewhere": D(32)}


def test_a_load_without_minimum_takes_what_is_left_below_the_others_minimum():
    loads = [charger("a"), charger("b"), Load("heat-pump", "site", (1, 2, 3), D(16))]

    assert allocate([site(16)], loads) == {"a": D(6), "b": D(6), "heat-pump": D(4)}


def test_a_site_without_limits_gives_every_load_its_cap_and_no_loads_give_an_empty_result():
    loads = [charger("a"), charger("b", (2,), 16, wanted_amps=D("10.45"))]

    assert allocate([Circuit("site", None)], loads) == {"a": D(32), "b": D("10.4")}
    assert allocate([Circuit("site", None)], []) == {}


def test_results_are_decimal_tenths_even_for_zero():
    result = allocate([site(5)], [charger("paused")])

    assert result["paused"] == 0 and result["paused"].as_tuple().exponent == -1


@pytest.mark.parametrize(
    ("circuits", "loads", "message"),
    [
        ([], [], "exactly one circuit must have no parent"),
        ([site(), Circuit("other", None)], [], "exactly one circuit must have no parent"),
        ([site(), Circuit("site", None)], [], "circuit 'site' is given twice"),
        ([site(), Circuit("sub", "nowhere")], [], "unknown parent 'nowhere'"),
        (
            [site(), Circuit("a", "b"), Circuit("b", "a")],
            [],
            r"\['a', 'b'\] do not lead to the grid connection",
        ),
        ([site()], [charger("x", circuit_id="nowhere")], "unknown circuit 'nowhere'"),
        ([site()], [charger("x"), charger("x")], "load 'x' is given twice"),
        ([site()], [charger("x", (0,))], "grid_phases must be 1 to 3 distinct phases"),
        ([site()], [charger("x", (1, 4))], "grid_phases must be 1 to 3 distinct phases"),
        ([site()], [charger("x", (1, 1))], "grid_phases must be 1 to 3 distinct phases"),
        ([site()], [charger("x", ())], "grid_phases must be 1 to 3 distinct phases"),
        ([site()], [charger("x", max_amps=-1)], "max_amps must be a finite number of at least 0"),
        ([site()], [charger("x", wanted_amps=D("-0.1"))], "wanted_amps must be a finite number"),
        ([site()], [Load("x", "site", (1,), D(16), D("NaN"))], "min_amps must be a finite number"),
        ([site()], [Load("x", "site", (1,), D(5), D(6))], "min_amps 6 is above max_amps 5"),
        ([site()], [Load("x", "site", (1,), 16.0)], r"max_amps must be a Decimal, not 16\.0"),  # type: ignore[arg-type]
        ([Circuit("s", None, (D(32), D(32)))], [], "phase_limit_amps needs three values"),  # type: ignore[arg-type]
        ([Circuit("s", None, (D(32), D(-1), D(32)))], [], "phase_limit_amps must be a finite number"),
        ([Circuit("s", None, power_limit_watts=D("-5"))], [], "power_limit_watts must be a finite number"),
        ([Circuit("s", None, voltage=D(0))], [], "voltage must be above 0"),
    ],
)
def test_bad_input_is_refused_with_a_clear_value_error(circuits, loads, message):
    with pytest.raises(ValueError, match=message):
        allocate(circuits, loads)
