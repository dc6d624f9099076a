"""A simulated charger's firmware update: 1.6 and 2.0.1 UpdateFirmware, and SignedUpdateFirmware of the 1.6
security extension, really download the image by HTTP from the location given, report each step
(FirmwareStatusNotification; SignedFirmwareStatusNotification for a 1.6 signed update), and reboot with
the new version.

An image the simulator can install starts with the line `CSMS-Sim firmware <version>`; anything else
downloads but fails to install (InstallationFailed), like an image for another model."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stations.simulator.link import Answer
from stations.simulator.status_reports import status_report

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

IMAGE_HEADER = b"CSMS-Sim firmware "
DOWNLOAD_TIMEOUT_S = 30.0
# Seconds between the steps of an update; tests make it short.
STEP_S = 1.0


def image_bytes(version: str, size: int = 4096) -> bytes:
    """An image the simulator installs as `version` (padded to look like a binary)."""
    header = IMAGE_HEADER + version.encode() + b"\n"
    return header + bytes(max(size - len(header), 0))


def image_version(image: bytes) -> str | None:
    first_line = image.split(b"\n", 1)[0]
    if not first_line.startswith(IMAGE_HEADER):
        return None
    return first_line[len(IMAGE_HEADER) :].decode(errors="replace").strip() or None


def _download(location: str) -> bytes:
    if not location.startswith(("http://", "https://")):
        raise OSError(f"only HTTP downloads are simulated, not {location.split(':', 1)[0]}")
    with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
        return response.read()


async def _wait_until(retrieve_at: str) -> None:
    try:
        when = datetime.fromisoformat(retrieve_at.replace("Z", "+00:00"))
    except ValueError:
        return
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    await asyncio.sleep(max((when - datetime.now(UTC)).total_seconds(), 0))


async def install(
    charger: SimulatedCharger,
    *,
    location: str,
    retrieve_at: str,
    request_id: int | None,
    signed: bool,
    action: str = "FirmwareStatusNotification",
) -> None:
    """Download, install and reboot, reporting each step (notifications of `action`); a failure is
    reported and ends the update."""

    async def report(status: str) -> None:
        charger.firmware_status = status
        await status_report(charger, action, status, request_id)

    await _wait_until(retrieve_at)
    await report("Downloading")
    try:
        image = await asyncio.to_thread(_download, location)
    except OSError as error:  # urllib's HTTPError and URLError are OSErrors
        charger.log.warning("firmware download from %s failed: %s", location, error)
        await report("DownloadFailed")
        charger.firmware_status = "Idle"
        return
    charger.firmware_image = image
    await asyncio.sleep(STEP_S)
    await report("Downloaded")
    if signed:  # the signature is checked before installing (the simulator trusts it)
        await asyncio.sleep(STEP_S)
        await report("SignatureVerified")
    await asyncio.sleep(STEP_S)
    await report("Installing")
    await asyncio.sleep(STEP_S)
    version = image_version(image)
    if version is None:
        await report("InstallationFailed")
        charger.firmware_status = "Idle"
        return
    await report("Installed")
    charger.firmware_version, charger.firmware_status = version, "Idle"
    charger.boot_reason = "FirmwareUpdate"
    await charger.reset("Soft")  # reboot: reconnect and boot with the new version


def update_firmware_16(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    async def then() -> None:
        await install(
            charger, location=p["location"], retrieve_at=p["retrieveDate"], request_id=None, signed=False
        )

    return Answer({}, then=then)


def _update_firmware_request(charger: SimulatedCharger, p: dict[str, Any], status_action: str) -> Answer:
    """A request with `requestId` and `firmware` (2.0.1 UpdateFirmware, 1.6 SignedUpdateFirmware)."""
    firmware = p["firmware"]

    async def then() -> None:
        await install(
            charger,
            location=firmware["location"],
            retrieve_at=firmware["retrieveDateTime"],
            request_id=p["requestId"],
            signed="signature" in firmware,
            action=status_action,
        )

    return Answer({"status": "Accepted"}, then=then)


def update_firmware_201(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return _update_firmware_request(charger, p, "FirmwareStatusNotification")


def signed_update_firmware_16(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    """SignedUpdateFirmware of the 1.6 security extension: the 2.0.1 firmware fields, its own reports."""
    return _update_firmware_request(charger, p, "SignedFirmwareStatusNotification")
