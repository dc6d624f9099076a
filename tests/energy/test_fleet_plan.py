"""The fleet plan of a site, from the database: who is plugged in and needs what by when, the slots' prices
from a time-of-use tariff and grid prices, the fleet's capacity, and the schedules for the chargers. The
costs are worked out by hand from the tariff."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Organization
from billing.models import Tariff, TariffAssignment, TariffBand
from energy.models import Allocation, ChargerWiring, ChargingNeed, FleetVehicle, GridPrice, SiteGrid
from energy.scheduling import PlannedPeriod
from energy.services.fleet import MAX_PERIODS, FleetDraft, schedule_periods, site_fleet_plan_compute
from stations.models import ChargingSession, Connector, MeterSample, Site
from tests.factories import IdTokenFactory, OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
EVENING = datetime(2026, 3, 10, 20, 0, tzinfo=BERLIN)  # a Tuesday, winter time (UTC+1)
HOUR = timedelta(hours=1)
transaction_ids = itertools.count(1)


def depot(limit_a: str = "32", *, base_a: str | None = None) -> Site:
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization, time_zone="Europe/Berlin")
    SiteGrid.objects.create(
        site=site, phase_limit_amps=D(limit_a), base_load_amps=D(base_a) if base_a else None
    )
    return site


def night_tariff(site: Site) -> Tariff:
    """0.30 €/kWh; 0.20 from 22:00 to midnight; 0.10 from midnight to 05:00 (the site's time)."""
    tariff = Tariff.objects.create(
        organization=site.organization, name="Depot", currency="EUR", energy_price_per_kwh=D("0.30")
    )
    TariffBand.objects.create(
        tariff=tariff,
        label="Shoulder",
        window_start=time(22),
        window_end=time(0),
        energy_price_per_kwh=D("0.20"),
    )
    TariffBand.objects.create(
        tariff=tariff,
        label="Off-peak",
        window_start=time(0),
        window_end=time(5),
        energy_price_per_kwh=D("0.10"),
    )
    TariffAssignment.objects.create(tariff=tariff, site=site)
    return tariff


def charger(site: Site, *, amps: str = "16", phases: int = 3, protocol: str = "ocpp1.6") -> Connector:
    station = StationFactory(site=site, is_online=True, protocol=protocol)
    ChargerWiring.objects.create(station=station, phases=phases, max_amps=D(amps))
    return Connector.objects.create(station=station, evse_id=1)


def van(organization: Organization, name: str, **fields: object) -> FleetVehicle:
    values = {"battery_kwh": D("75"), "max_kw": D("11"), "departure_time": time(7), **fields}
    return FleetVehicle.objects.create(
        organization=organization, name=name, id_token=IdTokenFactory(organization=organization), **values
    )


def plug_in(
    vehicle: FleetVehicle | None, connector: Connector, *, at: datetime = EVENING - timedelta(minutes=5)
) -> ChargingSession:
    token = vehicle.id_token if vehicle is not None else IdTokenFactory()
    return ChargingSession.objects.create(
        station=connector.station,
        connector=connector,
        id_token=token,
        id_tag=token.id_tag,
        external_id=str(next(transaction_ids)),
        started_at=at,
        meter_start_wh=0,
    )


def periods_of(draft: FleetDraft, name: str) -> list[tuple[datetime, datetime, Decimal]]:
    schedule = next(s for s in draft.schedules if s.plugged.vehicle.name == name)
    return [(p.start.astimezone(BERLIN), p.end.astimezone(BERLIN), p.kw) for p in schedule.plan.periods]


def test_two_vans_charge_in_the_cheapest_hours_and_the_plan_costs_the_optimum_worked_out_by_hand():
    site = depot("32")  # 32 A * 230 V * 3 = 22.08 kW: both vans at 11 kW fit together
    night_tariff(site)
    big = van(site.organization, "Big van", energy_needed_kwh=D("66"))
    small = van(site.organization, "Small van", energy_needed_kwh=D("11"))
    big_session = plug_in(big, charger(site))
    plug_in(small, charger(site), at=EVENING - timedelta(minutes=1))

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    assert draft is not None and draft.plan is not None and draft.tariff == "Depot"
    assert draft.capacity_kw == D("22.00")  # the vans' 11 + 11 kW, within the site's 22.08
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=BERLIN)
    # Big van, 66 kWh by 07:00: all five off-peak hours (55 kWh at 0.10), the other 11 kWh in the first
    # shoulder hour (0.20), none at peak. Small van, 11 kWh: the first off-peak hour.
    assert periods_of(draft, "Big van") == [
        (EVENING + 2 * HOUR, EVENING + 3 * HOUR, D("11.000")),
        (midnight, midnight + 5 * HOUR, D("11.000")),
    ]
    assert periods_of(draft, "Small van") == [(midnight, midnight + HOUR, D("11.000"))]
    # 55 * 0.10 + 11 * 0.20 + 11 * 0.10
    assert draft.plan.cost == D("8.8000")
    # At once from 20:00 at 11 kW each: the big van 22 kWh at peak, 22 in the shoulder and 22 off-peak
    # (6.60 + 4.40 + 2.20), the small one 11 kWh at peak (3.30).
    assert draft.plan.cost_immediate == D("16.5000")
    assert draft.plan.saving == D("7.7000")
    assert all(vp.shortfall_kwh == 0 for vp in draft.plan.vehicles)

    # The schedule sent for the big van: 11 kW as 15.9 A per phase (11000 / 690 = 15.94, rounded down),
    # 0 A between the periods, Absolute from now until the departure at 07:00.
    big_schedule = next(s for s in draft.schedules if s.plugged.session == big_session)
    limit = big_schedule.limit
    assert limit.starts_at == EVENING and limit.stack_level == 1 and limit.profile_id == 3001
    assert limit.periods == ((0, D(0)), (7200, D("15.9")), (10800, D(0)), (14400, D("15.9")), (32400, D(0)))
    assert (
        limit.duration_s == 11 * 3600
        and limit.phases == 3
        and limit.transaction_id == big_session.external_id
    )
    need = ChargingNeed.objects.get(session=big_session)
    assert need.departure_at == datetime(2026, 3, 11, 7, 0, tzinfo=BERLIN) and need.energy_kwh == D("66")


def test_the_slots_follow_the_bands_and_the_quarter_hours_in_the_sites_time_zone():
    site = depot()
    night_tariff(site)
    plug_in(van(site.organization, "Van", energy_needed_kwh=D("5")), charger(site), at=EVENING)

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING + timedelta(minutes=7))

    assert draft is not None
    first, second = draft.slots[:2]
    assert first.start.astimezone(BERLIN) == EVENING + timedelta(minutes=7)
    assert first.end.astimezone(BERLIN) == second.start.astimezone(BERLIN) == EVENING + timedelta(minutes=15)
    assert all(slot.end - slot.start <= timedelta(minutes=15) for slot in draft.slots)
    prices = {slot.start.astimezone(BERLIN).strftime("%H:%M"): slot.price_per_kwh for slot in draft.slots}
    assert prices["21:45"] == D("0.30") and prices["22:00"] == D("0.20") and prices["23:45"] == D("0.20")
    assert prices["00:00"] == D("0.10") and prices["04:45"] == D("0.10") and prices["05:00"] == D("0.30")
    assert draft.slots[-1].end.astimezone(BERLIN) == datetime(2026, 3, 11, 7, 0, tzinfo=BERLIN)


def test_a_grid_price_adds_to_the_tariff_and_the_sites_own_wins_over_one_for_every_site():
    site = depot()
    night_tariff(site)
    plug_in(van(site.organization, "Van", energy_needed_kwh=D("11")), charger(site))
    three = datetime(2026, 3, 11, 3, 0, tzinfo=BERLIN)
    GridPrice.objects.create(
        site=site, starts_at=three, ends_at=three + HOUR, price_per_kwh=D("-0.05"), currency="EUR"
    )
    GridPrice.objects.create(starts_at=three, ends_at=three + HOUR, price_per_kwh=D("0.50"), currency="EUR")
    GridPrice.objects.create(starts_at=EVENING, ends_at=three, price_per_kwh=D("0.02"), currency="EUR")
    GridPrice.objects.create(
        site=site, starts_at=EVENING, ends_at=three, price_per_kwh=D("-9"), currency="USD"
    )

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    assert draft is not None and draft.plan is not None
    # 03:00-04:00 costs 0.10 - 0.05; every other off-peak hour 0.10 + 0.02 (the global price until 03:00).
    assert periods_of(draft, "Van") == [(three, three + HOUR, D("11.000"))]
    assert draft.plan.cost == D("0.5500")
    assert draft.plan.cost_immediate == D("3.5200")  # 20:00-21:00 at 0.30 + 0.02


def test_the_fleet_gets_what_the_base_load_and_the_other_cars_fair_shares_leave():
    site = depot("32", base_a="10")
    night_tariff(site)
    plug_in(None, charger(site, amps="32"))  # a visitor's car
    plug_in(van(site.organization, "Van", energy_needed_kwh=D("11")), charger(site))

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    # 22 A beside the building: 11 A each were the van charging like any car; the visitor keeps its 11.
    assert draft is not None and draft.capacity_kw == D("7.59")  # (32 - 10 - 11) A * 230 V * 3


def test_a_visitor_drawing_less_than_its_share_leaves_the_fleet_the_rest():
    site = depot("32")
    night_tariff(site)
    visitor = plug_in(None, charger(site, amps="32"))
    Allocation.objects.create(
        station=visitor.station, evse_id=1, session=visitor, amps=D(16), wanted_amps=D(5), status="accepted"
    )
    plug_in(van(site.organization, "Van", max_kw=D("22")), charger(site, amps="32"))

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    # It draws 5 A and is offered the 6 A minimum, below which it would pause: (32 - 6) A * 230 V * 3.
    assert draft is not None and draft.capacity_kw == D("17.94")


def test_a_fleet_charger_with_priority_leaves_the_others_only_their_minimum():
    site = depot("32")
    night_tariff(site)
    plug_in(None, charger(site, amps="32"))  # wants all it can get
    fleet = charger(site, amps="32")
    ChargerWiring.objects.filter(station=fleet.station).update(priority=1)
    plug_in(van(site.organization, "Van", max_kw=D("30")), fleet)

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    # The van would be raised to its maximum before the visitor gets more than its 6 A minimum.
    assert draft is not None and draft.capacity_kw == D("17.94")


def test_a_single_phase_fleet_charger_is_planned_on_one_phase():
    site = depot("20")
    night_tariff(site)
    session = plug_in(
        van(site.organization, "Small van", energy_needed_kwh=D("7.36")), charger(site, amps="16", phases=1)
    )

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    assert draft is not None and draft.capacity_kw == D("3.68")  # the charger's 16 A * 230 V
    (schedule,) = draft.schedules
    assert schedule.plugged.session == session and schedule.limit.phases == 1
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=BERLIN)
    assert periods_of(draft, "Small van") == [(midnight, midnight + 2 * HOUR, D("3.680"))]
    assert {amps for _, amps in schedule.limit.periods} == {D(0), D("16.0")}


def test_a_need_entered_ahead_by_staff_is_taken_at_plug_in_over_the_usual_departure():
    site = depot()
    night_tariff(site)
    vehicle = van(site.organization, "Van", energy_needed_kwh=D("40"))
    early = datetime(2026, 3, 11, 1, 0, tzinfo=BERLIN)
    entered = ChargingNeed.objects.create(vehicle=vehicle, departure_at=early, energy_kwh=D("11"))
    session = plug_in(vehicle, charger(site))

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    entered.refresh_from_db()
    assert entered.session == session
    assert draft is not None and draft.schedules[0].plugged.need == entered
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=BERLIN)
    assert periods_of(draft, "Van") == [(midnight, early, D("11.000"))]
    assert draft.schedules[0].limit.duration_s == 5 * 3600


def test_the_state_of_charge_sets_the_need_and_what_was_delivered_is_not_asked_twice():
    site = depot()
    night_tariff(site)
    vehicle = van(
        site.organization, "Van", battery_kwh=D("60"), target_soc_percent=80, energy_needed_kwh=None
    )
    session = plug_in(vehicle, charger(site))
    session.meter_last_wh = 3000
    session.save(update_fields=["meter_last_wh"])
    MeterSample.objects.create(
        station=session.station,
        session=session,
        evse_id=1,
        sampled_at=EVENING,
        measurand="SoC",
        value=D("50"),
    )

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    need = ChargingNeed.objects.get(session=session)
    assert need.energy_kwh == D("21.00")  # 60 kWh * (80 - 50) % still lacking + the 3 kWh delivered
    assert draft is not None and draft.plan is not None
    assert draft.plan.vehicles[0].energy_kwh == D("18.000")

    # An hour on: 6 kWh more delivered and the car reports 60 %: 12 kWh still needed.
    session.meter_last_wh = 9000
    session.save(update_fields=["meter_last_wh"])
    MeterSample.objects.create(
        station=session.station,
        session=session,
        evse_id=1,
        sampled_at=EVENING + HOUR,
        measurand="SoC",
        value=D("60"),
    )
    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING + HOUR)
    assert draft is not None and draft.plan is not None and draft.plan.vehicles[0].energy_kwh == D("12.000")


def test_without_a_target_or_usual_need_the_battery_is_filled_and_without_a_departure_nothing_is_planned():
    site = depot()
    night_tariff(site)
    plug_in(van(site.organization, "Van", battery_kwh=D("20"), energy_needed_kwh=None), charger(site))
    plug_in(van(site.organization, "Pool car", departure_time=None), charger(site))

    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)

    assert draft is not None and [s.plugged.vehicle.name for s in draft.schedules] == ["Van"]
    assert draft.schedules[0].plugged.need.energy_kwh == D("20")


def test_a_site_without_a_fleet_plugged_in_or_a_grid_record_is_not_planned():
    site = depot()
    plug_in(None, charger(site))
    assert site_fleet_plan_compute(site_id=site.pk, now=EVENING) is None

    bare = SiteFactory(organization=OrganizationFactory())
    plug_in(van(bare.organization, "Van"), charger(bare))
    assert site_fleet_plan_compute(site_id=bare.pk, now=EVENING) is None


def test_a_vehicle_still_plugged_in_after_its_departure_is_left_to_the_balancer():
    site = depot()
    night_tariff(site)
    session = plug_in(van(site.organization, "Van"), charger(site))
    site_fleet_plan_compute(site_id=site.pk, now=EVENING)
    departure = ChargingNeed.objects.get(session=session).departure_at

    assert site_fleet_plan_compute(site_id=site.pk, now=departure + timedelta(minutes=1)) is None


def period(start_s: int, end_s: int) -> PlannedPeriod:
    return PlannedPeriod(EVENING + timedelta(seconds=start_s), EVENING + timedelta(seconds=end_s), D("11"))


def test_a_schedule_has_0_a_between_periods_and_is_cut_after_the_chargers_maximum_of_periods():
    pairs, duration = schedule_periods(
        ((period(600, 1200), D("16")), (period(1200, 1800), D("8")), (period(3000, 3600), D("16"))),
        start=EVENING,
        until=EVENING + 2 * HOUR,
    )
    assert pairs == ((0, D(0)), (600, D(16)), (1200, D(8)), (1800, D(0)), (3000, D(16)), (3600, D(0)))
    assert duration == 7200

    many = tuple((period(600 * n, 600 * n + 300), D("16")) for n in range(1, 20))
    pairs, duration = schedule_periods(many, start=EVENING, until=EVENING + 5 * HOUR)
    assert len(pairs) == MAX_PERIODS
    assert duration == pairs[-1][0] + 300  # ends where the 25th period would have started
