"""The upload endpoint takes exactly the expected file for a pending request, once, and nothing else."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from stations.diagnostics.domain import DiagnosticsStatus
from stations.diagnostics.models import DiagnosticsRequest

LOG = b"2026-01-01T00:00:00Z INFO boot\n2026-01-01T00:00:01Z ERROR relay stuck\n"
TOKEN = "t0k3n-for-the-test-request-0123456789abcdef"


def url(token: str = TOKEN, name: str = "") -> str:
    return f"/diagnostics/upload/{token}/{name}"


@pytest.mark.django_db
def test_a_put_upload_is_stored_with_its_size_and_hash(client, pending, diagnostics_dir):
    request = pending(TOKEN)
    response = client.put(url(name="CP-diag.log"), LOG, content_type="application/octet-stream")
    assert response.status_code == 201
    request.refresh_from_db()
    assert request.status == DiagnosticsStatus.UPLOADED
    assert (request.file_name, request.size_bytes) == ("CP-diag.log", len(LOG))
    assert request.sha256 == hashlib.sha256(LOG).hexdigest()
    assert request.uploaded_at is not None
    with request.file.open("rb") as stored:
        assert stored.read() == LOG
    assert str(diagnostics_dir) in request.file.path  # the private directory, not MEDIA_ROOT


@pytest.mark.django_db
def test_a_multipart_post_to_the_bare_url_takes_the_file_name_from_the_form(client, pending):
    request = pending(TOKEN)
    upload = SimpleUploadedFile("station-log.txt", LOG, content_type="text/plain")
    response = client.post(url(), {"file": upload})
    assert response.status_code == 201
    request.refresh_from_db()
    assert (request.file_name, request.size_bytes) == ("station-log.txt", len(LOG))
    assert request.sha256 == hashlib.sha256(LOG).hexdigest()


@pytest.mark.django_db
def test_an_unknown_token_is_refused_and_no_request_changes(client, pending):
    request = pending(TOKEN)
    response = client.put(url("another-token", "x.log"), LOG, content_type="application/octet-stream")
    assert response.status_code == 403
    request.refresh_from_db()
    assert not request.has_file and request.status == DiagnosticsStatus.ACCEPTED


@pytest.mark.django_db
def test_a_second_upload_is_refused_and_the_first_file_kept(client, pending):
    request = pending(TOKEN)
    assert client.put(url(name="a.log"), LOG, content_type="text/plain").status_code == 201
    second = client.put(url(name="b.log"), b"overwrite", content_type="text/plain")
    assert second.status_code == 403
    assert b"already received" in second.content
    request.refresh_from_db()
    assert (request.file_name, request.size_bytes) == ("a.log", len(LOG))
    assert DiagnosticsRequest.objects.get().file.read() == LOG


@pytest.mark.django_db
def test_an_expired_request_takes_no_upload(client, pending):
    request = pending(TOKEN, expires_at=timezone.now() - timedelta(seconds=1))
    response = client.put(url(name="late.log"), LOG, content_type="text/plain")
    assert response.status_code == 403 and b"expired" in response.content
    request.refresh_from_db()
    assert not request.has_file


@pytest.mark.django_db
def test_a_request_the_charger_rejected_takes_no_upload(client, pending):
    pending(TOKEN, status=DiagnosticsStatus.REJECTED)
    assert client.put(url(name="x.log"), LOG, content_type="text/plain").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("multipart", [False, True])
def test_a_body_over_the_limit_is_refused_with_413(client, pending, settings, multipart):
    settings.CSMS_DIAGNOSTICS_MAX_BYTES = 1000
    request = pending(TOKEN)
    big = b"x" * 1001
    if multipart:
        response = client.post(url(), {"file": SimpleUploadedFile("big.log", big)})
    else:
        response = client.put(url(name="big.log"), big, content_type="application/octet-stream")
    assert response.status_code == 413
    request.refresh_from_db()
    assert not request.has_file and request.size_bytes is None
    # The same request still takes a file within the limit.
    assert client.put(url(name="ok.log"), b"x" * 1000, content_type="text/plain").status_code == 201


@pytest.mark.django_db
def test_a_declared_length_far_over_the_limit_is_refused_before_reading(client, pending, settings):
    settings.CSMS_DIAGNOSTICS_MAX_BYTES = 1000
    pending(TOKEN)
    response = client.put(
        url(name="big.log"), b"small", content_type="text/plain", CONTENT_LENGTH=str(10_000_000)
    )
    assert response.status_code == 413


@pytest.mark.django_db
def test_other_methods_get_405(client, pending):
    pending(TOKEN)
    response = client.get(url(name="x.log"))
    assert response.status_code == 405 and response["Allow"] == "PUT, POST"


@pytest.mark.django_db
def test_an_empty_upload_is_refused_and_the_request_stays_open(client, pending):
    request = pending(TOKEN)
    assert client.put(url(name="x.log"), b"", content_type="text/plain").status_code == 400
    request.refresh_from_db()
    assert not request.has_file


@pytest.mark.django_db
def test_a_path_in_the_file_name_does_not_escape_the_directory(client, pending, diagnostics_dir):
    request = pending(TOKEN)
    upload = SimpleUploadedFile("../../etc/passwd", LOG)
    assert client.post(url(), {"file": upload}).status_code == 201
    request.refresh_from_db()
    assert request.file.path.startswith(str(diagnostics_dir))
    assert "/" not in request.file_name


@pytest.mark.django_db
def test_a_broken_multipart_body_gets_400_and_the_request_stays_open(client, pending):
    request = pending(TOKEN)
    response = client.generic(
        "POST", url(), b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 400
    request.refresh_from_db()
    assert not request.has_file
