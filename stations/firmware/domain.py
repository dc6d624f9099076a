"""Firmware vocabularies: the campaign's, the update's, and the charger's own progress report."""

from __future__ import annotations

from django.db import models


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    DONE = "done", "Done"


class UpdateStatus(models.TextChoices):
    """One charger's update: waiting its turn, on its way, or finished one way or the other."""

    PENDING = "pending", "Waiting"
    STARTING = "starting", "Sending the request"
    IN_PROGRESS = "in_progress", "In progress"
    INSTALLED = "installed", "Installed, waiting for the reboot"
    SUCCEEDED = "succeeded", "Updated"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Updates that occupy one of the campaign's concurrent slots.
ACTIVE = (UpdateStatus.STARTING, UpdateStatus.IN_PROGRESS, UpdateStatus.INSTALLED)
FINISHED = (UpdateStatus.SUCCEEDED, UpdateStatus.FAILED, UpdateStatus.CANCELLED)


class ChargerFirmwareStatus(models.TextChoices):
    """What the charger last reported (FirmwareStatusNotification of 1.6 and 2.0.1)."""

    IDLE = "idle", "Idle"
    DOWNLOAD_SCHEDULED = "download_scheduled", "Download scheduled"
    DOWNLOADING = "downloading", "Downloading"
    DOWNLOAD_PAUSED = "download_paused", "Download paused"
    DOWNLOADED = "downloaded", "Downloaded"
    DOWNLOAD_FAILED = "download_failed", "Download failed"
    SIGNATURE_VERIFIED = "signature_verified", "Signature verified"
    INVALID_SIGNATURE = "invalid_signature", "Invalid signature"
    INSTALL_SCHEDULED = "install_scheduled", "Install scheduled"
    INSTALLING = "installing", "Installing"
    INSTALL_REBOOTING = "install_rebooting", "Rebooting to install"
    INSTALLED = "installed", "Installed"
    INSTALLATION_FAILED = "installation_failed", "Installation failed"
    INSTALL_VERIFICATION_FAILED = "install_verification_failed", "Install verification failed"


CHARGER_FAILURES = frozenset(
    {
        ChargerFirmwareStatus.DOWNLOAD_FAILED,
        ChargerFirmwareStatus.INVALID_SIGNATURE,
        ChargerFirmwareStatus.INSTALLATION_FAILED,
        ChargerFirmwareStatus.INSTALL_VERIFICATION_FAILED,
    }
)
