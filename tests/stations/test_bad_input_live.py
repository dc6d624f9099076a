"""Bad frames get the CallError the 1.6 specification names, and the socket stays open."""

from __future__ import annotations

import json

import pytest

from stations.models import ChargingSession, Frame
from tests.factories import STATION_PASSWORD, StationFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(gateway):
    station = StationFactory()
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.station = station
        yield client
        # whatever came before, the connection still serves a normal call
        assert client.result("Heartbeat", {})["currentTime"]


@pytest.mark.parametrize(
    ("text", "unique_id"),
    [
        ("this is not json", "-1"),
        ('{"not": "an array"}', "-1"),
        ("[]", "-1"),
        ('[2, 17, "Heartbeat", {}]', "-1"),
        ('[7, "x", "Heartbeat", {}]', "x"),
    ],
)
def test_unparseable_frames_get_a_call_error_with_the_id_if_it_can_be_read(client, text, unique_id):
    frame = client.send_raw(text)
    assert frame[:3] == [4, unique_id, "FormationViolation"]
    assert Frame.objects.filter(identity=client.station.identity, direction="in", text=text).exists()


def test_a_call_with_the_wrong_number_of_elements_is_a_protocol_error(client):
    assert client.send_raw('[2, "a1", "Heartbeat"]')[:3] == [4, "a1", "ProtocolError"]


def test_a_call_whose_payload_is_not_an_object_is_a_formation_violation(client):
    assert client.send_raw('[2, "a2", "Heartbeat", []]')[:3] == [4, "a2", "FormationViolation"]


def test_an_unknown_action_is_not_implemented(client):
    assert client.call("FlyToTheMoon", {}, unique_id="u1")[:3] == [4, "u1", "NotImplemented"]


def test_an_action_only_the_csms_sends_is_not_supported(client):
    assert client.call("RemoteStartTransaction", {"idTag": "X"}, unique_id="u2")[:3] == [
        4,
        "u2",
        "NotSupported",
    ]


@pytest.mark.parametrize(
    ("action", "payload", "code", "field"),
    [
        (
            "BootNotification",
            {"chargePointVendor": 42, "chargePointModel": "X"},
            "TypeConstraintViolation",
            "chargePointVendor",
        ),
        (
            "BootNotification",
            {"chargePointVendor": "V" * 21, "chargePointModel": "X"},
            "TypeConstraintViolation",
            "chargePointVendor",
        ),
        ("BootNotification", {"chargePointModel": "X"}, "ProtocolError", "payload"),
        ("Heartbeat", {"unexpected": True}, "FormationViolation", "payload"),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            "PropertyConstraintViolation",
            "status",
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "yesterday"},
            "PropertyConstraintViolation",
            None,
        ),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation", "meterValue"),
    ],
)
def test_schema_violations_get_the_specified_error_code(client, action, payload, code, field):
    frame = client.call(action, payload, unique_id="s1")
    assert frame[:3] == [4, "s1", code], frame
    if field:
        assert frame[4]["field"] == field
    assert not ChargingSession.objects.exists()


def test_a_start_on_connector_zero_is_refused_and_stores_nothing(client):
    frame = client.call(
        "StartTransaction",
        {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-25T10:00:00Z"},
        unique_id="z",
    )
    assert frame[:3] == [4, "z", "PropertyConstraintViolation"]
    assert not ChargingSession.objects.exists()


def test_unsolicited_results_and_errors_are_journaled_and_not_answered(client):
    client.ws.send(json.dumps([3, "nobody-asked", {}]))
    client.ws.send(json.dumps([4, "nobody-asked-2", "GenericError", "", {}]))
    assert client.result("Heartbeat", {})  # the next frame received is the heartbeat's answer
    assert Frame.objects.filter(unique_id__startswith="nobody-asked", direction="in").count() == 2


def test_a_binary_frame_is_answered_like_text(client):
    client.ws.send(json.dumps([2, "b1", "Heartbeat", {}]).encode())
    assert client.next_frame()[:2] == [3, "b1"]


def test_a_failure_inside_the_csms_is_an_internal_error_and_the_socket_stays_open(client):
    type(client.station).objects.filter(pk=client.station.pk).delete()  # gone while connected
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    assert client.call("StatusNotification", status, unique_id="boom")[:3] == [4, "boom", "InternalError"]
    assert Frame.objects.filter(unique_id="boom", direction="out", message_type=4).exists()
