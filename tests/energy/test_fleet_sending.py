"""Fleet plans through the gateway: fleet vans plug in at chargers on in-process sockets (one 1.6, one
2.0.1), the debounced replan (run in the gateway's event loop, as without Redis) plans them at the
cheapest hour and sends each its schedule; the balancer then counts them at their planned current. A
refusal is recorded, and a van no longer planned has its schedule cleared."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from billing.models import Tariff, TariffAssignment, TariffBand
from energy.models import (
    Allocation,
    ChargerWiring,
    ChargingNeed,
    FleetPlanRecord,
    FleetPlanStatus,
    FleetVehicle,
    SiteGrid,
)
from tests.energy.test_balancing_sockets import Charger, plugged, start, until
from tests.factories import IdTokenFactory, OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = timedelta(minutes=15)


def off_peak_hour() -> datetime:
    """A quarter hour between 1 h 45 and 2 h from now, in Berlin: the start of the one cheap hour."""
    soon = timezone.now().astimezone(BERLIN) + timedelta(hours=2)
    return soon.replace(minute=soon.minute - soon.minute % 15, second=0, microsecond=0)


@database_sync_to_async
def depot_with_two_vans(cheap_from: datetime) -> tuple[Any, list[Any], list[FleetVehicle]]:
    """A 32 A site whose tariff costs 0.30 €/kWh but 0.10 in one hour; two 16 A chargers; two vans of
    11 kWh due an hour after the cheap one (entered ahead, as a fleet manager would)."""
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization, time_zone="Europe/Berlin")
    SiteGrid.objects.create(site=site, phase_limit_amps=D(32))
    tariff = Tariff.objects.create(organization=organization, name="Depot", energy_price_per_kwh=D("0.30"))
    end = cheap_from + timedelta(hours=1)
    TariffBand.objects.create(
        tariff=tariff,
        label="Off-peak",
        window_start=time(cheap_from.hour, cheap_from.minute),
        window_end=time(end.hour, end.minute),
        energy_price_per_kwh=D("0.10"),
    )
    TariffAssignment.objects.create(tariff=tariff, site=site)
    stations = [StationFactory(site=site) for _ in range(2)]
    vans = []
    for number, station in enumerate(stations, 1):
        ChargerWiring.objects.create(station=station, phases=3, max_amps=D(16))
        token = IdTokenFactory(id_tag=f"VAN{number}", organization=organization)
        van = FleetVehicle.objects.create(
            organization=organization, name=f"Van {number}", id_token=token, battery_kwh=D(60), max_kw=D(11)
        )
        ChargingNeed.objects.create(vehicle=van, departure_at=end + timedelta(hours=1), energy_kwh=D(11))
        vans.append(van)
    return site, stations, vans


def fleet_profiles(charger: Charger) -> list[dict[str, Any]]:
    """The fleet schedules (TxProfile at stack level 1) the charger received, as their profile."""
    found = []
    for _, action, payload in charger.calls:
        profile = payload.get("csChargingProfiles") or payload.get("chargingProfile") or {}
        if action == "SetChargingProfile" and profile.get("stackLevel") == 1:
            found.append(profile)
    return found


def schedule_of(profile: dict[str, Any]) -> dict[str, Any]:
    schedule = profile["chargingSchedule"]
    return schedule[0] if isinstance(schedule, list) else schedule


async def latest_record(site: Any) -> FleetPlanRecord | None:
    return await FleetPlanRecord.objects.filter(site=site).order_by("-computed_at", "-pk").afirst()


async def test_vans_plugging_in_get_the_cheap_hour_as_a_schedule_and_the_balancer_counts_them_at_it():
    cheap_from = off_peak_hour()
    site, stations, vans = await depot_with_two_vans(cheap_from)
    first = await plugged(stations[0].identity, "ocpp1.6")
    second = await plugged(stations[1].identity, "ocpp2.0.1")

    await start(first, "VAN1")
    await start(second, "VAN2")

    async def both_planned() -> bool:
        record = await latest_record(site)
        return record is not None and len(record.plan["vehicles"]) == 2 and bool(fleet_profiles(second))

    await until(both_planned, timeout=20)
    record = await latest_record(site)
    assert record.status == FleetPlanStatus.SENT, record.message
    # Each van: 11 kWh in the cheap hour at 11 kW (0.10) instead of at once at peak (0.30).
    assert (record.cost, record.cost_immediate, record.saving) == (D("2.2"), D("6.6"), D("4.4"))
    offset = round((cheap_from - record.computed_at).total_seconds())
    departure = round((cheap_from + timedelta(hours=2) - record.computed_at).total_seconds())
    for charger, tx in ((first, None), (second, "tx-VAN2")):
        (profile,) = fleet_profiles(charger)
        schedule = schedule_of(profile)
        assert (
            profile["chargingProfilePurpose"] == "TxProfile" and profile["chargingProfileKind"] == "Absolute"
        )
        if tx is not None:
            assert profile["transactionId"] == tx
        assert schedule["startSchedule"].startswith(record.computed_at.strftime("%Y-%m-%dT%H:%M:%S"))
        assert schedule["duration"] == departure
        assert schedule["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 0.0, "numberPhases": 3},
            {"startPeriod": offset, "limit": 15.9, "numberPhases": 3},  # 11 kW / (230 V * 3)
            {"startPeriod": offset + 3600, "limit": 0.0, "numberPhases": 3},
        ]
    assert {v["profile"] for v in record.plan["vehicles"]} == {"accepted"}

    # The balancer recomputes after the plan: each van counts at its plan's 0 A for now, and its own
    # session limit (stack 0, under the schedule) is set to that.
    async def counted_at_the_plan() -> bool:
        rows = [await Allocation.objects.filter(station=s, evse_id=1).afirst() for s in stations]
        return all(row is not None and row.reason.startswith("fleet plan") and row.amps == 0 for row in rows)

    await until(counted_at_the_plan)
    assert first.session_limits()[-1][1] == 0.0

    # The 2.0.1 charger refuses the next schedule; the other van's need is dropped and it has no usual
    # departure: its schedule is cleared.
    second.refuse_session_limits = True
    await ChargingNeed.objects.filter(vehicle=vans[0]).adelete()  # a staff edit: re-plans the site

    async def replanned() -> bool:
        record = await latest_record(site)
        return record is not None and record.status == FleetPlanStatus.FAILED

    await until(replanned, timeout=20)
    record = await latest_record(site)
    (vehicle,) = record.plan["vehicles"]
    assert vehicle["name"] == "Van 2" and vehicle["profile"] == "rejected"
    assert "not sent to Van 2" in record.message
    clears = [payload for _, action, payload in first.calls if action == "ClearChargingProfile"]
    assert clears == [{"id": 3001}]
    assert await FleetPlanRecord.objects.filter(site=site, status=FleetPlanStatus.SUPERSEDED).acount() >= 1
    await asyncio.gather(first.close(), second.close())
