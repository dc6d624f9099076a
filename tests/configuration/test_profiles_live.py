"""Configuration profiles against simulated 1.6 and 2.0.1 chargers over the live gateway (real WebSocket,
Redis channel layer): read the whole configuration, compare it with a profile, apply the profile with
results per key, read again, the drift and heartbeat health checks raising (and clearing) their alerts;
and an application started in the admin for the chargers ticked there only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from accounts.domain import Role
from stations.alerts.domain import AlertKind
from stations.alerts.models import Alert
from stations.configuration.models import (
    ApplicationState,
    ConfigurationProfile,
    ConfigurationSnapshot,
    HealthCheck,
    HealthCheckRun,
    ProfileApplication,
    ProfileEntry,
)
from stations.configuration.services.apply import profile_apply
from stations.configuration.services.checks import drift_check, heartbeat_check
from stations.configuration.services.drift import drift_compare, profiles_for_station
from stations.configuration.services.snapshots import snapshots_take
from stations.models import OutgoingCall, Station
from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import TagPool
from tests.factories import (
    STATION_PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    SiteFactory,
    StationFactory,
)
from tests.simulator_live import charger_online, eventually_in_db, in_db, use_redis

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# What each version calls the keys the test uses.
HEARTBEAT = {"1.6": "HeartbeatInterval", "2.0.1": "OCPPCommCtrlr/HeartbeatInterval"}
CONNECTORS = {"1.6": "NumberOfConnectors", "2.0.1": "OCPPCommCtrlr/NumberOfConnectors"}
UNKNOWN_STATUS = {"1.6": "NotSupported", "2.0.1": "UnknownVariable"}
# 1.6 has no components: such a key is not sent, and recorded as NotSupported.
UNKNOWN_COMPONENT = {"1.6": "NotSupported", "2.0.1": "UnknownComponent"}


def run_with_charger(identity: str, ocpp: str, url: str, steps: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run the synchronous `steps` (services, as the admin and Celery call them) while a simulated
    charger is connected; return their result and the charger's protocol errors."""

    async def scenario() -> tuple[Any, list[str]]:
        charger = SimulatedCharger(
            identity,
            ChargerOptions(
                url=url,
                password=STATION_PASSWORD,
                session_every_s=1000.0,
                session_length_s=1000.0,
                meter_interval_s=60,
                strict=True,
                ocpp=ocpp,
            ),
            tags=TagPool([]),
        )
        task = asyncio.create_task(charger.run())
        try:
            await asyncio.wait_for(charger.online.wait(), 10)
            for _ in range(100):  # the CSMS marks it online once the boot is committed
                if await in_db(lambda: Station.objects.get(identity=identity).is_online):
                    break
                await asyncio.sleep(0.05)
            result = await in_db(steps)
        finally:
            charger.halt()
            await task
        return result, charger.stats.protocol_errors

    return asyncio.run(scenario())


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_read_compare_apply_and_read_again_clears_the_drift(ocpp, gateways, settings):
    url = use_redis(gateways, settings)
    identity = f"SIM-CFG-{ocpp}"
    organization = OrganizationFactory()
    station = StationFactory(identity=identity, site=SiteFactory(organization=organization))
    profile = ConfigurationProfile.objects.create(
        organization=organization, name="Depot AC", vendor="csms-sim", model="Virtual AC 22"
    )
    ProfileEntry.objects.bulk_create(
        [
            ProfileEntry(profile=profile, key="MeterValueSampleInterval", value="900"),  # different
            ProfileEntry(profile=profile, key="HeartbeatInterval", value="300"),  # the CSMS's own: ok
            ProfileEntry(profile=profile, key="NumberOfConnectors", value="4"),  # read-only
            ProfileEntry(profile=profile, key="VendorTurboMode", value="true"),  # missing
            ProfileEntry(profile=profile, key="VendorCtrlr/Boost", value="on"),  # a component it lacks
        ]
    )

    def steps() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        station.refresh_from_db()
        [first] = snapshots_take(stations=[station], timeout=10)
        seen["first"] = first.snapshot
        seen["profiles"] = list(profiles_for_station(station))
        seen["drift"] = {
            d.key: (d.result, d.actual)
            for d in drift_compare(profile=profile, snapshot=first.snapshot, protocol=station.protocol)
        }
        seen["run_before"] = drift_check()
        seen["alert_open"] = Alert.objects.open().filter(key=f"config_drift:{identity}").exists()
        application = profile_apply(profile=profile, stations=[station], requested_by="test", timeout=10)
        seen["applied"] = dict(application.results.values_list("key", "status"))
        # What the charger cannot take leaves the profile; the drift then clears.
        profile.entries.filter(
            key__in=["NumberOfConnectors", "VendorTurboMode", "VendorCtrlr/Boost"]
        ).delete()
        seen["run_after"] = drift_check()
        seen["alert_open_after"] = Alert.objects.open().filter(key=f"config_drift:{identity}").exists()
        seen["heartbeat"] = heartbeat_check()
        # The CSMS now wants 600 s; the charger still has the 300 it was given at boot.
        Station.objects.filter(pk=station.pk).update(heartbeat_interval_s=600)
        seen["heartbeat_changed"] = heartbeat_check()
        seen["heartbeat_alert"] = Alert.objects.open().filter(key=f"heartbeat_interval:{identity}").first()
        return seen

    seen, protocol_errors = run_with_charger(identity, ocpp, url, steps)
    assert protocol_errors == []

    first = seen["first"]
    assert first is not None and first.station_id == station.pk
    assert first.values[HEARTBEAT[ocpp]] == "300"
    assert CONNECTORS[ocpp] in first.read_only and HEARTBEAT[ocpp] not in first.read_only
    assert len(first.values) >= 25, "the whole configuration, not a few keys"
    assert seen["profiles"] == [profile]
    assert seen["drift"] == {
        "MeterValueSampleInterval": ("different", "60"),
        "HeartbeatInterval": ("ok", "300"),
        "NumberOfConnectors": ("read-only", first.values[CONNECTORS[ocpp]]),
        "VendorTurboMode": ("missing", None),
        "VendorCtrlr/Boost": ("missing", None),
    }

    before = seen["run_before"]
    assert (before.check_name, before.checked, before.problems, before.errors) == (HealthCheck.DRIFT, 1, 1, 0)
    assert {k["key"]: k["result"] for k in before.findings[0]["profiles"]["Depot AC"]} == {
        "MeterValueSampleInterval": "different",
        "NumberOfConnectors": "read-only",
        "VendorTurboMode": "missing",
        "VendorCtrlr/Boost": "missing",
    }
    assert seen["alert_open"]

    assert seen["applied"] == {
        "MeterValueSampleInterval": "Accepted",
        "HeartbeatInterval": "Accepted",
        "NumberOfConnectors": "Rejected",
        "VendorTurboMode": UNKNOWN_STATUS[ocpp],
        "VendorCtrlr/Boost": UNKNOWN_COMPONENT[ocpp],
    }

    after = seen["run_after"]
    assert (after.checked, after.problems, after.findings[0]["result"]) == (1, 0, "ok")
    assert not seen["alert_open_after"]
    alert = Alert.objects.get(key=f"config_drift:{identity}")
    assert alert.closed_at is not None and alert.kind == "config_drift"
    latest = ConfigurationSnapshot.objects.filter(station=station).first()
    assert (
        latest is not None
        and latest.values[
            "MeterValueSampleInterval" if ocpp == "1.6" else "SampledDataCtrlr/TxUpdatedInterval"
        ]
        == "900"
    )
    assert HealthCheckRun.objects.filter(check_name=HealthCheck.DRIFT).count() == 2

    heartbeat = seen["heartbeat"]
    assert heartbeat.findings == [{"station": identity, "expected_s": 300, "reported": "300", "result": "ok"}]
    changed = seen["heartbeat_changed"]
    assert (changed.problems, changed.findings[0]["result"], changed.findings[0]["expected_s"]) == (
        1,
        "different",
        600,
    )
    alert = seen["heartbeat_alert"]
    assert alert is not None and "300" in alert.summary and alert.kind == AlertKind.HEARTBEAT_INTERVAL


def test_an_application_started_in_the_admin_reaches_only_the_chargers_ticked(gateways, settings, client):
    url = use_redis(gateways, settings)
    organization = OrganizationFactory()
    site = SiteFactory(organization=organization)
    chosen = StationFactory(identity="SIM-CFG-TICKED", site=site)
    left = StationFactory(identity="SIM-CFG-UNTICKED", site=site)
    profile = ConfigurationProfile.objects.create(organization=organization, name="Sim", vendor="csms-sim")
    ProfileEntry.objects.create(profile=profile, key="MeterValueSampleInterval", value="900")
    ProfileEntry.objects.create(profile=profile, key="HeartbeatInterval", value="300")
    client.force_login(MembershipFactory(organization=organization, role=Role.MANAGER).user)
    apply_url = reverse("admin:configuration_profile_apply", args=[profile.pk])

    async def scenario() -> tuple[Any, Any]:
        async with charger_online(chosen.identity, url, "2.0.1"), charger_online(left.identity, url, "1.6"):
            # Both booted (their vendor stored), so both match the profile.
            assert await eventually_in_db(
                lambda: (
                    Station.objects.filter(site=site, is_online=True, vendor__iexact="csms-sim").count() == 2
                )
            )
            page = await in_db(lambda: client.get(apply_url))
            # The task runs inline (Celery eager without a broker) and calls the ticked charger through
            # the gateway's Redis.
            response = await in_db(lambda: client.post(apply_url, {"stations": [chosen.pk]}))
        return page, response

    page, response = asyncio.run(scenario())
    assert {s.identity for s in page.context["form"].initial["stations"]} == {chosen.identity, left.identity}
    application = ProfileApplication.objects.get(profile=profile)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:configuration_profileapplication_change", args=[application.pk]
    )
    assert application.state == ApplicationState.FINISHED and application.requested_by
    assert set(application.results.values_list("station__identity", "key", "status")) == {
        (chosen.identity, "MeterValueSampleInterval", "Accepted"),
        (chosen.identity, "HeartbeatInterval", "Accepted"),
    }
    assert OutgoingCall.objects.filter(station=chosen, action="SetVariables").count() == 1
    assert not OutgoingCall.objects.filter(station=left, action="ChangeConfiguration").exists()
    shown = client.get(response["Location"]).content.decode()
    assert "Finished" in shown and "2 Accepted" in shown and chosen.identity in shown
