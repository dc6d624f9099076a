"""Pausing and stopping a firmware campaign over the live gateway with simulated chargers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from stations.firmware.domain import CampaignStatus, ChargerFirmwareStatus, UpdateStatus
from stations.firmware.models import FirmwareCampaign, FirmwareUpdate
from stations.firmware.services import (
    firmware_campaign_pause,
    firmware_campaign_resume,
    firmware_campaign_start,
    firmware_campaign_stop,
    firmware_campaigns_advance,
)
from stations.models import Frame
from stations.simulator import firmware as simulated_firmware
from tests.firmware.live import campaign_of, drive, firmware_gateway, fleet, stored_firmware

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quick_steps(monkeypatch):
    monkeypatch.setattr(simulated_firmware, "STEP_S", 0.05)


def statuses(campaign_id: int) -> list[str]:
    return list(
        FirmwareUpdate.objects.filter(campaign_id=campaign_id).order_by("pk").values_list("status", flat=True)
    )


def requests_sent(identity: str) -> int:
    return Frame.objects.filter(identity=identity, action="UpdateFirmware", message_type=2).count()


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_a_paused_campaign_starts_no_charger_until_resumed(gateways, settings, ocpp):
    gateway = firmware_gateway(gateways, settings)
    organization, stations = fleet(f"FWP-{ocpp.replace('.', '')}", 2)
    campaign = campaign_of(stored_firmware(organization, "2.1.0"), stations, max_concurrent=1)
    firmware_campaign_start(campaign=campaign)
    first, second = (station.identity for station in stations)
    seen_while_paused: list[list[str]] = []

    def pause_once_started() -> bool:
        if statuses(campaign.pk)[0] == UpdateStatus.PENDING:
            return False
        firmware_campaign_pause(campaign=campaign)
        return True

    def paused_a_while_after_the_first_finished() -> bool:
        seen_while_paused.append(statuses(campaign.pk))
        if statuses(campaign.pk)[0] != UpdateStatus.SUCCEEDED or len(seen_while_paused) < 15:
            return False
        firmware_campaign_resume(campaign=campaign)
        return True

    asyncio.run(
        drive(
            gateway,
            ocpp,
            [first, second],
            campaign_id=campaign.pk,
            steps=[pause_once_started, paused_a_while_after_the_first_finished],
            until=lambda: FirmwareCampaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE,
        )
    )

    # While paused the updating charger finished, and the other one was not started.
    assert [UpdateStatus.SUCCEEDED, UpdateStatus.PENDING] in seen_while_paused
    assert all(states[1] == UpdateStatus.PENDING for states in seen_while_paused)
    assert statuses(campaign.pk) == [UpdateStatus.SUCCEEDED, UpdateStatus.SUCCEEDED]
    assert (requests_sent(first), requests_sent(second)) == (1, 1)


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_a_stopped_campaign_cancels_waiting_chargers_and_refuses_the_download(gateways, settings, ocpp):
    gateway = firmware_gateway(gateways, settings)
    organization, stations = fleet(f"FWS-{ocpp.replace('.', '')}", 2)
    # The first charger is told to download a moment later, so the campaign is stopped before it does.
    retrieve_at = timezone.now() + timedelta(seconds=3)
    campaign = campaign_of(
        stored_firmware(organization, "2.2.0"), stations, max_concurrent=1, retries=3, retrieve_at=retrieve_at
    )
    firmware_campaign_start(campaign=campaign)
    first, second = (station.identity for station in stations)

    def stop_once_started() -> bool:
        if statuses(campaign.pk)[0] != UpdateStatus.IN_PROGRESS:
            return False
        firmware_campaign_stop(campaign=campaign)
        return True

    chargers, _ = asyncio.run(
        drive(
            gateway,
            ocpp,
            [first, second],
            campaign_id=campaign.pk,
            steps=[stop_once_started],
            until=lambda: statuses(campaign.pk)[0] == UpdateStatus.FAILED,
        )
    )

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.STOPPED and campaign.finished_at is not None
    started, waiting = FirmwareUpdate.objects.filter(campaign=campaign).order_by("pk")
    assert (started.status, started.attempts, started.charger_status) == (
        UpdateStatus.FAILED,
        1,
        ChargerFirmwareStatus.DOWNLOAD_FAILED,
    ), "the download was refused and a stopped campaign tries no more"
    assert started.downloaded_at is None and chargers[first].firmware_image is None
    assert (waiting.status, waiting.attempts) == (UpdateStatus.CANCELLED, 0)
    assert (requests_sent(first), requests_sent(second)) == (1, 0)
    assert firmware_campaigns_advance() == 0
    assert chargers[first].firmware_version == chargers[second].firmware_version == "1.0.0"
