"""The firmware admin: uploads recorded with their checksum, campaign buttons and actions, scoped."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.domain import Role
from stations.firmware.domain import CampaignStatus, UpdateStatus
from stations.firmware.models import FirmwareCampaign, FirmwareFile
from stations.simulator import firmware as simulated_firmware
from tests.factories import MembershipFactory
from tests.firmware.live import campaign_of, fleet, stored_firmware

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def firmware_root(settings, tmp_path):
    settings.CSMS_FIRMWARE_ROOT = str(tmp_path)


def do_url(campaign: FirmwareCampaign, verb: str) -> str:
    return reverse("admin:firmware_firmwarecampaign_do", args=[campaign.pk, verb])


def test_an_uploaded_image_is_stored_privately_with_its_size_and_sha256(client, settings, tmp_path):
    organization, _ = fleet("FWA", 1)
    client.force_login(MembershipFactory(organization=organization).user)
    image = simulated_firmware.image_bytes("4.0.0")
    response = client.post(
        reverse("admin:firmware_firmwarefile_add"),
        {
            "organization": organization.pk,
            "vendor": "CSMS-Sim",
            "model": "Virtual AC 22",
            "version": "4.0.0",
            "file": SimpleUploadedFile("vac22-4.0.0.bin", image),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    firmware = FirmwareFile.objects.get(version="4.0.0")
    assert (firmware.sha256, firmware.size_bytes) == (hashlib.sha256(image).hexdigest(), len(image))
    assert firmware.file.path.startswith(str(tmp_path))
    with pytest.raises(ValueError):
        firmware.file.url  # noqa: B018  (private: no public URL)
    page = client.get(reverse("admin:firmware_firmwarefile_change", args=[firmware.pk]))
    assert page.status_code == 200 and firmware.sha256 in page.content.decode()


def test_a_manager_starts_pauses_and_stops_a_campaign_with_the_page_s_buttons(client):
    organization, stations = fleet("FWB", 2)
    campaign = campaign_of(stored_firmware(organization, "4.0.0"), stations)
    client.force_login(MembershipFactory(organization=organization).user)
    page = client.get(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk])).content.decode()
    assert do_url(campaign, "start") in page and do_url(campaign, "pause") not in page
    assert client.get(do_url(campaign, "start")).status_code == 405, "a change is a POST"

    client.post(do_url(campaign, "start"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    page = client.get(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk])).content.decode()
    assert "Progress per charger" in page and "FWB-1" in page and "FWB-2" in page
    assert do_url(campaign, "pause") in page and do_url(campaign, "start") not in page
    assert do_url(campaign, "retry") not in page, "nothing has failed yet"
    campaign.updates.filter(station__identity="FWB-2").update(status=UpdateStatus.FAILED)
    page = client.get(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk])).content.decode()
    assert do_url(campaign, "retry") in page

    client.post(do_url(campaign, "pause"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    response = client.post(do_url(campaign, "pause"), follow=True)
    assert "is paused" in response.content.decode(), "a second pause is refused with the reason"

    changelist = reverse("admin:firmware_firmwarecampaign_changelist")
    client.post(changelist, {"action": "stop_campaigns", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.STOPPED
    assert set(campaign.updates.values_list("status", flat=True)) == {
        UpdateStatus.CANCELLED,
        UpdateStatus.FAILED,
    }


def test_staff_of_another_organization_neither_see_nor_change_a_campaign(client):
    organization, stations = fleet("FWC", 1)
    campaign = campaign_of(stored_firmware(organization, "4.0.0"), stations)
    client.force_login(MembershipFactory().user)
    assert (
        client.get(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk])).status_code == 302
    )
    assert client.post(do_url(campaign, "start")).status_code == 404
    changelist = reverse("admin:firmware_firmwarecampaign_changelist")
    assert "FWC" not in client.get(changelist).content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_a_viewer_sees_the_campaign_without_its_buttons(client):
    organization, stations = fleet("FWV", 1)
    campaign = campaign_of(stored_firmware(organization, "4.0.0"), stations)
    client.force_login(MembershipFactory(organization=organization, role=Role.VIEWER).user)
    page = client.get(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and do_url(campaign, "start") not in page.content.decode()
    client.post(do_url(campaign, "start"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
