"""A charge the bank wants the driver to authenticate (3-D Secure): the mail, the page and the return,
through the Django client and the Stripe double (whose control stands for the bank's challenge)."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from billing.domain import InvoiceStatus, PaymentStatus
from billing.services.invoicing import invoice_issue_for_session
from billing.services.payments import payment_charge_saved_card
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import save_card
from tests.factories import UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(stripe_double, stripe_api, mailoutbox, django_capture_on_commit_callbacks):
    """A session charged off session to a card that needs 3-D Secure: the payment waits for the driver."""
    scene = Scene()
    card = save_card(stripe_api, scene.driver, "pm_card_authenticationRequired")
    scene.invoice = invoice_issue_for_session(session_price=scene.price)
    with django_capture_on_commit_callbacks(execute=True):
        scene.payment = payment_charge_saved_card(session_price=scene.price)
    scene.card = card
    return scene


def _bank(stripe_double, intent_id: str, result: str) -> None:
    """The driver's answer to the bank's challenge (what Stripe.js's 3-D Secure modal does)."""
    answer = requests.post(
        f"{stripe_double.url}/_double/payment_intents/{intent_id}/authenticate", data={"result": result}
    )
    answer.raise_for_status()


def test_the_driver_is_mailed_a_link_to_confirm_once(waiting, mailoutbox, django_capture_on_commit_callbacks):
    assert waiting.payment.status == PaymentStatus.REQUIRES_ACTION
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [waiting.driver.email] and f"http://127.0.0.1:8000{url}" in mailoutbox[0].body
    assert "6.00 EUR" in mailoutbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        again = payment_charge_saved_card(session_price=waiting.price)
    assert again.status == PaymentStatus.REQUIRES_ACTION and len(mailoutbox) == 1


def test_the_page_is_the_driver_s_alone(waiting, client):
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert "/accounts/login/" in client.get(url)["Location"]
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    back = reverse("billing:payment_authenticated", kwargs={"payment_id": waiting.payment.pk})
    assert client.get(back).status_code == 404


def test_confirming_with_the_bank_pays_the_session_and_its_invoice(
    waiting, client, stripe_double, stripe_api, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(waiting.driver)
    page = client.get(reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk}))
    assert page.status_code == 200 and "confirm this payment" in page.content.decode()
    config = page.context["stripe"]
    assert config["clientSecret"] == stripe_double.get(waiting.payment.provider_reference)["client_secret"]
    assert config["paymentMethod"] == waiting.card.provider_payment_method_id
    assert f'src="{stripe_double.url}/v3/"' in page.content.decode()
    # Stripe.js's confirmCardPayment: confirm on session, the bank challenges, the driver passes.
    intent_id = waiting.payment.provider_reference
    confirmed = stripe_api.v1.payment_intents.confirm(
        intent_id, params={"payment_method": config["paymentMethod"]}
    )
    assert confirmed.status == "requires_action"
    _bank(stripe_double, intent_id, "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        back = client.get(config["returnUrl"], follow=True)
    assert "the payment is confirmed" in back.content.decode() and "Paid" in back.content.decode()
    waiting.payment.refresh_from_db()
    waiting.invoice.refresh_from_db()
    assert waiting.payment.status == PaymentStatus.CAPTURED and waiting.payment.failure_message == ""
    assert waiting.invoice.status == InvoiceStatus.PAID
    assert len(mailoutbox) == 1
    sessions = client.get(reverse("portal:sessions")).content.decode()
    assert "needs your confirmation" not in sessions


def test_a_failed_check_leaves_the_payment_waiting_to_try_again(waiting, client, stripe_double, stripe_api):
    client.force_login(waiting.driver)
    intent_id = waiting.payment.provider_reference
    stripe_api.v1.payment_intents.confirm(
        intent_id, params={"payment_method": waiting.card.provider_payment_method_id}
    )
    _bank(stripe_double, intent_id, "failed")
    back = client.get(
        reverse("billing:payment_authenticated", kwargs={"payment_id": waiting.payment.pk}), follow=True
    )
    assert "was not confirmed" in back.content.decode() and "stripe" in back.context
    waiting.payment.refresh_from_db()
    waiting.invoice.refresh_from_db()
    assert waiting.payment.status == PaymentStatus.REQUIRES_ACTION
    assert "unable to authenticate" in waiting.payment.failure_message
    assert waiting.invoice.status == InvoiceStatus.OPEN


def test_the_sessions_page_links_the_payment_that_needs_the_driver(waiting, client):
    client.force_login(waiting.driver)
    html = client.get(reverse("portal:sessions")).content.decode()
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert "Payment needs your confirmation" in html and f'href="{url}"' in html
