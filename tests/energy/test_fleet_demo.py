"""The demo's fleet: the caretaker's van at Riverside Parking is charged on the residents' night price."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from energy.models import FleetVehicle, SiteGrid
from energy.services.fleet import site_fleet_plan_compute
from stations.models import ChargingSession, Connector, Station

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_demo_van_plugged_in_at_eight_waits_for_the_night_price():
    call_command("seed_demo")
    van = FleetVehicle.objects.get(name="Caretaker's van")
    station = Station.objects.get(identity="DEMO-001")
    assert SiteGrid.objects.get(site=station.site).phase_limit_amps == 32  # the demo's grid connection
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=BERLIN)
    ChargingSession.objects.create(
        station=station,
        connector=Connector.objects.create(station=station, evse_id=1),
        id_token=van.id_token,
        id_tag="DEMO-FLEET-1",
        external_id="1",
        started_at=evening,
        meter_start_wh=0,
    )

    draft = site_fleet_plan_compute(site_id=station.site_id, now=evening)

    assert draft is not None and draft.plan is not None and draft.tariff == "Residents"
    (vehicle,) = draft.plan.vehicles
    assert vehicle.periods[0].start == evening + timedelta(hours=2)  # 22:00, when the night price starts
    # 20 kWh at 0.24 rather than at once at the day's 0.32.
    assert (draft.plan.cost, draft.plan.cost_immediate) == (Decimal("4.8000"), Decimal("6.4000"))
