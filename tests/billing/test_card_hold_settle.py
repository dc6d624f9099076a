"""Settling a card-paid session when the hold does not cover it: a hold that lapsed before the capture,
and a cost above the hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import Invoice, Payment
from billing.tasks import session_bill_task
from stations.models import ChargingSession
from tests.billing.card_hold_fixtures import held_payment, open_session_with_register, pay_scene
from tests.billing.payments_fixtures import save_card
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def ended_session(payment: Payment, meter_stop_wh: int) -> ChargingSession:
    """A session of the hold's tag that ended a minute ago (0.40 EUR/kWh: 12.345 kWh cost 4.94)."""
    now = timezone.now()
    session = open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=40),
        readings_wh=[(now - timedelta(minutes=20), meter_stop_wh // 2)],
    )
    session.stopped_at, session.meter_stop_wh = now - timedelta(minutes=1), meter_stop_wh
    session.save()
    return session


def bill_twice(session: ChargingSession, capture_callbacks) -> None:  # type: ignore[no-untyped-def]
    with capture_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
        session_bill_task.apply(kwargs={"session_id": session.pk})


def captures(stripe_double) -> list:  # type: ignore[no-untyped-def]
    return [r for r in stripe_double.state.requests if r[1].endswith("/capture")]


@pytest.mark.parametrize("synced", [False, True])
def test_a_lapsed_hold_leaves_an_open_invoice_and_says_why(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, synced
):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    session = ended_session(payment, 12_345)
    stripe_api.raw_request("post", f"/_double/payment_intents/{payment.provider_reference}/expire")
    if synced:  # the payment_intent.canceled webhook came before the billing run
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CANCELED)
    bill_twice(session, django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and payment.amount_captured == 0
    assert payment.failure_message.endswith("; the session is billed as on account.")
    if not synced:
        assert payment.failure_message.startswith("The hold could not be captured (")
        assert len(captures(stripe_double)) == 1  # refused once; the second run does not ask again
    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.status, invoice.gross, invoice.user) == (
        InvoiceKind.INVOICE,
        InvoiceStatus.OPEN,
        Decimal("4.94"),
        scene.driver,
    )
    assert len(mail.outbox) == 1 and Payment.objects.count() == 1


def test_a_lapsed_hold_is_charged_to_the_driver_s_saved_card(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    card = save_card(stripe_api, scene.driver)
    session = ended_session(payment, 12_345)
    stripe_api.raw_request("post", f"/_double/payment_intents/{payment.provider_reference}/expire")
    bill_twice(session, django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and "could not be captured" in payment.failure_message
    charge = Payment.objects.get(method=PaymentMethodKind.SAVED_CARD)
    assert (charge.session, charge.status, charge.amount_captured) == (
        session,
        PaymentStatus.CAPTURED,
        Decimal("4.94"),
    )
    intent = stripe_double.get(charge.provider_reference)
    assert intent["payment_method"] == card.provider_payment_method_id
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        Decimal("4.94"),
    )
    assert charge.invoice_id == receipt.pk and len(mail.outbox) == 1
