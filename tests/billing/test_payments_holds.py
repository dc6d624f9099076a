"""Holds (manual capture) through the gateway and the services, against the Stripe double."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain import PaymentMethodKind, PaymentStatus
from billing.payments.base import PaymentDeclined, ProviderRejected, gateway
from billing.services.payments import payment_capture, payment_refund, payment_release
from tests.billing.payments_fixtures import payment_for
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


def hold(amount: str = "50.00", currency: str = "EUR", token: str = "pm_card_visa", key: str = "hold:1"):
    return gateway().hold(
        amount=Decimal(amount), currency=currency, payment_method_id=token, idempotency_key=key
    )


def test_a_hold_authorizes_without_taking_the_money(stripe_double):
    held = hold()
    assert held.status == PaymentStatus.AUTHORIZED
    assert (held.amount, held.amount_capturable, held.amount_captured) == (
        Decimal(50),
        Decimal(50),
        Decimal(0),
    )
    remote = stripe_double.get(held.id)
    assert (remote["capture_method"], remote["amount"], remote["status"]) == (
        "manual",
        5000,
        "requires_capture",
    )


def test_capturing_part_of_a_hold_takes_that_amount_and_releases_the_rest(stripe_double):
    held = hold()
    captured = gateway().capture(held.id, amount=Decimal("12.34"), currency="EUR", idempotency_key="cap:1")
    assert captured.status == PaymentStatus.CAPTURED
    assert (captured.amount_captured, captured.amount_capturable, captured.amount_refunded) == (
        Decimal("12.34"),
        Decimal(0),
        Decimal(0),
    )
    charge = stripe_double.get(stripe_double.get(held.id)["latest_charge"])
    assert (charge["amount_captured"], charge["amount_refunded"]) == (1234, 0)
    assert stripe_double.objects("refund") == []  # a release is no refund
    assert gateway().payment_retrieve(held.id).amount_refunded == 0
    again = gateway().capture(held.id, amount=Decimal("12.34"), currency="EUR", idempotency_key="cap:1")
    assert again == captured  # the replayed answer
    with pytest.raises(ProviderRejected):  # one capture only
        gateway().capture(held.id, amount=Decimal("1"), currency="EUR", idempotency_key="cap:2")


def test_capturing_more_than_the_hold_is_refused(stripe_double):
    held = hold("10.00")
    with pytest.raises(ProviderRejected, match="less than or equal"):
        gateway().capture(held.id, amount=Decimal("10.01"), currency="EUR", idempotency_key="cap:1")
    assert stripe_double.get(held.id)["status"] == "requires_capture"


def test_cancelling_a_hold_releases_it(stripe_double):
    held = hold()
    released = gateway().cancel(held.id, idempotency_key="cancel:1")
    assert released.status == PaymentStatus.CANCELED and released.amount_capturable == 0
    assert gateway().cancel(held.id, idempotency_key="cancel:1") == released
    with pytest.raises(ProviderRejected):
        gateway().capture(held.id, amount=Decimal("1"), currency="EUR", idempotency_key="cap:1")


def test_a_hold_in_a_zero_decimal_currency(stripe_double):
    held = hold("3000", "JPY")
    assert stripe_double.get(held.id)["amount"] == 3000
    captured = gateway().capture(held.id, amount=Decimal("1234"), currency="JPY", idempotency_key="cap:1")
    assert captured.amount_captured == Decimal(1234)


def test_a_declined_hold_raises_with_the_failed_intent(stripe_double):
    with pytest.raises(PaymentDeclined) as declined:
        hold(token="pm_card_chargeDeclinedInsufficientFunds")
    assert declined.value.code == "insufficient_funds"
    assert declined.value.payment.status == PaymentStatus.FAILED


def test_services_capture_release_and_refund_a_held_payment(stripe_double):
    first, second = hold(key="hold:a"), hold(key="hold:b")
    captured = payment_capture(
        payment=payment_for(first.id, amount="50", method=PaymentMethodKind.CARD_HOLD), amount=Decimal("20")
    )
    assert (captured.status, captured.amount_authorized, captured.amount_captured) == (
        PaymentStatus.CAPTURED,
        Decimal(50),
        Decimal(20),
    )
    partly = payment_refund(payment=captured, amount=Decimal("5"), reference="CN-1")
    assert (partly.status, partly.amount_refunded) == (PaymentStatus.PARTIALLY_REFUNDED, Decimal(5))
    assert (
        payment_refund(payment=partly, amount=Decimal("5"), reference="CN-1").amount_refunded == 5
    )  # replay
    whole = payment_refund(payment=partly, amount=Decimal("15"), reference="CN-2")
    assert (whole.status, whole.amount_refunded) == (PaymentStatus.REFUNDED, Decimal(20))
    released = payment_release(
        payment=payment_for(second.id, amount="50", method=PaymentMethodKind.CARD_HOLD)
    )
    assert released.status == PaymentStatus.CANCELED
    zero = payment_capture(payment=payment_for(hold(key="hold:c").id, amount="50"), amount=Decimal(0))
    assert zero.status == PaymentStatus.CANCELED  # nothing to take: released, not a capture of 0
