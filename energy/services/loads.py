"""A site as the allocator sees it: its circuits, and a load per EVSE with a session (plus the building),
read from the database in a fixed handful of queries whatever the number of chargers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from energy.allocation import Circuit, Load
from energy.models import Allocation, AllocationStatus, ChargerWiring, SiteGrid
from energy.models import Circuit as CircuitRow
from energy.services.fleet_state import fleet_amps
from stations.models import ChargingSession, Connector, MeterSample, Station

GRID = "grid"  # the id of the root circuit: the site's grid connection
BASE_LOAD = "base"
# A car drawing this much less than it was given is given back only what it draws plus the margin.
GIVE_BACK_BELOW_A = Decimal(2)
WANTED_MARGIN_A = Decimal(1)
# A car drawing within this of a limit set from its draw may want more: it is offered its maximum again.
RELEASE_WITHIN_A = Decimal("0.5")
# A reading taken this soon after a new limit may not show the car's answer to it yet.
SETTLE = timedelta(seconds=5)
# Readings older than this do not say what the car draws now.
FRESH = timedelta(minutes=10)
# A charger that refused or did not answer is counted at its last limit for this long, then tried again.
RETRY_AFTER = timedelta(minutes=5)
DEFAULT_WIRING = ChargerWiring(phases=3, phase_rotation="RST", max_amps=Decimal(32), priority=0)


def load_key(station_id: int, evse_id: int) -> str:
    return f"{station_id}:{evse_id}"


def wanted_amps(
    *, measured: Decimal | None, given: Decimal | None, previous: Decimal | None
) -> Decimal | None:
    """What a car wants, from its latest reading under the limit `given`: its draw plus a margin when it
    draws clearly less than given (or, once limited so, while it still does not use the limit);
    None (its maximum) otherwise."""
    if measured is None or given is None:
        return previous
    if previous is not None:
        return None if measured >= given - RELEASE_WITHIN_A else measured + WANTED_MARGIN_A
    return measured + WANTED_MARGIN_A if measured < given - GIVE_BACK_BELOW_A else None


@dataclass(frozen=True)
class Evse:
    """One EVSE of a charger at the site, with what the allocator and the decisions need of it."""

    key: str
    station_id: int
    identity: str
    protocol: str
    online: bool
    evse_id: int
    circuit_id: str
    phases: int  # the charger's phases, numberPhases in its profiles
    grid_phases: tuple[int, ...]
    max_amps: Decimal
    is_dc: bool
    priority: int
    allocation: Allocation | None
    session_id: int | None = None
    transaction_id: str | None = None
    measured: dict[int, Decimal] = field(default_factory=dict)  # grid phase -> amps
    measured_at: datetime | None = None

    @property
    def measured_max(self) -> Decimal | None:
        return max(self.measured.values()) if self.measured else None


@dataclass(frozen=True)
class Charger:
    """An online charger of the site, for its charger-wide profiles (maximum and default)."""

    station_id: int
    identity: str
    protocol: str
    phases: int
    max_amps: Decimal  # the whole charger's: its EVSEs' maximum times their number
    allocation: Allocation | None  # its EVSE 0 row


@dataclass
class SiteLoads:
    """The allocator's input (`circuits`, `loads`) and what the decisions need besides."""

    grid: SiteGrid
    circuits: list[Circuit]
    loads: list[Load]
    busy: dict[str, Evse]  # EVSEs with a session, by load id
    idle: list[Evse]  # EVSEs of online chargers without a session
    chargers: dict[int, Charger]  # online chargers by station id
    charger_defaults: dict[int, Decimal]  # station id -> the charger-wide default it accepted
    safe_default_amps: Decimal
    fixed_reasons: dict[str, str] = field(default_factory=dict)
    wanted: dict[str, Decimal | None] = field(default_factory=dict)
    fleet_amps: dict[int, Decimal] = field(default_factory=dict)  # session id -> its fleet plan's current


def in_force(evse: Evse, site: SiteLoads, *, same_session: bool) -> Decimal:
    """The limit the EVSE works to now, as far as the CSMS knows: its session's accepted limit, else its
    own default, else the charger's default, else its maximum."""
    row = evse.allocation
    if same_session and row is not None and row.applied_amps is not None:
        return row.applied_amps
    for known in (row.default_amps if row else None, site.charger_defaults.get(evse.station_id)):
        if known is not None:
            return min(known, evse.max_amps)
    return evse.max_amps


def _current(phase: str | None, column: str) -> Subquery:
    samples = MeterSample.objects.filter(session_id=OuterRef("pk"), measurand="Current.Import")
    samples = samples.filter(phase=phase) if phase is not None else samples.exclude(phase="N")
    return Subquery(samples.order_by("-sampled_at").values(column)[:1])


def _open_sessions(site_id: int) -> list[Mapping[str, Any]]:
    """Open sessions at the site, with their latest current per phase (index scans per session), not those
    left open by a charger that rebooted since. Plain rows: a thousand model instances cost more than the
    query."""
    return list(
        ChargingSession.objects.running()
        .filter(station__site_id=site_id)
        .annotate(
            current_at=_current(None, "sampled_at"),
            current_l1=_current("L1", "value"),
            current_l2=_current("L2", "value"),
            current_l3=_current("L3", "value"),
            current_all=_current("", "value"),
        )
        .order_by("started_at", "pk")
        .values(
            "pk",
            "station_id",
            "external_id",
            "connector__evse_id",
            "current_at",
            "current_l1",
            "current_l2",
            "current_l3",
            "current_all",
        )
    )


def _measured(session: Mapping[str, Any], grid_phases: tuple[int, ...], now: datetime) -> dict[int, Decimal]:
    if session["current_at"] is None or now - session["current_at"] > FRESH:
        return {}
    per_phase = [session["current_l1"], session["current_l2"], session["current_l3"]]
    if all(value is None for value in per_phase):
        per_phase = [session["current_all"]] * 3
    return {
        grid_phase: Decimal(per_phase[index])
        for index, grid_phase in enumerate(grid_phases)
        if per_phase[index] is not None
    }


def site_loads(site_id: int, *, now: datetime | None = None) -> SiteLoads:
    """Read the site: grid connection, circuits, chargers and their wiring, connector limits, open
    sessions with their latest currents, and the allocations sent so far."""
    now = now or timezone.now()
    grid = SiteGrid.objects.get(site_id=site_id)
    circuits = [Circuit(GRID, None, grid.phase_limits, grid.power_limit_watts, grid.voltage)]
    circuit_ids = {GRID}
    for row in CircuitRow.objects.filter(site_id=site_id):
        parent = f"c{row.parent_id}" if row.parent_id else GRID
        circuits.append(Circuit(f"c{row.pk}", parent, row.phase_limits, row.power_limit_watts, grid.voltage))
        circuit_ids.add(f"c{row.pk}")

    stations = {
        station.pk: station
        for station in Station.objects.filter(site_id=site_id)
        .select_related("wiring")
        .only("pk", "identity", "protocol", "is_online", "wiring")
    }
    connector_max: dict[tuple[int, int], Decimal | None] = {}
    for station_id, evse_id, limit in Connector.objects.filter(
        station__site_id=site_id, evse_id__gt=0
    ).values_list("station_id", "evse_id", "limit__max_amps"):
        known = connector_max.get((station_id, evse_id))
        connector_max[(station_id, evse_id)] = limit if known is None else min(known, limit or known)
    allocations = {
        (row.station_id, row.evse_id): row for row in Allocation.objects.filter(station__site_id=site_id)
    }
    # Chargers that never reported their connectors count as one EVSE each.
    with_connectors = {station_id for station_id, _ in connector_max}
    evse_count = max(len(connector_max) + len(stations.keys() - with_connectors), 1)
    loads = SiteLoads(
        grid=grid,
        circuits=circuits,
        loads=[],
        busy={},
        idle=[],
        chargers={},
        charger_defaults={
            station_id: row.default_amps
            for (station_id, evse_id), row in allocations.items()
            if evse_id == 0 and row.default_amps is not None
        },
        safe_default_amps=grid.safe_default_for(evse_count),
        fleet_amps=fleet_amps(site_id, now=now),
    )

    evses_per_station = Counter(station_id for station_id, _ in connector_max)
    for station in stations.values():
        if station.is_online:
            wiring = getattr(station, "wiring", None) or DEFAULT_WIRING
            evses = evses_per_station[station.pk] or 1
            loads.chargers[station.pk] = Charger(
                station.pk,
                station.identity,
                station.protocol,
                wiring.phases,
                wiring.max_amps * evses,
                allocations.get((station.pk, 0)),
            )

    def evse_of(station: Station, evse_id: int, **extra: object) -> Evse:
        wiring = getattr(station, "wiring", None) or DEFAULT_WIRING
        maximum = wiring.max_amps
        if (limit := connector_max.get((station.pk, evse_id))) is not None:
            maximum = min(maximum, limit)
        circuit = f"c{wiring.circuit_id}" if wiring.circuit_id else GRID
        return Evse(
            key=load_key(station.pk, evse_id),
            station_id=station.pk,
            identity=station.identity,
            protocol=station.protocol,
            online=station.is_online,
            evse_id=evse_id,
            circuit_id=circuit if circuit in circuit_ids else GRID,
            phases=wiring.phases,
            grid_phases=wiring.grid_phases,
            max_amps=maximum,
            is_dc=wiring.is_dc,
            priority=wiring.priority,
            allocation=allocations.get((station.pk, evse_id)),
            **extra,  # type: ignore[arg-type]
        )

    session_loads: dict[str, Load] = {}
    for rank, session in enumerate(_open_sessions(site_id)):
        station = stations[session["station_id"]]
        evse_id = session["connector__evse_id"] or 1
        wiring = getattr(station, "wiring", None) or DEFAULT_WIRING
        evse = evse_of(
            station,
            evse_id,
            session_id=session["pk"],
            transaction_id=session["external_id"],
            measured=_measured(session, wiring.grid_phases, now),
            measured_at=session["current_at"],
        )
        loads.busy[evse.key] = evse  # a later session on the same EVSE replaces a stale one
        session_loads[evse.key] = _session_load(loads, evse, rank, now)
    loads.loads = list(session_loads.values())

    for station_id, evse_id in sorted(connector_max):
        station = stations[station_id]
        if station.is_online and load_key(station_id, evse_id) not in loads.busy:
            loads.idle.append(evse_of(station, evse_id))
    if grid.base_load_amps:
        base = grid.base_load_amps
        loads.loads.append(Load(BASE_LOAD, GRID, (1, 2, 3), base, wanted_amps=base, fixed=True))
    return loads


def _session_load(loads: SiteLoads, evse: Evse, rank: int, now: datetime) -> Load:
    """The EVSE's load: fixed at its limit in force while its charger is offline or refused lately,
    else adjustable from the minimum (AC) up to its maximum or what the car wants. A fleet session on its
    plan is fixed at the plan's current (see energy/services/fleet_state.py)."""
    if evse.session_id in loads.fleet_amps:
        amps = min(loads.fleet_amps[evse.session_id], evse.max_amps)
        loads.fixed_reasons[evse.key] = f"fleet plan: {amps} A"
        return Load(evse.key, evse.circuit_id, evse.grid_phases, amps, wanted_amps=amps, fixed=True)
    row = evse.allocation
    same_session = row is not None and row.session_id == evse.session_id
    fixed_reason = ""
    if not evse.online:
        fixed_reason = "charger offline: counted at its last limit"
    elif (
        same_session
        and row is not None
        and row.status in (AllocationStatus.REJECTED, AllocationStatus.FAILED, AllocationStatus.OFFLINE)
        and row.answered_at is not None
        and now - row.answered_at < RETRY_AFTER
    ):
        fixed_reason = f"last limit {row.get_status_display().lower()}: counted at the limit it keeps"
    if fixed_reason:
        amps = in_force(evse, loads, same_session=same_session)
        loads.fixed_reasons[evse.key] = fixed_reason
        return Load(evse.key, evse.circuit_id, evse.grid_phases, amps, wanted_amps=amps, fixed=True)
    given = row.amps if same_session and row is not None else None
    settled_after = (row.answered_at or row.sent_at) if same_session and row is not None else None
    measured = evse.measured_max
    if measured is not None and settled_after is not None and evse.measured_at is not None:
        if evse.measured_at < settled_after + SETTLE:
            measured = None  # taken before the car could answer its latest limit
    previous = row.wanted_amps if same_session and row is not None else None
    wanted = wanted_amps(measured=measured, given=given, previous=previous)
    loads.wanted[evse.key] = wanted
    return Load(
        evse.key,
        evse.circuit_id,
        evse.grid_phases,
        evse.max_amps,
        min_amps=Decimal(0) if evse.is_dc else min(loads.grid.min_current_amps, evse.max_amps),
        wanted_amps=wanted,
        priority=evse.priority,
        rank=rank,
    )
