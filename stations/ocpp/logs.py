"""Logs on the wire: 1.6 GetDiagnostics and DiagnosticsStatusNotification; GetLog and
LogStatusNotification of 2.0.1 and of the 1.6 security extension (the same messages), mapped to and from
stations.diagnostics' vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.ocpp.base import format_timestamp

# 1.6 DiagnosticsStatus; Idle means nothing is in progress and says nothing about a request.
DIAGNOSTICS_STATUS_16 = {
    "Uploading": DiagnosticsStatus.UPLOADING,
    "Uploaded": DiagnosticsStatus.UPLOADED,
    "UploadFailed": DiagnosticsStatus.FAILED,
}
# UploadLogStatusEnumType (2.0.1, and the 1.6 security extension); Idle and AcceptedCanceled (an upload
# cancelled for a newer request) do not move the request they name.
LOG_STATUS = {
    "Uploading": DiagnosticsStatus.UPLOADING,
    "Uploaded": DiagnosticsStatus.UPLOADED,
    "UploadFailure": DiagnosticsStatus.FAILED,
    "BadMessage": DiagnosticsStatus.FAILED,
    "NotSupportedOperation": DiagnosticsStatus.FAILED,
    "PermissionDenied": DiagnosticsStatus.FAILED,
}
LOG_TYPE = {LogKind.DIAGNOSTICS: "DiagnosticsLog", LogKind.SECURITY: "SecurityLog"}
GET_DIAGNOSTICS = "GetDiagnostics"


@dataclass(frozen=True)
class LogAnswer:
    accepted: bool
    file_name: str
    info: str = ""


def log_request_call(
    protocol: str,
    *,
    kind: str,
    location: str,
    request_id: int,
    since: datetime | None,
    until: datetime | None,
    retries: int | None,
) -> tuple[str, dict[str, Any]]:
    """GetDiagnostics.req for a 1.6 charger's diagnostics, which every 1.6 charger answers; GetLog
    otherwise: 2.0.1, or a 1.6 charger's security log (the security extension's only way to it)."""
    if protocol == "ocpp1.6" and kind == LogKind.DIAGNOSTICS:
        payload: dict[str, Any] = {"location": location}
        if retries is not None:
            payload["retries"] = retries
        if since is not None:
            payload["startTime"] = format_timestamp(since)
        if until is not None:
            payload["stopTime"] = format_timestamp(until)
        return GET_DIAGNOSTICS, payload
    log: dict[str, Any] = {"remoteLocation": location}
    if since is not None:
        log["oldestTimestamp"] = format_timestamp(since)
    if until is not None:
        log["latestTimestamp"] = format_timestamp(until)
    payload = {"log": log, "logType": LOG_TYPE[LogKind(kind)], "requestId": request_id}
    if retries is not None:
        payload["retries"] = retries
    return "GetLog", payload


def log_request_answer(action: str, answer: dict[str, Any]) -> LogAnswer:
    """GetDiagnostics.conf (a fileName, absent when there is nothing to upload) or GetLogResponse."""
    if action == GET_DIAGNOSTICS:
        file_name = answer.get("fileName")
        if not isinstance(file_name, str) or not file_name:
            return LogAnswer(False, "", "The charger has no diagnostics to upload (no fileName).")
        return LogAnswer(True, file_name[:255])
    status = answer.get("status")
    filename = answer.get("filename")
    file_name = filename if isinstance(filename, str) else ""
    info = (
        answer.get("statusInfo", {}).get("reasonCode", "")
        if isinstance(answer.get("statusInfo"), dict)
        else ""
    )
    if status in ("Accepted", "AcceptedCanceled"):
        return LogAnswer(
            True,
            file_name[:255],
            "Accepted; an earlier upload was cancelled." if status == "AcceptedCanceled" else info,
        )
    return LogAnswer(False, file_name[:255], f"{status}: {info}" if info else str(status))


def log_status(notification: str, status: str) -> DiagnosticsStatus | None:
    """The request's new state from a DiagnosticsStatusNotification or LogStatusNotification status."""
    statuses = DIAGNOSTICS_STATUS_16 if notification == "DiagnosticsStatusNotification" else LOG_STATUS
    return statuses.get(status)
