"""The configuration admin through the test client: the comparison pages, applying a profile to chosen
chargers from a profile or from the chargers' list (offline chargers recorded as such), the charger page's
links, and what staff of another organization or viewers may see and do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.domain import Role
from stations.configuration.models import (
    ApplicationState,
    ApplyStatus,
    ConfigurationProfile,
    ConfigurationSnapshot,
    ProfileApplication,
    ProfileEntry,
)
from stations.models import Station
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


def test_a_profile_without_keys_finishes_having_sent_nothing(
    admin_client, django_capture_on_commit_callbacks
):
    profile = ConfigurationProfile.objects.create(organization=OrganizationFactory(), name="Empty")
    station = StationFactory(site=SiteFactory(organization=profile.organization), is_online=False)
    url = reverse("admin:configuration_profile_apply", args=[profile.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"stations": [station.pk]}).status_code == 302
    application = ProfileApplication.objects.get(profile=profile)
    assert application.state == ApplicationState.FINISHED and not application.results.exists()


@pytest.mark.django_db(transaction=True)  # the task runs after commit, the calls from the event loop's thread
def test_a_profile_applies_to_the_chargers_left_ticked_offline_ones_recorded_as_such(admin_client, profile):
    site = SiteFactory(organization=profile.organization)
    StationFactory(identity="CP-1", site=site, vendor="acme", protocol="ocpp1.6", is_online=False)
    StationFactory(identity="CP-2", site=site, vendor="ACME", protocol="ocpp2.0.1", is_online=False)
    StationFactory(identity="CP-ELSE", site=site, vendor="Else")
    response = admin_client.post(
        reverse("admin:configuration_configurationprofile_changelist"),
        {"action": "apply_to_chargers", "_selected_action": [profile.pk]},
    )
    url = reverse("admin:configuration_profile_apply", args=[profile.pk])
    assert response.status_code == 302 and response["Location"] == url

    form = admin_client.get(url).context["form"]
    assert [s.identity for s in form.fields["stations"].queryset] == ["CP-1", "CP-2"]
    assert {s.identity for s in form.initial["stations"]} == {"CP-1", "CP-2"}, "all ticked at first"

    chosen = Station.objects.get(identity="CP-2")
    response = admin_client.post(url, {"stations": [chosen.pk]})
    application = ProfileApplication.objects.get(profile=profile)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:configuration_profileapplication_change", args=[application.pk]
    )
    assert application.state == ApplicationState.FINISHED and application.finished_at is not None
    assert list(application.stations.all()) == [chosen]
    results = set(application.results.values_list("station__identity", "key", "status"))
    assert results == {
        ("CP-2", "HeartbeatInterval", ApplyStatus.OFFLINE),
        ("CP-2", "MeterValueSampleInterval", ApplyStatus.OFFLINE),
    }
    page = admin_client.get(response["Location"]).content.decode()
    assert "Finished" in page and "2 Offline" in page and "CP-2" in page


@pytest.mark.django_db(transaction=True)
def test_the_chargers_action_offers_the_profiles_matching_the_selection(admin_client, profile):
    site = SiteFactory(organization=profile.organization)
    acme = StationFactory(identity="CP-ACME", site=site, vendor="ACME", is_online=False)
    other = StationFactory(identity="CP-ELSE", site=site, vendor="Else", is_online=False)
    ConfigurationProfile.objects.create(organization=profile.organization, name="Other vendor", vendor="Zeta")
    every = ConfigurationProfile.objects.create(organization=profile.organization, name="Every charger")
    changelist = reverse("admin:stations_station_changelist")
    selection = {"action": "apply_configuration_profile", "_selected_action": [acme.pk, other.pk]}

    page = admin_client.post(changelist, selection)
    choices = dict(page.context["form"].fields["profile"].choices)
    assert set(choices) == {profile.pk, every.pk}, "only the profiles matching a selected charger"
    assert "1 of the selected chargers" in choices[profile.pk]
    assert "2 of the selected chargers" in choices[every.pk]
    assert b"CP-ELSE" in page.content and b'name="_selected_action"' in page.content

    response = admin_client.post(changelist, {**selection, "apply": "1", "profile": profile.pk})
    application = ProfileApplication.objects.get()
    assert response.status_code == 302 and str(application.pk) in response["Location"]
    assert list(application.stations.all()) == [acme], "the profile goes only to the chargers it matches"
    assert application.state == ApplicationState.FINISHED
    assert set(application.results.values_list("station__identity", "status")) == {
        ("CP-ACME", ApplyStatus.OFFLINE)
    }


def test_staff_of_another_organization_and_viewers_cannot_apply(client, profile):
    station = StationFactory(
        identity="CP-ACME", site=SiteFactory(organization=profile.organization), vendor="ACME"
    )
    apply_url = reverse("admin:configuration_profile_apply", args=[profile.pk])
    changelist = reverse("admin:stations_station_changelist")
    action = {"action": "apply_configuration_profile", "_selected_action": [station.pk]}

    client.force_login(MembershipFactory(role=Role.MANAGER).user)  # a manager elsewhere
    assert client.get(apply_url).status_code == 404
    assert client.post(apply_url, {"stations": [station.pk]}).status_code == 404
    client.post(changelist, {**action, "apply": "1", "profile": profile.pk})

    viewer = MembershipFactory(organization=profile.organization, role=Role.VIEWER).user
    client.force_login(viewer)
    assert client.get(apply_url).status_code == 403
    assert client.post(apply_url, {"stations": [station.pk]}).status_code == 403
    assert "apply_configuration_profile" not in client.get(changelist).content.decode()
    MembershipFactory(user=viewer, role=Role.MANAGER)  # managing elsewhere: the action shows, yet
    assert "apply_configuration_profile" in client.get(changelist).content.decode()
    response = client.post(changelist, {**action, "apply": "1", "profile": profile.pk}, follow=True)
    assert "None of the selected chargers may be changed by you." in response.content.decode()
    profile_page = client.get(reverse("admin:configuration_configurationprofile_change", args=[profile.pk]))
    assert profile_page.status_code == 200 and "Apply to chargers" not in profile_page.content.decode()
    assert not ProfileApplication.objects.exists()

    manager = MembershipFactory(organization=profile.organization, role=Role.MANAGER).user
    client.force_login(manager)
    profile_page = client.get(reverse("admin:configuration_configurationprofile_change", args=[profile.pk]))
    assert apply_url in profile_page.content.decode()


def test_the_charger_page_links_its_comparison_and_latest_snapshot(admin_client):
    station = StationFactory(identity="CP-LINKS")
    page = admin_client.get(reverse("admin:stations_station_change", args=[station.pk])).content.decode()
    assert reverse("admin:configuration_station_comparison", args=[station.pk]) in page
    assert "never read" in page
    ConfigurationSnapshot.objects.create(station=station, taken_at=timezone.now() - timedelta(days=1))
    latest = ConfigurationSnapshot.objects.create(station=station, taken_at=timezone.now())
    page = admin_client.get(reverse("admin:stations_station_change", args=[station.pk])).content.decode()
    assert reverse("admin:configuration_configurationsnapshot_change", args=[latest.pk]) in page


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
