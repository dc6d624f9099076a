"""Firmware campaigns: stored images, the campaign's lifecycle, and the job that moves it along."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from stations.credentials import url_token_hash, url_token_new
from stations.exceptions import StationError, StationOffline
from stations.firmware.advance import firmware_campaign_advance_soon
from stations.firmware.domain import ACTIVE, CampaignStatus, UpdateStatus
from stations.firmware.exceptions import FirmwareError
from stations.firmware.models import FirmwareCampaign, FirmwareFile, FirmwareUpdate
from stations.firmware.progress import update_fail
from stations.ocpp.commands import station_call
from stations.ocpp.firmware import (
    FirmwareRequest,
    update_firmware_call,
    update_firmware_refusal,
)

logger = logging.getLogger(__name__)

REQUESTED_BY = "firmware campaign"


def firmware_file_record(*, firmware: FirmwareFile) -> FirmwareFile:
    """Record the uploaded image's size and sha256 (chargers and staff can check what they got)."""
    if not firmware.file:
        firmware.sha256, firmware.size_bytes = "", None
        return firmware
    digest = hashlib.sha256()
    size = 0
    firmware.file.open("rb")
    try:
        for chunk in firmware.file.chunks():
            digest.update(chunk)
            size += len(chunk)
    finally:
        firmware.file.seek(0)
    firmware.sha256, firmware.size_bytes = digest.hexdigest(), size
    return firmware


# --- staff's actions ---------------------------------------------------------------------------------
def _locked(campaign: FirmwareCampaign) -> FirmwareCampaign:
    return FirmwareCampaign.objects.select_for_update().select_related("firmware").get(pk=campaign.pk)


@transaction.atomic
def firmware_campaign_start(*, campaign: FirmwareCampaign) -> FirmwareCampaign:
    """Start a draft campaign: one update per chosen charger, sent by the next run of the job."""
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.DRAFT:
        raise FirmwareError(f"{campaign} is {campaign.get_status_display().lower()}, not a draft.")
    firmware = campaign.firmware
    if firmware.organization_id != campaign.organization_id:
        raise FirmwareError("The firmware belongs to another organization.")
    stations = list(campaign.stations.select_related("site").order_by("identity"))
    if not stations:
        raise FirmwareError("Choose the chargers to update first.")
    foreign = [
        s.identity for s in stations if s.site is None or s.site.organization_id != campaign.organization_id
    ]
    if foreign:
        raise FirmwareError(f"Not chargers of the campaign's organization: {', '.join(foreign)}.")
    mismatched = [
        s.identity
        for s in stations
        if (firmware.vendor and s.vendor and s.vendor != firmware.vendor)
        or (firmware.model and s.model and s.model != firmware.model)
    ]
    if mismatched:
        raise FirmwareError(f"The firmware is not for these chargers' model: {', '.join(mismatched)}.")
    FirmwareUpdate.objects.bulk_create(
        [FirmwareUpdate(campaign=campaign, station=station) for station in stations], ignore_conflicts=True
    )
    campaign.status, campaign.started_at = CampaignStatus.RUNNING, timezone.now()
    campaign.save(update_fields=["status", "started_at"])
    _advance_on_commit(campaign)
    return campaign


def _advance_on_commit(campaign: FirmwareCampaign) -> None:
    """Start the first chargers now rather than at the periodic job's next run."""
    campaign_id = campaign.pk
    transaction.on_commit(lambda: firmware_campaign_advance_soon(campaign_id))


def _transition(
    campaign: FirmwareCampaign, allowed: tuple[CampaignStatus, ...], to: CampaignStatus
) -> FirmwareCampaign:
    campaign = _locked(campaign)
    if campaign.status not in allowed:
        raise FirmwareError(f"{campaign} is {campaign.get_status_display().lower()}.")
    campaign.status = to
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def firmware_campaign_pause(*, campaign: FirmwareCampaign) -> FirmwareCampaign:
    """Start no further chargers; those updating go on and are followed."""
    return _transition(campaign, (CampaignStatus.RUNNING,), CampaignStatus.PAUSED)


@transaction.atomic
def firmware_campaign_resume(*, campaign: FirmwareCampaign) -> FirmwareCampaign:
    campaign = _transition(campaign, (CampaignStatus.PAUSED,), CampaignStatus.RUNNING)
    _advance_on_commit(campaign)
    return campaign


@transaction.atomic
def firmware_campaign_stop(*, campaign: FirmwareCampaign) -> FirmwareCampaign:
    """End the campaign: waiting chargers are cancelled, and chargers updating may no longer download
    the image (an update cannot be called back once the charger has it, so those are still followed)."""
    campaign = _transition(
        campaign,
        (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
        CampaignStatus.STOPPED,
    )
    now = timezone.now()
    campaign.updates.filter(status=UpdateStatus.PENDING).update(
        status=UpdateStatus.CANCELLED, finished_at=now
    )
    campaign.finished_at = now
    campaign.save(update_fields=["finished_at"])
    return campaign


@transaction.atomic
def firmware_campaign_retry_failed(*, campaign: FirmwareCampaign) -> int:
    """Give the failed chargers their attempts again; a finished campaign runs again for them."""
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.DONE):
        raise FirmwareError(f"{campaign} is {campaign.get_status_display().lower()}.")
    retried = campaign.updates.filter(status=UpdateStatus.FAILED).update(
        status=UpdateStatus.PENDING, attempts=0, finished_at=None
    )
    if retried and campaign.status == CampaignStatus.DONE:
        campaign.status, campaign.finished_at = CampaignStatus.RUNNING, None
        campaign.save(update_fields=["status", "finished_at"])
    if retried:
        _advance_on_commit(campaign)
    return retried


# --- the periodic job, and the runs of one campaign in between (advance.py) -----------------------------
def firmware_campaigns_advance(*, now: datetime | None = None) -> int:
    """Move every campaign with work along; return how many updates were started."""
    campaigns = FirmwareCampaign.objects.filter(
        Q(status=CampaignStatus.RUNNING) | Q(updates__status__in=ACTIVE)
    ).distinct()
    started = 0
    for campaign_id in campaigns.values_list("pk", flat=True):
        try:
            started += firmware_campaign_advance(campaign_id=campaign_id, now=now)
        except Exception:  # one campaign's trouble must not hold the others up
            logger.exception("firmware campaign %s could not advance", campaign_id)
    return started


def firmware_campaign_advance(*, campaign_id: int, now: datetime | None = None) -> int:
    """Fail stalled updates, start chargers while slots are free, and finish the campaign when all are."""
    now = now or timezone.now()
    _fail_stalled(campaign_id, now)
    started = 0
    skipped: set[int] = set()  # offline chargers: tried again at the next run
    while (update := _claim_next(campaign_id, skipped)) is not None:
        started += _send(update)
    _finish_if_done(campaign_id, now)
    return started


@transaction.atomic
def _fail_stalled(campaign_id: int, now: datetime) -> None:
    campaign = FirmwareCampaign.objects.select_for_update().get(pk=campaign_id)
    quiet_since = now - timedelta(minutes=campaign.stall_timeout_min)
    if campaign.retrieve_at is not None and campaign.retrieve_at > quiet_since:
        return  # waiting for the retrieve date is not a stall
    stalled = campaign.updates.select_related("campaign").filter(
        status__in=ACTIVE, last_progress_at__lt=quiet_since
    )
    for update in stalled:
        update_fail(update, error=f"No news from the charger for {campaign.stall_timeout_min} min.", now=now)


@transaction.atomic
def _claim_next(campaign_id: int, skipped: set[int]) -> tuple[FirmwareUpdate, str] | None:
    """Take the next waiting charger that is online, if a slot is free: mark it starting, with a fresh
    download token, before anything is sent, so that no other run starts it again."""
    campaign = FirmwareCampaign.objects.select_for_update().select_related("firmware").get(pk=campaign_id)
    if campaign.status != CampaignStatus.RUNNING:
        return None
    if campaign.updates.active().count() >= campaign.max_concurrent:
        return None
    waiting = (
        campaign.updates.filter(status=UpdateStatus.PENDING)
        .exclude(pk__in=skipped)
        .select_related("station")
        .order_by("attempts", "pk")
    )
    for update in waiting:
        busy = FirmwareUpdate.objects.active().filter(station_id=update.station_id).exists()
        if not update.station.is_online or busy:  # busy: updating in another campaign
            skipped.add(update.pk)
            continue
        token, token_hash = url_token_new()
        update.status, update.attempts = UpdateStatus.STARTING, update.attempts + 1
        update.request_id = update.pk * 100 + update.attempts % 100
        update.download_token_hash = token_hash
        # The moment of the claim, not the run's `now`: the slot may have been freed since.
        update.started_at = update.last_progress_at = timezone.now()
        update.finished_at, update.charger_status, update.downloaded_at = None, "", None
        update.save(
            update_fields=[
                "status",
                "attempts",
                "request_id",
                "download_token_hash",
                "started_at",
                "last_progress_at",
                "finished_at",
                "charger_status",
                "downloaded_at",
            ]
        )
        update.campaign = campaign
        return update, token
    return None


def _location(firmware: FirmwareFile, token: str) -> str:
    if firmware.url:
        return firmware.url
    return settings.SITE_URL.rstrip("/") + reverse("firmware:download", args=[token])


def _send(claimed: tuple[FirmwareUpdate, str]) -> int:
    update, token = claimed
    campaign, firmware, station = update.campaign, update.campaign.firmware, update.station
    # _claim_next set both on the claim.
    started_at, request_id = cast(datetime, update.started_at), cast(int, update.request_id)
    request = FirmwareRequest(
        location=_location(firmware, token),
        retrieve_at=max(campaign.retrieve_at or started_at, started_at),
        request_id=request_id,
        signing_certificate=firmware.signing_certificate,
        signature=firmware.signature,
    )
    action, payload = update_firmware_call(station.protocol, request)
    try:
        answer = station_call(
            identity=station.identity,
            action=action,
            payload=payload,
            requested_by=REQUESTED_BY,
            hidden=[token],
        )
    except StationOffline:
        _unclaim(update)
        return 0
    except StationError as error:
        _attempt_failed(update, f"{action} failed: {error}")
        return 1
    if refusal := update_firmware_refusal(station.protocol, action, answer):
        _attempt_failed(update, refusal)
        return 1
    # The charger may have reported progress already: only a request still starting moves on here.
    FirmwareUpdate.objects.filter(pk=update.pk, status=UpdateStatus.STARTING).update(
        status=UpdateStatus.IN_PROGRESS
    )
    return 1


@transaction.atomic
def _unclaim(update: FirmwareUpdate) -> None:
    """The charger went offline before the request reached it: not an attempt, it waits its turn."""
    FirmwareUpdate.objects.filter(pk=update.pk, status=UpdateStatus.STARTING).update(
        status=UpdateStatus.PENDING, attempts=update.attempts - 1, download_token_hash=""
    )


@transaction.atomic
def _attempt_failed(update: FirmwareUpdate, error: str) -> None:
    update = FirmwareUpdate.objects.select_for_update().select_related("campaign").get(pk=update.pk)
    if update.status == UpdateStatus.STARTING:
        update_fail(update, error=error, now=timezone.now())


@transaction.atomic
def _finish_if_done(campaign_id: int, now: datetime) -> None:
    campaign = FirmwareCampaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != CampaignStatus.RUNNING:
        return
    if campaign.updates.filter(status__in=(UpdateStatus.PENDING, *ACTIVE)).exists():
        return
    campaign.status, campaign.finished_at = CampaignStatus.DONE, now
    campaign.save(update_fields=["status", "finished_at"])


# --- the chargers' download -------------------------------------------------------------------------
@transaction.atomic
def firmware_download_authorize(*, token: str) -> FirmwareFile:
    """The image a download token gives, while its update runs; raise FirmwareError otherwise."""
    update = (
        FirmwareUpdate.objects.select_for_update()
        .select_related("campaign__firmware")
        .filter(
            download_token_hash=url_token_hash(token),
            status__in=(UpdateStatus.STARTING, UpdateStatus.IN_PROGRESS),
            campaign__status__in=(CampaignStatus.RUNNING, CampaignStatus.PAUSED),
        )
        .first()
    )
    if update is None or not update.campaign.firmware.file:
        raise FirmwareError("No running firmware update has this token.")
    update.downloaded_at = update.last_progress_at = timezone.now()
    update.save(update_fields=["downloaded_at", "last_progress_at"])
    return update.campaign.firmware
