"""Paying at a charger without an account, end to end: a visitor gives their email address on the
connector's page, authorizes the hold (at the Stripe double), the remote start reaches a charger over a
real socket held by a live daphne (through Redis), the charger starts with the one-off tag and sends
meter values, the guest follows the session on their signed link and stops it there (the remote stop
reaches the same socket), then the billing run (here in this process, as a Celery worker would run it)
captures the exact price and mails the receipt to the guest, whose mailed link opens it; a forged link
opens nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from accounts.models import IdTokenStatus
from billing.domain import InvoiceKind, InvoiceStatus, PaymentStatus
from billing.models import Invoice, Payment
from billing.tasks import session_bill_task
from stations.models import ChargingSession
from stations.ocpp.base import format_timestamp
from tests.billing.card_hold_fixtures import PAY, PayScene, authorize, pay_scene
from tests.factories import STATION_PASSWORD
from tests.ocpp_fixtures import load_payload
from tests.simulator_live import wait_until
from tests.stations.test_commands_redis import gateway_a, redis_layer  # noqa: F401  (fixtures)
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

GUEST_EMAIL = "walk.up@example.org"


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://charge.example.com"
    cache.clear()  # the guest hold limits
    return mail.outbox


def _online(scene: PayScene) -> bool:
    scene.station.refresh_from_db()
    return scene.station.is_online


def test_a_guest_pays_follows_and_stops_the_session_and_gets_the_receipt_by_mail(
    gateway_a,  # noqa: F811
    client,
    stripe_double,
    stripe_api,
):
    scene = pay_scene(online=False)
    calls: list[tuple[str, dict]] = []

    def answer(action: str):  # type: ignore[no-untyped-def]
        def handler(payload: dict) -> dict:
            calls.append((action, payload))
            return {"status": "Accepted"}

        return handler

    handlers = {name: answer(name) for name in ("RemoteStartTransaction", "RemoteStopTransaction")}
    identity = scene.station.identity
    with gateway_a.client(identity, STATION_PASSWORD, handlers=handlers) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        assert wait_until(lambda: _online(scene))

        assert 'id="guest-form"' in client.get(PAY.format(identity=identity)).content.decode()
        started = client.post(PAY.format(identity=identity) + "guest/", {"email": GUEST_EMAIL})
        link = started["Location"]
        payment = Payment.objects.get()
        assert (payment.user, payment.guest_email) == (None, GUEST_EMAIL)
        authorize(stripe_api, payment)
        back = client.get(f"{link}return/", {"payment_intent": payment.provider_reference})
        assert back.status_code == 302 and back["Location"] == link
        tag = f"PAY-{payment.pk}"
        assert calls == [("RemoteStartTransaction", {"connectorId": 1, "idTag": tag})]
        payment.refresh_from_db()
        assert (payment.status, payment.start_outcome) == (
            PaymentStatus.AUTHORIZED,
            "The charger accepted the start.",
        )
        assert client.get(link).context["state"] == "starting"

        started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": format_timestamp(started_at)}
        reply = charger.result("StartTransaction", start)
        assert reply["idTagInfo"]["status"] == "Accepted"
        transaction_id = reply["transactionId"]
        sample = {"value": "6000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        charger.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
                        "sampledValue": [sample],
                    }
                ],
            },
        )
        # The gateway commits meter values in batches: the page shows them once they are in.
        assert wait_until(lambda: "6.00 kWh" in client.get(link).content.decode())
        page = client.get(link)
        assert page.context["state"] == "charging" and "2.40 €" in page.content.decode()  # 6 kWh x 0.40

        stopped = client.post(f"{link}stop/", follow=True)
        assert "The charger is stopping." in stopped.content.decode()
        assert calls[1] == ("RemoteStopTransaction", {"transactionId": transaction_id})
        charger.result(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": 12_345,
                "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
                "reason": "Remote",
            },
        )
        assert wait_until(lambda: ChargingSession.objects.filter(stopped_at__isnull=False).exists())

    session = ChargingSession.objects.get()
    payment.refresh_from_db()
    assert payment.stop_outcome == "Stop asked by the driver: The charger accepted the stop."
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
    assert (intent["status"], intent["amount_received"], intent["customer"]) == ("succeeded", 494, None)
    assert len([r for r in stripe_double.state.requests if r[1].endswith("/capture")]) == 1
    assert payment.id_token.status == IdTokenStatus.BLOCKED
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.user, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        None,
        Decimal("4.94"),
    )

    assert [m.to for m in mail.outbox] == [[GUEST_EMAIL]]
    sent = mail.outbox[0]
    assert receipt.code in sent.subject and f"Customer: {GUEST_EMAIL}" in sent.body
    mailed = re.search(r"https://charge\.example\.com(/billing/guest/[^/\s]+/)", sent.body)
    assert mailed is not None
    phone = Client()  # the guest opens the mail on another device
    page = phone.get(mailed[1])
    assert page.context["state"] == "paid" and "4.94 €" in page.content.decode()
    assert receipt.code in page.content.decode()
    document = phone.get(f"{mailed[1]}documents/{receipt.code}/")
    assert document.status_code == 200 and "4.94 EUR" in document.content.decode()
    pdf = phone.get(f"{mailed[1]}documents/{receipt.code}/pdf")
    assert pdf["Content-Type"] == "application/pdf" and receipt.code.encode() in pdf.content

    token = mailed[1].split("/")[3]
    value, stamp, signature = token.split(":")
    forged = f"{value}:{stamp}:{signature[::-1]}"
    assert phone.get(f"/billing/guest/{forged}/documents/{receipt.code}/").status_code == 404
    assert phone.get(f"/billing/guest/{forged}/documents/{receipt.code}/pdf").status_code == 404
    assert phone.get(f"/billing/documents/{receipt.code}/").status_code == 302  # the portal's needs a login
