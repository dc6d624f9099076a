"""Who may open a socket: subprotocol, HTTP Basic auth (security profile 1), auto-registration."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import InvalidStatus

from stations.domain import RegistrationStatus
from stations.models import Station
from stations.ocpp.consumer import _handshake_slots
from tests.communicators import charger_communicator, connected_charger
from tests.factories import STATION_PASSWORD, StationFactory
from tests.simulator_live import wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def refused_status(gateway, identity, password, subprotocols=("ocpp1.6",)) -> int:
    with pytest.raises(InvalidStatus) as refused:
        gateway.client(identity, password, subprotocols=subprotocols)
    return refused.value.response.status_code


def test_a_charger_with_its_password_is_connected_and_marked_online(gateway):
    station = StationFactory()
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        assert client.subprotocol == "ocpp1.6"
        station.refresh_from_db()
        assert station.is_online and station.protocol == "ocpp1.6" and station.connected_at is not None


def test_the_newest_common_subprotocol_is_chosen_from_those_offered(gateway):
    station = StationFactory()
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=("ocpp0.9", "ocpp1.6")) as client:
        assert client.subprotocol == "ocpp1.6"


def test_a_handshake_without_a_supported_subprotocol_is_refused(gateway):
    station = StationFactory()
    assert refused_status(gateway, station.identity, STATION_PASSWORD, subprotocols=("ocpp1.5",)) == 403
    assert refused_status(gateway, station.identity, STATION_PASSWORD, subprotocols=()) == 403


@pytest.mark.parametrize("password", [None, "", "wrong-password-0123456"])
def test_a_missing_or_wrong_password_is_refused_before_the_socket_opens(gateway, password):
    station = StationFactory()
    assert refused_status(gateway, station.identity, password) == 403
    station.refresh_from_db()
    assert not station.is_online


def test_credentials_of_another_charger_are_refused(gateway):
    station, other = StationFactory(), StationFactory()
    with pytest.raises(InvalidStatus):
        # Basic username is the other charger's identity, with its valid password
        from tests.ocpp_client import OcppClient

        OcppClient(f"{gateway.url}/{station.identity}", identity=other.identity, password=STATION_PASSWORD)


def test_an_unknown_identity_is_refused_without_auto_registration(gateway):
    assert refused_status(gateway, "NOT-REGISTERED", STATION_PASSWORD) == 403
    assert not Station.objects.filter(identity="NOT-REGISTERED").exists()


def test_auto_registration_enrols_an_unknown_charger_as_pending_until_staff_accept_it(gateways):
    gateway = gateways("autoregister", CSMS_AUTO_REGISTER="1")
    with gateway.client("NEW-CHARGER-1", STATION_PASSWORD) as client:
        boot = client.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X1"})
        assert boot["status"] == "Pending"
        refused = client.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-25T10:00:00Z"},
        )
        assert refused[:3] == [4, refused[1], "SecurityError"]
    station = Station.objects.get(identity="NEW-CHARGER-1")
    assert station.registration_status == RegistrationStatus.PENDING and station.vendor == "Acme"

    Station.objects.filter(pk=station.pk).update(registration_status=RegistrationStatus.ACCEPTED)
    with gateway.client("NEW-CHARGER-1", STATION_PASSWORD) as client:
        assert (
            client.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X1"})[
                "status"
            ]
            == "Accepted"
        )
    # the password given at enrolment is now the charger's
    assert refused_status(gateway, "NEW-CHARGER-1", "another-password-0123") == 403


def test_a_second_connection_replaces_the_first_cleanly(gateway):
    station = StationFactory()
    first = gateway.client(station.identity, STATION_PASSWORD)
    second = gateway.client(station.identity, STATION_PASSWORD)
    assert first.closed.wait(5), "the replaced connection must be closed"
    assert first.ws.close_code == 4000
    assert second.result("Heartbeat", {})["currentTime"]
    station.refresh_from_db()
    assert station.is_online, "closing the replaced socket must not mark the charger offline"
    second.close()
    assert wait_until(lambda: not Station.objects.get(pk=station.pk).is_online, 5)


@pytest.mark.django_db(transaction=True)
async def test_a_handshake_that_finds_no_free_slot_in_time_is_refused_not_queued(settings):
    """Admission control: during a reconnect storm the gateway refuses (the charger retries) rather
    than queueing handshakes past daphne's own handshake timeout."""
    settings.CSMS_HANDSHAKE_WAIT_S = 0.2
    station = await database_sync_to_async(StationFactory)()
    slots = _handshake_slots(asyncio.get_running_loop())
    taken = 0
    while not slots.locked():
        await slots.acquire()
        taken += 1
    try:
        refused = charger_communicator(station.identity)
        connected, _ = await refused.connect(timeout=5)
        assert not connected
    finally:
        for _ in range(taken):
            slots.release()
    charger = await connected_charger(station.identity)  # a free slot again: admitted
    await charger.disconnect()
