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


def test_a_cost_above_the_hold_without_a_saved_card_leaves_the_rest_on_an_open_invoice(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings
):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("3")
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    session = ended_session(payment, 12_345)  # 4.94
    bill_twice(session, django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("3.00"))
    assert len(captures(stripe_double)) == 1
    receipt = Invoice.objects.get(kind=InvoiceKind.RECEIPT)
    invoice = Invoice.objects.get(kind=InvoiceKind.INVOICE)
    assert (receipt.status, receipt.gross, invoice.status, invoice.gross) == (
        InvoiceStatus.PAID,
        Decimal("3.00"),
        InvoiceStatus.OPEN,
        Decimal("1.94"),
    )
    price = session.price
    assert receipt.net + invoice.net == price.net and receipt.tax + invoice.tax == price.tax
    assert sum(Decimal(line["amount"]) for line in invoice.lines) == Decimal("1.94")
    assert invoice.lines[-1]["description"] == f"Paid by card at the charger ({receipt.code})"
    assert invoice.user == scene.driver and payment.invoice_id == receipt.pk
    assert payment.stop_outcome == f"Cost above the hold: 1.94 EUR left open on {invoice.code}."
    assert len(mail.outbox) == 2 and Payment.objects.count() == 1


def test_a_cost_above_the_hold_is_charged_once_to_the_saved_card(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings
):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("3")
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    save_card(stripe_api, scene.driver)
    session = ended_session(payment, 12_345)
    bill_twice(session, django_capture_on_commit_callbacks)
    rest = Payment.objects.get(method=PaymentMethodKind.SAVED_CARD)
    assert (rest.session, rest.status, rest.amount_captured) == (
        session,
        PaymentStatus.CAPTURED,
        Decimal("1.94"),
    )
    charged = [i for i in stripe_double.objects("payment_intent") if i.get("capture_method") != "manual"]
    assert [i["amount"] for i in charged] == [194]
    assert charged[0]["metadata"]["hold"] == str(payment.pk)
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        Decimal("4.94"),
    )
    assert set(receipt.payments.values_list("pk", flat=True)) == {payment.pk, rest.pk}
    payment.refresh_from_db()
    assert payment.stop_outcome == "Cost above the hold: 1.94 EUR charged to the saved card."
    assert len(mail.outbox) == 1


def test_a_declined_charge_for_the_rest_leaves_it_on_an_open_invoice(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings
):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("3")
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    save_card(stripe_api, scene.driver, "pm_card_chargeCustomerFail")
    session = ended_session(payment, 12_345)
    bill_twice(session, django_capture_on_commit_callbacks)
    rest = Payment.objects.get(method=PaymentMethodKind.SAVED_CARD)
    assert rest.status == PaymentStatus.FAILED and "declined" in rest.failure_message
    assert rest.next_attempt_at is None  # not retried: the open invoice asks the driver
    charged = [i for i in stripe_double.objects("payment_intent") if i.get("capture_method") != "manual"]
    assert len(charged) == 1
    invoice = Invoice.objects.get(kind=InvoiceKind.INVOICE)
    assert (invoice.status, invoice.gross) == (InvoiceStatus.OPEN, Decimal("1.94"))
    assert Invoice.objects.get(kind=InvoiceKind.RECEIPT).gross == Decimal("3.00")
