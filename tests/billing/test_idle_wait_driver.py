"""What the driver sees and pays while billing waits for the unplug: a card held at the charger is
captured at the unplug (or 30 minutes after the stop at the latest), the sessions page and the payment
page say the bill waits for the car to be unplugged."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import IdToken, IdTokenStatus
from billing.domain import InvoiceKind, PaymentStatus, PriceLineKind
from billing.models import Invoice, Payment, SessionPrice
from billing.tasks import sessions_unplug_wait_over_task
from stations.domain import ConnectorStatus, StopReason
from stations.models import ChargingSession
from stations.ocpp.base import format_timestamp
from stations.services.registry import connector_status_update
from stations.services.sessions import session_stop
from tests.billing.card_hold_fixtures import PayScene, held_payment, open_session_with_register, pay_scene
from tests.billing.test_idle_wait import charged, charger
from tests.factories import IdTokenFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db

D = Decimal
WAITING = "Waiting for you to unplug to finish the bill"


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CSMS_IDLE_BILLING_WAIT_MIN = 240
    return mail.outbox


def idle_fee_scene() -> PayScene:
    scene = pay_scene()
    scene.tariff.idle_price_per_min, scene.tariff.idle_grace_min = D("0.10"), 10
    scene.tariff.save()
    return scene


def report(scene: PayScene, status: ConnectorStatus, at: datetime) -> None:
    """A StatusNotification, as the gateway records it (its signal goes out after the commit)."""
    connector_status_update(
        station_id=scene.station.pk, evse_id=1, connector_id=1, status=status, occurred_at=at
    )


def stop(session: ChargingSession, at: datetime) -> None:
    session_stop(
        station_id=session.station_id,
        external_id=session.external_id or "",
        meter_stop_wh=10_000,
        stopped_at=at,
        reason=StopReason.REMOTE,
    )


def held_session(client, scene: PayScene, stripe_api, *, stopped_ago: timedelta):  # type: ignore[no-untyped-def]
    payment = held_payment(client, scene, stripe_api)
    stopped_at = timezone.now().replace(microsecond=0) - stopped_ago
    session = open_session_with_register(
        payment=payment,
        started_at=stopped_at - timedelta(minutes=40),
        readings_wh=[(stopped_at - timedelta(minutes=20), 6000)],
    )
    return payment, session, stopped_at


def test_a_card_held_at_the_charger_is_captured_at_the_unplug_with_the_idle_minutes(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = idle_fee_scene()
    payment, session, stopped_at = held_session(client, scene, stripe_api, stopped_ago=timedelta(minutes=28))
    with django_capture_on_commit_callbacks(execute=True):
        stop(session, stopped_at)
        report(scene, ConnectorStatus.FINISHING, stopped_at + timedelta(seconds=1))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED and not Invoice.objects.exists()
    assert not [r for r in stripe_double.state.requests if r[1].endswith("/capture")]
    assert IdToken.objects.get(pk=payment.id_token_id).status == IdTokenStatus.BLOCKED  # starts nothing more
    page = client.get(f"/billing/payments/{payment.pk}/")
    assert page.context["state"] == "billing"
    assert 'id="pay-unplug"' in page.content.decode() and "Unplug your car to finish the bill" in (
        page.content.decode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        report(scene, ConnectorStatus.AVAILABLE, stopped_at + timedelta(minutes=25))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, D("5.50"))  # 4.00 + 1.50
    idle = SessionPrice.objects.get().lines.get(kind=PriceLineKind.IDLE)
    assert (idle.quantity, idle.amount) == (D("15.0000"), D("1.50"))  # 25 min less 10 of grace
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.gross) == (InvoiceKind.RECEIPT, D("5.50")) and len(mail.outbox) == 1
    page = client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert 'id="pay-unplug"' not in page and receipt.code in page and "5.50 €" in page


def test_a_card_hold_waits_30_minutes_at_most(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = idle_fee_scene()
    payment, session, stopped_at = held_session(client, scene, stripe_api, stopped_ago=timedelta(minutes=35))
    with django_capture_on_commit_callbacks(execute=True):
        stop(session, stopped_at)  # an account's session would wait 4 hours; the driver stands there
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, D("4.00"))
    assert Invoice.objects.get().kind == InvoiceKind.RECEIPT


def test_the_job_captures_a_hold_whose_wait_is_over(
    client, stripe_double, stripe_api, settings, django_capture_on_commit_callbacks
):
    scene = idle_fee_scene()
    payment, session, stopped_at = held_session(client, scene, stripe_api, stopped_ago=timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        stop(session, stopped_at)
        report(scene, ConnectorStatus.FINISHING, stopped_at + timedelta(minutes=18))
        sessions_unplug_wait_over_task.apply()
    assert Payment.objects.get().status == PaymentStatus.AUTHORIZED  # 20 of its 30 minutes

    settings.CSMS_IDLE_BILLING_WAIT_MIN = 19  # as if the wait were over
    with django_capture_on_commit_callbacks(execute=True):
        sessions_unplug_wait_over_task.apply()
        sessions_unplug_wait_over_task.apply()
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, D("4.80"))  # 8 min idle
    assert len([r for r in stripe_double.state.requests if r[1].endswith("/capture")]) == 1
    assert Invoice.objects.count() == 1


def test_the_sessions_page_says_the_bill_waits_for_the_unplug(client, django_capture_on_commit_callbacks):
    c = charger()
    second_card = IdTokenFactory(owner=c.driver)
    with django_capture_on_commit_callbacks(execute=True):
        tx, stopped_at = charged(c)
        c.stop(tx, stopped_at)
        start = {"connectorId": 2, "idTag": second_card.id_tag, "meterStart": 0}
        c.send("StartTransaction", start | {"timestamp": format_timestamp(c.now - timedelta(hours=3))})
    client.force_login(c.driver)
    html = client.get(reverse("portal:sessions")).content.decode()
    assert html.count(WAITING) == 1  # not on the older session still charging, listed after it

    with django_capture_on_commit_callbacks(execute=True):
        c.status("Available", stopped_at + timedelta(minutes=5))
    invoice = Invoice.objects.get()
    html = client.get(reverse("portal:sessions")).content.decode()
    assert WAITING not in html and invoice.code in html and "4.00 EUR" in html


def test_a_session_billed_at_once_never_shows_the_wait(client, django_capture_on_commit_callbacks):
    c = charger(idle_price="0")
    with django_capture_on_commit_callbacks(execute=True):
        tx, stopped_at = charged(c)
        c.stop(tx, stopped_at)
    client.force_login(c.driver)
    html = client.get(reverse("portal:sessions")).content.decode()
    assert WAITING not in html and Invoice.objects.get().code in html
