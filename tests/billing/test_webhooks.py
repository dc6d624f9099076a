"""The Stripe webhook: real signed payloads (the events the double emitted), nothing patched."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from billing.domain import InvoiceStatus, PaymentEventStatus, PaymentStatus
from billing.models import PaymentEvent, SavedPaymentMethod
from billing.services.invoicing import invoice_issue_for_session
from billing.services.payment_methods import customer_get_or_create
from billing.services.payments import payment_charge_saved_card
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import intent, payment_for, save_card
from tests.factories import UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)
from tests.stripe_double.fixtures import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db
URL = "/billing/stripe/webhook/"


def test_forged_stale_and_malformed_events_are_refused(stripe_double, client, post_event):
    event = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}
    forged = post_event(event, secret="whsec_someone_else")
    assert forged.status_code == 400 and b"Signature refused" in forged.content
    stale = post_event(event, timestamp=int(time.time()) - 1000)
    assert stale.status_code == 400 and b"tolerance" in stale.content
    unsigned = client.post(URL, data=json.dumps(event), content_type="application/json")
    assert unsigned.status_code == 400
    body = "not json"
    header = stripe.WebhookSignature.generate_signature_header(
        body, WEBHOOK_SECRET, timestamp=int(time.time())
    )
    malformed = client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert malformed.status_code == 400
    header = stripe.WebhookSignature.generate_signature_header(json.dumps(event), WEBHOOK_SECRET)
    tampered = json.dumps({**event, "id": "evt_2"})  # a body other than the one signed
    response = client.post(URL, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()


def test_the_webhook_is_off_without_payments(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    assert client.post(URL, data="{}", content_type="application/json").status_code == 404


def test_a_success_marks_the_payment_paid_and_a_replay_does_nothing(stripe_double, stripe_api, post_event):
    scene = Scene()
    invoice = invoice_issue_for_session(session_price=scene.price)
    payment = payment_for(None, session=scene.session)  # our call's answer was lost: no reference yet
    pi = intent(
        stripe_api, amount=600, payment_method="pm_card_visa", confirm=True, metadata={"payment": payment.pk}
    )
    event = stripe_double.last_event("payment_intent.succeeded")
    assert post_event(event).status_code == 200
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.provider_reference, str(payment.amount_captured)) == (
        PaymentStatus.CAPTURED,
        pi["id"],
        "6.0000",
    )
    assert payment.invoice == invoice and invoice.status == InvoiceStatus.PAID
    fetched = len(stripe_double.state.requests)
    replay = post_event(event)
    assert replay.status_code == 200 and b"handled" in replay.content
    assert len(stripe_double.state.requests) == fetched  # not handled again: nothing re-fetched
    assert PaymentEvent.objects.get().status == PaymentEventStatus.HANDLED


def test_a_failed_payment_is_recorded_and_its_invoice_stays_open(stripe_double, stripe_api, post_event):
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_chargeCustomerFail")
    invoice = invoice_issue_for_session(session_price=scene.price)
    payment = payment_charge_saved_card(session_price=scene.price)
    payment.status = PaymentStatus.PENDING  # as if our call had not come back yet
    payment.save(update_fields=["status"])
    assert post_event(stripe_double.last_event("payment_intent.payment_failed")).status_code == 200
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_message == "Your card was declined."
    assert invoice.status == InvoiceStatus.OPEN


def test_the_failed_event_of_an_authentication_request_keeps_it_waiting_for_the_driver(
    stripe_double, stripe_api, post_event
):
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_authenticationRequired")
    payment = payment_charge_saved_card(session_price=scene.price)
    post_event(stripe_double.last_event("payment_intent.payment_failed"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION


def test_hold_events_authorize_and_an_expired_hold_is_canceled(stripe_double, stripe_api, post_event):
    pi = intent(stripe_api, amount=5000, payment_method="pm_card_visa", confirm=True, capture_method="manual")
    payment = payment_for(pi["id"], amount="0")
    post_event(stripe_double.last_event("payment_intent.amount_capturable_updated"))
    payment.refresh_from_db()
    assert (payment.status, str(payment.amount_authorized)) == (PaymentStatus.AUTHORIZED, "50.0000")
    stripe_api.raw_request("post", f"/_double/payment_intents/{pi['id']}/expire")
    post_event(stripe_double.last_event("payment_intent.canceled"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED


def test_refunds_update_the_payment(stripe_double, stripe_api, post_event):
    pi = intent(stripe_api, amount=600, payment_method="pm_card_visa", confirm=True)
    payment = payment_for(pi["id"], status=PaymentStatus.CAPTURED)
    stripe_api.v1.refunds.create(params={"payment_intent": pi["id"], "amount": 100})  # from the dashboard
    post_event(stripe_double.last_event("charge.refunded"))
    payment.refresh_from_db()
    assert (payment.status, str(payment.amount_refunded)) == (PaymentStatus.PARTIALLY_REFUNDED, "1.0000")
    stripe_api.v1.refunds.create(params={"payment_intent": pi["id"]})
    post_event(stripe_double.last_event("charge.refunded"))
    payment.refresh_from_db()
    assert (payment.status, str(payment.amount_refunded)) == (PaymentStatus.REFUNDED, "6.0000")


@pytest.mark.parametrize(("outcome", "payment_status", "invoice_status"), [
    ("won", PaymentStatus.CAPTURED, InvoiceStatus.PAID),
    ("lost", PaymentStatus.DISPUTED, InvoiceStatus.OPEN),
])  # fmt: skip
def test_a_dispute_marks_the_payment_until_it_closes(
    outcome, payment_status, invoice_status, stripe_double, stripe_api, post_event
):
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_createDispute")
    invoice = invoice_issue_for_session(session_price=scene.price)
    payment = payment_charge_saved_card(session_price=scene.price)
    post_event(stripe_double.last_event("payment_intent.succeeded"))
    dispute = stripe_double.last_event("charge.dispute.created")
    post_event(dispute)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.DISPUTED
    post_event(stripe_double.last_event("payment_intent.succeeded") | {"id": "evt_late_copy"})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.DISPUTED  # a late success does not end the dispute
    stripe_api.raw_request(
        "post", f"/_double/disputes/{dispute['data']['object']['id']}/close", status=outcome
    )
    post_event(stripe_double.last_event("charge.dispute.closed"))
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, invoice.status) == (payment_status, invoice_status)


def test_a_completed_setup_records_the_card_without_the_return_page(stripe_double, stripe_api, post_event):
    user = UserFactory()
    customer = customer_get_or_create(user=user)
    stripe_api.v1.setup_intents.create(
        params={"customer": customer.provider_customer_id, "payment_method": "pm_card_visa", "confirm": True}
    )
    assert post_event(stripe_double.last_event("setup_intent.succeeded")).status_code == 200
    method = SavedPaymentMethod.objects.get(user=user)
    assert (method.last4, method.is_default) == ("4242", True)


def test_events_about_others_payments_or_of_other_types_are_ignored(stripe_double, stripe_api, post_event):
    intent(stripe_api, amount=600, payment_method="pm_card_visa", confirm=True)
    assert post_event(stripe_double.last_event("payment_intent.succeeded")).status_code == 200
    assert post_event(stripe_double.last_event("charge.succeeded")).status_code == 200
    assert set(PaymentEvent.objects.values_list("status", flat=True)) == {PaymentEventStatus.IGNORED}


def test_a_failed_handling_answers_500_and_the_redelivery_is_handled(
    stripe_double, stripe_api, post_event, settings
):
    pi = intent(stripe_api, amount=600, payment_method="pm_card_visa", confirm=True)
    payment = payment_for(pi["id"])
    event = stripe_double.last_event("payment_intent.succeeded")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # the re-fetch cannot reach Stripe
    response = post_event(event)
    assert response.status_code == 500
    assert PaymentEvent.objects.get().status == PaymentEventStatus.FAILED
    settings.STRIPE_API_BASE = stripe_double.url
    assert post_event(event).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert PaymentEvent.objects.get().status == PaymentEventStatus.HANDLED
