"""A card-paid session that cost more than its hold, without a saved card: a paid receipt and an open
invoice for the rest, which paying later closes (the driver's saved card, through the admin; after
the bank's check, by the signed webhook; or staff recording a bank transfer)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.domain import Role
from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import Invoice, Payment
from billing.services.invoice_pdf import document_facts
from billing.services.invoicing_card import invoice_charge_saved_card
from billing.services.invoicing_settle import invoice_amount_due, invoice_mark_paid, invoice_settle
from billing.services.payment_methods import payment_method_make_default
from billing.tasks import session_bill_task
from stations.models import ChargingSession
from tests.billing.card_hold_fixtures import held_payment, open_session_with_register, pay_scene
from tests.billing.payments_fixtures import save_card
from tests.factories import MembershipFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings, mailoutbox):
    """A 3.00 EUR hold, a session that cost 4.94: the receipt for 3.00 and the invoice for 1.94."""
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("3")
    scene = pay_scene()
    scene.hold = held_payment(client, scene, stripe_api)
    now = timezone.now()
    session = open_session_with_register(
        payment=scene.hold,
        started_at=now - timedelta(minutes=40),
        readings_wh=[(now - timedelta(minutes=20), 6000)],
    )
    session.stopped_at, session.meter_stop_wh = now - timedelta(minutes=1), 12_345
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
    scene.session = ChargingSession.objects.get(pk=session.pk)
    scene.receipt = Invoice.objects.get(kind=InvoiceKind.RECEIPT)
    scene.invoice = Invoice.objects.get(kind=InvoiceKind.INVOICE)
    assert (scene.receipt.gross, scene.invoice.gross, scene.invoice.status) == (
        Decimal("3.00"),
        Decimal("1.94"),
        InvoiceStatus.OPEN,
    )
    return scene


def _card_charges(stripe_double) -> list[dict]:
    return [i for i in stripe_double.objects("payment_intent") if i.get("capture_method") != "manual"]


def test_the_saved_card_charged_later_pays_the_rest_and_closes_the_invoice(split, stripe_double, stripe_api):
    save_card(stripe_api, split.driver)
    payment = invoice_charge_saved_card(invoice=split.invoice)
    split.invoice.refresh_from_db()
    assert (payment.status, payment.amount_captured, payment.invoice) == (
        PaymentStatus.CAPTURED,
        Decimal("1.94"),
        split.invoice,
    )
    assert split.invoice.status == InvoiceStatus.PAID and split.invoice.paid_at is not None
    assert invoice_amount_due(split.invoice) == 0
    assert [i["amount"] for i in _card_charges(stripe_double)] == [194]
    with pytest.raises(ValidationError, match="not open"):
        invoice_charge_saved_card(invoice=split.invoice)  # paid: never charged twice
    assert len(_card_charges(stripe_double)) == 1
    split.receipt.refresh_from_db()
    assert list(split.receipt.payments.all()) == [split.hold]  # the receipt keeps the hold only


def test_a_declined_rest_is_tried_again_as_its_next_attempt_with_the_new_card(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings, mailoutbox
):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("3")
    scene = pay_scene()
    hold = held_payment(client, scene, stripe_api)
    save_card(stripe_api, scene.driver, "pm_card_chargeCustomerFail")
    now = timezone.now()
    session = open_session_with_register(
        payment=hold,
        started_at=now - timedelta(minutes=40),
        readings_wh=[(now - timedelta(minutes=20), 6000)],
    )
    session.stopped_at, session.meter_stop_wh = now - timedelta(minutes=1), 12_345
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
    declined = Payment.objects.get(method=PaymentMethodKind.SAVED_CARD)
    invoice = Invoice.objects.get(kind=InvoiceKind.INVOICE)
    assert declined.status == PaymentStatus.FAILED and invoice.status == InvoiceStatus.OPEN

    payment_method_make_default(user=scene.driver, method=save_card(stripe_api, scene.driver))  # a new card
    payment = invoice_charge_saved_card(invoice=invoice)
    invoice.refresh_from_db()
    assert payment.pk == declined.pk and payment.attempts == 2 and payment.status == PaymentStatus.CAPTURED
    assert invoice.status == InvoiceStatus.PAID and Payment.objects.count() == 2  # the hold, the rest
    assert [(i["amount"], i["status"]) for i in _card_charges(stripe_double)] == [
        (194, "requires_payment_method"),
        (194, "succeeded"),
    ]


def test_a_later_charge_the_bank_checks_closes_the_invoice_by_the_signed_webhook(
    split, stripe_double, stripe_api, post_event, mailoutbox, django_capture_on_commit_callbacks
):
    card = save_card(stripe_api, split.driver, "pm_card_authenticationRequired")
    with django_capture_on_commit_callbacks(execute=True):
        payment = invoice_charge_saved_card(invoice=split.invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION and payment.invoice == split.invoice
    assert any("1.94 EUR" in m.body for m in mailoutbox)  # the link to confirm it
    split.invoice.refresh_from_db()
    assert split.invoice.status == InvoiceStatus.OPEN
    # The driver confirms with the bank (Stripe.js), then Stripe tells the webhook.
    intent_id = payment.provider_reference
    stripe_api.v1.payment_intents.confirm(
        intent_id, params={"payment_method": card.provider_payment_method_id}
    )
    requests.post(
        f"{stripe_double.url}/_double/payment_intents/{intent_id}/authenticate", data={"result": "succeeded"}
    ).raise_for_status()
    assert post_event(stripe_double.last_event("payment_intent.succeeded")).status_code == 200
    payment.refresh_from_db()
    split.invoice.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and split.invoice.status == InvoiceStatus.PAID


def test_a_payment_short_of_what_is_due_leaves_the_invoice_open(split):
    Payment.objects.create(
        session=split.session,
        invoice=split.invoice,
        method=PaymentMethodKind.SAVED_CARD,
        status=PaymentStatus.CAPTURED,
        currency="EUR",
        amount_captured=Decimal("1.00"),
    )
    assert invoice_settle(invoice_id=split.invoice.pk).status == InvoiceStatus.OPEN
    assert invoice_amount_due(split.invoice) == Decimal("0.94")


def test_staff_mark_the_invoice_paid_with_the_transfer_s_reference(client: Client, split):
    client.force_login(MembershipFactory(organization=split.receipt.organization, role=Role.MANAGER).user)
    change = client.get(reverse("admin:billing_invoice_change", args=[split.invoice.pk])).content.decode()
    url = reverse("admin:billing_invoice_mark_paid", args=[split.invoice.pk])
    assert url in change
    assert (
        url
        not in client.get(reverse("admin:billing_invoice_change", args=[split.receipt.pk])).content.decode()
    )
    refused = client.post(url, {"reference": " "})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    done = client.post(url, {"reference": "SEPA 2026-0042", "paid_on": "2026-03-02"})
    assert done.status_code == 302
    split.invoice.refresh_from_db()
    assert (split.invoice.status, split.invoice.payment_reference) == (InvoiceStatus.PAID, "SEPA 2026-0042")
    assert timezone.localdate(split.invoice.paid_at) == date(2026, 3, 2)
    assert ("Paid by", "SEPA 2026-0042") in document_facts(split.invoice)
    assert client.post(url, {"reference": "SEPA 2026-0042"}).status_code == 302  # the same form again
    other = client.post(url, {"reference": "cash"})
    assert other.status_code == 200 and "paid already" in other.content.decode()
    with pytest.raises(ValidationError, match="not an invoice or statement"):
        invoice_mark_paid(invoice=split.receipt, reference="SEPA 1")


def test_a_viewer_may_not_mark_an_invoice_paid(client: Client, split):
    client.force_login(MembershipFactory(organization=split.receipt.organization, role=Role.VIEWER).user)
    url = reverse("admin:billing_invoice_mark_paid", args=[split.invoice.pk])
    assert client.post(url, {"reference": "SEPA 1"}).status_code == 403
    split.invoice.refresh_from_db()
    assert split.invoice.status == InvoiceStatus.OPEN


def test_the_admin_action_charges_the_saved_card_of_the_selected_open_invoices(
    client: Client, split, stripe_double, stripe_api
):
    client.force_login(MembershipFactory(organization=split.receipt.organization, role=Role.MANAGER).user)
    changelist = reverse("admin:billing_invoice_changelist")
    select = {"action": "charge_saved_card", "_selected_action": [split.invoice.pk]}
    page = client.post(changelist, select, follow=True)
    assert "has no saved card" in page.content.decode()
    save_card(stripe_api, split.driver)
    page = client.post(changelist, select, follow=True)
    assert f"{split.invoice.code}: paid." in page.content.decode()
    split.invoice.refresh_from_db()
    assert split.invoice.status == InvoiceStatus.PAID
