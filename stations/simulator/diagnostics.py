"""A simulated charger's log uploads: 1.6 GetDiagnostics, and GetLog of 2.0.1 and of the 1.6 security
extension, really send a small generated log file by HTTP to the location the CSMS gave, and report
Uploading, then Uploaded or the failure."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stations.simulator.link import Answer
from stations.simulator.status_reports import status_report

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

UPLOAD_TIMEOUT_S = 10.0


def log_text(charger: SimulatedCharger, kind: str) -> bytes:
    """A few plausible lines of a charger log."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"{now} INFO  {charger.identity} {kind} requested",
        f"{now} INFO  firmware {charger.firmware_status} connectors {len(charger.connectors)}",
        *(
            f"{now} INFO  connector {n} transaction {c.transaction_id}"
            for n, c in sorted(charger.connectors.items())
        ),
        f"{now} INFO  end of log",
    ]
    return ("\n".join(lines) + "\n").encode()


def _put(location: str, file_name: str, body: bytes, multipart: bool) -> None:
    """Send the file to location (plus the file name when location names a directory); raise on failure."""
    url = location + file_name if location.endswith("/") and not multipart else location
    if not url.startswith(("http://", "https://")):
        raise urllib.error.URLError(f"only HTTP uploads are simulated, not {url.split(':', 1)[0]}")
    if multipart:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + body
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    else:
        request = urllib.request.Request(url, data=body, method="PUT")
        request.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_S) as response:
        response.read()


async def _report(charger: SimulatedCharger, action: str, status: str, request_id: int | None) -> None:
    charger.diagnostics_status = status
    await status_report(charger, action, status, request_id)


async def upload(
    charger: SimulatedCharger,
    *,
    location: str,
    file_name: str,
    kind: str,
    request_id: int | None,
    action: str,
    failed: str,
    multipart: bool,
) -> None:
    """Report Uploading, send the file, then report Uploaded or `failed` (notifications of `action`), and
    go back to Idle."""
    await _report(charger, action, "Uploading", request_id)
    try:
        await asyncio.to_thread(_put, location, file_name, log_text(charger, kind), multipart)
    except (OSError, ValueError) as error:  # urllib's URLError and HTTPError are OSErrors
        charger.log.warning("log upload to %s failed: %s", location, error)
        await _report(charger, action, failed, request_id)
    else:
        await _report(charger, action, "Uploaded", request_id)
    charger.diagnostics_status = "Idle"


def get_diagnostics(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    """1.6 GetDiagnostics: answer the file name, then PUT the file."""
    file_name = f"{charger.identity}-diagnostics.log"

    async def then() -> None:
        await upload(
            charger,
            location=p["location"],
            file_name=file_name,
            kind="diagnostics",
            request_id=None,
            action="DiagnosticsStatusNotification",
            failed="UploadFailed",
            multipart=False,
        )

    return Answer({"fileName": file_name}, then=then)


def get_log(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    """GetLog (2.0.1, or the 1.6 security extension): Accepted with the file name, then POST the file as
    multipart form data."""
    file_name = f"{charger.identity}-{'security' if p['logType'] == 'SecurityLog' else 'diagnostics'}.log"

    async def then() -> None:
        await upload(
            charger,
            location=p["log"]["remoteLocation"],
            file_name=file_name,
            kind=p["logType"],
            request_id=p["requestId"],
            action="LogStatusNotification",
            failed="UploadFailure",
            multipart=True,
        )

    return Answer({"status": "Accepted", "filename": file_name}, then=then)
