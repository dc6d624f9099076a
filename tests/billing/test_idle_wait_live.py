"""Billing waits for the unplug, over a live socket: an OCPP 1.6 charger (a real WebSocket to daphne,
Celery running inline in the gateway as without Redis) charges, stops the transaction with the car
still plugged in and reports Finishing, then Available 40 minutes later; the gateway bills the
session only then, with the idle minutes past the grace period on the invoice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.domain import InvoiceKind, PriceLineKind
from billing.models import Invoice, SessionPrice
from stations.ocpp.base import format_timestamp
from tests.billing.invoicing_fixtures import driver_with_card, operator, site_of
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.factories import STATION_PASSWORD, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

D = Decimal


def status(state: str, at: datetime) -> dict:
    return {"connectorId": 1, "errorCode": "NoError", "status": state, "timestamp": format_timestamp(at)}


def register(wh: int, at: datetime) -> dict:
    sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    return {"timestamp": format_timestamp(at), "sampledValue": [sample | {"context": "Sample.Periodic"}]}


def test_a_1_6_session_stopped_before_the_unplug_is_billed_at_the_unplug_with_its_idle_minutes(gateway):
    station = StationFactory(site=site_of(operator()))
    tariff = TariffFactory(
        organization=station.site.organization,
        energy_price_per_kwh=D("0.40"),
        idle_price_per_min=D("0.10"),
        idle_grace_min=10,
    )
    TariffAssignmentFactory(tariff=tariff, site=station.site)
    tag = driver_with_card("unplug@example.com")[1].id_tag  # no saved card: an invoice on account
    stop = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    start = stop - timedelta(hours=1)

    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.result("BootNotification", load_payload("v16", "boot_notification"))
        client.result("StatusNotification", status("Preparing", start - timedelta(seconds=10)))
        started = client.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": tag, "meterStart": 1000, "timestamp": format_timestamp(start)},
        )
        tx = started["transactionId"]
        client.result("StatusNotification", status("Charging", start + timedelta(seconds=1)))
        client.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [register(6000, start + timedelta(minutes=30))],
            },
        )
        client.result(
            "StopTransaction",
            {
                "transactionId": tx,
                "meterStop": 11_000,
                "timestamp": format_timestamp(stop),
                "reason": "Remote",
            },
        )
        client.result("StatusNotification", status("Finishing", stop + timedelta(seconds=1)))
        # Each reply follows its commit and what the commit set off: the billing decided to wait.
        assert not SessionPrice.objects.exists() and not Invoice.objects.exists()

        client.result("StatusNotification", status("Available", stop + timedelta(minutes=40)))
        price = SessionPrice.objects.get()
        invoice = Invoice.objects.get()

    assert (price.energy_wh, price.charging_s, price.idle_s) == (10_000, 3600, 2400)
    idle = price.lines.get(kind=PriceLineKind.IDLE)
    assert (idle.description, idle.quantity, idle.amount) == (
        "Idle time after 10 min grace",
        D("30.0000"),
        D("3.00"),
    )
    assert price.gross == D("7.00")  # 10 kWh x 0.40 + 30 min x 0.10
    assert (invoice.kind, invoice.gross, invoice.session_id) == (
        InvoiceKind.INVOICE,
        D("7.00"),
        price.session_id,
    )
