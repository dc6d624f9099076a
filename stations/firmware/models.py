"""Firmware files, campaigns over chosen chargers, and each charger's update."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, Storage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from stations.firmware.domain import ACTIVE, CampaignStatus, ChargerFirmwareStatus, UpdateStatus


class FirmwareStorage(FileSystemStorage):
    """Private storage under CSMS_FIRMWARE_ROOT (read when used, not at import): files are served only
    through a charger's download token, never by URL."""

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.CSMS_FIRMWARE_ROOT)

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("Firmware images have no public URL: chargers download them with their token.")


def firmware_storage() -> Storage:
    return FirmwareStorage()


class FirmwareFile(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    vendor = models.CharField(max_length=50, blank=True, help_text="Empty: any vendor.")
    model = models.CharField(max_length=50, blank=True, help_text="Empty: any model.")
    version = models.CharField(max_length=50, help_text="The version the charger reports once updated.")
    file = models.FileField(storage=firmware_storage, upload_to="images/%Y/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True, editable=False)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    url = models.URLField(
        max_length=512, blank=True, help_text="Instead of a file: where chargers download the image from."
    )
    # Signed firmware: 2.0.1 UpdateFirmware firmware.signingCertificate and signature, and the same fields
    # in SignedUpdateFirmware of the 1.6 security extension.
    signing_certificate = models.TextField(
        max_length=5500,
        blank=True,
        help_text="PEM certificate of the signing key. A 1.6 charger gets a signed image by "
        "SignedUpdateFirmware (the security extension).",
    )
    signature = models.TextField(max_length=800, blank=True, help_text="Base64 signature of the image.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(file="") & ~models.Q(url="")) | (~models.Q(file="") & models.Q(url="")),
                name="firmware_file_or_url",
            )
        ]

    def __str__(self) -> str:
        target = " ".join(part for part in (self.vendor, self.model) if part) or "any charger"
        return f"{self.version} for {target}"

    def clean(self) -> None:
        if bool(self.file) == bool(self.url):
            raise ValidationError("Upload a file or give a URL, not both.")
        if bool(self.signing_certificate) != bool(self.signature):
            raise ValidationError("Signed firmware needs both the signing certificate and the signature.")


class FirmwareCampaign(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    firmware = models.ForeignKey(FirmwareFile, on_delete=models.PROTECT, related_name="campaigns")
    stations = models.ManyToManyField("stations.Station", related_name="firmware_campaigns")
    max_concurrent = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="How many chargers update at once."
    )
    retrieve_at = models.DateTimeField(
        null=True, blank=True, help_text="When chargers may download the image (empty: at once)."
    )
    retries = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(20)],
        help_text="Further attempts per charger after a failure.",
    )
    stall_timeout_min = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="An update without news from the charger for this long has failed.",
    )
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class FirmwareUpdateQuerySet(models.QuerySet["FirmwareUpdate"]):
    def active(self) -> FirmwareUpdateQuerySet:
        return self.filter(status__in=ACTIVE)


class FirmwareUpdate(models.Model):
    """One charger's update within a campaign; each attempt sends one UpdateFirmware."""

    campaign = models.ForeignKey(FirmwareCampaign, on_delete=models.CASCADE, related_name="updates")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="firmware_updates")
    status = models.CharField(max_length=16, choices=UpdateStatus.choices, default=UpdateStatus.PENDING)
    charger_status = models.CharField(max_length=32, choices=ChargerFirmwareStatus.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    request_id = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # sha256 of this attempt's download token (the token itself is only in the location sent).
    download_token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    reported_version = models.CharField(max_length=50, blank=True)

    objects = FirmwareUpdateQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "station"], name="firmware_update_once")]

    def __str__(self) -> str:
        return f"{self.station} in {self.campaign}"
