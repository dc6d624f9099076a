"""The HTTP endpoint chargers upload requested logs to (1.6 GetDiagnostics location, 2.0.1 remoteLocation).

Chargers PUT the raw file or POST it as multipart form data, to the URL they were given or to that URL
plus the file name. The token in the path is the only credential a charger can carry here, hence no
CSRF check."""

from __future__ import annotations

import hashlib
import tempfile
from typing import IO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from stations.diagnostics.exceptions import UploadRefused
from stations.diagnostics.services import diagnostics_upload_find, diagnostics_upload_store

CHUNK_BYTES = 64 * 1024


def _refuse(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason + "\n", status=status, content_type="text/plain")


def _spool(source: IO[bytes] | HttpRequest, limit: int) -> tuple[IO[bytes], int, str]:
    """Copy the body to a temporary file, measuring and hashing it; UploadRefused (413) past the limit."""
    spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES * 16)
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise UploadRefused(413, f"The file is larger than {limit} bytes.")
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, size, digest.hexdigest()


@csrf_exempt
def upload(request: HttpRequest, token: str, filename: str = "") -> HttpResponse:
    if request.method not in ("PUT", "POST"):
        response = _refuse(405, "Upload the file with PUT or POST.")
        response["Allow"] = "PUT, POST"
        return response
    limit = settings.CSMS_DIAGNOSTICS_MAX_BYTES
    try:
        pending = diagnostics_upload_find(token=token)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + CHUNK_BYTES:  # multipart framing adds a little to the file itself
            raise UploadRefused(413, f"The file is larger than {limit} bytes.")
        if request.content_type == "multipart/form-data":
            try:
                # The parser stores no empty lists, so each value is a file.
                files = cast(list[UploadedFile], list(request.FILES.values()))
            except MultiPartParserError as error:
                raise UploadRefused(400, f"The multipart body cannot be read: {error}") from None
            if not files:
                raise UploadRefused(400, "The multipart body holds no file.")
            body, name = files[0], filename or files[0].name or ""
            spool, size, sha256 = _spool(body, limit)
        else:
            spool, size, sha256 = _spool(request, limit)
            name = filename
        if size == 0:
            raise UploadRefused(400, "The upload is empty.")
        with spool:
            diagnostics_upload_store(
                token=token,
                file_name=name or pending.charger_file_name,
                content=spool,
                size_bytes=size,
                sha256=sha256,
            )
    except UploadRefused as refusal:
        return _refuse(refusal.status, refusal.reason)
    return HttpResponse("Stored.\n", status=201, content_type="text/plain")
