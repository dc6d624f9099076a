"""Off-peak charging of a site's fleet: the plan and the charging schedules carrying it.

`site_fleet_plan_compute` reads the site (fleet_inputs: which fleet vehicles are plugged in and what they
need by when; fleet_prices: the slots' prices and the fleet's capacity), runs the planner
(energy.scheduling.fleet_plan) and turns each vehicle's periods into a charging schedule; fleet_replan
sends and records them.

A vehicle's schedule is a TxProfile of its session, Absolute from now until its departure, stacked at
FLEET_STACK_LEVEL above the balancer's limit (stack 0): the planned power as amps per phase on the
charger's phases (kW * 1000 / (voltage * phases), rounded down to 0.1 A; a DC charger as three phases),
0 A between the periods. A charger takes at most MAX_PERIODS periods (ChargingScheduleMaxPeriods, often
24): a longer schedule is cut after them and the next replan, at most 15 minutes later, sends the rest.
A site without a grid connection record is not planned: the fleet's capacity would be unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from billing.services.tariffs import tariff_for, tariff_terms
from energy.models import GridPrice, SiteGrid
from energy.scheduling import FleetPlan, PlannedPeriod, Slot, Vehicle, VehiclePlan, fleet_plan
from energy.services.fleet_inputs import PluggedVehicle, plugged_vehicles
from energy.services.fleet_prices import fleet_capacity_kw, grid_prices, price_slots
from energy.services.fleet_state import latest_plan_record, plan_vehicles
from energy.services.loads import Evse, site_loads
from stations.ocpp.profiles import ProfileLimit, ProfilePurpose
from stations.services.access import site_zone

FLEET_PROFILE_BASE = 3000  # + the EVSE id: a new plan replaces the last one on the EVSE
FLEET_STACK_LEVEL = 1  # above the balancer's session limit (0), which takes over when the schedule ends
MAX_PERIODS = 24
REQUESTED_BY = "fleet plan"
DEFAULT_CURRENCY = "EUR"  # only when neither a tariff nor a grid price names one
AMPS_STEP = Decimal("0.1")


@dataclass(frozen=True)
class Schedule:
    """One vehicle's plan as sent: its periods in amps, and the profile carrying them."""

    plugged: PluggedVehicle
    evse: Evse
    plan: VehiclePlan
    periods: tuple[tuple[PlannedPeriod, Decimal], ...]  # each planned period with its amps per phase
    limit: ProfileLimit
    until: datetime


@dataclass
class FleetDraft:
    """A computed plan, not yet sent or recorded."""

    site_id: int
    at: datetime
    schedules: list[Schedule] = field(default_factory=list)
    clears: list[Evse] = field(default_factory=list)  # fleet sessions whose earlier plan must go
    plan: FleetPlan | None = None
    slots: list[Slot] = field(default_factory=list)
    capacity_kw: Decimal | None = None
    tariff: str = ""
    currency: str = DEFAULT_CURRENCY
    message: str = ""
    failed: bool = False


def amps_for(kw: Decimal, *, voltage: Decimal, phases: int, maximum: Decimal) -> Decimal:
    amps = (kw * 1000 / (voltage * phases)).quantize(AMPS_STEP, rounding=ROUND_FLOOR)
    return min(amps, maximum)


def _power_phases(evse: Evse) -> int:
    return 3 if evse.is_dc else evse.phases


def schedule_periods(
    periods: tuple[tuple[PlannedPeriod, Decimal], ...], *, start: datetime, until: datetime
) -> tuple[tuple[tuple[int, Decimal], ...], int]:
    """The profile's (startPeriod, amps) pairs from `start`, 0 A between the periods, and its duration
    in seconds: up to `until`, or cut after MAX_PERIODS periods."""

    def offset(at: datetime) -> int:
        return min(max(round((at - start).total_seconds()), 0), duration)

    duration = max(round((until - start).total_seconds()), 1)
    amps_from: dict[int, Decimal] = {0: Decimal(0)}  # second -> the current from then on
    for period, amps in periods:  # in time order, not overlapping
        begin, end = offset(period.start), offset(period.end)
        if begin < end:
            amps_from[begin] = amps
            amps_from.setdefault(end, Decimal(0))  # unless the next period starts there
    pairs: list[tuple[int, Decimal]] = []
    for at_s, amps in sorted(amps_from.items()):
        if at_s < duration and (not pairs or pairs[-1][1] != amps):
            pairs.append((at_s, amps))
    if len(pairs) > MAX_PERIODS:
        duration = pairs[MAX_PERIODS][0]
        pairs = pairs[:MAX_PERIODS]
    return tuple(pairs), duration


def _schedule(
    plugged: PluggedVehicle, evse: Evse, plan: VehiclePlan, grid: SiteGrid, now: datetime
) -> Schedule:
    phases = _power_phases(evse)
    periods = tuple(
        (p, amps_for(p.kw, voltage=grid.voltage, phases=phases, maximum=evse.max_amps)) for p in plan.periods
    )
    pairs, duration = schedule_periods(periods, start=now, until=plugged.departure)
    limit = ProfileLimit(
        profile_id=FLEET_PROFILE_BASE + evse.evse_id,
        purpose=ProfilePurpose.SESSION,
        amps=pairs[0][1],
        evse_id=evse.evse_id,
        phases=None if evse.is_dc else evse.phases,
        transaction_id=evse.transaction_id,
        stack_level=FLEET_STACK_LEVEL,
        periods=pairs,
        starts_at=now,
        duration_s=duration,
    )
    return Schedule(plugged, evse, plan, periods, limit, until=now + timedelta(seconds=duration))


def _vehicle(plugged: PluggedVehicle, evse: Evse, grid: SiteGrid, now: datetime) -> Vehicle:
    phases = _power_phases(evse)
    charger_kw = evse.max_amps * grid.voltage * phases / 1000
    max_kw = min(plugged.vehicle.max_kw, charger_kw)
    min_kw = Decimal(0) if evse.is_dc else grid.min_current_amps * grid.voltage * phases / 1000
    return Vehicle(
        id=str(plugged.session.pk),
        available_from=now,
        departure=plugged.departure,
        energy_kwh=plugged.remaining_kwh,
        max_kw=max_kw,
        min_kw=min(min_kw, max_kw),
    )


def _clears(site_id: int, by_session: dict[int, Evse], planned: set[int], now: datetime) -> list[Evse]:
    """The open fleet sessions the plan in force scheduled that the new plan leaves out."""
    previous = latest_plan_record(site_id)
    if previous is None:
        return []
    return [
        by_session[vehicle.session_id]
        for vehicle in plan_vehicles(previous)
        if vehicle.accepted
        and vehicle.session_id in by_session
        and vehicle.session_id not in planned
        and now < vehicle.until
    ]


def _currency(site_id: int, plugged: PluggedVehicle, now: datetime) -> tuple[Any, str]:
    """The tariff's terms for the fleet's card at its charger now, and the plan's currency."""
    session = plugged.session
    tariff = tariff_for(
        station=session.station, connector=session.connector, id_token_pk=session.id_token_id, at=now
    )
    if tariff is not None:
        terms = tariff_terms(tariff)
        return terms, terms.currency
    grid = GridPrice.objects.filter(Q(site_id=site_id) | Q(site__isnull=True), ends_at__gt=now)
    return None, (grid.values_list("currency", flat=True).first() or DEFAULT_CURRENCY).upper()


def site_fleet_plan_compute(*, site_id: int, now: datetime | None = None) -> FleetDraft | None:
    """Plan the site's plugged-in fleet vehicles; None when there is nothing to plan nor to clear, or
    the site has no grid connection record."""
    now = (now or timezone.now()).replace(microsecond=0)
    grid = SiteGrid.objects.filter(site_id=site_id).select_related("site").first()
    if grid is None:
        return None
    site = site_loads(site_id, now=now)
    by_session = {evse.session_id: evse for evse in site.busy.values() if evse.session_id is not None}
    plugged = plugged_vehicles(session_ids=by_session, now=now, zone=site_zone(grid.site))
    draft = FleetDraft(site_id, now)
    draft.clears = _clears(site_id, by_session, {p.session.pk for p in plugged}, now)
    if not plugged:
        previous = latest_plan_record(site_id)
        if not draft.clears and (previous is None or not previous.plan.get("vehicles")):
            return None
        draft.message = "No fleet vehicle is plugged in with a departure ahead."
        return draft
    terms, draft.currency = _currency(site_id, plugged[0], now)
    draft.tariff = terms.name if terms is not None else ""
    vehicles = [_vehicle(p, by_session[p.session.pk], site.grid, now) for p in plugged]
    fleet = [by_session[p.session.pk] for p in plugged]
    draft.capacity_kw = fleet_capacity_kw(site, fleet, sum((v.max_kw for v in vehicles), Decimal(0)))
    until = max(p.departure for p in plugged)
    spans = grid_prices(site_id=site_id, since=now, until=until, currency=draft.currency)
    draft.slots = price_slots(
        since=now,
        until=until,
        terms=terms,
        zone=site_zone(grid.site),
        spans=spans,
        capacity_kw=draft.capacity_kw,
    )
    try:
        draft.plan = fleet_plan(draft.slots, vehicles)
    except ValueError as error:
        draft.failed, draft.message = True, f"The planner refused its input: {error}"[:500]
        return draft
    for plugged_vehicle, vehicle_plan in zip(plugged, draft.plan.vehicles, strict=True):
        evse = by_session[plugged_vehicle.session.pk]
        draft.schedules.append(_schedule(plugged_vehicle, evse, vehicle_plan, site.grid, now))
    shortfall = sum((vp.shortfall_kwh for vp in draft.plan.vehicles), Decimal(0))
    if shortfall:
        draft.message = f"{shortfall} kWh cannot be delivered before the departures."
    return draft
