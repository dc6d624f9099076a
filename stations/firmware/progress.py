"""What chargers report about an update: FirmwareStatusNotification and the BootNotification after it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from django.db import transaction
from django.utils import timezone

from stations.alerts.domain import AlertKind
from stations.alerts.services import alert_clear, alert_raise
from stations.firmware.advance import firmware_campaign_advance_soon
from stations.firmware.domain import (
    ACTIVE,
    CHARGER_FAILURES,
    CampaignStatus,
    ChargerFirmwareStatus,
    UpdateStatus,
)
from stations.firmware.models import FirmwareUpdate

logger = logging.getLogger(__name__)


def update_fail(update: FirmwareUpdate, *, error: str, now: datetime) -> FirmwareUpdate:
    """End this attempt: back in the queue while the campaign allows another try, failed otherwise."""
    campaign = update.campaign
    retry = update.attempts <= campaign.retries and campaign.status in (
        CampaignStatus.RUNNING,
        CampaignStatus.PAUSED,
    )
    update.status = UpdateStatus.PENDING if retry else UpdateStatus.FAILED
    update.last_error = error[:300]
    update.download_token_hash = ""
    update.finished_at = None if retry else now
    update.save(update_fields=["status", "last_error", "download_token_hash", "finished_at"])
    if not retry:
        transaction.on_commit(lambda: _alert_failed(update.pk))
    return update


def _alert_failed(update_id: int) -> None:
    update = FirmwareUpdate.objects.select_related("campaign__firmware", "station").get(pk=update_id)
    try:
        alert_raise(
            kind=AlertKind.FIRMWARE_FAILED,
            key=_alert_key(update.station_id),
            summary=f"{update.station.identity}: firmware {update.campaign.firmware.version} not installed",
            evidence={
                "campaign": update.campaign.name,
                "attempts": update.attempts,
                "error": update.last_error,
            },
            station=update.station,
        )
    except Exception:  # an alert that cannot be raised must not undo the update's record
        logger.exception("alert for firmware update %s not raised", update_id)


def _alert_key(station_id: int) -> str:
    return f"firmware-failed-{station_id}"


def _alert_cleared(station_id: int, version: str) -> None:
    """Close the charger's failed-update alert once an update succeeds."""
    try:
        alert_clear(key=_alert_key(station_id), reason=f"Firmware {version} installed.")
    except Exception:
        logger.exception("firmware alert of station %s not cleared", station_id)


def _ended(update: FirmwareUpdate | None) -> FirmwareUpdate | None:
    """An update that no longer holds a slot (succeeded, failed, or waiting for a retry) lets the campaign
    start its next charger now rather than at the periodic job's next run."""
    if update is not None and update.status not in ACTIVE:
        campaign_id = update.campaign_id
        transaction.on_commit(lambda: firmware_campaign_advance_soon(campaign_id))
    return update


def _active_update(station_id: int, request_id: int | None) -> FirmwareUpdate | None:
    updates = (
        FirmwareUpdate.objects.select_for_update()
        .select_related("campaign__firmware", "station")
        .filter(station_id=station_id, status__in=ACTIVE)
    )
    if request_id is not None:  # 2.0.1 names the request; a report of another one is not ours
        updates = updates.filter(request_id=request_id)
    return updates.order_by("-started_at").first()


@transaction.atomic
def firmware_status_record(
    *, station_id: int, status: ChargerFirmwareStatus | None, request_id: int | None = None
) -> FirmwareUpdate | None:
    """Follow the charger's report on the update it runs: progress, installed, or a failure."""
    return _ended(_status_record(station_id, status, request_id))


def _status_record(
    station_id: int, status: ChargerFirmwareStatus | None, request_id: int | None
) -> FirmwareUpdate | None:
    update = _active_update(station_id, request_id)
    if update is None or status is None:
        return None
    now = timezone.now()
    update.charger_status, update.last_progress_at = status, now
    update.save(update_fields=["charger_status", "last_progress_at"])
    if status in CHARGER_FAILURES:
        return update_fail(update, error=f"The charger reported {status.label}.", now=now)
    if status == ChargerFirmwareStatus.IDLE:
        return update  # e.g. an answer to a TriggerMessage before the download began
    station = update.station
    target = update.campaign.firmware.version
    if status == ChargerFirmwareStatus.INSTALLED:
        # Some chargers report Installed after the reboot, whose boot already named the new version.
        started_at = cast(datetime, update.started_at)  # an active update has started
        rebooted = station.last_boot_at is not None and station.last_boot_at >= started_at
        if rebooted and station.firmware_version == target:
            return _succeed(update, version=station.firmware_version, now=now)
        update.status = UpdateStatus.INSTALLED
    elif update.status == UpdateStatus.STARTING:
        update.status = UpdateStatus.IN_PROGRESS
    update.save(update_fields=["status"])
    return update


@transaction.atomic
def firmware_boot_record(*, station_id: int, firmware_version: str) -> FirmwareUpdate | None:
    """A boot during an update: the campaign's version confirms it; another one after Installed fails it."""
    return _ended(_boot_record(station_id, firmware_version))


def _boot_record(station_id: int, firmware_version: str) -> FirmwareUpdate | None:
    update = _active_update(station_id, None)
    if update is None:
        return None
    now = timezone.now()
    update.reported_version, update.last_progress_at = firmware_version[:50], now
    update.save(update_fields=["reported_version", "last_progress_at"])
    if firmware_version == update.campaign.firmware.version:
        return _succeed(update, version=firmware_version, now=now)
    if update.status == UpdateStatus.INSTALLED:
        return update_fail(
            update, error=f"The charger rebooted with version {firmware_version or '(none)'}.", now=now
        )
    return update  # a reconnection during the download: the update goes on


def _succeed(update: FirmwareUpdate, *, version: str, now: datetime) -> FirmwareUpdate:
    update.status, update.reported_version, update.finished_at = UpdateStatus.SUCCEEDED, version, now
    update.download_token_hash, update.last_error = "", ""
    update.save(
        update_fields=["status", "reported_version", "finished_at", "download_token_hash", "last_error"]
    )
    station_id = update.station_id
    transaction.on_commit(lambda: _alert_cleared(station_id, version))
    return update
