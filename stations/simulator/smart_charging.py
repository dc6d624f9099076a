"""Smart charging in the simulated charger: the charging profiles it holds and the limits they set
(OCPP 1.6 section 3.13, 2.0.1 functional block K), in one vocabulary for both versions.

- Purposes. ChargePointMaxProfile (2.0.1: ChargingStationMaxProfile) is set on connector 0 and caps the
  whole charger: its limit is shared among the cars charging, so that together they never draw more.
  TxDefaultProfile on connector 0 applies to every connector; one set on a connector overrides it there.
  TxProfile belongs to the running transaction of its connector and is removed when that ends; where it
  has no period, the TxDefaultProfile applies.
- Stacking. Within a purpose the valid profile with the highest stackLevel that has a period at that
  moment wins; before its schedule starts or after its duration, the next one down applies.
- Kinds. Absolute runs from startSchedule (1.6 allows none: then from the transaction's start), Relative
  from the transaction's start (from "now" in a composite schedule asked outside a transaction),
  Recurring from startSchedule, again every day or week. validFrom/validTo bound every kind.
- Units. A are per phase on numberPhases phases (3 when absent), W are the total; 230 V per phase
  converts. A connector's limit at t is min(its share of the charger max, TxProfile or else
  TxDefaultProfile). Where no profile sets one, the car takes what it accepts, and a composite schedule
  says 32 A on 3 phases, the hardware's (for connector 0, that times the connectors).
- A car cannot charge on less than 6 A per phase (IEC 61851-1): a lower limit pauses it (SuspendedEVSE)
  until a higher one comes. Outside a transaction no energy flows.
- Replacing. A profile with the id of an installed one replaces it. 1.6 also replaces the profile with the
  same connector, purpose and stackLevel; 2.0.1 refuses that one instead when the validity periods
  overlap (K01.FR.06, K01.FR.39).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

NOMINAL_VOLTAGE_V = 230
MIN_CURRENT_A = 6.0
HARDWARE_CURRENT_A = 32.0
RECURRENCE_S = {"Daily": 86_400, "Weekly": 7 * 86_400}


class Purpose(StrEnum):
    CHARGER_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


PURPOSES_201 = {
    "ChargingStationMaxProfile": Purpose.CHARGER_MAX,
    "TxDefaultProfile": Purpose.TX_DEFAULT,
    "TxProfile": Purpose.TX,
}


class ProfileRefused(Exception):
    """A charging profile the charger does not take; `reason` is a 2.0.1 statusInfo reasonCode."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Limit:
    """A schedule period's limit: amps per phase or watts in all, over `phases` phases at most."""

    value: float
    unit: str  # "A" or "W"
    phases: int = 3

    def power_w(self, phases: int = 3) -> float:
        """The power a car charging on `phases` phases may take under this limit."""
        if self.unit == "W":
            return self.value
        return self.value * NOMINAL_VOLTAGE_V * min(phases, self.phases)

    def current_a(self, phases: int = 3) -> float:
        """The current per phase a car charging on `phases` phases may take under this limit."""
        if self.unit == "A":
            return self.value
        return self.value / (NOMINAL_VOLTAGE_V * min(phases, self.phases))

    def expressed(self, unit: str) -> Limit:
        """The same limit in A or W, for its own number of phases."""
        value = self.current_a(self.phases) if unit == "A" else self.power_w(self.phases)
        return Limit(value, unit, self.phases)


HARDWARE = Limit(HARDWARE_CURRENT_A, "A", 3)


@dataclass(frozen=True)
class Period:
    start_s: int
    limit: float
    phases: int = 3


@dataclass(frozen=True)
class Profile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: str  # Absolute, Relative or Recurring
    unit: str
    periods: tuple[Period, ...]
    connector_id: int = 0
    start: datetime | None = None  # startSchedule
    duration_s: int | None = None
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | str | None = None

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_to is None or at < self.valid_to
        )

    def cycle_start(self, at: datetime, tx_start: datetime) -> datetime:
        """When the run of the schedule in force at `at` began."""
        if self.kind == "Recurring" and self.start is not None:
            cycle_s = RECURRENCE_S[self.recurrency or "Daily"]
            return at - timedelta(seconds=(at - self.start).total_seconds() % cycle_s)
        if self.kind == "Absolute" and self.start is not None:
            return self.start
        return tx_start

    def limit_at(self, at: datetime, tx_start: datetime) -> Limit | None:
        """The limit of the period in force at `at`, or None where the profile sets none."""
        if not self.valid_at(at):
            return None
        offset_s = (at - self.cycle_start(at, tx_start)).total_seconds()
        if offset_s < 0 or (self.duration_s is not None and offset_s >= self.duration_s):
            return None
        current = None
        for period in self.periods:
            if period.start_s > offset_s:
                break
            current = period
        return None if current is None else Limit(current.limit, self.unit, current.phases)

    def changes_after(self, at: datetime, tx_start: datetime) -> list[datetime]:
        """The moments after `at` when this profile's limit may change, the next run's included."""
        begin = self.cycle_start(at, tx_start)
        runs = [begin]
        if self.kind == "Recurring":
            runs.append(begin + timedelta(seconds=RECURRENCE_S[self.recurrency or "Daily"]))
        moments = [m for m in (self.valid_from, self.valid_to) if m is not None]
        for run in runs:
            moments += [run + timedelta(seconds=p.start_s) for p in self.periods]
            if self.duration_s is not None:
                moments.append(run + timedelta(seconds=self.duration_s))
        return [m for m in moments if m > at]


# --- the profiles a charger holds --------------------------------------------------------------------
def _overlap(a: Profile, b: Profile) -> bool:
    earliest, latest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    return (a.valid_from or earliest) < (b.valid_to or latest) and (b.valid_from or earliest) < (
        a.valid_to or latest
    )


def strongest_limit(profiles: Iterable[Profile], at: datetime, tx_start: datetime) -> Limit | None:
    """The limit of the highest-stacked profile that sets one at `at`."""
    for profile in sorted(profiles, key=lambda p: p.stack_level, reverse=True):
        if (limit := profile.limit_at(at, tx_start)) is not None:
            return limit
    return None


def tighter(a: Limit | None, b: Limit | None, phases: int = 3) -> Limit | None:
    if a is None or b is None:
        return a or b
    return a if a.power_w(phases) <= b.power_w(phases) else b


class ProfileStore:
    """The installed charging profiles of one charger, kept across reconnections as in flash memory."""

    def __init__(self, *, connectors: int = 1, max_profiles: int = 20) -> None:
        self.connectors, self.max_profiles = connectors, max_profiles
        self.profiles: list[Profile] = []

    def install(self, profile: Profile, *, version: str) -> None:
        """Add a checked profile, replacing the one it supersedes; raise ProfileRefused otherwise."""

        def same_slot(old: Profile) -> bool:
            return (old.connector_id, old.purpose, old.stack_level) == (
                profile.connector_id,
                profile.purpose,
                profile.stack_level,
            ) and old.transaction_id == profile.transaction_id

        kept = [old for old in self.profiles if old.id != profile.id]
        if version == "1.6":
            kept = [old for old in kept if not same_slot(old)]
        elif any(same_slot(old) and _overlap(old, profile) for old in kept):
            raise ProfileRefused("DuplicateProfile", "same purpose and stackLevel on this EVSE")
        if len(kept) >= self.max_profiles:
            raise ProfileRefused("TooManyProfiles", f"at most {self.max_profiles} profiles")
        self.profiles = [*kept, profile]

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the profile with this id, or else those matching every criterion given; tell whether
        any went (ClearChargingProfile's Accepted or Unknown)."""

        def matches(p: Profile) -> bool:
            if profile_id is not None:
                return p.id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        cleared = len(kept) < len(self.profiles)
        self.profiles = kept
        return cleared

    def transaction_ended(self, connector_id: int) -> None:
        """Drop the TxProfiles of the connector's transaction, which has just ended."""
        self.profiles = [
            p for p in self.profiles if not (p.purpose == Purpose.TX and p.connector_id == connector_id)
        ]

    def _of(self, purpose: Purpose, connector_ids: tuple[int, ...]) -> list[Profile]:
        return [p for p in self.profiles if p.purpose == purpose and p.connector_id in connector_ids]

    def charger_limit(self, at: datetime) -> Limit | None:
        """The ChargePointMaxProfile's limit for the whole charger at `at`."""
        return strongest_limit(self._of(Purpose.CHARGER_MAX, (0,)), at, at)

    def connector_limit(
        self, connector_id: int, at: datetime, tx_start: datetime, transaction_id: int | str | None
    ) -> Limit | None:
        """The TxProfile's limit for the running transaction, or else the TxDefaultProfile's; a
        connector's TxDefaultProfile goes before connector 0's."""
        if transaction_id is not None:
            running = [p for p in self._of(Purpose.TX, (connector_id,)) if p.transaction_id == transaction_id]
            if (limit := strongest_limit(running, at, tx_start)) is not None:
                return limit
        own = strongest_limit(self._of(Purpose.TX_DEFAULT, (connector_id,)), at, tx_start)
        return own or strongest_limit(self._of(Purpose.TX_DEFAULT, (0,)), at, tx_start)

    def limit(
        self, connector_id: int, at: datetime, tx_start: datetime, transaction_id: int | str | None = None
    ) -> Limit:
        """The composite limit at `at`: connector 0's is the charger's maximum, a connector's the lower of
        that maximum and its own limit; the hardware's where no profile sets any."""
        charger = self.charger_limit(at)
        if connector_id == 0:  # without a maximum, every connector may draw what its hardware allows
            return charger or replace(HARDWARE, value=HARDWARE.value * self.connectors)
        own = self.connector_limit(connector_id, at, tx_start, transaction_id) or HARDWARE
        return tighter(charger, own) or HARDWARE

    def next_change(self, connector_id: int, at: datetime, tx_start: datetime) -> datetime | None:
        """The next moment after `at` when the connector's limits may change."""
        moments = [
            moment
            for p in self.profiles
            if p.connector_id in (0, connector_id)
            for moment in p.changes_after(at, tx_start)
        ]
        return min(moments, default=None)

    def composite(
        self,
        connector_id: int,
        start: datetime,
        duration_s: int,
        unit: str,
        tx_start: datetime | None = None,
        transaction_id: int | str | None = None,
    ) -> list[tuple[int, Limit]]:
        """The composite schedule from `start`: (seconds from start, limit in `unit`) where it changes."""
        end = start + timedelta(seconds=duration_s)
        anchor = tx_start or start
        periods: list[tuple[int, Limit]] = []
        at: datetime | None = start
        while at is not None and at < end and len(periods) < 1000:
            limit = self.limit(connector_id, at, anchor, transaction_id).expressed(unit)
            # 1.6's schema wants a multiple of 0.1: round down, but not 16.7 (166.99999... tenths) to 16.6
            limit = replace(limit, value=math.floor(limit.value * 10 + 1e-6) / 10)
            if not periods or periods[-1][1] != limit:
                periods.append((math.ceil((at - start).total_seconds()), limit))
            at = self.next_change(connector_id, at, anchor)
        return periods


# --- sharing the charger's limit among the cars ------------------------------------------------------
@dataclass(frozen=True)
class Car:
    """A car charging at a connector, as the charger sees it."""

    phases: int
    accepted_w: float  # what it would take now, unlimited
    tx_start: datetime
    transaction_id: int | str | None


@dataclass(frozen=True)
class Offer:
    power_w: float | None  # 0 pauses the car; None: no profile limits it
    phases: int


def water_fill(demands: dict[int, float], capacity: float) -> dict[int, float]:
    """Split `capacity`: whoever asks for less than an even share gets it, the others share the rest."""
    shares: dict[int, float] = {}
    left, remaining = dict(demands), max(capacity, 0.0)
    while left:
        fair = remaining / len(left)
        satisfied = {n: d for n, d in left.items() if d <= fair}
        if not satisfied:
            shares |= {n: fair for n in left}
            break
        for n, demand in satisfied.items():
            shares[n], remaining = demand, remaining - demand
            del left[n]
    return shares


def offers(store: ProfileStore, cars: dict[int, Car], at: datetime) -> dict[int, Offer]:
    """What each connector offers its car at `at`: its own limit, within its share of the charger's.

    The charger's limit is shared in its own unit (with every connector on the same phases, L1 carries all
    the cars' currents). A connector whose offer falls below 6 A per phase pauses, and the others share
    what it leaves; the highest-numbered ones give way first.
    """
    charger = store.charger_limit(at)
    own: dict[int, Offer] = {}
    for n, car in cars.items():
        limit = store.connector_limit(n, at, car.tx_start, car.transaction_id)
        phases = min(car.phases, limit.phases if limit else 3, charger.phases if charger else 3)
        if limit is None:
            own[n] = Offer(None, phases)
        else:
            own[n] = Offer(limit.power_w(phases) if limit.current_a(phases) >= MIN_CURRENT_A else 0.0, phases)
    if charger is None:
        return own

    def in_unit(power_w: float, phases: int) -> float:
        return power_w if charger.unit == "W" else power_w / (NOMINAL_VOLTAGE_V * phases)

    def wanted_w(n: int) -> float:
        power_w = own[n].power_w
        return min(cars[n].accepted_w, HARDWARE.power_w(own[n].phases) if power_w is None else power_w)

    result = dict(own)
    sharing = sorted(n for n, offer in own.items() if offer.power_w != 0)
    while sharing:
        demand = {n: in_unit(wanted_w(n), own[n].phases) for n in sharing}
        shares = water_fill(demand, charger.value)
        starved = []
        for n in sharing:
            phases = own[n].phases
            share_w = shares[n] if charger.unit == "W" else shares[n] * NOMINAL_VOLTAGE_V * phases
            if shares[n] >= demand[n]:  # the car takes less than its share: its own limit is the offer
                result[n] = own[n]
            elif share_w / (NOMINAL_VOLTAGE_V * phases) >= MIN_CURRENT_A:
                result[n] = Offer(share_w, phases)
            else:
                starved.append(n)
        if not starved:
            break
        sharing.remove(starved[-1])
        result[starved[-1]] = Offer(0.0, own[starved[-1]].phases)
    return result
