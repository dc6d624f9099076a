"""Billing waits for the unplug when the tariff has an idle fee: an OCPP 1.6 charger ends the
transaction (StopTransaction) before the car leaves and reports the unplug later (StatusNotification
Available). The charger's messages go through the gateway's adapter, as a socket would deliver them,
and what their commits set off (signals, receivers, eager Celery tasks) runs as it does in the gateway.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import IdToken, User
from billing.domain import InvoiceKind, PriceLineKind
from billing.models import Invoice, SessionPrice, Tariff
from billing.services.pricing import session_price
from billing.services.unplug_wait import sessions_awaiting_unplug, sessions_unplug_wait_over
from billing.tasks import session_bill_task, sessions_unplug_wait_over_task
from stations.models import ChargingSession, Station
from stations.ocpp.base import format_timestamp
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp201
from tests.billing.invoicing_fixtures import driver_with_card, operator
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.cli import command_output
from tests.factories import SiteFactory, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CSMS_IDLE_BILLING_WAIT_MIN = 240
    return mail.outbox


@dataclass
class Charger:
    """A 1.6 charger at an operator's site whose tariff has an idle fee, and a driver on account."""

    station: Station
    tariff: Tariff
    driver: User
    token: IdToken
    adapter: Ocpp16
    now: datetime

    def send(self, action: str, payload: dict) -> dict:
        reply = json.loads(
            self.adapter.process(json.dumps([2, f"m-{time.monotonic_ns()}", action, payload])).reply
        )
        assert reply[0] == 3, reply
        return reply[2]

    def status(self, state: str, at: datetime) -> None:
        payload = {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": state,
            "timestamp": format_timestamp(at),
        }
        self.send("StatusNotification", payload)

    def start(self, at: datetime, *, tag: str | None = None) -> int:
        payload = {"connectorId": 1, "idTag": tag or self.token.id_tag, "meterStart": 0}
        return self.send("StartTransaction", payload | {"timestamp": format_timestamp(at)})["transactionId"]

    def stop(self, tx: int, at: datetime, *, reason: str = "Remote", meter_stop_wh: int = 10_000) -> None:
        payload = {"transactionId": tx, "meterStop": meter_stop_wh, "timestamp": format_timestamp(at)}
        self.send("StopTransaction", payload | {"reason": reason})


def charger(*, idle_price: str = "0.10", grace_min: int = 10) -> Charger:
    org = operator()
    station = StationFactory(site=SiteFactory(organization=org, time_zone="Europe/Berlin"))
    tariff = TariffFactory(
        organization=org,
        energy_price_per_kwh=D("0.40"),
        idle_price_per_min=D(idle_price),
        idle_grace_min=grace_min,
    )
    TariffAssignmentFactory(tariff=tariff, site=station.site)
    driver, token = driver_with_card("idle-wait@example.com")  # no saved card: billed on account
    adapter = Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)
    now = timezone.now().replace(microsecond=0)
    return Charger(station, tariff, driver, token, adapter, now)


def charged(c: Charger, *, stopped_ago: timedelta = timedelta(minutes=60)) -> tuple[int, datetime]:
    """Charge for an hour up to `stopped_ago`; the charger has not stopped the transaction yet."""
    stop = c.now - stopped_ago
    c.status("Preparing", stop - timedelta(hours=1, seconds=10))
    tx = c.start(stop - timedelta(hours=1))
    c.status("Charging", stop - timedelta(hours=1) + timedelta(seconds=1))
    return tx, stop


def idle_line(price: SessionPrice) -> tuple[Decimal, Decimal] | None:
    line = price.lines.filter(kind=PriceLineKind.IDLE).first()
    return (line.quantity, line.amount) if line else None


def session() -> ChargingSession:
    return ChargingSession.objects.get()


def test_a_stop_before_the_unplug_is_billed_at_the_unplug_with_the_idle_minutes_after_grace(
    django_capture_on_commit_callbacks,
):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        c.stop(tx, stop)  # the driver stopped in the app; the car stays plugged in
        c.status("Finishing", stop + timedelta(seconds=1))
    assert not SessionPrice.objects.exists() and not Invoice.objects.exists()
    assert sessions_awaiting_unplug(connector_pk=session().connector_id) == [session().pk]

    with django_capture_on_commit_callbacks(execute=True):
        c.status("Available", stop + timedelta(minutes=40))
    price = SessionPrice.objects.get()
    assert (price.charging_s, price.idle_s, idle_line(price)) == (3600, 2400, (D("30.0000"), D("3.00")))
    assert price.gross == D("7.00")  # 10 kWh x 0.40 + 30 min x 0.10
    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.gross) == (InvoiceKind.INVOICE, D("7.00"))
    assert len(mail.outbox) == 1 and invoice.code in mail.outbox[0].subject
    assert sessions_awaiting_unplug(connector_pk=session().connector_id) == []


def test_an_unplug_reported_before_a_queued_stop_bills_at_the_stop(django_capture_on_commit_callbacks):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        # Offline from the stop; back online the charger reports its connector, then the queued stop.
        c.status("Available", stop + timedelta(minutes=25))
        assert not SessionPrice.objects.exists()
        c.stop(tx, stop)
    price = SessionPrice.objects.get()
    assert (price.idle_s, idle_line(price)) == (1500, (D("15.0000"), D("1.50")))
    assert Invoice.objects.count() == 1


def test_a_stop_and_an_unplug_committed_together_bill_once(django_capture_on_commit_callbacks):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
    # One group commit of the gateway: both messages in one transaction, their signals after it.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        c.stop(tx, stop)
        c.status("Available", stop + timedelta(minutes=12))
    assert len(callbacks) >= 2
    price = SessionPrice.objects.get()
    assert (price.idle_s, idle_line(price)) == (720, (D("2.0000"), D("0.20")))
    assert Invoice.objects.count() == 1 and len(mail.outbox) == 1


@pytest.mark.parametrize(
    "order",
    [
        ("stop", "unplug", "job"),
        ("unplug", "stop", "job"),
        ("stop", "job", "unplug"),
        ("stop", "stop", "unplug", "unplug", "job", "job"),
    ],
)
def test_whatever_the_order_of_stop_unplug_and_job_the_session_is_billed_once(
    order, django_capture_on_commit_callbacks
):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
    for event in order:
        with django_capture_on_commit_callbacks(execute=True):
            if event == "stop":
                c.stop(tx, stop)
            elif event == "unplug":
                c.status("Available", stop + timedelta(minutes=40))
            else:
                sessions_unplug_wait_over_task.apply()
            if event == "stop" and ChargingSession.objects.get().stopped_at is not None:
                session_bill_task.apply(kwargs={"session_id": session().pk})  # a worker's redelivery
    price = SessionPrice.objects.get()
    assert idle_line(price) == (D("30.0000"), D("3.00"))
    assert Invoice.objects.count() == 1 and len(mail.outbox) == 1


def test_the_job_bills_a_session_whose_wait_is_over_to_the_last_report_of_the_car_plugged_in(
    settings, django_capture_on_commit_callbacks
):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c, stopped_ago=timedelta(hours=3))
        c.stop(tx, stop)
        c.status("Finishing", stop + timedelta(seconds=1))
        # The charger reconnects and reports its connector again: the car is still there at +50 min.
        c.status("Finishing", stop + timedelta(minutes=50))
        sessions_unplug_wait_over_task.apply()  # within the 4 hours: it still waits
    assert not SessionPrice.objects.exists()
    assert sessions_unplug_wait_over(now=c.now) == [session().pk]  # a candidate, still waiting

    settings.CSMS_IDLE_BILLING_WAIT_MIN = 120  # two hours later, as far as the wait is concerned
    with django_capture_on_commit_callbacks(execute=True):
        sessions_unplug_wait_over_task.apply()
    price = SessionPrice.objects.get()
    assert (price.idle_s, idle_line(price)) == (3000, (D("40.0000"), D("4.00")))
    assert Invoice.objects.count() == 1
    assert sessions_unplug_wait_over(now=c.now) == []


def test_a_wait_over_without_any_later_report_charges_no_idle_time(
    settings, django_capture_on_commit_callbacks
):
    settings.CSMS_IDLE_BILLING_WAIT_MIN = 30
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)  # stopped an hour ago: past the wait already
        c.stop(tx, stop)
    price = SessionPrice.objects.get()  # billed at the stop: nothing says the car stayed
    assert (price.idle_s, idle_line(price)) == (0, None)


@pytest.mark.parametrize(
    ("idle_price", "reason", "waits"),
    [
        ("0.10", "Remote", True),
        ("0", "Remote", False),  # no idle fee: nothing to wait for
        ("0.10", "EVDisconnected", False),  # the stop is the unplug
    ],
)
def test_only_an_idle_fee_with_the_unplug_unknown_makes_billing_wait(
    idle_price, reason, waits, django_capture_on_commit_callbacks
):
    c = charger(idle_price=idle_price)
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        c.stop(tx, stop, reason=reason)
    assert SessionPrice.objects.exists() is not waits
    assert Invoice.objects.exists() is not waits


def test_the_next_car_s_session_ends_the_wait_of_the_one_before(django_capture_on_commit_callbacks):
    c = charger()
    other = driver_with_card("next@example.com")[1]
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        c.stop(tx, stop)
        # The Available was lost; the next car plugs in and starts.
        c.start(stop + timedelta(minutes=30), tag=other.id_tag)
        sessions_unplug_wait_over_task.apply()  # picks the first one up: it waits no more
    first = ChargingSession.objects.get(stopped_at__isnull=False)
    assert SessionPrice.objects.get().session == first
    assert Invoice.objects.get().session == first


def test_an_available_on_another_connector_bills_nothing(django_capture_on_commit_callbacks):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        c.stop(tx, stop)
        c.send(
            "StatusNotification",
            {
                "connectorId": 2,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": format_timestamp(c.now),
            },
        )
        c.send(
            "StatusNotification",
            {
                "connectorId": 0,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": format_timestamp(c.now),
            },
        )
    assert not SessionPrice.objects.exists()


def test_a_2_0_1_stop_with_the_car_still_plugged_in_is_billed_at_its_available(
    django_capture_on_commit_callbacks,
):
    c = charger()
    adapter = Ocpp201(identity=c.station.identity, station_id=c.station.pk, accepted=True)
    stop = c.now - timedelta(hours=1)

    def send(action: str, payload: dict) -> None:
        reply = json.loads(
            adapter.process(json.dumps([2, f"m-{time.monotonic_ns()}", action, payload])).reply
        )
        assert reply[0] == 3, reply

    def event(name: str, at: datetime, **info: str) -> dict:
        payload = load_payload("v201", f"transaction_{name}", tx="tx-201", id_tag=c.token.id_tag)
        payload["timestamp"] = payload["meterValue"][0]["timestamp"] = format_timestamp(at)
        payload["transactionInfo"].update(info)
        return payload

    ended = event("ended", stop, stoppedReason="Remote", chargingState="EVConnected")
    ended["triggerReason"] = "RemoteStop"
    with django_capture_on_commit_callbacks(execute=True):
        send("TransactionEvent", event("started", stop - timedelta(hours=1)))
        send("TransactionEvent", ended)  # the transaction ends; the cable stays (TxStopPoint Authorized)
    assert not SessionPrice.objects.exists()
    available = {"timestamp": format_timestamp(stop + timedelta(minutes=25)), "connectorStatus": "Available"}
    with django_capture_on_commit_callbacks(execute=True):
        send("StatusNotification", available | {"evseId": 1, "connectorId": 1})
    price = SessionPrice.objects.get()
    assert (price.energy_wh, price.idle_s, idle_line(price)) == (5500, 1500, (D("15.0000"), D("1.50")))
    assert Invoice.objects.count() == 1


def test_a_report_of_the_car_plugged_in_after_the_wait_does_not_count(
    settings, django_capture_on_commit_callbacks
):
    settings.CSMS_IDLE_BILLING_WAIT_MIN = 30
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c, stopped_ago=timedelta(minutes=20))
        c.stop(tx, stop)
        c.status("Finishing", stop + timedelta(minutes=15))
        c.status("Finishing", stop + timedelta(minutes=19))
    settings.CSMS_IDLE_BILLING_WAIT_MIN = 18  # the last report is past the wait: the one before counts
    price = session_price(session=session())
    assert (price.idle_s, idle_line(price)) == (900, (D("5.0000"), D("0.50")))


def test_the_back_office_run_respects_the_wait_unless_told_not_to(django_capture_on_commit_callbacks):
    c = charger()
    with django_capture_on_commit_callbacks(execute=True):
        tx, stop = charged(c)
        c.stop(tx, stop)
        c.status("Finishing", stop + timedelta(minutes=30))
    pk = session().pk
    since = (c.now - timedelta(days=1)).date().isoformat()
    output = command_output("invoices", "generate", "--since", since)
    assert output.startswith(f"session {pk}: waits for the car's unplug until ")
    assert command_output("invoices", "generate", "--session", str(pk)).startswith(f"session {pk}: waits")
    assert not SessionPrice.objects.exists()

    output = command_output("invoices", "generate", "--session", str(pk), "--no-unplug-wait")
    invoice = Invoice.objects.get()
    assert output == f"session {pk}: Invoice {invoice.code}\n"
    assert idle_line(SessionPrice.objects.get()) == (D("20.0000"), D("2.00"))  # to the last Finishing
