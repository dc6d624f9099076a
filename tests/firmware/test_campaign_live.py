"""Firmware campaigns over the live gateway with simulated 1.6 and 2.0.1 chargers: each charger really
downloads the image through its token, installs it and reboots with the new version. A signed image goes to
2.0.1 chargers in UpdateFirmware and to 1.6 ones in the security extension's SignedUpdateFirmware."""

from __future__ import annotations

import asyncio
import json

import pytest

from stations.credentials import HIDDEN
from stations.firmware.domain import CampaignStatus, ChargerFirmwareStatus, UpdateStatus
from stations.firmware.models import FirmwareCampaign, FirmwareUpdate
from stations.models import Frame, Station
from stations.simulator import firmware as simulated_firmware
from tests.firmware.live import campaign_of, drive, firmware_gateway, fleet, stored_firmware

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUSimulated\n-----END CERTIFICATE-----\n"
SIGNATURE = "c2lnbmF0dXJlIG9mIHRoZSBpbWFnZQ=="


@pytest.fixture(autouse=True)
def quick_steps(monkeypatch):
    monkeypatch.setattr(simulated_firmware, "STEP_S", 0.05)


def statuses_sent(identity: str, action: str = "FirmwareStatusNotification") -> list[str]:
    frames = Frame.objects.filter(identity=identity, action=action, message_type=2)
    return [json.loads(frame.text)[3]["status"] for frame in frames.order_by("pk")]


def update_requests(identity: str, action: str = "UpdateFirmware") -> list[dict]:
    frames = Frame.objects.filter(identity=identity, action=action, message_type=2).order_by("pk")
    return [json.loads(frame.text)[3] for frame in frames]


def campaign_status(campaign_id: int) -> str:
    return FirmwareCampaign.objects.get(pk=campaign_id).status


@pytest.mark.parametrize(("ocpp", "signed"), [("1.6", False), ("1.6", True), ("2.0.1", True)])
def test_a_campaign_updates_three_chargers_one_at_a_time(gateways, settings, ocpp, signed):
    gateway = firmware_gateway(gateways, settings)
    prefix = f"FW-{ocpp.replace('.', '')}{'S' if signed else ''}"
    organization, stations = fleet(prefix, 3)
    signature = {"signing_certificate": CERTIFICATE, "signature": SIGNATURE} if signed else {}
    firmware = stored_firmware(organization, "2.0.0", **signature)
    # The 1.6 security extension has messages of its own for a signed image.
    signed_16 = ocpp == "1.6" and signed
    request_action = "SignedUpdateFirmware" if signed_16 else "UpdateFirmware"
    status_action = "SignedFirmwareStatusNotification" if signed_16 else "FirmwareStatusNotification"
    campaign = campaign_of(firmware, stations, max_concurrent=1, retries=0)
    from stations.firmware.services import firmware_campaign_start

    firmware_campaign_start(campaign=campaign)
    identities = [station.identity for station in stations]

    chargers, active_seen = asyncio.run(
        drive(
            gateway,
            ocpp,
            identities,
            campaign_id=campaign.pk,
            until=lambda: campaign_status(campaign.pk) == "done",
        )
    )

    assert max(active_seen) == 1, "never more than one charger updating at once"
    updates = list(
        FirmwareUpdate.objects.filter(campaign=campaign).select_related("station").order_by("started_at")
    )
    assert [update.station.identity for update in updates] == identities
    for earlier, later in zip(updates, updates[1:], strict=False):
        assert later.started_at >= earlier.finished_at, (
            "the next charger starts once the previous one is done"
        )
    image = simulated_firmware.image_bytes("2.0.0")
    for update in updates:
        identity = update.station.identity
        assert (update.status, update.charger_status, update.attempts) == (
            UpdateStatus.SUCCEEDED,
            ChargerFirmwareStatus.INSTALLED,
            1,
        )
        assert update.reported_version == "2.0.0" and update.downloaded_at is not None
        assert update.download_token_hash == "", "the token dies with the update"
        assert chargers[identity].firmware_image == image, "the charger got the stored image over HTTP"
        assert chargers[identity].firmware_version == "2.0.0"
        assert Station.objects.get(identity=identity).firmware_version == "2.0.0"  # from the reboot's boot
        expected = ["Downloading", "Downloaded", "Installing", "Installed"]
        if signed:
            expected.insert(2, "SignatureVerified")
        assert statuses_sent(identity, status_action) == expected
        [request] = update_requests(identity, request_action)
        if not signed:
            location = request["location"]
            assert set(request) == {"location", "retrieveDate"}
        else:
            location = request["firmware"]["location"]
            assert request["requestId"] == update.request_id
            assert request["firmware"]["signingCertificate"] == CERTIFICATE
            assert request["firmware"]["signature"] == SIGNATURE
        # The charger got the download token; the journal shows "…" in its place.
        assert location == f"http://127.0.0.1:{gateway.port}/firmware/download/{HIDDEN}/"
        boots = Frame.objects.filter(identity=identity, action="BootNotification", message_type=2)
        assert boots.count() == 2, "booted, then rebooted into the new firmware"
        assert chargers[identity].stats.protocol_errors == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE and campaign.finished_at is not None
    assert not Frame.objects.filter(identity__in=identities, message_type=4).exists(), (
        "no CallError either way"
    )


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_a_failed_download_is_retried_then_the_update_fails(gateways, settings, ocpp):
    gateway = firmware_gateway(gateways, settings)
    prefix = f"FWF-{ocpp.replace('.', '')}"
    organization, stations = fleet(prefix, 1)
    missing = f"http://127.0.0.1:{gateway.port}/firmware/download/no-such-token/"
    firmware = stored_firmware(organization, "2.0.0", url=missing)
    campaign = campaign_of(firmware, stations, max_concurrent=1, retries=1)
    from stations.firmware.services import firmware_campaign_start

    firmware_campaign_start(campaign=campaign)
    identity = stations[0].identity

    chargers, _ = asyncio.run(
        drive(
            gateway,
            ocpp,
            [identity],
            campaign_id=campaign.pk,
            until=lambda: campaign_status(campaign.pk) == "done",
        )
    )

    update = FirmwareUpdate.objects.get(campaign=campaign)
    assert (update.status, update.attempts, update.charger_status) == (
        UpdateStatus.FAILED,
        2,
        ChargerFirmwareStatus.DOWNLOAD_FAILED,
    )
    assert update.last_error == "The charger reported Download failed."
    assert update.finished_at is not None and update.downloaded_at is None
    assert len(update_requests(identity)) == 2, "one retry, then no more"
    assert statuses_sent(identity) == ["Downloading", "DownloadFailed"] * 2
    assert chargers[identity].firmware_version == simulated_firmware.image_version(b"CSMS-Sim firmware 1.0.0")
    assert Station.objects.get(identity=identity).firmware_version == "1.0.0"
