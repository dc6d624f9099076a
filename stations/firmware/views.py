"""The chargers' firmware download: anonymous HTTP, authorized by the update's one-off token."""

from __future__ import annotations

from typing import cast

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from stations.firmware.exceptions import FirmwareError
from stations.firmware.services import firmware_download_authorize


@require_safe
def firmware_download(request: HttpRequest, token: str) -> FileResponse:
    try:
        firmware = firmware_download_authorize(token=token)
    except FirmwareError:
        raise Http404("No running firmware update has this token.") from None
    name = cast(str, firmware.file.name).rsplit("/", 1)[-1]  # authorized only with a file
    response = FileResponse(firmware.file.open("rb"), as_attachment=True, filename=name)
    response["X-Content-SHA256"] = firmware.sha256
    return response
