"""UpdateFirmware and FirmwareStatusNotification of 1.6 and 2.0.1, mapped to the firmware app's words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stations.firmware.domain import ChargerFirmwareStatus
from stations.ocpp.base import format_timestamp

UPDATE_FIRMWARE = "UpdateFirmware"

# 1.6 and 2.0.1 FirmwareStatusEnumType (1.6 uses a subset of the same names).
CHARGER_STATUS = {
    "Idle": ChargerFirmwareStatus.IDLE,
    "DownloadScheduled": ChargerFirmwareStatus.DOWNLOAD_SCHEDULED,
    "Downloading": ChargerFirmwareStatus.DOWNLOADING,
    "DownloadPaused": ChargerFirmwareStatus.DOWNLOAD_PAUSED,
    "Downloaded": ChargerFirmwareStatus.DOWNLOADED,
    "DownloadFailed": ChargerFirmwareStatus.DOWNLOAD_FAILED,
    "SignatureVerified": ChargerFirmwareStatus.SIGNATURE_VERIFIED,
    "InvalidSignature": ChargerFirmwareStatus.INVALID_SIGNATURE,
    "InstallScheduled": ChargerFirmwareStatus.INSTALL_SCHEDULED,
    "Installing": ChargerFirmwareStatus.INSTALLING,
    "InstallRebooting": ChargerFirmwareStatus.INSTALL_REBOOTING,
    "Installed": ChargerFirmwareStatus.INSTALLED,
    "InstallationFailed": ChargerFirmwareStatus.INSTALLATION_FAILED,
    "InstallVerificationFailed": ChargerFirmwareStatus.INSTALL_VERIFICATION_FAILED,
}


@dataclass(frozen=True)
class FirmwareRequest:
    location: str
    retrieve_at: datetime
    request_id: int
    retries: int | None = None
    signing_certificate: str = ""
    signature: str = ""


def update_firmware_payload(protocol: str, request: FirmwareRequest) -> dict[str, Any]:
    """The UpdateFirmware payload for a charger speaking `protocol`."""
    if protocol == "ocpp1.6":  # 1.6 has no request id and no signed firmware (a security extension)
        payload: dict[str, Any] = {
            "location": request.location,
            "retrieveDate": format_timestamp(request.retrieve_at),
        }
    else:
        firmware: dict[str, Any] = {
            "location": request.location,
            "retrieveDateTime": format_timestamp(request.retrieve_at),
        }
        if request.signing_certificate:
            firmware["signingCertificate"] = request.signing_certificate
            firmware["signature"] = request.signature
        payload = {"requestId": request.request_id, "firmware": firmware}
    if request.retries is not None:
        payload["retries"] = request.retries
    return payload


def update_firmware_refusal(protocol: str, answer: dict[str, Any]) -> str:
    """Why the charger refused UpdateFirmware, or "" when it accepted (1.6 answers with nothing)."""
    if protocol == "ocpp1.6":
        return ""
    status = answer.get("status", "")
    if status in ("Accepted", "AcceptedCanceled"):
        return ""
    return f"The charger answered UpdateFirmware with {status}" + (
        f": {answer['statusInfo'].get('reasonCode', '')}" if "statusInfo" in answer else "."
    )
