"""Firmware behind the standard: version-aware comparison, the most specific standard, alerts raised and
cleared, a run kept per check."""

from __future__ import annotations

import json

import pytest

from stations.alerts.models import Alert
from stations.configuration.models import FirmwareStandard, HealthCheck, HealthCheckRun
from stations.configuration.services.checks import firmware_check, firmware_standard_for
from stations.configuration.services.versions import version_compare, version_is_behind
from stations.ocpp.v16 import Ocpp16
from tests.factories import OrganizationFactory, SiteFactory, StationFactory


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.10", "1.9", 1),  # numbers, not text: "1.10" < "1.9" as strings
        ("1.9", "1.10", -1),
        ("2.0.0rc1", "2.0.0", -1),  # a release candidate comes before its release
        ("1.2", "1.2.0", 0),
        ("v3.1", "3.1", 0),
        ("V1.2.3-build45", "V1.2.3-build5", 1),  # vendor strings: natural order of their numbers
        ("R2023.11_b7", "R2023.9_b9", 1),
        ("FW-4.02", "FW-4.2", 0),
        ("1.2.beta", "1.2.0", -1),
    ],
)
def test_versions_compare_as_people_read_them(a, b, expected):
    assert version_compare(a, b) == expected


def test_a_newer_or_equal_version_is_not_behind():
    assert version_is_behind("1.9.9", "1.10")
    assert not version_is_behind("1.10", "1.10.0")
    assert not version_is_behind("1.11", "1.10")


@pytest.mark.django_db
def test_the_site_standard_wins_over_the_organization_s_and_a_named_model_over_any():
    organization = OrganizationFactory()
    site, other_site = SiteFactory(organization=organization), SiteFactory(organization=organization)
    station = StationFactory(site=site, vendor="ABB", model="Terra AC")
    anywhere = FirmwareStandard.objects.create(organization=organization, minimum_version="1.0")
    model = FirmwareStandard.objects.create(
        organization=organization, vendor="abb", model="terra ac", minimum_version="2.0"
    )
    FirmwareStandard.objects.create(organization=organization, site=other_site, minimum_version="9.0")
    FirmwareStandard.objects.create(organization=OrganizationFactory(), site=site, minimum_version="9.0")
    standards = list(FirmwareStandard.objects.all())
    assert firmware_standard_for(station, standards) == model
    site_wide = FirmwareStandard.objects.create(organization=organization, site=site, minimum_version="3.0")
    assert firmware_standard_for(station, [*standards, site_wide]) == site_wide
    assert firmware_standard_for(StationFactory(site=site, vendor="Other"), [anywhere, model]) == anywhere
    assert firmware_standard_for(StationFactory(site=None), standards) is None


@pytest.mark.django_db
def test_the_check_raises_firmware_behind_and_clears_it_once_updated():
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization)
    behind = StationFactory(identity="CP-OLD", site=site, vendor="ACME", firmware_version="1.9")
    current = StationFactory(identity="CP-NEW", site=site, vendor="ACME", firmware_version="1.10")
    unknown = StationFactory(identity="CP-UNKNOWN", site=site, vendor="ACME", firmware_version="")
    StationFactory(identity="CP-ELSE", site=SiteFactory(), firmware_version="0.1")  # no organization
    FirmwareStandard.objects.create(organization=organization, vendor="ACME", minimum_version="1.10")

    run = firmware_check()
    assert (run.check_name, run.checked, run.problems, run.errors) == (HealthCheck.FIRMWARE, 3, 1, 1)
    results = {f["station"]: f["result"] for f in run.findings}
    assert results == {"CP-OLD": "behind", "CP-NEW": "ok", "CP-UNKNOWN": "unknown"}
    alert = Alert.objects.open().get(kind="firmware_behind")
    assert alert.station == behind and "1.9" in alert.summary and "1.10" in alert.summary

    firmware_check()  # still behind: the same alert, not a second one
    assert Alert.objects.filter(kind="firmware_behind").count() == 1

    behind.firmware_version = "1.10.1"
    behind.save(update_fields=["firmware_version"])
    run = firmware_check()
    assert run.problems == 0 and not Alert.objects.open().filter(kind="firmware_behind").exists()
    assert HealthCheckRun.objects.filter(check_name=HealthCheck.FIRMWARE).count() == 3
    assert current.pk and unknown.pk


@pytest.mark.usefixtures("periodic_jobs")
def test_the_health_checks_are_scheduled_in_the_database_where_staff_can_edit_them():
    from django_celery_beat.models import PeriodicTask

    tasks = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert tasks["stations.configuration.tasks.heartbeat_check_task"] == 3600
    assert tasks["stations.configuration.tasks.drift_check_task"] == 3600
    assert tasks["stations.configuration.tasks.firmware_check_task"] == 86400


@pytest.mark.django_db
def test_the_firmware_task_runs_the_check():
    from stations.configuration.tasks import firmware_check_task

    run_id = firmware_check_task.delay().get()
    assert HealthCheckRun.objects.get(pk=run_id).check_name == HealthCheck.FIRMWARE


@pytest.mark.django_db
def test_a_boot_with_the_standard_s_version_closes_the_alert_at_once(django_capture_on_commit_callbacks):
    """After an update the charger boots with its new version: no waiting for the next daily run."""
    organization = OrganizationFactory()
    station = StationFactory(
        site=SiteFactory(organization=organization), vendor="ACME", model="AC", firmware_version="1.0"
    )
    FirmwareStandard.objects.create(organization=organization, vendor="ACME", minimum_version="1.1")
    firmware_check()
    assert Alert.objects.open().filter(kind="firmware_behind", station=station).exists()
    adapter = Ocpp16(identity=station.identity, station_id=station.pk, accepted=False)

    def boot(version: str) -> None:
        payload = {"chargePointVendor": "ACME", "chargePointModel": "AC", "firmwareVersion": version}
        with django_capture_on_commit_callbacks(execute=True):
            reply = json.loads(
                adapter.process(json.dumps([2, f"boot-{version}", "BootNotification", payload])).reply
            )
        assert reply[2]["status"] == "Accepted"

    boot("1.0")
    assert Alert.objects.open().filter(kind="firmware_behind", station=station).exists(), "still behind"
    boot("1.1")
    alert = Alert.objects.get(kind="firmware_behind", station=station)
    assert alert.closed_at is not None and "1.1 meets 1.1" in alert.close_reason
    boot("1.0.9")  # rolled back: behind again, a new alert
    assert Alert.objects.open().filter(kind="firmware_behind", station=station).count() == 1
