"""The simulator's smart charging, computed without sockets: which profile's limit holds when, in what
unit, shared how among the cars; and the meter that follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stations.simulator.charging_profiles import profile_check, profile_from_16, profile_from_201
from stations.simulator.meter import Ev, Meter
from stations.simulator.smart_charging import (
    Car,
    Limit,
    Period,
    Profile,
    ProfileRefused,
    ProfileStore,
    Purpose,
    offers,
    water_fill,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(
    id: int,
    *periods: tuple[int, float],
    purpose: Purpose = Purpose.TX_DEFAULT,
    stack_level: int = 0,
    kind: str = "Absolute",
    unit: str = "A",
    connector_id: int = 0,
    phases: int = 3,
    **fields: Any,
) -> Profile:
    defaults: dict[str, Any] = {"start": T0} if kind != "Relative" else {}
    return Profile(
        id=id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        unit=unit,
        periods=tuple(Period(start, limit, phases) for start, limit in periods),
        connector_id=connector_id,
        **(defaults | fields),
    )


def store_with(*profiles: Profile, version: str = "1.6") -> ProfileStore:
    store = ProfileStore(connectors=2)
    for p in profiles:
        store.install(p, version=version)
    return store


def amps(store: ProfileStore, seconds: float, connector_id: int = 1, **kwargs: Any) -> float | None:
    limit = store.limit(connector_id, at(seconds), kwargs.pop("tx_start", T0), **kwargs)
    return limit.value if limit.unit == "A" else None


# --- which limit holds ------------------------------------------------------------------------------
def test_the_highest_stack_level_wins_while_it_has_a_period_then_the_next_one_down():
    base = profile(1, (0, 16))
    boost = profile(2, (0, 10), (600, 12), stack_level=3, duration_s=1200)
    store = store_with(base, boost)
    assert [amps(store, s) for s in (0, 599, 600, 1199, 1200, 5000)] == [10, 10, 12, 12, 16, 16]


def test_an_absolute_profile_holds_from_its_start_and_within_its_validity_only():
    store = store_with(
        profile(1, (0, 8), (60, 20), start=at(100), valid_from=at(50), valid_to=at(400)),
    )
    assert amps(store, 99) == 32, "before its start the hardware's 32 A hold"
    assert [amps(store, s) for s in (100, 159, 160, 399)] == [8, 8, 20, 20]
    assert amps(store, 400) == 32, "validTo is exclusive"


def test_a_relative_profile_counts_from_the_transactions_start():
    store = store_with(profile(1, (0, 6), (300, 24), kind="Relative"))
    started = at(1000)
    assert amps(store, 1000, tx_start=started) == 6
    assert amps(store, 1299, tx_start=started) == 6
    assert amps(store, 1300, tx_start=started) == 24


@pytest.mark.parametrize(("recurrency", "cycle_s"), [("Daily", 86_400), ("Weekly", 7 * 86_400)])
def test_a_recurring_profile_repeats_every_day_or_week(recurrency, cycle_s):
    # from 08:00, 10 A for 8 hours, then 20 A until the cycle restarts
    store = store_with(profile(1, (0, 10), (8 * 3600, 20), kind="Recurring", recurrency=recurrency))
    for cycle in range(3):
        base = cycle * cycle_s
        assert amps(store, base) == 10
        assert amps(store, base + 8 * 3600 - 1) == 10
        assert amps(store, base + 8 * 3600) == 20
        assert amps(store, base + cycle_s - 1) == 20
    assert amps(store, -1) == 20, "the cycle before the first start already repeats"


def test_the_effective_limit_is_the_lower_of_the_charger_maximum_and_the_transactions():
    charger_max = profile(1, (0, 20), (60, 12), purpose=Purpose.CHARGER_MAX)
    default = profile(2, (0, 16))
    store = store_with(charger_max, default)
    assert amps(store, 0) == 16
    assert amps(store, 60) == 12
    assert store.limit(0, at(0), T0).value == 20, "connector 0: the charger maximum itself"


def test_a_tx_profile_overrides_the_default_for_its_own_transaction_only():
    store = store_with(
        profile(1, (0, 10)),
        profile(2, (0, 25), purpose=Purpose.TX, connector_id=1, transaction_id=7, stack_level=0),
    )
    assert amps(store, 0, transaction_id=7) == 25, "a TxProfile may allow more than the default"
    assert amps(store, 0, transaction_id=8) == 10
    assert amps(store, 0, connector_id=2, transaction_id=7) == 10
    store.transaction_ended(1)
    assert amps(store, 0, transaction_id=7) == 10


def test_a_connectors_own_default_overrides_connector_zeros():
    store = store_with(profile(1, (0, 16), stack_level=5), profile(2, (0, 8), connector_id=2))
    assert amps(store, 0, connector_id=1) == 16
    assert amps(store, 0, connector_id=2) == 8


def test_watts_and_amps_convert_at_230_volts_per_phase():
    store = store_with(profile(1, (0, 11_040), unit="W"))
    composite = store.composite(1, T0, 60, "A")
    assert composite == [(0, Limit(16.0, "A", 3))]
    assert store.composite(1, T0, 60, "W") == [(0, Limit(11_040.0, "W", 3))]
    one_phase = Limit(16, "A", 1)
    assert one_phase.power_w(3) == 16 * 230, "numberPhases 1: a three-phase car charges on one"
    assert Limit(16, "A", 3).power_w(1) == 16 * 230, "a one-phase car uses one phase of three"


def test_the_composite_schedule_lists_each_change_once_in_the_unit_asked():
    store = store_with(
        profile(1, (0, 20), purpose=Purpose.CHARGER_MAX),
        profile(2, (0, 16), (600, 32), (1200, 8)),
        profile(3, (0, 10), stack_level=2, start=at(300), duration_s=600),
    )
    periods = store.composite(1, T0, 1800, "A")
    assert [(offset, limit.value) for offset, limit in periods] == [(0, 16), (300, 10), (900, 20), (1200, 8)]
    in_watts = store.composite(1, T0, 1800, "W")
    assert [limit.value for _, limit in in_watts] == [11_040, 6_900, 13_800, 5_520]
    tenth = store_with(profile(1, (0, 10_000), unit="W")).composite(1, T0, 60, "A")
    assert tenth[0][1].value == 14.4, "rounded down to the 0.1 A that 1.6's schema allows"
    exact = store_with(profile(1, (0, 16.7))).composite(1, T0, 60, "A")
    assert exact[0][1].value == 16.7


def test_without_a_profile_the_hardware_limits_each_connector_and_their_sum():
    store = ProfileStore(connectors=2)
    assert store.composite(1, T0, 60, "A") == [(0, Limit(32.0, "A", 3))]
    assert store.composite(0, T0, 60, "A") == [(0, Limit(64.0, "A", 3))]


# --- installing and clearing ------------------------------------------------------------------------
def test_a_profile_with_the_same_id_replaces_the_installed_one():
    store = store_with(profile(1, (0, 16)), profile(1, (0, 8), stack_level=4))
    assert len(store.profiles) == 1 and amps(store, 0) == 8


def test_16_replaces_the_same_purpose_and_stack_level_where_201_refuses_an_overlapping_one():
    store = store_with(profile(1, (0, 16)), profile(2, (0, 8)), version="1.6")
    assert [p.id for p in store.profiles] == [2]

    store = store_with(profile(1, (0, 16), valid_to=at(3600)), version="2.0.1")
    with pytest.raises(ProfileRefused) as refused:
        store.install(profile(2, (0, 8)), version="2.0.1")
    assert refused.value.reason == "DuplicateProfile"
    store.install(profile(3, (0, 8), valid_from=at(3600)), version="2.0.1")  # after the first one's end
    assert [amps(store, 0), amps(store, 3600)] == [16, 8]


def test_clearing_by_id_or_by_criteria():
    store = store_with(
        profile(1, (0, 16)),
        profile(2, (0, 20), purpose=Purpose.CHARGER_MAX, stack_level=1),
        profile(3, (0, 8), connector_id=2, stack_level=1),
    )
    assert store.clear(profile_id=9) is False
    assert store.clear(profile_id=1, connector_id=2) is True, "an id alone decides"
    assert [p.id for p in store.profiles] == [2, 3]
    assert store.clear(stack_level=1, connector_id=2) is True
    assert [p.id for p in store.profiles] == [2]
    assert store.clear(purpose=Purpose.TX) is False
    assert store.clear() is True and store.profiles == []


def test_the_store_holds_a_bounded_number_of_profiles():
    store = ProfileStore(connectors=2, max_profiles=2)
    store.install(profile(1, (0, 16)), version="1.6")
    store.install(profile(2, (0, 16), stack_level=1), version="1.6")
    store.install(profile(2, (0, 10), stack_level=1), version="1.6")  # a replacement still fits
    with pytest.raises(ProfileRefused):
        store.install(profile(3, (0, 16), stack_level=2), version="1.6")


# --- reading and checking messages ------------------------------------------------------------------
SCHEDULE_16 = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}]}


def test_both_versions_read_into_one_profile():
    old = profile_from_16(
        {
            "chargingProfileId": 5,
            "transactionId": 12,
            "stackLevel": 2,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {**SCHEDULE_16, "duration": 3600},
        },
        connector_id=1,
    )
    new = profile_from_201(
        {
            "id": 5,
            "transactionId": "tx-12",
            "stackLevel": 2,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": [{"id": 1, **SCHEDULE_16, "duration": 3600}],
        },
        evse_id=1,
    )
    assert old == Profile(
        id=5,
        stack_level=2,
        purpose=Purpose.TX,
        kind="Relative",
        unit="W",
        periods=(Period(0, 7400.0, 3),),
        connector_id=1,
        duration_s=3600,
        transaction_id=12,
    )
    assert new == Profile(**{**old.__dict__, "transaction_id": "tx-12"})
    station_max = {
        "id": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargingStationMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 1, "startSchedule": "2026-11-25T08:00:00Z", **SCHEDULE_16}],
    }
    assert profile_from_201(station_max).purpose == Purpose.CHARGER_MAX
    assert profile_from_201(station_max).start == T0


@pytest.mark.parametrize(
    ("version", "changes", "reason"),
    [
        ("1.6", {"purpose": Purpose.CHARGER_MAX, "connector_id": 1}, "InvalidProfile"),
        ("1.6", {"purpose": Purpose.TX, "connector_id": 0}, "InvalidProfile"),
        ("1.6", {"stack_level": 9}, "InvalidStackLevel"),
        ("1.6", {"periods": (Period(10, 16),)}, "InvalidSchedule"),
        ("1.6", {"periods": (Period(0, 16), Period(0, 8))}, "InvalidSchedule"),
        ("1.6", {"periods": (Period(0, 16, 4),)}, "InvalidSchedule"),
        ("1.6", {"kind": "Recurring", "recurrency": None}, "InvalidSchedule"),
        ("1.6", {"valid_from": at(10), "valid_to": at(5)}, "InvalidValue"),
        ("2.0.1", {"start": None}, "InvalidSchedule"),  # K01.FR.40
        ("2.0.1", {"kind": "Relative"}, "InvalidSchedule"),  # K01.FR.41: Relative with startSchedule
    ],
)
def test_schedules_the_charger_cannot_follow_are_refused_with_a_reason(version, changes, reason):
    bad = Profile(**{**profile(1, (0, 16)).__dict__, **changes})
    with pytest.raises(ProfileRefused) as refused:
        profile_check(bad, version=version, max_stack_level=8, max_periods=24)
    assert refused.value.reason == reason


def test_16_takes_an_absolute_profile_without_start_as_relative_to_the_transaction():
    relaxed = Profile(**{**profile(1, (0, 6), (60, 16)).__dict__, "start": None})
    profile_check(relaxed, version="1.6", max_stack_level=8, max_periods=24)
    store = store_with(relaxed)
    assert [amps(store, s, tx_start=at(100)) for s in (100, 159, 160)] == [6, 6, 16]


# --- sharing the charger's maximum among the cars -----------------------------------------------------
def car(accepted_w: float, phases: int = 3, transaction_id: int = 1) -> Car:
    return Car(phases=phases, accepted_w=accepted_w, tx_start=T0, transaction_id=transaction_id)


def test_water_filling_gives_the_modest_what_they_ask_and_shares_the_rest():
    assert water_fill({1: 5, 2: 50, 3: 50}, 45) == {1: 5, 2: 20, 3: 20}
    assert water_fill({1: 5, 2: 6}, 45) == {1: 5, 2: 6}


def test_the_charger_maximum_is_shared_so_that_the_cars_together_stay_under_it():
    store = store_with(profile(1, (0, 32), purpose=Purpose.CHARGER_MAX))
    offered = offers(store, {1: car(22_000), 2: car(22_000)}, T0)
    assert {n: o.power_w for n, o in offered.items()} == {1: 16 * 690, 2: 16 * 690}

    full = offers(store, {1: car(0), 2: car(22_000)}, T0)
    assert full[2].power_w is None, "a full battery leaves its share to the other car"

    one_phase = offers(store, {1: car(7_400, phases=1), 2: car(22_000)}, T0)
    currents = {n: o.power_w / (230 * o.phases) for n, o in one_phase.items()}
    assert currents == {1: 16, 2: 16}, "L1 carries both cars' currents"


def test_a_share_below_six_amps_pauses_the_last_connector_and_the_first_takes_all():
    store = store_with(profile(1, (0, 10), purpose=Purpose.CHARGER_MAX))
    offered = offers(store, {1: car(22_000), 2: car(22_000)}, T0)
    assert {n: o.power_w for n, o in offered.items()} == {1: 10 * 690, 2: 0}


def test_a_limit_below_six_amps_pauses_the_car_and_watts_are_shared_as_watts():
    paused = offers(store_with(profile(1, (0, 5))), {1: car(22_000)}, T0)
    assert paused[1].power_w == 0
    store = store_with(profile(1, (0, 12_000), purpose=Purpose.CHARGER_MAX, unit="W"))
    offered = offers(store, {1: car(22_000), 2: car(3_000)}, T0)
    assert offered[1].power_w == 9_000 and offered[2].power_w is None
    assert offers(ProfileStore(), {1: car(22_000)}, T0)[1].power_w is None, "no profile, no limit"


# --- the meter follows ---------------------------------------------------------------------------------
def samples(meter: Meter, *measurands: str) -> list[tuple[str, str, str]]:
    return [
        (s["measurand"], s.get("phase", ""), s["value"])
        for s in meter.sampled_values(list(measurands), "Sample.Periodic")
    ]


def test_the_car_draws_what_it_accepts_within_the_offer_and_the_meter_says_so():
    meter = Meter(register_mwh=0)
    meter.plug(Ev(capacity_wh=58_000, max_power_w=22_000, soc_mwh=20_000_000))
    assert meter.power_w == 22_000
    meter.offer(10 * 690)
    assert meter.power_w == 6_900
    assert samples(meter, "Power.Active.Import", "Current.Import", "Current.Offered", "Power.Offered") == [
        ("Power.Active.Import", "", "6900"),
        ("Current.Import", "L1", "10.0"),
        ("Current.Import", "L2", "10.0"),
        ("Current.Import", "L3", "10.0"),
        ("Current.Offered", "", "10.0"),
        ("Power.Offered", "", "6900"),
    ]
    meter.offer(16 * 230, phases=1)
    assert meter.phases() == ("L1",) and meter.power_w == 3_680
    meter.offer(0)
    assert meter.power_w == 0
    meter.offer(None)
    assert meter.power_w == 22_000


def test_a_car_drawing_less_than_offered_shows_in_its_phase_currents():
    meter = Meter(register_mwh=0)
    meter.plug(Ev(capacity_wh=40_000, max_power_w=22_000, soc_mwh=36_000_000))  # 90 %: tapering to 11 kW
    meter.offer(20 * 690)
    values = {(m, p): v for m, p, v in samples(meter, "Current.Import", "Current.Offered")}
    assert values[("Current.Import", "L1")] == "15.9" and values[("Current.Offered", "")] == "20.0"


def test_a_one_phase_car_is_offered_the_limits_current_on_its_one_phase():
    store = store_with(profile(1, (0, 16)))
    offered = offers(store, {1: car(7_400, phases=1)}, T0)[1]
    meter = Meter(register_mwh=0)
    meter.plug(Ev(capacity_wh=40_000, max_power_w=7_400, soc_mwh=10_000_000))
    meter.offer(offered.power_w, offered.phases)
    values = {(m, p): v for m, p, v in samples(meter, "Current.Import", "Current.Offered")}
    assert values == {("Current.Import", "L1"): "16.0", ("Current.Offered", ""): "16.0"}
