"""A fleet van's plan reaches a simulated charger over a real WebSocket (the live gateway, the Redis channel
layer) and the charger obeys it, for 1.6 and 2.0.1: the van plugs in at peak price, is planned for the one
cheap hour, pauses now (0 A), and the charger's own composite schedule shows 15.9 A in that hour."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import Tariff, TariffAssignment, TariffBand
from energy.models import ChargerWiring, ChargingNeed, FleetPlanStatus, FleetVehicle, SiteGrid
from energy.services.fleet_replan import site_fleet_replan_async
from stations.models import MeterSample
from tests.energy.test_fleet_sending import off_peak_hour
from tests.factories import IdTokenFactory, OrganizationFactory, SiteFactory, StationFactory
from tests.simulator_live import charger_online, eventually, eventually_in_db, station_send, use_redis
from tests.stations.test_simulator_profiles_answers import composite_periods

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

D = Decimal


def depot(identity: str, cheap_from: Any) -> int:
    """A site charging 0.30 €/kWh but 0.10 in one hour, a 16 A charger, a van needing 11 kWh an hour
    after the cheap one; balancing off, so that only the plan limits the charger."""
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization, time_zone="Europe/Berlin")
    SiteGrid.objects.create(site=site, phase_limit_amps=D(32), balancing_enabled=False)
    tariff = Tariff.objects.create(organization=organization, name="Depot", energy_price_per_kwh=D("0.30"))
    end = cheap_from + timedelta(hours=1)
    TariffBand.objects.create(
        tariff=tariff,
        window_start=cheap_from.time(),
        window_end=end.time(),
        energy_price_per_kwh=D("0.10"),
    )
    TariffAssignment.objects.create(tariff=tariff, site=site)
    station = StationFactory(identity=identity, site=site)
    ChargerWiring.objects.create(station=station, phases=3, max_amps=D(16))
    token = IdTokenFactory(id_tag="FLEET-VAN", organization=organization)
    van = FleetVehicle.objects.create(
        organization=organization, name="Van", id_token=token, battery_kwh=D(60), max_kw=D(11)
    )
    ChargingNeed.objects.create(vehicle=van, departure_at=end + timedelta(hours=1), energy_kwh=D(11))
    return site.pk


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_a_van_plugged_in_at_peak_waits_for_the_cheap_hour_its_charger_was_given(ocpp, gateways, settings):
    url = use_redis(gateways, settings)
    identity = f"SIM-FLEET-{ocpp}"
    cheap_from = off_peak_hour()
    site_id = depot(identity, cheap_from)

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        send = functools.partial(station_send, identity)
        async with charger_online(identity, url, ocpp) as charger:
            if ocpp == "1.6":
                await send("RemoteStartTransaction", {"connectorId": 1, "idTag": "FLEET-VAN"})
            else:
                token = {"idToken": "FLEET-VAN", "type": "Central"}
                await send("RequestStartTransaction", {"evseId": 1, "idToken": token, "remoteStartId": 7})
            connector = charger.connectors[1]
            await eventually(lambda: connector.status == "Charging", timeout_s=8)
            seen["charging_w"] = connector.meter.power_w

            def session_stored() -> bool:
                return MeterSample.objects.filter(station__identity=identity, session__isnull=False).exists()

            assert await eventually_in_db(session_stored, timeout_s=5)
            seen["record"] = await site_fleet_replan_async(site_id=site_id)
            await eventually(lambda: connector.status == "SuspendedEVSE", timeout_s=5)
            seen["paused_w"] = connector.meter.power_w
            seen["asked_at"] = timezone.now()
            key = "connectorId" if ocpp == "1.6" else "evseId"
            ask = {key: 1, "duration": 4 * 3600, "chargingRateUnit": "A"}
            seen["composite"] = await send("GetCompositeSchedule", ask)
            seen["installed"] = [(p.id, p.stack_level, p.kind) for p in charger.profiles.profiles]
        seen["protocol_errors"] = charger.stats.protocol_errors
        return seen

    seen = asyncio.run(scenario())
    record = seen["record"]
    assert seen["protocol_errors"] == []
    assert record.status == FleetPlanStatus.SENT, record.message
    (vehicle,) = record.plan["vehicles"]
    # 11 kWh less what the charger metered before the plan, in the cheap hour rather than at once.
    needed = D(vehicle["needed_kwh"])
    assert D("10.9") <= needed <= D(11)
    assert (record.cost, record.cost_immediate) == (needed * D("0.10"), needed * D("0.30"))
    assert vehicle["profile"] == "accepted" and vehicle["periods"][0]["amps"] == "15.9"
    assert (3001, 1, "Absolute") in seen["installed"]
    assert seen["charging_w"] > 0 and seen["paused_w"] == 0  # the car waits through the peak price

    # The charger's composite schedule for the next 4 hours: 0 A until the cheap hour, 15.9 A through it,
    # then 0 A until the departure, when the plan ends and the charger's 32 A hardware limit is back.
    starts_in = (cheap_from - seen["asked_at"]).total_seconds()
    periods = [(p["startPeriod"], p["limit"]) for p in composite_periods(ocpp, seen["composite"])]
    assert [limit for _, limit in periods] == [0.0, 15.9, 0.0, 32.0]
    assert periods[0][0] == 0
    assert abs(periods[1][0] - starts_in) <= 2
    assert abs(periods[2][0] - starts_in - 3600) <= 2 and abs(periods[3][0] - starts_in - 7200) <= 2
