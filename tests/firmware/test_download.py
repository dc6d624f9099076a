"""The chargers' download endpoint, the stall timeout and the campaign's rules, without sockets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from stations.credentials import url_token_hash
from stations.firmware.domain import CampaignStatus, ChargerFirmwareStatus, UpdateStatus
from stations.firmware.exceptions import FirmwareError
from stations.firmware.models import FirmwareUpdate
from stations.firmware.progress import firmware_boot_record, firmware_status_record
from stations.firmware.services import (
    firmware_campaign_advance,
    firmware_campaign_retry_failed,
    firmware_campaign_start,
)
from stations.models import OutgoingCall
from stations.simulator import firmware as simulated_firmware
from tests.factories import OrganizationFactory, SiteFactory, StationFactory
from tests.firmware.live import campaign_of, fleet, stored_firmware

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def firmware_root(settings, tmp_path):
    settings.CSMS_FIRMWARE_ROOT = str(tmp_path)


def running_update(token: str = "the-token-of-this-attempt") -> FirmwareUpdate:
    organization, stations = fleet("FWD", 1)
    campaign = campaign_of(stored_firmware(organization, "3.0.0"), stations)
    firmware_campaign_start(campaign=campaign)
    update = FirmwareUpdate.objects.get(campaign=campaign)
    update.status, update.attempts, update.started_at = UpdateStatus.IN_PROGRESS, 1, timezone.now()
    update.download_token_hash = url_token_hash(token)
    update.save()
    return update


def download(client, token: str):
    return client.get(reverse("firmware:download", args=[token]))


def test_the_running_update_s_token_downloads_the_image(client):
    update = running_update()
    response = download(client, "the-token-of-this-attempt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == simulated_firmware.image_bytes("3.0.0")
    assert response["X-Content-SHA256"] == update.campaign.firmware.sha256
    update.refresh_from_db()
    assert update.downloaded_at is not None


def test_a_wrong_token_is_refused(client):
    running_update()
    assert download(client, "the-token-of-another-attempt").status_code == 404
    assert download(client, "the-token-of-this-attempt".upper()).status_code == 404


def test_a_finished_update_s_token_is_refused(client):
    update = running_update()
    firmware_status_record(station_id=update.station_id, status=ChargerFirmwareStatus.INSTALLED)
    assert download(client, "the-token-of-this-attempt").status_code == 404, "installed: nothing to download"
    firmware_boot_record(station_id=update.station_id, firmware_version="3.0.0")
    update.refresh_from_db()
    assert update.status == UpdateStatus.SUCCEEDED and update.download_token_hash == ""
    assert download(client, "the-token-of-this-attempt").status_code == 404


def test_a_stopped_campaign_s_token_is_refused(client):
    update = running_update()
    from stations.firmware.services import firmware_campaign_stop

    firmware_campaign_stop(campaign=update.campaign)
    assert download(client, "the-token-of-this-attempt").status_code == 404


def test_an_update_without_news_times_out_and_is_retried_then_fails():
    update = running_update()
    update.last_progress_at = timezone.now()
    update.save()
    campaign = update.campaign
    later = timezone.now() + timedelta(minutes=campaign.stall_timeout_min + 1)
    firmware_campaign_advance(campaign_id=campaign.pk, now=later)  # the charger is offline: not restarted
    update.refresh_from_db()
    assert (update.status, update.attempts) == (UpdateStatus.PENDING, 1), "one retry left"
    assert update.last_error == f"No news from the charger for {campaign.stall_timeout_min} min."

    update.status, update.attempts, update.last_progress_at = UpdateStatus.IN_PROGRESS, 2, timezone.now()
    update.save()
    firmware_campaign_advance(
        campaign_id=campaign.pk, now=later + timedelta(minutes=campaign.stall_timeout_min + 1)
    )
    update.refresh_from_db()
    campaign.refresh_from_db()
    assert update.status == UpdateStatus.FAILED and update.finished_at is not None
    assert campaign.status == CampaignStatus.DONE

    assert firmware_campaign_retry_failed(campaign=campaign) == 1
    update.refresh_from_db()
    campaign.refresh_from_db()
    assert (update.status, update.attempts, campaign.status) == (
        UpdateStatus.PENDING,
        0,
        CampaignStatus.RUNNING,
    )


def test_an_offline_charger_waits_without_using_an_attempt():
    organization, stations = fleet("FWO", 1)
    campaign = campaign_of(stored_firmware(organization, "3.0.0"), stations)
    firmware_campaign_start(campaign=campaign)
    assert firmware_campaign_advance(campaign_id=campaign.pk) == 0
    update = FirmwareUpdate.objects.get(campaign=campaign)
    assert (update.status, update.attempts) == (UpdateStatus.PENDING, 0)


def test_a_reboot_into_another_version_after_installed_fails_the_attempt():
    update = running_update()
    firmware_status_record(station_id=update.station_id, status=ChargerFirmwareStatus.INSTALLED)
    firmware_boot_record(station_id=update.station_id, firmware_version="1.0.0")
    update.refresh_from_db()
    assert update.status == UpdateStatus.PENDING and update.reported_version == "1.0.0"
    assert update.last_error == "The charger rebooted with version 1.0.0."


def test_a_2_0_1_report_of_another_request_is_not_taken_for_this_one():
    update = running_update()
    update.request_id = 4201
    update.save()
    firmware_status_record(
        station_id=update.station_id, status=ChargerFirmwareStatus.DOWNLOAD_FAILED, request_id=99
    )
    update.refresh_from_db()
    assert (update.status, update.charger_status) == (UpdateStatus.IN_PROGRESS, "")


def test_a_campaign_starts_only_with_its_organization_s_chargers_of_the_firmware_s_model():
    organization, stations = fleet("FWM", 1)
    firmware = stored_firmware(organization, "3.0.0")
    elsewhere = StationFactory(identity="FWM-OTHER", site=SiteFactory(organization=OrganizationFactory()))
    with pytest.raises(FirmwareError, match="FWM-OTHER"):
        firmware_campaign_start(campaign=campaign_of(firmware, [*stations, elsewhere]))
    stations[0].vendor, stations[0].model = "Other", "DC 50"
    stations[0].save()
    with pytest.raises(FirmwareError, match="not for these chargers' model: FWM-1"):
        firmware_campaign_start(campaign=campaign_of(firmware, stations))
    with pytest.raises(FirmwareError, match="Choose the chargers"):
        firmware_campaign_start(campaign=campaign_of(firmware, []))


def test_a_charger_updating_in_another_campaign_waits_its_turn():
    update = running_update()
    update.station.is_online = True
    update.station.save()
    other = campaign_of(stored_firmware(update.campaign.organization, "3.1.0"), [update.station])
    firmware_campaign_start(campaign=other)
    assert firmware_campaign_advance(campaign_id=other.pk) == 0, "no second UpdateFirmware to a busy charger"
    assert FirmwareUpdate.objects.get(campaign=other).status == UpdateStatus.PENDING
    assert not OutgoingCall.objects.filter(station=update.station).exists(), "nothing was even tried"
