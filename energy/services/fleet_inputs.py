"""The fleet vehicles plugged in at a site and what each needs by when: the fleet planner's demand.

Which sessions: the site's open sessions the balancer reads (site_loads: not those left open by a charger
that rebooted since) started with a card that is a fleet vehicle's (a card tied to two vehicles: the
first made).

Departure: from the session's ChargingNeed. A plug-in without one takes the need staff entered ahead for
the vehicle (no session yet, departure still ahead, the earliest), else gets one at the next occurrence of
the vehicle's usual departure time in the site's time zone. A vehicle with neither is not planned (the
balancer charges it as any car), nor one still plugged in after its departure.

Energy: a need is what the plug-in asks in all: what the battery lacks to the target state of charge
when the charger reports the car's SoC (a meter value; plus what the session delivered before the
reading), else the vehicle's usual need, else the target share of the battery (SoC unknown: as if empty,
an upper bound; a full car stops drawing), else the whole battery. At every replan the energy still
needed is the need less what the session delivered so far, and never more than the battery lacks to the
target by the latest SoC reading.

The needs are written with queryset updates and bulk_create, which send no model signals: the receivers
that re-plan on staff's edits of needs must not fire on the planner's own writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

from energy.models import ChargingNeed, FleetVehicle
from stations.models import ChargingSession, MeterSample
from stations.services.windows import local_at

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

KWH = Decimal("0.01")


@dataclass(frozen=True)
class PluggedVehicle:
    """A fleet vehicle plugged in now, with its need."""

    vehicle: FleetVehicle
    session: ChargingSession
    need: ChargingNeed
    delivered_kwh: Decimal
    soc_percent: Decimal | None

    @property
    def departure(self) -> datetime:
        return self.need.departure_at

    @property
    def remaining_kwh(self) -> Decimal:
        """What is still needed: the need less what the session delivered, capped by the latest SoC."""
        remaining = max(self.need.energy_kwh - self.delivered_kwh, Decimal(0))
        to_target = to_target_kwh(self.vehicle, self.soc_percent)
        if to_target is not None:
            remaining = min(remaining, to_target)
        return remaining


def to_target_kwh(vehicle: FleetVehicle, soc_percent: Decimal | None) -> Decimal | None:
    """What the battery lacks to the target state of charge; None without a target or a reading."""
    if vehicle.target_soc_percent is None or soc_percent is None:
        return None
    lacking = vehicle.battery_kwh * (Decimal(vehicle.target_soc_percent) - soc_percent) / 100
    return max(lacking, Decimal(0)).quantize(KWH, rounding=ROUND_CEILING)


def need_energy_kwh(vehicle: FleetVehicle, soc_percent: Decimal | None, delivered_kwh: Decimal) -> Decimal:
    """The energy a plug-in asks for in all when nobody said (see the module's docstring)."""
    to_target = to_target_kwh(vehicle, soc_percent)
    if to_target is not None:
        return (to_target + delivered_kwh).quantize(KWH, rounding=ROUND_CEILING)
    if vehicle.energy_needed_kwh is not None:
        return vehicle.energy_needed_kwh
    if vehicle.target_soc_percent is not None:
        return (vehicle.battery_kwh * vehicle.target_soc_percent / 100).quantize(KWH, rounding=ROUND_CEILING)
    return vehicle.battery_kwh


def next_departure(departure_time: time, *, after: datetime, zone: ZoneInfo) -> datetime:
    """The first moment after `after` when the site's clocks show `departure_time`."""
    day = after.astimezone(zone).date()
    for offset in range(3):
        moment = local_at(day + timedelta(days=offset), departure_time, zone)
        if moment > after:
            return moment
    raise AssertionError("a time of day recurs within three days")


class _LatestSoc(TypedDict):
    soc: Decimal | None


def _latest_soc() -> Subquery:
    samples = MeterSample.objects.filter(session_id=OuterRef("pk"), measurand="SoC")
    return Subquery(samples.order_by("-sampled_at").values("value")[:1])


def fleet_sessions(
    session_ids: Iterable[int],
) -> list[tuple[WithAnnotations[ChargingSession, _LatestSoc], FleetVehicle]]:
    """The sessions among these started with a fleet vehicle's card, each with its vehicle."""
    vehicles: dict[int, FleetVehicle] = {}
    sessions = list(
        ChargingSession.objects.filter(pk__in=list(session_ids), id_token__fleet_vehicles__isnull=False)
        .distinct()
        .annotate(soc=_latest_soc())
        .select_related("station", "connector")
        .order_by("started_at", "pk")
    )
    token_ids = {session.id_token_id for session in sessions}
    for vehicle in FleetVehicle.objects.filter(id_token_id__in=token_ids).order_by("-pk"):
        vehicles[vehicle.id_token_id] = vehicle  # type: ignore[index]  # the first made wins
    return [(session, vehicles[session.id_token_id]) for session in sessions]  # type: ignore[index]


def charging_need_ensure(
    *,
    session: ChargingSession,
    vehicle: FleetVehicle,
    soc_percent: Decimal | None,
    delivered_kwh: Decimal,
    now: datetime,
    zone: ZoneInfo,
) -> ChargingNeed | None:
    """The session's need: its own, else one staff entered ahead for the vehicle, else one made from the
    vehicle's usual departure time; None when the vehicle has no departure to plan for."""
    need = ChargingNeed.objects.filter(session=session).order_by("-pk").first()
    if need is not None:
        return need
    ahead = (
        ChargingNeed.objects.filter(vehicle=vehicle, session__isnull=True, departure_at__gt=now)
        .order_by("departure_at", "pk")
        .first()
    )
    if ahead is not None:
        ChargingNeed.objects.filter(pk=ahead.pk).update(session=session)
        ahead.session = session
        return ahead
    if vehicle.departure_time is None:
        return None
    plugged_at = max(session.started_at or now, now - timedelta(days=1))
    (need,) = ChargingNeed.objects.bulk_create(
        [
            ChargingNeed(
                vehicle=vehicle,
                session=session,
                departure_at=next_departure(vehicle.departure_time, after=plugged_at, zone=zone),
                energy_kwh=need_energy_kwh(vehicle, soc_percent, delivered_kwh),
            )
        ]
    )
    return need


def plugged_vehicles(*, session_ids: Iterable[int], now: datetime, zone: ZoneInfo) -> list[PluggedVehicle]:
    """The fleet vehicles plugged in among these sessions that have a departure ahead, with their needs
    (made where missing)."""
    plugged = []
    for session, vehicle in fleet_sessions(session_ids):
        soc = Decimal(session.soc) if session.soc is not None else None
        delivered = Decimal(session.live_energy_wh or 0) / 1000
        need = charging_need_ensure(
            session=session, vehicle=vehicle, soc_percent=soc, delivered_kwh=delivered, now=now, zone=zone
        )
        if need is None or need.departure_at <= now:
            continue
        plugged.append(PluggedVehicle(vehicle, session, need, delivered, soc))
    return plugged
