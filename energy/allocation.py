"""Site load allocation: how many amps each charging point may draw under the site's circuit limits.

A pure function of circuits and loads, recomputed whenever either changes. The rules:

- Circuits form one tree; the root is the site's grid connection. A load of ``I`` amps on grid phases P adds
  ``I`` to each phase in P of its circuit and of every ancestor, and ``I * voltage * len(P)`` watts to their
  power limits (each circuit's own ``voltage``). The result never exceeds a phase or power limit.
- Fixed loads (offline chargers on their safe default, a building's base load) are counted first, at their
  cap rounded up to 0.1 A, whether or not they fit. Where they alone exceed a limit, every adjustable load
  under it gets 0.
- A load's cap is ``min(max_amps, wanted_amps)``. It gets 0 (paused) or an amount in ``[min_amps, cap]``.
  When the car wants less than ``min_amps`` (it draws 4 A of the 16 offered, or nothing while it sleeps) it
  is still offered ``min_amps`` when that fits, since a charger cannot offer less than the minimum without
  pausing; so its cap becomes ``min_amps``. ``min_amps`` above ``max_amps`` is an input error.
- Admission: adjustable loads in order (priority desc, rank asc, id) are admitted at ``min_amps`` if that
  still fits every limit on their path, and otherwise paused. A load with ``min_amps`` 0 is always admitted.
- Sharing: what is left goes to the admitted loads max-min fairly (water-filling), one priority class after
  the other: a higher class is raised to its caps or until its limits saturate before a lower class gets
  anything above its minimum. A minimum above the water level is kept, and the load rises with the level
  once the level passes it.
- Amounts are whole deciamps: caps and limits round down, minimums round up. Units left after an even split
  go one by one in admission order, so loads of one class on one circuit differ by at most 0.1 A. The
  result is full: any admitted load below its cap could not get 0.1 A more, and no paused load could get its
  minimum (0.1 A when its minimum is 0), without breaking a limit on its path.

``allocate`` raises ``ValueError`` for unknown or duplicate ids, a circuit tree without exactly one root or
with a cycle, negative or non-finite numbers, non-positive voltages and grid phases outside 1..3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from energy.allocation_fill import Demand, share


@dataclass(frozen=True)
class Circuit:
    id: str
    parent_id: str | None  # None for the site's grid connection (exactly one root per call)
    # per grid phase L1, L2, L3; None: no limit
    phase_limit_amps: tuple[Decimal, Decimal, Decimal] | None = None
    power_limit_watts: Decimal | None = None  # total over phases; None: no limit
    voltage: Decimal = Decimal("230")  # phase-to-neutral, for the power limit


@dataclass(frozen=True)
class Load:
    id: str  # e.g. "12:1" (station pk:evse)
    circuit_id: str  # the circuit it hangs on (its chain to the root all apply)
    grid_phases: tuple[int, ...]  # grid phases (1..3) it draws on after phase rotation; 1, 2 or 3 entries
    max_amps: Decimal  # per phase: charger / connector / cable maximum
    min_amps: Decimal = Decimal("0")  # below this it must pause (AC: 6 A); 0: may get any amount
    wanted_amps: Decimal | None = None  # what the car takes now (< max when it draws less); None: max_amps
    priority: int = 0  # higher is served first (fleet, paid priority)
    rank: int = 0  # tie-break inside a priority, lower first (e.g. earlier session)
    # not adjustable: gets exactly its cap before anyone else (offline charger on its default, base load)
    fixed: bool = False


def allocate(circuits: Sequence[Circuit], loads: Sequence[Load]) -> dict[str, Decimal]:
    """Return the amps per phase for each load id: Decimal multiples of 0.1 A, 0 meaning paused."""
    capacity, phase_keys, power_keys = _constraints(circuits)
    _check_load_ids(loads, phase_keys)
    units: dict[str, int] = {}
    demands: list[tuple[tuple[int, int, str], Load, Demand]] = []
    for load in loads:
        terms = tuple(
            [(k, 1) for phase in _phases(load) for k in phase_keys[load.circuit_id][phase - 1]]
            + [(k, len(load.grid_phases)) for k in power_keys[load.circuit_id]]
        )
        min_units, cap_units = _bounds(load)
        if load.fixed:
            units[load.id] = cap_units
            for k, a in terms:
                capacity[k] -= a * cap_units
        else:
            order = (-load.priority, load.rank, load.id)
            demands.append((order, load, Demand(terms, min_units, cap_units, load.priority)))
    demands.sort(key=lambda item: item[0])
    shared = share(capacity, [demand for _, _, demand in demands])
    for (_, load, _), amount in zip(demands, shared, strict=True):
        units[load.id] = amount
    return {load.id: Decimal(units[load.id]).scaleb(-1) for load in loads}


def _constraints(
    circuits: Sequence[Circuit],
) -> tuple[list[int], dict[str, list[list[int]]], dict[str, list[int]]]:
    """Capacity per constraint, and per circuit the constraints on its path: per phase, and of power."""
    by_id: dict[str, Circuit] = {}
    for circuit in circuits:
        if circuit.id in by_id:
            raise ValueError(f"circuit {circuit.id!r} is given twice")
        by_id[circuit.id] = circuit
    roots = [circuit.id for circuit in circuits if circuit.parent_id is None]
    if len(roots) != 1:
        raise ValueError(f"exactly one circuit must have no parent (the grid connection), not {roots}")
    children: dict[str, list[str]] = {circuit_id: [] for circuit_id in by_id}
    for circuit in circuits:
        if circuit.parent_id is not None:
            if circuit.parent_id not in by_id:
                raise ValueError(f"circuit {circuit.id!r} has an unknown parent {circuit.parent_id!r}")
            children[circuit.parent_id].append(circuit.id)

    capacity: list[int] = []
    phase_keys: dict[str, list[list[int]]] = {}
    power_keys: dict[str, list[int]] = {}
    stack: list[tuple[str, list[list[int]], list[int]]] = [(roots[0], [[], [], []], [])]
    while stack:
        circuit_id, above_phases, above_power = stack.pop()
        circuit = by_id[circuit_id]
        own_phases = [list(keys) for keys in above_phases]
        own_power = list(above_power)
        if circuit.phase_limit_amps is not None:
            if len(circuit.phase_limit_amps) != 3:
                raise ValueError(f"circuit {circuit_id!r}: phase_limit_amps needs three values (L1, L2, L3)")
            for phase, limit in enumerate(circuit.phase_limit_amps):
                own_phases[phase].append(len(capacity))
                capacity.append(_units(limit, ROUND_FLOOR, f"circuit {circuit_id!r}: phase_limit_amps"))
        voltage = _amount(circuit.voltage, f"circuit {circuit_id!r}: voltage")
        if voltage == 0:
            raise ValueError(f"circuit {circuit_id!r}: voltage must be above 0")
        if circuit.power_limit_watts is not None:
            watts = _amount(circuit.power_limit_watts, f"circuit {circuit_id!r}: power_limit_watts")
            own_power.append(len(capacity))
            capacity.append(int((watts * 10) // voltage))  # deciamp-phases; exact integer division
        phase_keys[circuit_id], power_keys[circuit_id] = own_phases, own_power
        stack.extend((child, own_phases, own_power) for child in children[circuit_id])
    if len(phase_keys) != len(by_id):
        cut_off = sorted(set(by_id) - set(phase_keys))
        raise ValueError(f"circuits {cut_off} do not lead to the grid connection (a cycle)")
    return capacity, phase_keys, power_keys


def _check_load_ids(loads: Sequence[Load], circuits: dict[str, list[list[int]]]) -> None:
    seen: set[str] = set()
    for load in loads:
        if load.id in seen:
            raise ValueError(f"load {load.id!r} is given twice")
        seen.add(load.id)
        if load.circuit_id not in circuits:
            raise ValueError(f"load {load.id!r} hangs on an unknown circuit {load.circuit_id!r}")


def _phases(load: Load) -> tuple[int, ...]:
    phases = load.grid_phases
    if not 1 <= len(phases) <= 3 or len(set(phases)) != len(phases) or not set(phases) <= {1, 2, 3}:
        raise ValueError(
            f"load {load.id!r}: grid_phases must be 1 to 3 distinct phases of 1, 2, 3, not {phases}"
        )
    return phases


def _bounds(load: Load) -> tuple[int, int]:
    """Minimum and cap of a load in deciamps (for a fixed load: what it draws, rounded up)."""
    name = f"load {load.id!r}"
    max_units = _units(load.max_amps, ROUND_FLOOR, f"{name}: max_amps")
    cap_units = max_units
    if load.wanted_amps is not None:
        cap_units = min(cap_units, _units(load.wanted_amps, ROUND_FLOOR, f"{name}: wanted_amps"))
    if load.fixed:
        wanted = load.max_amps if load.wanted_amps is None else min(load.max_amps, load.wanted_amps)
        return 0, _units(wanted, ROUND_CEILING, f"{name}: max_amps")
    min_units = _units(load.min_amps, ROUND_CEILING, f"{name}: min_amps")
    if min_units > max_units:
        raise ValueError(f"{name}: min_amps {load.min_amps} is above max_amps {load.max_amps}")
    return min_units, max(cap_units, min_units)


def _amount(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{name} must be a Decimal, not {value!r}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be a finite number of at least 0, not {value}")
    return amount


def _units(value: object, rounding: str, name: str) -> int:
    """Deciamps of an amount in amps, rounded as given."""
    return int((_amount(value, name) * 10).to_integral_value(rounding=rounding))
