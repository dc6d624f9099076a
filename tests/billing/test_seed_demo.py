"""The demo data a newcomer clicks through: organizations, access rules and logins that work."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.domain import AuthorizationStatus
from accounts.models import IdToken, User
from billing.models import Tariff
from stations.configuration.models import ConfigurationProfile, FirmwareStandard
from stations.configuration.services.versions import version_is_behind
from stations.firmware.models import FirmwareCampaign
from stations.models import AccessRule, Station
from stations.services.access import access_authorize
from stations.simulator.configuration import Configuration as SimulatedConfiguration
from stations.simulator.dialects import FIRMWARE
from stations.simulator.firmware import image_version

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_the_same_demo(capsys):
    call_command("seed_demo")

    def counts() -> tuple[int, ...]:
        models = (Station, IdToken, AccessRule, User, Tariff)
        return tuple(model.objects.count() for model in models)

    first = counts()
    call_command("seed_demo")
    assert first == counts() == (4, 5, 2, 3, 3)


def test_residents_charge_freely_and_visitors_for_a_few_minutes_at_the_demo_site():
    call_command("seed_demo")
    station = Station.objects.get(identity="DEMO-001")
    now = timezone.now()
    resident = access_authorize(station_id=station.pk, id_tag="DEMO-TAG-1", at=now)
    visitor = access_authorize(station_id=station.pk, id_tag="DEMO-TAG-2", at=now)
    lost = access_authorize(station_id=station.pk, id_tag="DEMO-BLOCKED", at=now)
    assert (resident.status, resident.allowed_until) == (AuthorizationStatus.ACCEPTED, None)
    assert visitor.status == AuthorizationStatus.ACCEPTED and visitor.limit.startswith(
        "Public access: at most 3"
    )
    assert lost.status == AuthorizationStatus.BLOCKED


def test_the_demo_manager_sees_only_their_organizations_chargers():
    call_command("seed_demo")
    client = Client()
    assert client.login(username="manager", password="manager")
    page = client.get(reverse("admin:stations_station_changelist")).content.decode()
    assert "DEMO-001" in page and "DEMO-004" not in page


def test_the_demo_driver_logs_in_on_the_portal_and_sees_their_card():
    call_command("seed_demo")
    client = Client()
    response = client.post(reverse("account_login"), {"login": "driver@example.com", "password": "driver"})
    assert response.status_code == 302
    assert "DEMO-DRIVER-1" in client.get(reverse("portal:cards")).content.decode()


def test_the_demo_prices_residents_below_the_public_with_cheaper_nights():
    from billing.services.tariffs import tariff_for

    call_command("seed_demo")
    station = Station.objects.get(identity="DEMO-001")
    now = timezone.now()
    resident = IdToken.objects.get(id_tag="DEMO-TAG-1")
    visitor = IdToken.objects.get(id_tag="DEMO-TAG-2")
    resident_tariff = tariff_for(station=station, connector=None, id_token_pk=resident.pk, at=now)
    public_tariff = tariff_for(station=station, connector=None, id_token_pk=visitor.pk, at=now)
    assert (resident_tariff.name, public_tariff.name) == ("Residents", "Public")
    assert resident_tariff.energy_price_per_kwh < public_tariff.energy_price_per_kwh
    assert resident_tariff.bands.get().label == "Night"


def test_the_demo_site_balances_its_three_chargers_under_its_grid_connection():
    from energy.services.loads import site_loads

    call_command("seed_demo")
    call_command("seed_demo")
    site = Station.objects.get(identity="DEMO-001").site
    loads = site_loads(site.pk)
    assert site.grid.balancing_enabled
    assert loads.circuits[0].phase_limit_amps == (32, 32, 32)
    assert sorted(site.stations.values_list("wiring__max_amps", flat=True)) == [32, 32, 32]


def test_the_demo_has_a_firmware_campaign_to_start_and_a_profile_the_simulator_drifts_from(
    settings, tmp_path
):
    settings.CSMS_FIRMWARE_ROOT = tmp_path
    call_command("seed_demo")
    call_command("seed_demo")
    campaign = FirmwareCampaign.objects.get()
    assert campaign.status == "draft" and campaign.max_concurrent == 1
    assert sorted(campaign.stations.values_list("identity", flat=True)) == [
        "DEMO-001",
        "DEMO-002",
        "DEMO-003",
    ]
    firmware = campaign.firmware
    assert image_version(firmware.file.read()) == firmware.version == "1.1.0"
    assert firmware.size_bytes == 4096 and len(firmware.sha256) == 64
    assert version_is_behind(FIRMWARE, FirmwareStandard.objects.get().minimum_version)
    profile = ConfigurationProfile.objects.get()
    simulated = SimulatedConfiguration(connectors=2, heartbeat_interval_s=300, meter_interval_s=15)
    drifting = [e.key for e in profile.entries.all() if simulated.keys[e.key].value != e.value]
    assert drifting == ["ConnectionTimeOut", "MeterValueSampleInterval"]
