"""Load balancing on the database: the site as the allocator sees it, and what a recompute decides to send."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from energy.allocation import Load
from energy.models import (
    Allocation,
    AllocationChange,
    AllocationStatus,
    ChargerWiring,
    Circuit,
    ConnectorLimit,
    SiteGrid,
    SiteLoadSample,
)
from energy.services.balancing import site_rebalance, site_rebalance_plan
from energy.services.loads import site_loads, wanted_amps
from energy.services.recording import outcomes_record
from energy.services.sending import SendKind, Sent
from stations.models import ChargingSession, Connector, MeterSample
from tests.factories import SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

A = Decimal


def balanced_site(limit: str = "32", **grid: object):
    site = SiteFactory()
    SiteGrid.objects.create(site=site, phase_limit_amps=A(limit), **grid)
    return site


def charger(site, *, online: bool = True, protocol: str = "ocpp1.6", evses: int = 1, **wiring: object):
    station = StationFactory(
        site=site, is_online=online, protocol=protocol, channel_name="specific.x" if online else ""
    )
    for evse_id in range(1, evses + 1):
        Connector.objects.create(station=station, evse_id=evse_id)
    if wiring:
        ChargerWiring.objects.create(station=station, **wiring)
    return station


def session(station, evse_id: int = 1, minutes_ago: int = 10) -> ChargingSession:
    opened = ChargingSession.objects.create(
        station=station,
        connector=Connector.objects.get(station=station, evse_id=evse_id),
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        meter_start_wh=0,
    )
    opened.external_id = str(opened.pk)
    opened.save(update_fields=["external_id"])
    return opened


def sends_of(plan) -> set[tuple[str, str, int, Decimal]]:
    return {(send.kind, send.identity, send.evse_id, send.amps) for send in plan.sends}


def answer_all(plan, status: AllocationStatus = AllocationStatus.ACCEPTED) -> None:
    """Record the chargers' answers to every limit of the plan, as the sending step does."""
    outcomes_record(
        site_id=plan.site_id, outcomes=[Sent(send, status, timezone.now()) for send in plan.sends]
    )


def test_the_site_is_read_with_its_circuits_phases_maximums_and_fixed_loads():
    site = balanced_site("32", base_load_amps=A("4"), power_limit_kw=A("20"))
    carport = Circuit.objects.create(site=site, name="Carport", phase_limit_amps=A("16"))
    wallbox = charger(site, phases=3, phase_rotation="RST", max_amps=A("32"))
    ConnectorLimit.objects.create(connector=Connector.objects.get(station=wallbox), max_amps=A("20"))
    single = charger(site, phases=1, phase_rotation="SRT", max_amps=A("16"), circuit=carport, priority=2)
    away = charger(site, online=False)
    Allocation.objects.create(station=away, evse_id=0, amps=A("10"), default_amps=A("10"))
    idle = charger(site)
    for station in (wallbox, single, away):
        session(station)

    loads = site_loads(site.pk)

    by_id = {load.id: load for load in loads.loads}
    assert by_id[f"{wallbox.pk}:1"] == Load(
        f"{wallbox.pk}:1", "grid", (1, 2, 3), A("20"), min_amps=A("6"), priority=0, rank=0
    )
    assert by_id[f"{single.pk}:1"] == Load(
        f"{single.pk}:1", f"c{carport.pk}", (2,), A("16"), min_amps=A("6"), priority=2, rank=1
    )
    # Offline with a session: counted at the default it was last given.
    assert by_id[f"{away.pk}:1"] == Load(
        f"{away.pk}:1", "grid", (1, 2, 3), A("10"), wanted_amps=A("10"), fixed=True
    )
    assert by_id["base"] == Load("base", "grid", (1, 2, 3), A("4"), wanted_amps=A("4"), fixed=True)
    root = next(c for c in loads.circuits if c.id == "grid")
    assert (root.phase_limit_amps, root.power_limit_watts) == ((A(32),) * 3, A("20000"))
    assert [(c.id, c.parent_id, c.phase_limit_amps) for c in loads.circuits if c.id != "grid"] == [
        (f"c{carport.pk}", "grid", (A(16),) * 3)
    ]
    assert [evse.key for evse in loads.idle] == [f"{idle.pk}:1"]
    # 4 EVSEs on 32 A less the 4 A base load: 7 A each while the CSMS cannot be reached.
    assert loads.safe_default_amps == A("7")


@pytest.mark.parametrize(
    ("measured", "given", "previous", "expected"),
    [
        (A("16"), A("16"), None, None),  # uses what it is given: its maximum
        (A("14.5"), A("16"), None, None),  # within 2 A of it: no change
        (A("8"), A("16"), None, A("9")),  # clearly less: its draw plus 1 A
        (A("8.1"), A("9"), A("9"), A("9.1")),  # limited to its draw and still under it: follows its draw
        (A("8.7"), A("9"), A("9"), None),  # uses (nearly) all of the limit: may want more again
        (None, A("16"), A("9"), A("9")),  # no fresh reading: as before
    ],
)
def test_what_a_car_wants_follows_what_it_draws(measured, given, previous, expected):
    assert wanted_amps(measured=measured, given=given, previous=previous) == expected


def test_a_car_drawing_clearly_less_than_given_is_given_its_draw_plus_a_margin():
    site = balanced_site("32")
    station = charger(site)
    opened = session(station)
    now = timezone.now()
    Allocation.objects.create(
        station=station,
        evse_id=1,
        session=opened,
        amps=A("16"),
        applied_amps=A("16"),
        status=AllocationStatus.ACCEPTED,
        sent_at=now - timedelta(minutes=1),
        answered_at=now - timedelta(minutes=1),
    )
    for phase, value in (("L1", "8.2"), ("L2", "7.9"), ("L3", "8.0"), ("N", "0.4")):
        MeterSample.objects.create(
            station=station,
            session=opened,
            evse_id=1,
            sampled_at=now - timedelta(seconds=10),
            measurand="Current.Import",
            phase=phase,
            unit="A",
            value=A(value),
        )

    loads = site_loads(site.pk)

    (load,) = loads.loads
    assert load.wanted_amps == A("9.2")
    assert loads.busy[load.id].measured == {1: A("8.2"), 2: A("7.9"), 3: A("8.0")}
    # A reading from before the limit was answered says nothing about the car's answer to it.
    Allocation.objects.filter(station=station).update(answered_at=now - timedelta(seconds=8))
    assert site_loads(site.pk).loads[0].wanted_amps is None


def test_a_lone_car_gets_the_whole_site_while_idle_chargers_hold_nothing_for_the_next_car():
    site = balanced_site("32")
    first, second, third = (charger(site, max_amps=A("32")) for _ in range(3))
    session(first)

    plan = site_rebalance_plan(site_id=site.pk)

    defaults = {(SendKind.CHARGER_DEFAULT, s.identity, 0, A("10")) for s in (first, second, third)}
    maximums = {(SendKind.CHARGER_MAX, s.identity, 0, A("32")) for s in (first, second, third)}
    idle = {(SendKind.EVSE_DEFAULT, s.identity, 1, A("0")) for s in (second, third)}
    assert sends_of(plan) == defaults | maximums | idle | {(SendKind.SESSION, first.identity, 1, A("32"))}
    # What holds the others back goes first; the lone car's raise after.
    assert [(s.kind, s.identity) for s in plan.raising] == [(SendKind.SESSION, first.identity)]
    rows = {(row.station_id, row.evse_id): row for row in Allocation.objects.all()}
    assert rows[(first.pk, 1)].amps == A("32") and rows[(first.pk, 1)].status == AllocationStatus.PENDING
    assert rows[(second.pk, 1)].amps == A("0") and rows[(second.pk, 1)].session_id is None
    sample = SiteLoadSample.objects.get(site=site)
    assert (sample.allocated_l1_amps, sample.limit_amps, sample.charging) == (A("32"), A("32"), 1)


def test_a_second_car_makes_the_first_go_down_before_it_goes_up():
    site = balanced_site("32")
    first, second, third = (charger(site, max_amps=A("32")) for _ in range(3))
    session(first, minutes_ago=20)
    answer_all(site_rebalance_plan(site_id=site.pk))
    session(second, minutes_ago=1)

    plan = site_rebalance_plan(site_id=site.pk)

    assert [(s.kind, s.identity, s.previous, s.amps) for s in plan.lowering] == [
        (SendKind.SESSION, first.identity, A("32"), A("16")),
    ]
    assert [(s.kind, s.identity, s.previous, s.amps) for s in plan.raising] == [
        (SendKind.SESSION, second.identity, A("0"), A("16")),  # from the 0 A its EVSE held
    ]
    answer_all(plan)
    assert site_rebalance_plan(site_id=site.pk).sends == []  # nothing changed: nothing sent
    changes = AllocationChange.objects.filter(site=site, station=first, evse_id=1).order_by("at", "pk")
    assert [(c.amps_before, c.amps, c.status) for c in changes] == [
        (A("32"), A("32"), AllocationStatus.ACCEPTED),
        (A("32"), A("16"), AllocationStatus.ACCEPTED),
    ]


def test_when_the_minimum_does_not_fit_the_later_car_is_paused_with_a_zero_limit():
    site = balanced_site("10")
    first, second = charger(site), charger(site)
    session(first, minutes_ago=20)
    later = session(second, minutes_ago=1)

    plan = site_rebalance_plan(site_id=site.pk)

    session_limits = {(s.identity, s.amps) for s in plan.sends if s.kind == SendKind.SESSION}
    assert session_limits == {(first.identity, A("10")), (second.identity, A("0"))}
    paused = Allocation.objects.get(station=second, evse_id=1)
    assert (paused.session, paused.amps) == (later, A("0"))
    assert paused.reason == "paused: less than the minimum 6.0 A is free"


def test_a_charger_that_refused_to_go_down_is_counted_at_the_limit_it_keeps():
    site = balanced_site("32")
    first, second = charger(site), charger(site)
    session(first, minutes_ago=20)
    answer_all(site_rebalance_plan(site_id=site.pk))
    session(second, minutes_ago=1)
    plan = site_rebalance_plan(site_id=site.pk)
    refused = [s for s in plan.lowering if s.identity == first.identity]
    outcomes_record(
        site_id=site.pk,
        outcomes=[Sent(s, AllocationStatus.REJECTED, timezone.now(), "Rejected") for s in refused],
    )

    again = site_rebalance_plan(site_id=site.pk)

    loads = {load.id: load for load in site_loads(site.pk).loads}
    assert loads[f"{first.pk}:1"].fixed and loads[f"{first.pk}:1"].max_amps == A("32")
    # Nothing is left for the second car until the first takes its lower limit.
    assert {(s.identity, s.amps) for s in again.sends if s.kind == SendKind.SESSION} == {
        (second.identity, A("0"))
    }


def test_small_raises_wait_but_any_decrease_is_sent():
    site = balanced_site("40")
    first, second = charger(site, max_amps=A("16")), charger(site, max_amps=A("16.4"))
    session(first, minutes_ago=20)
    session(second, minutes_ago=10)
    answer_all(site_rebalance_plan(site_id=site.pk))
    Allocation.objects.filter(station=second, evse_id=1).update(applied_amps=A("16.2"))

    plan = site_rebalance_plan(site_id=site.pk)  # wants 16.4: 0.2 A more is not worth a message

    assert plan.sends == []
    ChargerWiring.objects.filter(station=second).update(max_amps=A("16.1"))
    plan = site_rebalance_plan(site_id=site.pk)
    assert [(s.identity, s.previous, s.amps) for s in plan.sends if s.kind == SendKind.SESSION] == [
        (second.identity, A("16.2"), A("16.1"))
    ]


@pytest.mark.django_db(transaction=True)  # the recompute reads in its own thread
def test_a_recompute_with_every_charger_offline_sends_nothing_and_records_the_load():
    site = balanced_site("32", base_load_amps=A("5"))
    for _ in range(2):
        station = charger(site, online=False, phases=1, phase_rotation="TRS", max_amps=A("16"))
        session(station)

    outcome = site_rebalance(site_id=site.pk)

    assert (outcome.sent, outcome.charging) == (0, 2)
    sample = SiteLoadSample.objects.get(site=site)
    # Both offline single-phase chargers on grid L3, counted at their maximum; the building on all three.
    assert (sample.allocated_l1_amps, sample.allocated_l2_amps, sample.allocated_l3_amps) == (
        A("5"),
        A("5"),
        A("37"),
    )
    assert site_rebalance(site_id=SiteFactory().pk) is None  # no grid: no balancing


@pytest.mark.parametrize(
    ("limit", "base", "chargers", "expected"),
    [("32", None, 4, "8"), ("32", "4", 4, "7"), ("32", None, 6, "0"), ("63", None, 10, "6")],
)
def test_the_safe_default_never_lets_all_charging_points_together_pass_the_fuse(
    limit, base, chargers, expected
):
    grid = SiteGrid(phase_limit_amps=A(limit), base_load_amps=A(base) if base else None)
    default = grid.safe_default_for(chargers)
    assert default == A(expected)
    assert default * chargers + (grid.base_load_amps or 0) <= A(limit)
