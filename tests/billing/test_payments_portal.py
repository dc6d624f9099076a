"""The drivers' payment methods pages, through the Django client and the Stripe double."""

from __future__ import annotations

import pytest

from billing.models import SavedPaymentMethod
from billing.services.payment_methods import customer_get_or_create
from tests.billing.payments_fixtures import save_card
from tests.factories import UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db
LIST, ADD, RETURN = (
    "/billing/payment-methods/",
    "/billing/payment-methods/add/",
    "/billing/payment-methods/added/",
)


@pytest.fixture
def driver(client):
    user = UserFactory(email="ann@example.com")
    client.force_login(user)
    return user


def test_without_stripe_the_pages_say_so_and_the_menu_has_no_link(client, driver, settings):
    settings.STRIPE_SECRET_KEY = ""
    page = client.get(LIST)
    assert b"Card payments are not configured" in page.content
    assert b'href="/billing/payment-methods/"' not in page.content
    assert b"Card payments are not configured" in client.get(ADD).content


def test_without_a_publishable_key_no_card_form_is_offered(client, driver, stripe_double, settings):
    settings.STRIPE_PUBLISHABLE_KEY = ""
    page = client.get(ADD)
    assert b"Card payments are not configured" in page.content and b"js.stripe.com" not in page.content
    assert stripe_double.objects("setup_intent") == []


def test_pages_need_a_login(client, stripe_double):
    assert client.get(LIST).status_code == 302 and "/accounts/login/" in client.get(LIST)["Location"]


def test_adding_a_card_through_the_payment_element_and_the_return_page(
    client, driver, stripe_double, stripe_api
):
    page = client.get(ADD)
    assert b'href="/billing/payment-methods/"' in page.content  # the menu item
    config = page.context["stripe"]
    assert config["publishableKey"] == "pk_test_double" and config["returnUrl"].endswith(RETURN)
    setup_id = config["clientSecret"].split("_secret_")[0]
    assert stripe_double.get(setup_id)["customer"] == driver.billing_customer.provider_customer_id
    stripe_api.v1.setup_intents.confirm(setup_id, params={"payment_method": "pm_card_visa"})  # Stripe.js
    back = client.get(RETURN, {"setup_intent": setup_id, "redirect_status": "succeeded"}, follow=True)
    assert back.redirect_chain[-1][0] == LIST
    assert "Visa ending 4242 saved" in back.content.decode()
    assert "Visa •••• 4242" in back.content.decode() and "Default" in back.content.decode()
    assert SavedPaymentMethod.objects.get(user=driver).is_default


def test_an_unfinished_setup_saves_nothing(client, driver, stripe_double):
    setup_id = client.get(ADD).context["stripe"]["clientSecret"].split("_secret_")[0]
    response = client.get(RETURN, {"setup_intent": setup_id})
    assert response.status_code == 302 and response["Location"] == ADD
    assert not SavedPaymentMethod.objects.exists()


def test_another_driver_s_setup_is_not_found(client, driver, stripe_double, stripe_api):
    other = customer_get_or_create(user=UserFactory())
    setup = stripe_api.v1.setup_intents.create(
        params={"customer": other.provider_customer_id, "payment_method": "pm_card_visa", "confirm": True}
    )
    customer_get_or_create(user=driver)
    assert client.get(RETURN, {"setup_intent": setup.id}).status_code == 404
    assert client.get(RETURN, {"setup_intent": "seti_nonexistent"}).status_code == 404


def test_removing_and_choosing_the_default_card(client, driver, stripe_double, stripe_api):
    first = save_card(stripe_api, driver)
    second = save_card(stripe_api, driver, "pm_card_mastercard")
    assert client.post(f"/billing/payment-methods/{second.pk}/default/").status_code == 302
    second.refresh_from_db()
    assert second.is_default
    client.post(f"/billing/payment-methods/{second.pk}/remove/")
    first.refresh_from_db()
    assert first.is_default and SavedPaymentMethod.objects.filter(removed_at__isnull=True).count() == 1
    page = client.get(LIST).content.decode()
    assert "Visa •••• 4242" in page and "Mastercard" not in page
    assert client.get(f"/billing/payment-methods/{first.pk}/remove/").status_code == 405


def test_another_driver_s_card_is_not_found(client, driver, stripe_double, stripe_api):
    theirs = save_card(stripe_api, UserFactory())
    assert client.post(f"/billing/payment-methods/{theirs.pk}/remove/").status_code == 404
    assert client.post(f"/billing/payment-methods/{theirs.pk}/default/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.removed_at is None
