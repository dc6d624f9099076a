"""Faults open an alert, repeat into it, and close when the charger reports health again: 1.6 status
reports (Faulted, error codes), 2.0.1 status, NotifyEvent and SecurityEventNotification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stations.alerts.domain import AlertKind, Severity
from stations.alerts.models import Alert
from stations.ocpp.base import format_timestamp
from tests.alerts.conftest import MANAGER_EMAIL, frame, send

pytestmark = pytest.mark.django_db

AT = format_timestamp(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))


def status16(adapter, status: str, error_code: str = "NoError", connector_id: int = 1) -> None:  # type: ignore[no-untyped-def]
    payload = {"connectorId": connector_id, "errorCode": error_code, "status": status, "timestamp": AT}
    if error_code != "NoError":
        payload["vendorErrorCode"] = "E-0042"
    send(adapter, "StatusNotification", payload)


@pytest.mark.parametrize(
    ("status", "error_code", "severity"),
    [("Faulted", "GroundFailure", Severity.CRITICAL), ("Available", "HighTemperature", Severity.WARNING)],
)
def test_a_16_fault_opens_once_mails_the_manager_once_and_closes_on_no_error(
    status, error_code, severity, station, charger16, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        status16(charger16, status, error_code)
        status16(charger16, status, error_code)
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity, alert.count, alert.evse_id) == (AlertKind.FAULT, severity, 2, 1)
    assert alert.evidence["error_code"] == error_code and alert.evidence["vendor_error_code"] == "E-0042"
    assert alert.site == station.site and alert.closed_at is None
    assert [m.to for m in outbox] == [[MANAGER_EMAIL]]

    with django_capture_on_commit_callbacks(execute=True):
        status16(charger16, "Charging")  # another connector's fault would not close this one
        status16(charger16, "Available", connector_id=2)
    alert.refresh_from_db()
    assert alert.closed_at is not None and "Charging" in alert.close_reason
    assert len(outbox) == 2 and "cleared" in outbox[1].body


def test_a_16_fault_of_the_whole_charger_is_its_own_alert(charger16, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        status16(charger16, "Faulted", "PowerMeterFailure", connector_id=0)
        status16(charger16, "Available", connector_id=1)
    alert = Alert.objects.get()
    assert alert.is_open and alert.evse_id is None and "PowerMeterFailure" in alert.summary


def test_a_201_faulted_connector_opens_and_available_closes(charger201, django_capture_on_commit_callbacks):
    payload = {"timestamp": AT, "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1}
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "StatusNotification", payload)
    assert Alert.objects.open().get().kind == AlertKind.FAULT
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "StatusNotification", {**payload, "connectorStatus": "Available"})
    assert not Alert.objects.open().exists() and Alert.objects.count() == 1


def test_a_notify_event_alert_opens_with_its_evidence_and_closes_when_cleared(
    charger201, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "NotifyEvent", frame("notify_event_alerting"))
        send(charger201, "NotifyEvent", frame("notify_event_alerting"))
    alert = Alert.objects.get()  # the periodic Power report in the same message is no alert
    assert (alert.kind, alert.count, alert.evse_id) == (AlertKind.FAULT, 2, 1)
    assert alert.evidence["tech_info"] == "Power module 2 above upper threshold"
    assert alert.evidence["component"] == "PowerModule[2]" and alert.evidence["actual_value"] == "87.5"
    assert len(outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "NotifyEvent", frame("notify_event_alerting_cleared"))
    alert.refresh_from_db()
    assert alert.closed_at is not None


def test_a_problem_component_opens_and_closes(charger201, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "NotifyEvent", frame("notify_event_problem", value="true"))
    alert = Alert.objects.open().get()
    assert alert.evse_id == 2 and "RCD Problem" in alert.summary
    with django_capture_on_commit_callbacks(execute=True):
        send(charger201, "NotifyEvent", frame("notify_event_problem", value="false"))
    assert not Alert.objects.open().exists()


@pytest.mark.parametrize("charger", ["charger201", "charger16"])  # 1.6: the security extension
def test_a_security_event_opens_an_alert_and_a_routine_one_does_not(
    charger, request, outbox, django_capture_on_commit_callbacks
):
    adapter = request.getfixturevalue(charger)
    with django_capture_on_commit_callbacks(execute=True):
        send(
            adapter,
            "SecurityEventNotification",
            frame("security_event_notification", type="ResetOrReboot"),
        )
        send(
            adapter,
            "SecurityEventNotification",
            frame("security_event_notification", type="TamperDetectionActivated"),
        )
        send(
            adapter,
            "SecurityEventNotification",
            frame("security_event_notification", type="TamperDetectionActivated"),
        )
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity, alert.count) == (AlertKind.SECURITY_EVENT, Severity.CRITICAL, 2)
    assert alert.evidence["tech_info"] == "Enclosure door opened without maintenance mode"
    assert len(outbox) == 1
