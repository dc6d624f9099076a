"""Paying at a charger, end to end: the driver's hold (at the Stripe double), the remote start reaching
a charger over a real socket held by a live daphne (through Redis), its StartTransaction with the
one-off tag, MeterValues and StopTransaction, then the billing run (here in this process, as a Celery
worker would run it) capturing the exact price and mailing the receipt; and the stop at the hold."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import IdTokenStatus
from billing.domain import InvoiceKind, InvoiceStatus, PaymentStatus
from billing.models import Invoice, Payment
from billing.tasks import card_holds_stop_task, session_bill_task
from stations.models import ChargingSession
from stations.ocpp.base import format_timestamp
from tests.billing.card_hold_fixtures import PayScene, authorize, pay_scene
from tests.factories import STATION_PASSWORD
from tests.ocpp_fixtures import load_payload
from tests.simulator_live import wait_until
from tests.stations.test_commands_redis import gateway_a, redis_layer  # noqa: F401  (fixtures)
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def pay(client, scene: PayScene, stripe_api) -> Payment:  # type: ignore[no-untyped-def]
    """The driver opens the connector's page, pays, authorizes the hold and comes back from Stripe."""
    client.force_login(scene.driver)
    client.post(f"/billing/pay/{scene.station.identity}/1/start/")
    payment = Payment.objects.get()
    authorize(stripe_api, payment)
    client.get(f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference})
    payment.refresh_from_db()
    return payment


def charge(charger, tag: str, *, started_at: datetime, register_wh: int) -> int:  # type: ignore[no-untyped-def]
    start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": format_timestamp(started_at)}
    answer = charger.result("StartTransaction", start)
    assert answer["idTagInfo"]["status"] == "Accepted"
    transaction_id = answer["transactionId"]
    sample = {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    charger.result(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": format_timestamp(at), "sampledValue": [sample]}],
        },
    )
    return transaction_id


def stop(charger, transaction_id: int, meter_stop_wh: int) -> ChargingSession:  # type: ignore[no-untyped-def]
    stopped_at = datetime.now(UTC).replace(microsecond=0)
    charger.result(
        "StopTransaction",
        {
            "transactionId": transaction_id,
            "meterStop": meter_stop_wh,
            "timestamp": format_timestamp(stopped_at),
        },
    )
    assert wait_until(lambda: ChargingSession.objects.filter(stopped_at__isnull=False).exists())
    return ChargingSession.objects.get()


def test_a_driver_pays_charges_and_is_charged_the_exact_price(gateway_a, client, stripe_double, stripe_api):  # noqa: F811
    scene = pay_scene(online=False)
    starts: list[dict] = []

    def remote_start(payload: dict) -> dict:
        starts.append(payload)
        return {"status": "Accepted"}

    with gateway_a.client(
        scene.station.identity, STATION_PASSWORD, handlers={"RemoteStartTransaction": remote_start}
    ) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        assert wait_until(lambda: _online(scene))
        payment = pay(client, scene, stripe_api)
        tag = f"PAY-{payment.pk}"
        assert starts == [{"connectorId": 1, "idTag": tag}]
        assert (payment.status, payment.start_outcome) == (
            PaymentStatus.AUTHORIZED,
            "The charger accepted the start.",
        )
        assert client.get(f"/billing/payments/{payment.pk}/").context["state"] == "starting"

        started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        transaction_id = charge(charger, tag, started_at=started_at, register_wh=6000)
        assert client.get(f"/billing/payments/{payment.pk}/").context["state"] == "charging"
        session = stop(charger, transaction_id, 12_345)

    assert session.id_token_id == payment.id_token_id
    # The session_ended signal in daphne queued the billing task; a worker runs it (twice: once counts).
    session_bill_task.apply(kwargs={"session_id": session.pk})
    session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert (payment.session_id, payment.status, payment.amount_captured) == (
        session.pk,
        PaymentStatus.CAPTURED,
        Decimal("4.94"),  # 12.345 kWh x 0.40 €
    )
    intent = stripe_double.get(payment.provider_reference)
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 494)
    assert len([r for r in stripe_double.state.requests if r[1].endswith("/capture")]) == 1
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        Decimal("4.94"),
    )
    assert len(mail.outbox) == 1 and receipt.code in mail.outbox[0].subject
    assert payment.id_token.status == IdTokenStatus.BLOCKED
    page = client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert "4.94 €" in page and receipt.code in page


def _online(scene: PayScene) -> bool:
    scene.station.refresh_from_db()
    return scene.station.is_online


def test_the_webhook_starts_the_session_once_when_the_driver_never_comes_back(
    gateway_a,  # noqa: F811
    client,
    stripe_double,
    stripe_api,
    post_event,
):
    scene = pay_scene(online=False)
    starts: list[dict] = []

    def remote_start(payload: dict) -> dict:
        starts.append(payload)
        return {"status": "Accepted"}

    with gateway_a.client(
        scene.station.identity, STATION_PASSWORD, handlers={"RemoteStartTransaction": remote_start}
    ) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        assert wait_until(lambda: _online(scene))
        client.force_login(scene.driver)
        client.post(f"/billing/pay/{scene.station.identity}/1/start/")
        payment = Payment.objects.get()
        authorize(stripe_api, payment)  # the browser closes here: no return page
        event = stripe_double.last_event("payment_intent.amount_capturable_updated")
        assert post_event(event).status_code == 200
        assert post_event(event).status_code == 200  # Stripe delivers it again
        payment.refresh_from_db()
        tag = f"PAY-{payment.pk}"
        assert starts == [{"connectorId": 1, "idTag": tag}]
        assert (payment.status, payment.start_outcome) == (
            PaymentStatus.AUTHORIZED,
            "The charger accepted the start.",
        )
        # The driver's browser comes back after all: the page shows the start, nothing is sent again.
        response = client.get(
            f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference}
        )
        assert response.status_code == 302
        assert client.get(f"/billing/payments/{payment.pk}/").context["state"] == "starting"
        assert len(starts) == 1 and Payment.objects.get().id_token_id == payment.id_token_id


def test_a_start_the_charger_refuses_releases_the_hold(gateway_a, client, stripe_double, stripe_api):  # noqa: F811
    scene = pay_scene(online=False)
    handlers = {"RemoteStartTransaction": lambda payload: {"status": "Rejected"}}
    with gateway_a.client(scene.station.identity, STATION_PASSWORD, handlers=handlers) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        assert wait_until(lambda: _online(scene))
        payment = pay(client, scene, stripe_api)
    assert payment.status == PaymentStatus.CANCELED
    assert payment.start_outcome == "The charger answered Rejected to the start."
    assert stripe_double.get(payment.provider_reference)["status"] == "canceled"
    assert not [r for r in stripe_double.state.requests if r[1].endswith("/capture")]
    assert payment.id_token.status == IdTokenStatus.BLOCKED
    page = client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert "The amount held on your card has been released." in page


def test_a_session_whose_cost_reaches_the_hold_is_stopped(
    gateway_a,  # noqa: F811
    client,
    stripe_double,
    stripe_api,
    settings,
):
    settings.CSMS_CARD_HOLD_AMOUNT, settings.CSMS_CARD_HOLD_MARGIN = Decimal("5"), Decimal("1")
    scene = pay_scene(online=False)
    stops: list[dict] = []

    def remote_stop(payload: dict) -> dict:
        stops.append(payload)
        return {"status": "Accepted"}

    handlers = {
        "RemoteStartTransaction": lambda payload: {"status": "Accepted"},
        "RemoteStopTransaction": remote_stop,
    }
    with gateway_a.client(scene.station.identity, STATION_PASSWORD, handlers=handlers) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        assert wait_until(lambda: _online(scene))
        payment = pay(client, scene, stripe_api)
        started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        transaction_id = charge(charger, f"PAY-{payment.pk}", started_at=started_at, register_wh=3000)
        assert card_holds_stop_task() == 0 and stops == []  # 1.20 €: far from the hold
        charger.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
                        "sampledValue": [
                            {"value": "10100", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                        ],
                    }
                ],
            },
        )
        time.sleep(0.5)  # the gateway commits meter values in batches
        assert card_holds_stop_task() == 1
        assert stops == [{"transactionId": transaction_id}]
        assert card_holds_stop_task() == 0 and len(stops) == 1  # asked once
        session = stop(charger, transaction_id, 10_100)
    payment.refresh_from_db()
    assert payment.stop_outcome == (
        "The cost (4.04 EUR) reached the hold of 5.00 EUR: The charger accepted the stop."
    )
    session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("4.04"))


def test_a_driver_pays_at_an_ocpp_2_0_1_charger(gateway_a, client, stripe_double, stripe_api):  # noqa: F811
    scene = pay_scene(online=False)
    starts: list[dict] = []

    def request_start(payload: dict) -> dict:
        starts.append(payload)
        return {"status": "Accepted"}

    now = datetime.now(UTC).replace(microsecond=0)

    def event(name: str, at: datetime, **changes: object) -> dict:
        payload = load_payload("v201", name, tx="a7c1-0042")
        payload["timestamp"] = format_timestamp(at)
        for value in payload.get("meterValue", []):
            value["timestamp"] = format_timestamp(at)
        return {**payload, **changes}

    with gateway_a.client(
        scene.station.identity,
        STATION_PASSWORD,
        subprotocols=("ocpp2.0.1",),
        handlers={"RequestStartTransaction": request_start},
    ) as charger:
        charger.result("BootNotification", load_payload("v201", "boot_notification"))
        assert wait_until(lambda: _online(scene))
        payment = pay(client, scene, stripe_api)
        tag = f"PAY-{payment.pk}"
        assert len(starts) == 1 and starts[0]["evseId"] == 1
        assert starts[0]["idToken"] == {"idToken": tag, "type": "Central"}
        assert payment.start_outcome == "The charger accepted the start."
        # A remotely started transaction names the remote start and the token it was given (TransactionEvent).
        started = event("transaction_started", now - timedelta(minutes=40), triggerReason="RemoteStart")
        started["idToken"] = starts[0]["idToken"]
        started["transactionInfo"]["remoteStartId"] = starts[0]["remoteStartId"]
        answer = charger.result("TransactionEvent", started)
        assert answer["idTokenInfo"]["status"] == "Accepted"
        charger.result("TransactionEvent", event("transaction_updated", now - timedelta(minutes=20)))
        assert wait_until(
            lambda: client.get(f"/billing/payments/{payment.pk}/").context["state"] == "charging"
        )
        charger.result("TransactionEvent", event("transaction_ended", now))
        assert wait_until(lambda: ChargingSession.objects.filter(stopped_at__isnull=False).exists())

    session = ChargingSession.objects.get()
    assert (session.id_token_id, session.external_id) == (payment.id_token_id, "a7c1-0042")
    session_bill_task.apply(kwargs={"session_id": session.pk})
    session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert (payment.session_id, payment.status, payment.amount_captured) == (
        session.pk,
        PaymentStatus.CAPTURED,
        Decimal("2.20"),  # (6.5 - 1.0) kWh x 0.40 €
    )
    assert len([r for r in stripe_double.state.requests if r[1].endswith("/capture")]) == 1
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        Decimal("2.20"),
    )
    assert len(mail.outbox) == 1 and payment.id_token.status == IdTokenStatus.BLOCKED
