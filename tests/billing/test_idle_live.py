"""Idle fees over a live socket: the charger's messages as sent, the session billed by the gateway's
own billing run when the stop arrives, and the stored price read back.

OCPP 1.6 chargers end the transaction (StopTransaction) and report Available only when the car
leaves; OCPP 2.0.1 chargers usually end it at the unplug (TransactionEvent Ended, EVDisconnected)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain import PriceLineKind
from billing.models import SessionPrice
from tests.billing.invoicing_fixtures import driver_with_card, operator, site_of
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.factories import STATION_PASSWORD, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

D = Decimal
TX_201 = "9d0c1e52-77aa-4d5e-8f0b-3c1f2b6a9e10"


@pytest.fixture
def gateway(gateways):
    """Billing waits for no unplug here, whatever the clock says of the fixtures' 11:00 stop: these tests
    are about idle time (test_idle_wait_live.py is about the wait)."""
    return gateways("idle", CSMS_IDLE_BILLING_WAIT_MIN="0")


@pytest.fixture
def station():
    return StationFactory(site=site_of(operator()))


@pytest.fixture
def tariff(station):
    tariff = TariffFactory(
        organization=station.site.organization,
        energy_price_per_kwh=D("0.40"),
        idle_price_per_min=D("0.10"),
        idle_grace_min=10,
    )
    TariffAssignmentFactory(tariff=tariff, site=station.site)
    return tariff


@pytest.fixture
def tag():
    return driver_with_card("idle@example.com")[1].id_tag  # no saved card: billed on account


def status_16(state: str, at: str) -> dict:
    return {"connectorId": 1, "errorCode": "NoError", "status": state, "timestamp": at}


def charge_16(client, tag: str) -> int:
    """Start at 10:00 and charge 11.843 kWh; the charger has not stopped yet."""
    client.result("StatusNotification", status_16("Preparing", "2026-11-25T09:59:50Z"))
    started = client.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": tag, "meterStart": 1000, "timestamp": "2026-11-25T10:00:00Z"},
    )
    client.result("StatusNotification", status_16("Charging", "2026-11-25T10:00:01Z"))
    return started["transactionId"]


def stop_16(tx: int) -> dict:
    stop = load_payload("v16", "stop_transaction", tx=tx)  # 11:00, 12 843 Wh
    stop["reason"] = "Remote"  # the driver stopped it in the app; the car stays plugged in
    return stop


def idle_of(price: SessionPrice) -> tuple[int, list[tuple[Decimal, Decimal]]]:
    lines = price.lines.filter(kind=PriceLineKind.IDLE).values_list("quantity", "amount")
    return price.idle_s, list(lines)


def test_a_1_6_stop_delivered_after_the_unplug_wait_is_billed_at_once_with_idle_up_to_the_stop(
    gateway, station, tariff, tag
):
    # The stop arrives more than CSMS_IDLE_BILLING_WAIT_MIN (0 here) after it happened: billing waits
    # no more (test_idle_wait_live.py has a stop on time).
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.result("BootNotification", load_payload("v16", "boot_notification"))
        tx = charge_16(client, tag)
        client.result("StopTransaction", stop_16(tx))  # billed now, the car still plugged in
        client.result("StatusNotification", status_16("Finishing", "2026-11-25T11:00:01Z"))
        client.result("StatusNotification", status_16("Available", "2026-11-25T11:40:00Z"))
    price = SessionPrice.objects.get(session__station=station)
    assert (price.charging_s, *idle_of(price)) == (3600, 0, [])


def test_a_1_6_unplug_reported_before_the_queued_stop_bills_idle_up_to_it(gateway, station, tariff, tag):
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.result("BootNotification", load_payload("v16", "boot_notification"))
        tx = charge_16(client, tag)
    # Offline from 11:00; the car left at 11:40. Back online, the charger reports its connector, then
    # delivers the StopTransaction it queued.
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.result("StatusNotification", status_16("Available", "2026-11-25T11:40:00Z"))
        client.result("StopTransaction", stop_16(tx))
    price = SessionPrice.objects.get(session__station=station)
    assert (price.charging_s, *idle_of(price)) == (3600, 2400, [(D("30.0000"), D("3.00"))])


@pytest.mark.parametrize(("from_suspended_ev", "charging_s", "idle_s"), [(False, 1800, 0), (True, 1200, 600)])
def test_a_2_0_1_session_ended_by_the_unplug_idles_only_from_suspended_ev_when_the_tariff_says_so(
    gateway, station, tariff, tag, from_suspended_ev, charging_s, idle_s
):
    tariff.idle_from_suspended_ev = from_suspended_ev
    tariff.save()

    def event(name: str, **info: str) -> dict:
        payload = load_payload("v201", f"transaction_{name}", tx=TX_201, id_tag=tag)
        payload["transactionInfo"].update(info)
        return payload

    full = event("updated", chargingState="SuspendedEV")  # the car is full at 10:20
    full["timestamp"] = full["meterValue"][0]["timestamp"] = "2026-11-25T10:20:00.000Z"
    full["meterValue"][0]["sampledValue"][0]["value"] = 6500
    full["seqNo"] = 2
    ended = event("ended")  # 10:30, EVDisconnected: the unplug ends the transaction
    ended["seqNo"] = 3
    available = {"timestamp": "2026-11-25T10:30:00.000Z", "connectorStatus": "Available", "evseId": 1}
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=("ocpp2.0.1",)) as client:
        client.result("BootNotification", load_payload("v201", "boot_notification"))
        client.result("TransactionEvent", event("started"))  # EVConnected
        client.result("TransactionEvent", event("updated"))  # Charging
        client.result("TransactionEvent", full)
        client.result("TransactionEvent", ended)
        client.result("StatusNotification", available | {"connectorId": 1})
    price = SessionPrice.objects.get(session__station=station)
    assert (price.energy_wh, price.charging_s, price.idle_s) == (5500, charging_s, idle_s)
    assert not price.lines.filter(kind=PriceLineKind.IDLE).exists()  # within the 10 min grace
