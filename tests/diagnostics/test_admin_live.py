"""The admin's "Request diagnostics / log" command on a live gateway (no Redis needed: the admin runs in
the process that holds the charger's socket), followed through to the stored file, for both versions."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest
import requests
from channels.db import database_sync_to_async
from django.test import Client

from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.diagnostics.models import DiagnosticsRequest
from stations.models import Station
from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import TagPool
from tests.factories import STATION_PASSWORD, StationFactory, UserFactory

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
        charger = SimulatedCharger(
            station.identity,
            ChargerOptions(
                url=gateway.url, password=STATION_PASSWORD, session_every_s=1000.0, strict=True, ocpp=version
            ),
            tags=TagPool([]),
        )
        task = asyncio.create_task(charger.run())
        try:
            await asyncio.wait_for(charger.online.wait(), 10)
            online = Station.objects.filter(pk=station.pk, is_online=True).exists
            for _ in range(100):
                if await database_sync_to_async(online, thread_sensitive=False)():
                    break
                await asyncio.sleep(0.05)
            response = await asyncio.to_thread(admin_post, base, session_id, form)
            uploaded = DiagnosticsRequest.objects.filter(
                station=station, status=DiagnosticsStatus.UPLOADED, sha256__gt=""
            ).exists
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not await database_sync_to_async(uploaded)():
                await asyncio.sleep(0.1)
        finally:
            charger.halt()
            await asyncio.wait_for(task, 10)
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
