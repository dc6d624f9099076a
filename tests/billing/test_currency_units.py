"""Amounts are rounded to what a card charge can carry, and reach Stripe in its own units: one test
per currency where Stripe's amounts differ from ISO 4217 minor units (https://docs.stripe.com/currencies,
zero-decimal, three-decimal and special cases), from the tariff to the PaymentIntent at the double."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.domain import charge_exponent, currency_exponent
from billing.payments.stripe import from_minor, to_minor
from billing.services.payments import payment_charge_saved_card
from billing.services.pricing import money_round, session_price
from tests.billing.invoicing_fixtures import driver_with_card, operator, site_of
from tests.billing.payments_fixtures import save_card
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory, ended_session
from tests.factories import StationFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

D = Decimal

# currency, an unrounded amount, the amount invoiced and charged, Stripe's integer amount
CASES = [
    ("EUR", D("12.345"), D("12.35"), 1235),
    ("JPY", D("337.5"), D("338"), 338),
    # ISO 4217 gives MGA 2 decimals; Stripe counts whole ariary.
    ("MGA", D("12346.2345"), D("12346"), 12346),
    # Whole krónur and shillings, sent to Stripe as two-decimal values ending in 00.
    ("ISK", D("623.4225"), D("623"), 62300),
    ("UGX", D("12346.2345"), D("12346"), 1234600),
    # Three decimals at Stripe, the last one 0: 1.247 KWD cannot be charged, 1.250 can.
    ("KWD", D("1.246845"), D("1.25"), 1250),
    ("BHD", D("0.1235"), D("0.12"), 120),
    # Zero-decimal at Stripe for payouts only: charges keep their 2 decimals.
    ("HUF", D("1235.7345"), D("1235.73"), 123573),
    ("TWD", D("123.57345"), D("123.57"), 12357),
]


@pytest.mark.parametrize(("currency", "amount", "charged", "minor"), CASES)
def test_an_amount_rounds_to_what_can_be_charged_and_converts_to_stripe_s_units(
    currency, amount, charged, minor
):
    assert money_round(amount, currency) == charged
    assert to_minor(charged, currency) == minor
    assert from_minor(minor, currency) == charged


@pytest.mark.parametrize(
    ("currency", "finer"),
    [("EUR", "12.345"), ("MGA", "12346.23"), ("ISK", "5.5"), ("UGX", "0.50"), ("KWD", "1.247")],
)
def test_an_amount_finer_than_a_charge_can_carry_never_reaches_stripe(currency, finer):
    with pytest.raises(ValueError, match="finer than a charge"):
        to_minor(D(finer), currency)


def test_the_table_keeps_iso_4217_next_to_what_is_charged():
    assert [(currency_exponent(c), charge_exponent(c)) for c in ("EUR", "MGA", "ISK", "KWD", "IQD")] == [
        (2, 2),
        (2, 0),
        (0, 0),
        (3, 2),
        (3, 3),  # not a Stripe currency: ISO stands
    ]


# The energy price per kWh that makes 12.345 kWh cost each case's unrounded amount.
PRICES = {
    "MGA": D("1000.1"),
    "ISK": D("50.5"),
    "UGX": D("1000.1"),
    "KWD": D("0.101"),
    "HUF": D("100.1"),
    "TWD": D("10.01"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("currency", "amount", "charged", "minor"), [c for c in CASES if c[0] in PRICES])
def test_a_session_priced_in_the_currency_is_charged_exactly_its_price(
    stripe_double, stripe_api, currency, amount, charged, minor
):
    site = site_of(operator())
    tariff = TariffFactory(
        organization=site.organization, currency=currency, energy_price_per_kwh=PRICES[currency]
    )
    TariffAssignmentFactory(tariff=tariff, site=site)
    driver, token = driver_with_card(f"{currency.lower()}@example.com")
    save_card(stripe_api, driver)
    stopped = timezone.now() - timedelta(minutes=5)
    session = ended_session(
        station=StationFactory(site=site),
        connector=None,
        started_at=stopped - timedelta(hours=1),
        stopped_at=stopped,
        meter_start_wh=0,
        meter_stop_wh=12_345,
        id_token_pk=token.pk,
    )
    price = session_price(session=session)
    assert price.lines.get().amount == price.gross == charged  # 12.345 kWh cost `amount` unrounded
    payment = payment_charge_saved_card(session_price=price)
    intent = stripe_double.get(payment.provider_reference)
    assert (intent["amount"], intent["currency"], intent["status"]) == (minor, currency.lower(), "succeeded")
    assert payment.amount_captured == charged
