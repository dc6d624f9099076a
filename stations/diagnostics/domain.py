"""Diagnostics vocabulary shared by the models, the services and the OCPP mapping (stations/ocpp/logs.py)."""

from __future__ import annotations

from django.db import models


class LogKind(models.TextChoices):
    DIAGNOSTICS = "diagnostics", "Diagnostics log"  # 1.6 GetDiagnostics, 2.0.1 GetLog DiagnosticsLog
    SECURITY = "security", "Security log"  # 2.0.1 GetLog SecurityLog only


class DiagnosticsStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"  # sent, the charger has not answered yet
    ACCEPTED = "accepted", "Accepted by the charger"
    REJECTED = "rejected", "Rejected by the charger"
    UPLOADING = "uploading", "Uploading"
    UPLOADED = "uploaded", "Uploaded"
    FAILED = "failed", "Failed"


# A request in one of these states may still receive its file (a failed attempt may be retried by the
# charger within the request's retries).
UPLOAD_OPEN = frozenset(
    {
        DiagnosticsStatus.REQUESTED,
        DiagnosticsStatus.ACCEPTED,
        DiagnosticsStatus.UPLOADING,
        DiagnosticsStatus.UPLOADED,
        DiagnosticsStatus.FAILED,
    }
)
