"""Saved cards and charging them after a session, against the local Stripe double (nothing patched)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain import InvoiceStatus, PaymentStatus, currency_exponent
from billing.models import BillingCustomer, Payment, SavedPaymentMethod
from billing.payments.base import NotTheDriversMethod, ProviderUnavailable
from billing.payments.stripe import from_minor, to_minor
from billing.services.invoicing import invoice_issue_for_session
from billing.services.payment_methods import (
    customer_get_or_create,
    payment_method_remove,
    payment_method_setup_finish,
    payment_method_setup_start,
)
from billing.services.payments import payment_charge_saved_card
from billing.services.pricing import money_round
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import save_card
from tests.factories import UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


def test_money_becomes_minor_units_by_the_currency_s_exponent():
    assert to_minor(Decimal("12.34"), "EUR") == 1234
    assert to_minor(Decimal("12.3400"), "eur") == 1234
    assert to_minor(Decimal("500"), "JPY") == 500
    assert to_minor(Decimal("1.250"), "KWD") == 1250
    assert from_minor(1234, "EUR") == Decimal("12.34")
    assert from_minor(500, "KRW") == Decimal("500")
    with pytest.raises(ValueError):
        to_minor(Decimal("12.345"), "EUR")
    with pytest.raises(ValueError):
        to_minor(Decimal("0.5"), "JPY")


def test_one_iso_4217_table_and_stripe_s_own_deviations_from_it():
    assert [currency_exponent(code) for code in ("EUR", "jpy", "KWD", "ISK", "MGA")] == [2, 0, 3, 0, 2]
    # Amounts round to what a charge can carry: 3-decimal KWD in steps of 0.010 (Stripe's rule).
    assert (money_round(Decimal("1.2345"), "KWD"), money_round(Decimal("99.5"), "JPY")) == (
        Decimal("1.23"),
        Decimal("100"),
    )
    # Stripe counts ariary whole and krónur in hundredths.
    assert (to_minor(Decimal("500"), "MGA"), to_minor(Decimal("500"), "ISK")) == (500, 50000)
    assert from_minor(50000, "ISK") == Decimal("500")


def test_a_driver_gets_one_customer_however_often_asked(stripe_double):
    user = UserFactory(email="ann@example.com")
    first = customer_get_or_create(user=user)
    BillingCustomer.objects.all().delete()  # a lost answer: the idempotency key finds the same customer
    again = customer_get_or_create(user=user)
    assert first.provider_customer_id == again.provider_customer_id
    assert len(stripe_double.objects("customer")) == 1


def test_a_card_saved_through_a_setup_intent_is_recorded_and_the_first_is_default(stripe_double, stripe_api):
    user = UserFactory()
    secret = payment_method_setup_start(user=user)
    setup_id = secret.split("_secret_")[0]
    assert stripe_double.get(setup_id)["usage"] == "off_session"
    stripe_api.v1.setup_intents.confirm(setup_id, params={"payment_method": "pm_card_visa"})  # Stripe.js
    method = payment_method_setup_finish(user=user, setup_id=setup_id)
    assert (method.brand, method.last4, method.exp_month, method.is_default) == ("visa", "4242", 12, True)
    second = save_card(stripe_api, user, "pm_card_mastercard")
    assert (second.brand, second.is_default) == ("mastercard", False)
    assert payment_method_setup_finish(user=user, setup_id=setup_id).pk == method.pk  # recorded once


def test_a_card_of_another_customer_is_refused(stripe_double, stripe_api):
    mallory, ann = UserFactory(), UserFactory()
    anns = save_card(stripe_api, ann)
    customer_get_or_create(user=mallory)
    from billing.services.payment_methods import payment_method_saved

    with pytest.raises(NotTheDriversMethod):
        payment_method_saved(user=mallory, provider_payment_method_id=anns.provider_payment_method_id)
    with pytest.raises(NotTheDriversMethod):
        payment_method_remove(user=mallory, method=anns)


def test_removing_the_default_card_detaches_it_and_the_other_becomes_default(stripe_double, stripe_api):
    user = UserFactory()
    first = save_card(stripe_api, user)
    second = save_card(stripe_api, user, "pm_card_mastercard")
    payment_method_remove(user=user, method=first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.removed_at is not None and not first.is_default and second.is_default
    assert stripe_double.get(first.provider_payment_method_id)["customer"] is None


def test_a_session_is_charged_to_the_saved_card_off_session_and_its_invoice_is_paid(
    stripe_double, stripe_api
):
    scene = Scene()
    save_card(stripe_api, scene.driver)
    invoice = invoice_issue_for_session(session_price=scene.price)  # on account until paid
    assert invoice.status == InvoiceStatus.OPEN
    payment = payment_charge_saved_card(session_price=scene.price)
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.amount_captured == Decimal("6.00") and payment.invoice == invoice
    remote = stripe_double.get(payment.provider_reference)
    assert (remote["amount"], remote["currency"], remote["status"]) == (600, "eur", "succeeded")
    assert remote["metadata"] == {"payment": str(payment.pk), "session": str(scene.session.pk)}
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_charging_a_session_twice_makes_one_payment_intent(stripe_double, stripe_api):
    scene = Scene()
    save_card(stripe_api, scene.driver)
    first = payment_charge_saved_card(session_price=scene.price)
    second = payment_charge_saved_card(session_price=scene.price)
    assert first.pk == second.pk and Payment.objects.count() == 1
    assert len(stripe_double.objects("payment_intent")) == 1


def test_a_declined_card_is_recorded_as_failed_with_the_bank_s_message(stripe_double, stripe_api):
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_chargeCustomerFail")
    payment = payment_charge_saved_card(session_price=scene.price)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message == "Your card was declined."
    assert stripe_double.get(payment.provider_reference)["status"] == "requires_payment_method"


def test_a_card_needing_authentication_leaves_the_payment_waiting_for_the_driver(stripe_double, stripe_api):
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_authenticationRequired")
    payment = payment_charge_saved_card(session_price=scene.price)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert "requires authentication" in payment.failure_message


def test_a_failed_payment_charged_again_uses_a_new_attempt(stripe_double, stripe_api):
    scene = Scene()
    declining = save_card(stripe_api, scene.driver, "pm_card_chargeCustomerFail")
    assert payment_charge_saved_card(session_price=scene.price).status == PaymentStatus.FAILED
    save_card(stripe_api, scene.driver)
    payment_method_remove(user=scene.driver, method=declining)
    Payment.objects.update(attempts=2)  # as billing_run's retry counts it
    payment = payment_charge_saved_card(session_price=scene.price)
    assert payment.status == PaymentStatus.CAPTURED
    assert len(stripe_double.objects("payment_intent")) == 2


def test_an_unreachable_provider_raises_for_a_retry_that_charges_once(stripe_double, stripe_api, settings):
    scene = Scene()
    save_card(stripe_api, scene.driver)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(ProviderUnavailable):
        payment_charge_saved_card(session_price=scene.price)
    assert Payment.objects.get().status == PaymentStatus.PENDING
    settings.STRIPE_API_BASE = stripe_double.url
    assert payment_charge_saved_card(session_price=scene.price).status == PaymentStatus.CAPTURED
    assert len(stripe_double.objects("payment_intent")) == 1


def test_no_saved_card_fails_without_calling_the_provider(stripe_double):
    scene = Scene()
    payment = payment_charge_saved_card(session_price=scene.price)
    assert payment.status == PaymentStatus.FAILED and "No saved card" in payment.failure_message
    assert stripe_double.objects("payment_intent") == []
    assert not SavedPaymentMethod.objects.exists()
