"""Status notifications move the request they belong to: 1.6 the station's latest, 2.0.1 by requestId."""

from __future__ import annotations

import json
import uuid

import pytest

from stations.alerts.models import Alert
from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp201
from tests.factories import StationFactory


class Charger:
    """A connected charger's adapter, fed whole OCPP-J frames (validated against the schemas)."""

    def __init__(self, cls, station):
        self.adapter = cls(identity=station.identity, station_id=station.pk, accepted=True)

    def dispatch(self, action, payload):
        processed = self.adapter.process(json.dumps([2, str(uuid.uuid4()), action, payload]))
        assert json.loads(processed.reply)[0] == 3, processed.reply


def adapter(cls, station):
    return Charger(cls, station)


@pytest.mark.django_db
def test_a_16_notification_moves_the_latest_request_of_that_station_only(pending):
    station, other = StationFactory(), StationFactory()
    older, latest = pending("old-token", station), pending("new-token", station)
    elsewhere = pending("other-token", other)
    ocpp = adapter(Ocpp16, station)
    ocpp.dispatch("DiagnosticsStatusNotification", {"status": "Uploading"})
    for row in (older, latest, elsewhere):
        row.refresh_from_db()
    assert (older.status, latest.status, elsewhere.status) == ("accepted", "uploading", "accepted")
    ocpp.dispatch("DiagnosticsStatusNotification", {"status": "Idle"})  # says nothing about a request
    latest.refresh_from_db()
    assert latest.status == DiagnosticsStatus.UPLOADING


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", [Ocpp201, Ocpp16])  # 1.6: the security extension's LogStatusNotification
def test_a_log_status_notification_names_its_request_and_a_failure_raises_an_alert(pending, protocol):
    station = StationFactory()
    first = pending("first-token", station, request_id=41)
    second = pending("second-token", station, request_id=42)
    ocpp = adapter(protocol, station)
    ocpp.dispatch("LogStatusNotification", {"status": "UploadFailure", "requestId": 41})
    ocpp.dispatch("LogStatusNotification", {"status": "Uploading", "requestId": 42})
    ocpp.dispatch("LogStatusNotification", {"status": "Uploaded", "requestId": 999})  # unknown: ignored
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == ("failed", "uploading")
    alert = Alert.objects.get(key=f"diagnostics:{first.pk}")
    assert alert.station == station and alert.closed_at is None

    # The charger retries within the request's retries and succeeds: the alert closes itself.
    ocpp.dispatch("LogStatusNotification", {"status": "Uploaded", "requestId": 41})
    first.refresh_from_db(), alert.refresh_from_db()
    assert first.status == DiagnosticsStatus.UPLOADED and alert.closed_at is not None


@pytest.mark.django_db
def test_a_late_uploading_does_not_undo_uploaded(pending):
    station = StationFactory()
    request = pending("token", station, status=DiagnosticsStatus.UPLOADED)
    adapter(Ocpp16, station).dispatch("DiagnosticsStatusNotification", {"status": "Uploading"})
    request.refresh_from_db()
    assert request.status == DiagnosticsStatus.UPLOADED


@pytest.mark.django_db(transaction=True)  # the call runs its queries in another thread
def test_the_command_line_records_a_request_to_an_offline_charger_as_failed():
    from django.core.management import CommandError, call_command

    from stations.diagnostics.models import DiagnosticsRequest

    station = StationFactory(protocol="ocpp1.6", is_online=False)
    with pytest.raises(CommandError, match="offline"):
        call_command("diagnostics", "request", station.identity, "--since", "2026-01-01T00:00Z")
    request = DiagnosticsRequest.objects.get(station=station)
    assert request.status == DiagnosticsStatus.FAILED and request.requested_by == "cli"
    assert request.since.year == 2026 and not Alert.objects.exists()  # the caller sees it: no alert
    # A 1.6 charger's security log is asked for by GetLog (the security extension), like any other.
    with pytest.raises(CommandError, match="offline"):
        call_command("diagnostics", "request", station.identity, "--kind", "security")
    security = DiagnosticsRequest.objects.get(station=station, kind=LogKind.SECURITY)
    assert (security.status, security.request_id) == (DiagnosticsStatus.FAILED, security.pk)
