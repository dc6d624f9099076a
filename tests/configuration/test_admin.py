"""The configuration admin through the test client: the comparison pages, applying a profile (offline
chargers recorded as such), and what staff of another organization may see."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from stations.configuration.models import (
    ApplyStatus,
    ConfigurationProfile,
    ConfigurationSnapshot,
    ProfileApplication,
    ProfileEntry,
)
from tests.factories import MembershipFactory, OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile() -> ConfigurationProfile:
    organization = OrganizationFactory()
    profile = ConfigurationProfile.objects.create(organization=organization, name="AC fleet", vendor="ACME")
    ProfileEntry.objects.create(profile=profile, key="HeartbeatInterval", value="300")
    ProfileEntry.objects.create(profile=profile, key="MeterValueSampleInterval", value="60")
    return profile


def test_the_profile_comparison_shows_each_key_of_each_charger(admin_client, profile):
    site = SiteFactory(organization=profile.organization)
    station = StationFactory(identity="CP-ACME", site=site, vendor="ACME", protocol="ocpp1.6")
    StationFactory(identity="CP-OTHER-VENDOR", site=site, vendor="Else")
    ConfigurationSnapshot.objects.create(
        station=station,
        taken_at=timezone.now(),
        values={"HeartbeatInterval": "300", "MeterValueSampleInterval": "30"},
    )
    url = reverse("admin:configuration_profile_comparison", args=[profile.pk])
    page = admin_client.get(url).content.decode()
    assert "CP-ACME" in page and "CP-OTHER-VENDOR" not in page
    assert "1 key off" in page and ">different<" in page and ">ok<" in page

    station_page = admin_client.get(reverse("admin:configuration_station_comparison", args=[station.pk]))
    assert "AC fleet" in station_page.content.decode()


@pytest.mark.django_db(transaction=True)  # the calls reach the database from the event loop's thread
def test_applying_to_offline_chargers_records_them_as_offline(admin_client, profile):
    site = SiteFactory(organization=profile.organization)
    StationFactory(identity="CP-1", site=site, vendor="acme", protocol="ocpp1.6", is_online=False)
    StationFactory(identity="CP-2", site=site, vendor="ACME", protocol="ocpp2.0.1", is_online=False)
    response = admin_client.post(
        reverse("admin:configuration_configurationprofile_changelist"),
        {"action": "apply_to_chargers", "_selected_action": [profile.pk]},
    )
    application = ProfileApplication.objects.get(profile=profile)
    assert response.status_code == 302 and str(application.pk) in response["Location"]
    results = set(application.results.values_list("station__identity", "key", "status"))
    assert results == {
        (identity, key, ApplyStatus.OFFLINE)
        for identity in ("CP-1", "CP-2")
        for key in ("HeartbeatInterval", "MeterValueSampleInterval")
    }
    page = admin_client.get(response["Location"]).content.decode()
    assert "4 Offline" in page


def test_staff_see_only_their_organization_s_profiles(client, profile):
    other = MembershipFactory()
    ConfigurationProfile.objects.create(organization=other.organization, name="Theirs")
    client.force_login(other.user)
    page = client.get(reverse("admin:configuration_configurationprofile_changelist")).content.decode()
    assert "Theirs" in page and "AC fleet" not in page
    url = reverse("admin:configuration_profile_comparison", args=[profile.pk])
    assert client.get(url).status_code == 404


def test_a_snapshot_and_a_health_check_run_show_what_they_hold(admin_client):
    from stations.configuration.models import HealthCheck, HealthCheckRun

    snapshot = ConfigurationSnapshot.objects.create(
        station=StationFactory(identity="CP-SNAP"),
        taken_at=timezone.now(),
        values={"NumberOfConnectors": "2", "HeartbeatInterval": "300"},
        read_only=["NumberOfConnectors"],
    )
    page = admin_client.get(
        reverse("admin:configuration_configurationsnapshot_change", args=[snapshot.pk])
    ).content.decode()
    assert "NumberOfConnectors" in page and "read-only" in page and "HeartbeatInterval" in page
    run = HealthCheckRun.objects.create(
        check_name=HealthCheck.FIRMWARE,
        started_at=timezone.now(),
        checked=1,
        problems=1,
        findings=[{"station": "CP-OLD", "result": "behind", "version": "1.9", "minimum": "1.10"}],
    )
    page = admin_client.get(
        reverse("admin:configuration_healthcheckrun_change", args=[run.pk])
    ).content.decode()
    assert "CP-OLD" in page and "behind" in page and "minimum=1.10" in page
    assert admin_client.get(reverse("admin:configuration_healthcheckrun_changelist")).status_code == 200
