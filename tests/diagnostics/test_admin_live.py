"""The admin's "Request diagnostics / log" command on a live gateway (no Redis needed: the admin runs in
the process that holds the charger's socket), followed through to the stored file, for both versions."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import requests
from django.test import Client

from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.diagnostics.models import DiagnosticsRequest
from stations.models import Station
from tests.factories import StationFactory, UserFactory
from tests.simulator_live import charger_online, eventually_in_db

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def admin_post(base: str, session_id: str, data: dict[str, Any]) -> requests.Response:
    """POST to the charger changelist as a logged-in browser would (session and CSRF cookies)."""
    csrf = secrets.token_hex(16)  # 32 characters: Django takes an unmasked secret equal to the cookie
    return requests.post(
        f"{base}/admin/stations/station/",
        data={**data, "csrfmiddlewaretoken": csrf},
        cookies={"sessionid": session_id, "csrftoken": csrf},
        headers={"Referer": f"{base}/admin/stations/station/"},
        timeout=60,
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_admin_command_brings_the_log_into_the_admin(version, gateways, diagnostics_dir):
    gateway = gateways("diagnostics-admin", CSMS_DIAGNOSTICS_DIR=str(diagnostics_dir))
    base = f"http://127.0.0.1:{gateway.port}"
    station = StationFactory(identity=f"SIM-DGA-{version}")
    browser = Client()
    browser.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    session_id = browser.cookies["sessionid"].value
    form = {
        "action": "command_diagnostics",
        "_selected_action": str(station.pk),
        "apply": "1",
        "command-kind": LogKind.DIAGNOSTICS,
        "command-retries": "1",
        "command-upload_base_url": base,
        "command-timeout_s": "10",
    }

    async def main() -> requests.Response:
        async with charger_online(station.identity, gateway.url, version) as charger:
            await eventually_in_db(Station.objects.filter(pk=station.pk, is_online=True).exists, 5)
            response = await asyncio.to_thread(admin_post, base, session_id, form)
            uploaded = DiagnosticsRequest.objects.filter(
                station=station, status=DiagnosticsStatus.UPLOADED, sha256__gt=""
            ).exists
            await eventually_in_db(uploaded)
        assert charger.stats.protocol_errors == []
        return response

    response = asyncio.run(main())
    assert response.status_code == 200, response.text[-2000:]
    assert f"Diagnostics log of {station.identity}: accepted by the charger" in response.text
    request = DiagnosticsRequest.objects.get(station=station)
    assert request.status == DiagnosticsStatus.UPLOADED and request.requested_by == "admin:ops"
    assert request.retries == 1 and request.upload_url.startswith(f"{base}/diagnostics/upload/")
    assert request.size_bytes and request.size_bytes > 0

    download = requests.get(
        f"{base}/admin/diagnostics/diagnosticsrequest/{request.pk}/download/",
        cookies={"sessionid": session_id},
        timeout=10,
    )
    assert download.status_code == 200
    with request.file.open("rb") as stored:
        assert download.content == stored.read()
