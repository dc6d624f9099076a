"""The fleet planner's supply: time slots with their price per kWh and the power the fleet may use.

Slots run from now to the latest departure, cut at every quarter hour, wherever the tariff's time-of-use
band changes (in the site's time zone, clock changes included) and wherever a grid price starts or ends.
A slot's price is the tariff's energy price in force at its start plus the grid price then, if any (a
site's own grid price wins over one for every site; a grid price in another currency than the tariff's
is left out). The tariff is the one a fleet vehicle's card gets at its charger now (billing's selection);
the time price and fees do not depend on when the car charges, so they do not enter the plan.

Capacity: what the site's limits leave for the fleet, the same in every slot. The other loads count at
what the balancer would give them if the fleet vehicles charged now like any car (at their maximum, with
their chargers' priority): the building's base load, an offline or refusing charger at the limit it
keeps, every other session at its fair share, up to its maximum or what its car draws. Not their
allocation at this moment, which depends on what the fleet holds: while the fleet waits for cheap hours
the others take everything, and a fleet planned around that would never charge. So the fleet is planned
within what it would get anyway, and the balancer, counting planned fleet sessions as fixed, lowers the
others to their fair share when the fleet charges. They are assumed to stay until the departure; when
their cars leave, the next replan (every 15 minutes) gives the fleet what they free. Through each circuit
feeding a fleet charger (the grid connection included) the fleet may draw the room left on its fullest
phase times the voltage times 3 when every fleet charger under it is three-phase, times 1 otherwise
(single-phase chargers may all sit on that phase), and no more than its power limit leaves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q

from billing.services.tariffs import TariffTerms, rates_at
from energy.allocation import Load, allocate
from energy.models import GridPrice
from energy.scheduling import Slot
from energy.services.loads import Evse, SiteLoads
from stations.services.windows import window_edges, zone_transitions

QUARTER = timedelta(minutes=15)
KW_STEP = Decimal("0.01")


@dataclass(frozen=True)
class GridPriceSpan:
    start: datetime
    end: datetime
    price_per_kwh: Decimal
    site_specific: bool


def grid_prices(*, site_id: int, since: datetime, until: datetime, currency: str) -> list[GridPriceSpan]:
    """The grid prices for the site overlapping [since, until) in the currency, its own first."""
    rows = (
        GridPrice.objects.filter(Q(site_id=site_id) | Q(site__isnull=True))
        .filter(starts_at__lt=until, ends_at__gt=since, currency__iexact=currency)
        .order_by("-starts_at", "-pk")
    )
    spans = [GridPriceSpan(r.starts_at, r.ends_at, r.price_per_kwh, r.site_id is not None) for r in rows]
    return sorted(spans, key=lambda span: not span.site_specific)  # stable: latest start first within


def grid_price_at(spans: Sequence[GridPriceSpan], at: datetime) -> Decimal:
    return next((span.price_per_kwh for span in spans if span.start <= at < span.end), Decimal(0))


def _quarter_hours(since: datetime, until: datetime) -> set[datetime]:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first = epoch + ((since.astimezone(UTC) - epoch) // QUARTER + 1) * QUARTER
    edges = set()
    while first < until:
        edges.add(first)
        first += QUARTER
    return edges


def price_slots(
    *,
    since: datetime,
    until: datetime,
    terms: TariffTerms | None,
    zone: ZoneInfo,
    spans: Sequence[GridPriceSpan],
    capacity_kw: Decimal,
) -> list[Slot]:
    """Contiguous slots over [since, until), each with its price and the capacity."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    edges = (
        {since, until} | _quarter_hours(since, until) | zone_transitions(since=since, until=until, zone=zone)
    )
    for band in terms.bands if terms is not None else ():
        edges |= window_edges(start=band.start, end=band.end, since=since, until=until, zone=zone)
    for span in spans:
        edges |= {edge.astimezone(UTC) for edge in (span.start, span.end) if since < edge < until}
    moments = sorted(edges)
    slots = []
    for start, end in zip(moments, moments[1:], strict=False):
        tariff_price = rates_at(terms, start, zone).energy_price_per_kwh if terms is not None else Decimal(0)
        slots.append(Slot(start, end, tariff_price + grid_price_at(spans, start), capacity_kw))
    return slots


def _others_amps(site: SiteLoads, fleet: Sequence[Evse]) -> list[tuple[str, tuple[int, ...], Decimal]]:
    """(circuit, grid phases, amps) of every load but the fleet's, as the balancer would share the site
    with the fleet vehicles charging like any car."""
    keys = {evse.key for evse in fleet}
    minimum = site.grid.min_current_amps
    as_cars = [
        Load(
            evse.key,
            evse.circuit_id,
            evse.grid_phases,
            evse.max_amps,
            min_amps=Decimal(0) if evse.is_dc else min(minimum, evse.max_amps),
            priority=evse.priority,
        )
        for evse in fleet
    ]
    loads = [load for load in site.loads if load.id not in keys] + as_cars
    shares = allocate(site.circuits, loads)
    return [(load.circuit_id, load.grid_phases, shares[load.id]) for load in loads if load.id not in keys]


def fleet_capacity_kw(site: SiteLoads, fleet: Iterable[Evse], fleet_max_kw: Decimal) -> Decimal:
    """The power the fleet may draw through every circuit feeding its chargers (see the docstring);
    `fleet_max_kw` (the vehicles' maxima together) where no limit applies."""
    fleet = list(fleet)
    circuits = {circuit.id: circuit for circuit in site.circuits}
    phase_amps: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    power_w: dict[str, Decimal] = defaultdict(Decimal)

    def path(circuit_id: str | None) -> list[str]:
        chain = []
        while circuit_id is not None:
            chain.append(circuit_id)
            circuit_id = circuits[circuit_id].parent_id
        return chain

    for circuit_id, phases, amps in _others_amps(site, fleet):
        for node in path(circuit_id):
            for phase in phases:
                phase_amps[node][phase - 1] += amps
            power_w[node] += amps * circuits[node].voltage * len(phases)

    three_phase: dict[str, bool] = {}
    for evse in fleet:
        for node in path(evse.circuit_id):
            three_phase[node] = three_phase.get(node, True) and (evse.is_dc or evse.phases == 3)
    capacity = fleet_max_kw
    for node, all_three in three_phase.items():
        circuit = circuits[node]
        if circuit.phase_limit_amps is not None:
            room_a = min(
                limit - used for limit, used in zip(circuit.phase_limit_amps, phase_amps[node], strict=True)
            )
            capacity = min(capacity, room_a * circuit.voltage * (3 if all_three else 1) / 1000)
        if circuit.power_limit_watts is not None:
            capacity = min(capacity, (circuit.power_limit_watts - power_w[node]) / 1000)
    return max(capacity, Decimal(0)).quantize(KW_STEP, rounding=ROUND_FLOOR)
