"""A log requested from a charger and the file it uploaded."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models

from stations.diagnostics.domain import DiagnosticsStatus, LogKind


class DiagnosticsStorage(FileSystemStorage):
    """Uploaded logs in CSMS_DIAGNOSTICS_DIR, outside MEDIA and static files: nothing serves them but
    the admin's download view. The directory is read from the settings on each use."""

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.CSMS_DIAGNOSTICS_DIR)

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def diagnostics_storage() -> FileSystemStorage:
    return DiagnosticsStorage()


def upload_path(instance: DiagnosticsRequest, filename: str) -> str:
    return f"{instance.station_id}/{instance.pk}/{filename}"


class DiagnosticsRequest(models.Model):
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="diagnostics")
    kind = models.CharField(max_length=16, choices=LogKind.choices, default=LogKind.DIAGNOSTICS)
    # GetLog's requestId, which LogStatusNotification repeats; 1.6 GetDiagnostics has none (its
    # notifications go to the latest request).
    request_id = models.PositiveIntegerField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveSmallIntegerField(null=True, blank=True)
    # sha256 of the token in the upload URL; the token itself is only ever in the URL sent to the charger.
    token_hash = models.CharField(max_length=64, unique=True)
    upload_url = models.CharField(max_length=500)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=DiagnosticsStatus.choices, default=DiagnosticsStatus.REQUESTED
    )
    status_info = models.CharField(max_length=500, blank=True)
    charger_file_name = models.CharField(max_length=255, blank=True)  # as the charger announced it
    file = models.FileField(storage=diagnostics_storage, upload_to=upload_path, max_length=500, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "request_id"], name="diagnostics_request_id_unique_per_station"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.station} #{self.pk}"

    @property
    def has_file(self) -> bool:
        return bool(self.file)
