"""UpdateFirmware and FirmwareStatusNotification of 1.6 and 2.0.1, and SignedUpdateFirmware and
SignedFirmwareStatusNotification of the 1.6 security extension, mapped to the firmware app's words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stations.firmware.domain import ChargerFirmwareStatus
from stations.ocpp.base import format_timestamp

UPDATE_FIRMWARE = "UpdateFirmware"
SIGNED_UPDATE_FIRMWARE = "SignedUpdateFirmware"  # the 1.6 security extension

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


def update_firmware_call(protocol: str, request: FirmwareRequest) -> tuple[str, dict[str, Any]]:
    """The call for a charger speaking `protocol`: 2.0.1 UpdateFirmware, signed or not; 1.6 UpdateFirmware,
    or SignedUpdateFirmware of the 1.6 security extension for a signed image (the same firmware fields)."""
    if protocol == "ocpp1.6" and not request.signing_certificate:  # no request id in 1.6 UpdateFirmware
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
    signed_16 = protocol == "ocpp1.6" and request.signing_certificate
    return (SIGNED_UPDATE_FIRMWARE if signed_16 else UPDATE_FIRMWARE), payload


def update_firmware_refusal(protocol: str, action: str, answer: dict[str, Any]) -> str:
    """Why the charger refused the update, or "" when it accepted (1.6 UpdateFirmware answers nothing)."""
    if protocol == "ocpp1.6" and action == UPDATE_FIRMWARE:
        return ""
    status = answer.get("status", "")
    if status in ("Accepted", "AcceptedCanceled"):
        return ""
    return f"The charger answered {action} with {status}" + (
        f": {answer['statusInfo'].get('reasonCode', '')}" if "statusInfo" in answer else "."
    )
