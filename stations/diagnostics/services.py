"""Requesting logs from chargers, following their progress and storing what they upload."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from stations.alerts.domain import AlertKind
from stations.alerts.services import alert_clear, alert_raise
from stations.credentials import secrets_hidden, url_token_hash, url_token_new
from stations.diagnostics.domain import UPLOAD_OPEN, DiagnosticsStatus, LogKind
from stations.diagnostics.exceptions import UploadRefused
from stations.diagnostics.models import DiagnosticsRequest
from stations.exceptions import StationError, StationOffline
from stations.models import Station
from stations.ocpp import logs

log = logging.getLogger(__name__)


def _upload_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/diagnostics/upload/{token}/"


def diagnostics_request(
    *,
    station: Station,
    kind: str = LogKind.DIAGNOSTICS,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_by: str = "",
    retries: int | None = None,
    upload_base_url: str | None = None,
    timeout: float | None = None,
) -> DiagnosticsRequest:
    """Ask the charger for a log upload (1.6 GetDiagnostics; GetLog of 2.0.1 and of the 1.6 security
    extension, for a 1.6 charger's security log) and record its answer.

    The request is committed before the call goes out, so an upload or a status notification that
    overtakes the answer finds it."""
    protocol = station.protocol or "ocpp1.6"
    token, token_hash = url_token_new()
    url = _upload_url(upload_base_url or settings.CSMS_DIAGNOSTICS_UPLOAD_URL, token)
    with transaction.atomic():
        request = DiagnosticsRequest.objects.create(
            station=station,
            kind=kind,
            since=since,
            until=until,
            retries=retries,
            token_hash=token_hash,
            upload_url=secrets_hidden(url, [token]),
            expires_at=timezone.now() + timedelta(hours=settings.CSMS_DIAGNOSTICS_VALID_H),
            requested_by=requested_by[:150],
        )
        action, payload = logs.log_request_call(
            protocol,
            kind=kind,
            location=url,
            request_id=request.pk,
            since=since,
            until=until,
            retries=retries,
        )
        if action != logs.GET_DIAGNOSTICS:
            request.request_id = request.pk  # unique and stable: LogStatusNotification names it
            request.save(update_fields=["request_id"])
    # Imported here: the adapters record status notifications through this module, and commands imports them.
    from stations.ocpp.commands import station_call

    try:
        answer = station_call(
            identity=station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
            hidden=[token],
        )
    except StationError as error:
        _answer_record(request, DiagnosticsStatus.FAILED, info=str(error))
        if not isinstance(error, StationOffline):
            log.warning("%s to %s failed: %s", action, station.identity, error)
        request.refresh_from_db()
        return request
    outcome = logs.log_request_answer(action, answer)
    status = DiagnosticsStatus.ACCEPTED if outcome.accepted else DiagnosticsStatus.REJECTED
    _answer_record(request, status, info=outcome.info, file_name=outcome.file_name)
    request.refresh_from_db()
    return request


def _answer_record(
    request: DiagnosticsRequest, status: DiagnosticsStatus, *, info: str, file_name: str = ""
) -> None:
    """Record the charger's answer, unless a notification or the upload already moved the request on."""
    now = timezone.now()
    DiagnosticsRequest.objects.filter(pk=request.pk).update(answered_at=now, charger_file_name=file_name)
    DiagnosticsRequest.objects.filter(pk=request.pk, status=DiagnosticsStatus.REQUESTED).update(
        status=status, status_info=info[:500], updated_at=now
    )  # the person who asked sees the outcome at once: no alert for a call that failed


def diagnostics_status_record(
    *, station_id: int, status: DiagnosticsStatus | None, request_id: int | None = None
) -> DiagnosticsRequest | None:
    """Apply a DiagnosticsStatusNotification (the station's latest request: 1.6 names none) or a
    LogStatusNotification (by requestId). Idle and unknown requests change nothing."""
    if status is None:
        return None
    with transaction.atomic():
        requests = DiagnosticsRequest.objects.select_for_update().filter(station_id=station_id)
        if request_id is not None:
            request = requests.filter(request_id=request_id).first()
        else:
            request = requests.order_by("-requested_at", "-id").first()
        if request is None or request.status == status:
            return request
        if request.status in (DiagnosticsStatus.UPLOADED, DiagnosticsStatus.REJECTED) or (
            request.has_file and status != DiagnosticsStatus.UPLOADED
        ):
            return request  # a final word, or a stored file, outranks a late or contradicting report
        request.status = status
        request.save(update_fields=["status", "updated_at"])
        pk = request.pk
    if status == DiagnosticsStatus.FAILED:
        _alert_failed(pk)
    elif status == DiagnosticsStatus.UPLOADED:
        _alert_clear(pk, "The charger reported the upload complete.")
    return request


def diagnostics_upload_find(*, token: str) -> DiagnosticsRequest:
    """The request waiting for an upload with this token; UploadRefused (403) otherwise."""
    request = DiagnosticsRequest.objects.filter(token_hash=url_token_hash(token)).first()
    _check_open(request)
    assert request is not None
    return request


def _check_open(request: DiagnosticsRequest | None) -> None:
    if request is None:
        raise UploadRefused(403, "Unknown upload token.")
    if request.has_file:
        raise UploadRefused(403, "This upload was already received.")
    if request.status not in UPLOAD_OPEN:
        raise UploadRefused(403, "This request was rejected by the charger.")
    if request.expires_at <= timezone.now():
        raise UploadRefused(403, "This upload URL has expired.")


def diagnostics_upload_store(
    *, token: str, file_name: str, content: IO[bytes], size_bytes: int, sha256: str
) -> DiagnosticsRequest:
    """Keep the uploaded file for the request of this token, once; the caller has read and measured it."""
    with transaction.atomic():
        request = (
            DiagnosticsRequest.objects.select_for_update().filter(token_hash=url_token_hash(token)).first()
        )
        _check_open(request)  # again, under the lock: two uploads at once keep only the first
        assert request is not None
        name = get_valid_filename(file_name)[-200:] or f"{request.station.identity}-{request.kind}.log"
        request.file.save(name, File(content), save=False)
        request.file_name, request.size_bytes, request.sha256 = name, size_bytes, sha256
        request.uploaded_at = timezone.now()
        request.status = DiagnosticsStatus.UPLOADED
        request.save(
            update_fields=["file", "file_name", "size_bytes", "sha256", "uploaded_at", "status", "updated_at"]
        )
        pk = request.pk
    _alert_clear(pk, "The log file was received.")
    return request


def _alert_key(pk: int) -> str:
    return f"diagnostics:{pk}"


def _alert_failed(pk: int) -> None:
    request = DiagnosticsRequest.objects.select_related("station__site").get(pk=pk)
    transaction.on_commit(
        lambda: alert_raise(
            kind=AlertKind.DIAGNOSTICS_FAILED,
            key=_alert_key(pk),
            summary=f"{request.get_kind_display()} from {request.station.identity} failed",
            evidence={"request": pk, "status": request.status, "info": request.status_info},
            station=request.station,
        )
    )


def _alert_clear(pk: int, reason: str) -> None:
    transaction.on_commit(lambda: alert_clear(key=_alert_key(pk), reason=reason))
