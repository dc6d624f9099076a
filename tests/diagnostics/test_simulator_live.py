"""A request over the live gateway to a simulated 1.6 and 2.0.1 charger (1.6: GetDiagnostics, and for the
security log GetLog of the security extension): the charger uploads a real file by HTTP to the gateway,
the CSMS stores it and follows the status notifications to Uploaded (or to the failure, with an alert,
when the upload is refused)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from accounts.domain import Role
from stations.alerts.models import Alert
from stations.credentials import HIDDEN
from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.diagnostics.models import DiagnosticsRequest
from stations.diagnostics.services import diagnostics_request
from stations.models import Frame, OutgoingCall, Station
from tests.factories import MembershipFactory, SiteFactory, StationFactory
from tests.simulator_live import charger_online, eventually_in_db, in_db

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
# (version, log): 1.6 diagnostics by GetDiagnostics, security logs by GetLog.
LOGS = [("1.6", LogKind.DIAGNOSTICS), ("1.6", LogKind.SECURITY), ("2.0.1", LogKind.SECURITY)]


def use_gateway(gateways: Any, settings: Any, diagnostics_dir: Any, **env: str) -> Any:
    """A gateway sharing this test's Redis and upload directory; requests name its HTTP address."""
    from tests.conftest import redis_test_url

    url = redis_test_url()
    gateway = gateways("diagnostics", REDIS_URL=url, CSMS_DIAGNOSTICS_DIR=str(diagnostics_dir), **env)
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    settings.CSMS_DIAGNOSTICS_UPLOAD_URL = f"http://127.0.0.1:{gateway.port}"
    return gateway


def run_with_charger(gateway: Any, station: Station, version: str, scenario: Callable[[], Any]) -> Any:
    """Connect a simulated charger, run `scenario` in a thread once it is online, then wait for the
    request to settle (uploaded or failed) before the charger goes."""

    async def main() -> Any:
        async with charger_online(station.identity, gateway.url, version) as charger:
            await eventually_in_db(Station.objects.filter(pk=station.pk, is_online=True).exists, 5)
            request = await in_db(scenario)
            settled = DiagnosticsRequest.objects.filter(
                pk=request.pk, status__in=[DiagnosticsStatus.UPLOADED, DiagnosticsStatus.FAILED]
            ).exists
            await eventually_in_db(settled)
            await asyncio.sleep(0.5)  # the last status notification's journal row
        assert charger.stats.protocol_errors == []
        return request

    return asyncio.run(main())


@pytest.mark.parametrize(("version", "kind"), LOGS)
def test_a_requested_log_is_uploaded_stored_and_downloadable_by_its_owner_only(
    version, kind, gateways, settings, diagnostics_dir, client
):
    gateway = use_gateway(gateways, settings, diagnostics_dir)
    staff = MembershipFactory(role=Role.VIEWER)
    station = StationFactory(
        identity=f"SIM-DG-{version}-{kind}", site=SiteFactory(organization=staff.organization)
    )
    by_get_log = kind == LogKind.SECURITY

    def request_log() -> DiagnosticsRequest:
        return diagnostics_request(station=Station.objects.get(pk=station.pk), kind=kind, requested_by="test")

    request = run_with_charger(gateway, station, version, request_log)
    request.refresh_from_db()
    assert request.status == DiagnosticsStatus.UPLOADED, request.status_info
    assert request.answered_at is not None and request.charger_file_name.startswith("SIM-DG-")
    assert request.file_name == request.charger_file_name  # 1.6 PUT to location + name, 2.0.1 multipart
    with request.file.open("rb") as stored:
        content = stored.read()
    assert content.startswith(b"20") and b"SIM-DG-" in content
    assert (request.size_bytes, request.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    asks = Frame.objects.filter(identity=station.identity, message_type=2)
    sent = asks.get(action__in=["GetLog", "GetDiagnostics"])
    if by_get_log:
        assert request.request_id == request.pk and sent.action == "GetLog"
        assert '"logType": "SecurityLog"' in sent.text or '"logType":"SecurityLog"' in sent.text
    else:
        assert request.request_id is None and sent.action == "GetDiagnostics"
    # The charger got the one-time upload URL; nothing stored holds its token.
    hidden = f"/diagnostics/upload/{HIDDEN}/"
    stored = OutgoingCall.objects.get(station=station, action=sent.action)
    assert hidden in sent.text and hidden in json.dumps(stored.payload, ensure_ascii=False)
    assert request.upload_url.endswith(hidden)
    statuses = Frame.objects.filter(
        identity=station.identity,
        action="LogStatusNotification" if by_get_log else "DiagnosticsStatusNotification",
        message_type=2,
    ).count()
    assert statuses == 2  # Uploading, Uploaded

    url = reverse("admin:diagnostics_diagnosticsrequest_download", args=[request.pk])
    client.force_login(staff.user)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
    client.force_login(MembershipFactory(role=Role.OWNER).user)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_refused_upload_fails_the_request_and_raises_an_alert(version, gateways, settings, diagnostics_dir):
    gateway = use_gateway(gateways, settings, diagnostics_dir, CSMS_DIAGNOSTICS_MAX_BYTES="10")
    station = StationFactory(identity=f"SIM-DG-BIG-{version}")

    def request_log() -> DiagnosticsRequest:
        return diagnostics_request(station=Station.objects.get(pk=station.pk))

    request = run_with_charger(gateway, station, version, request_log)
    request.refresh_from_db()
    assert request.status == DiagnosticsStatus.FAILED and not request.has_file
    alert = Alert.objects.get(key=f"diagnostics:{request.pk}")
    assert alert.station_id == station.pk and alert.closed_at is None
