"""A fleet plan as recorded (FleetPlanRecord.plan), read back: for the admin, the charts and the balancer.

The balancer and the fleet plan share the site this way: a fleet session whose charger accepted its plan
runs on that plan (a TxProfile stacked above the balancer's own), and the balancer counts it as a fixed
load at the highest current the plan gives it within LOOKAHEAD. The balancer recomputes at least every
minute, so a period that raises a fleet vehicle is counted (and the other sessions lowered) before it
starts. The balancer also keeps its own, lower-stacked TxProfile of the session at that current, so that
when the plan's schedule ends (or is cleared) the charger falls back to exactly what the balancer counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from energy.models import FleetPlanRecord

logger = logging.getLogger(__name__)

LOOKAHEAD = timedelta(minutes=2)
ACCEPTED = "accepted"


@dataclass(frozen=True)
class RecordedPeriod:
    start: datetime
    end: datetime
    kw: Decimal
    amps: Decimal


@dataclass(frozen=True)
class RecordedSlot:
    start: datetime
    end: datetime
    price_per_kwh: Decimal
    capacity_kw: Decimal


@dataclass(frozen=True)
class RecordedVehicle:
    vehicle_id: int
    name: str
    session_id: int
    station_id: int
    identity: str
    evse_id: int
    departure: datetime
    needed_kwh: Decimal
    energy_kwh: Decimal
    shortfall_kwh: Decimal
    cost: Decimal
    periods: tuple[RecordedPeriod, ...]
    until: datetime  # the end of the schedule sent (the departure, or earlier when it was cut short)
    profile: str  # ACCEPTED, or the AllocationStatus value of a refused or unsent plan
    error: str

    @property
    def accepted(self) -> bool:
        return self.profile == ACCEPTED

    def amps_between(self, since: datetime, until: datetime) -> Decimal:
        """The highest current the plan gives the vehicle in [since, until); 0 outside its periods."""
        overlapping = (p.amps for p in self.periods if p.start < until and p.end > since)
        return max(overlapping, default=Decimal(0))


@dataclass(frozen=True)
class RecordedPlan:
    start: datetime | None
    end: datetime | None
    tariff: str
    capacity_kw: Decimal | None
    slots: tuple[RecordedSlot, ...]
    vehicles: tuple[RecordedVehicle, ...]


def _at(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed


def _vehicle(data: dict[str, Any]) -> RecordedVehicle:
    return RecordedVehicle(
        vehicle_id=int(data["vehicle"]),
        name=str(data["name"]),
        session_id=int(data["session"]),
        station_id=int(data["station"]),
        identity=str(data["identity"]),
        evse_id=int(data["evse"]),
        departure=_at(data["departure"]),
        needed_kwh=Decimal(data["needed_kwh"]),
        energy_kwh=Decimal(data["energy_kwh"]),
        shortfall_kwh=Decimal(data["shortfall_kwh"]),
        cost=Decimal(data["cost"]),
        periods=tuple(
            RecordedPeriod(_at(p["start"]), _at(p["end"]), Decimal(p["kw"]), Decimal(p["amps"]))
            for p in data["periods"]
        ),
        until=_at(data["until"]),
        profile=str(data.get("profile", "")),
        error=str(data.get("error", "")),
    )


def plan_read(plan: dict[str, Any]) -> RecordedPlan:
    """Read a record's plan JSON (as fleet.plan_json writes it)."""
    return RecordedPlan(
        start=_at(plan["start"]) if plan.get("start") else None,
        end=_at(plan["end"]) if plan.get("end") else None,
        tariff=str(plan.get("tariff") or ""),
        capacity_kw=Decimal(plan["capacity_kw"]) if plan.get("capacity_kw") is not None else None,
        slots=tuple(
            RecordedSlot(_at(s["start"]), _at(s["end"]), Decimal(s["price"]), Decimal(s["capacity_kw"]))
            for s in plan.get("slots", ())
        ),
        vehicles=tuple(_vehicle(v) for v in plan.get("vehicles", ())),
    )


def latest_plan_record(site_id: int) -> FleetPlanRecord | None:
    return FleetPlanRecord.objects.filter(site_id=site_id).order_by("-computed_at", "-pk").first()


def plan_vehicles(record: FleetPlanRecord) -> tuple[RecordedVehicle, ...]:
    """The record's vehicles; none, logged, when its JSON cannot be read (the balancer and the next
    replan must not fail on it)."""
    try:
        return plan_read(record.plan).vehicles
    except (KeyError, TypeError, ValueError, ArithmeticError):
        logger.exception("fleet plan record %s cannot be read", record.pk)
        return ()


def fleet_amps(site_id: int, *, now: datetime) -> dict[int, Decimal]:
    """Session id -> the current per phase the balancer counts a planned fleet session at: the highest
    its accepted plan gives it from now to now + LOOKAHEAD, while the plan's schedule runs."""
    record = latest_plan_record(site_id)
    if record is None:
        return {}
    amps = {}
    for vehicle in plan_vehicles(record):
        if vehicle.accepted and now < vehicle.until:
            amps[vehicle.session_id] = vehicle.amps_between(now, min(now + LOOKAHEAD, vehicle.until))
    return amps
