"""A campaign one charger at a time starts its next charger as soon as an update ends, with no periodic job
and no test calling the campaign job: without Redis in the gateway's event loop, with Redis in a real
Celery worker. After the update the 2.0.1 charger boots with the reason FirmwareUpdate."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
import redis
import requests
from django.test import Client
from django.urls import reverse

from stations.alerts.domain import AlertKind
from stations.alerts.models import Alert
from stations.alerts.services import alert_raise
from stations.firmware.domain import CampaignStatus, UpdateStatus
from stations.firmware.models import FirmwareCampaign, FirmwareUpdate
from stations.firmware.services import firmware_campaign_start
from stations.models import OutgoingCall
from stations.simulator import firmware as simulated_firmware
from tests.conftest import LiveGateway, celery_worker
from tests.factories import UserFactory
from tests.firmware.live import (
    FIRMWARE_ROOT,
    boot_reasons,
    campaign_of,
    drive,
    firmware_gateway,
    fleet,
    image_server,
    stored_firmware,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

RIGHT_AFTER = timedelta(seconds=5)  # the periodic job would take up to 30 s; none runs here anyway


@pytest.fixture(autouse=True)
def quick_steps(monkeypatch):
    monkeypatch.setattr(simulated_firmware, "STEP_S", 0.05)


def done(campaign_id: int) -> bool:
    return FirmwareCampaign.objects.get(pk=campaign_id).status == CampaignStatus.DONE


def admin_start(gateway: LiveGateway, campaign: FirmwareCampaign) -> bool:
    """Press the campaign's Start button in the gateway's admin, as staff would (session and CSRF)."""
    browser = Client()
    browser.force_login(UserFactory(username="fw-ops", is_staff=True, is_superuser=True))
    base, csrf = f"http://127.0.0.1:{gateway.port}", secrets.token_hex(16)
    page = f"{base}{reverse('admin:firmware_firmwarecampaign_change', args=[campaign.pk])}"
    response = requests.post(
        f"{base}{reverse('admin:firmware_firmwarecampaign_do', args=[campaign.pk, 'start'])}",
        data={"csrfmiddlewaretoken": csrf},
        cookies={"sessionid": browser.cookies["sessionid"].value, "csrftoken": csrf},
        headers={"Referer": page},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[-2000:]
    return True


def assert_one_after_the_other(campaign: FirmwareCampaign, identities: list[str], active_seen: list[int]):
    first, second = FirmwareUpdate.objects.filter(campaign=campaign).select_related("station").order_by("pk")
    assert [first.station.identity, second.station.identity] == identities
    for update in (first, second):
        succeeded = (UpdateStatus.SUCCEEDED, 1, "2.0.0")
        assert (update.status, update.attempts, update.reported_version) == succeeded
    assert max(active_seen) == 1, "never more than one charger updating at once"
    assert first.finished_at <= second.started_at < first.finished_at + RIGHT_AFTER, (
        "the second charger starts right after the first one's reboot confirmed its update"
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE, "the last update's end finished the campaign too"
    calls = OutgoingCall.objects.filter(action="UpdateFirmware").values_list("requested_by", flat=True)
    assert list(calls) == ["firmware campaign"] * 2


def test_without_redis_the_gateway_starts_the_next_charger_when_an_update_ends(gateways):
    gateway = gateways()  # no REDIS_URL: in-memory layer, Celery inline, no worker, no beat
    organization, stations = fleet("FWE", 2)
    identities = [station.identity for station in stations]
    alert_raise(
        kind=AlertKind.FIRMWARE_FAILED,
        key=f"firmware-failed-{stations[0].pk}",
        summary="an earlier update failed",
        evidence={},
        station=stations[0],
    )
    with image_server(simulated_firmware.image_bytes("2.0.0")) as url:
        firmware = stored_firmware(organization, "2.0.0", url=url)
        campaign = campaign_of(firmware, stations, max_concurrent=1, retries=0)

        chargers, active_seen = asyncio.run(
            drive(
                gateway,
                "2.0.1",
                identities,
                campaign_id=campaign.pk,
                steps=[lambda: admin_start(gateway, campaign)],
                until=lambda: done(campaign.pk),
                job=None,
                timeout_s=15,
            )
        )

    assert_one_after_the_other(campaign, identities, active_seen)
    for identity in identities:
        assert chargers[identity].firmware_version == "2.0.0"
        assert boot_reasons(identity) == ["PowerUp", "FirmwareUpdate"], "the reboot tells why it happened"
        assert chargers[identity].stats.protocol_errors == []
    assert not Alert.objects.open().exists(), "the success closed the charger's failed-update alert"


@pytest.mark.redis
def test_with_redis_a_celery_worker_starts_the_next_charger_when_an_update_ends(gateways, settings):
    gateway = firmware_gateway(gateways, settings)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no task left over from the tests before
    organization, stations = fleet("FWR", 2)
    identities = [station.identity for station in stations]
    campaign = campaign_of(stored_firmware(organization, "2.0.0"), stations, max_concurrent=1, retries=0)

    def start() -> bool:
        firmware_campaign_start(campaign=campaign)  # here Celery runs inline: this process sends the first
        return True

    with celery_worker(
        "firmware",
        REDIS_URL=settings.REDIS_URL,
        SITE_URL=settings.SITE_URL,
        CSMS_FIRMWARE_ROOT=str(FIRMWARE_ROOT),
    ) as worker:
        chargers, active_seen = asyncio.run(
            drive(
                gateway,
                "1.6",
                identities,
                campaign_id=campaign.pk,
                steps=[worker.ready, start],  # the worker starts while the chargers connect
                until=lambda: done(campaign.pk),
                job=None,
                timeout_s=30,
            )
        )

    assert_one_after_the_other(campaign, identities, active_seen)
    for identity in identities:
        assert chargers[identity].firmware_image == simulated_firmware.image_bytes("2.0.0")
        assert boot_reasons(identity) == [None, None], "1.6's BootNotification has no reason"
