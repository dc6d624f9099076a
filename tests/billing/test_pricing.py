"""The price of a session at every boundary: band edges, midnight, clock changes, idle grace, rounding."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.domain import PriceLineKind
from billing.services.pricing import Breakdown, price_compute
from billing.services.tariffs import Band, TariffTerms

BERLIN = ZoneInfo("Europe/Berlin")
D = Decimal
TERMS = TariffTerms(
    name="Public",
    currency="EUR",
    energy_price_per_kwh=D("0.40"),
    time_price_per_min=D(0),
    session_fee=D(0),
    idle_price_per_min=D(0),
    idle_grace_min=0,
    tax_rate_percent=D(0),
    prices_include_tax=True,
    revision=1,
)
NIGHT = Band(
    label="Night",
    days=frozenset(range(7)),
    start=time(22),
    end=time(6),
    energy_price_per_kwh=D("0.20"),
    time_price_per_min=None,
)


def berlin(day: int, hour: int, minute: int = 0, *, month: int = 11, fold: int = 0) -> datetime:
    """A Berlin wall-clock time, in UTC (datetimes of one zone subtract by their wall clocks)."""
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN, fold=fold).astimezone(UTC)


def compute(
    terms: TariffTerms,
    start: datetime,
    stop: datetime,
    register: list[tuple[datetime, int]],
    charging_until: datetime | None = None,
) -> Breakdown:
    return price_compute(
        terms=terms,
        zone=BERLIN,
        started_at=start,
        charging_until=charging_until or stop,
        stopped_at=stop,
        register=[(at, D(wh)) for at, wh in register],
    )


def lines(breakdown: Breakdown) -> list[tuple[str, Decimal, Decimal]]:
    return [(line.description, line.quantity, line.amount) for line in breakdown.lines]


def test_flat_energy_price_with_tax_included_takes_net_from_gross():
    terms = replace(TERMS, energy_price_per_kwh=D("0.39"), tax_rate_percent=D(19))
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 10_000)])
    assert lines(price) == [("Energy", D("10.000"), D("3.90"))]
    # 3.90 / 1.19 = 3.2773 -> 3.28
    assert (price.gross, price.net, price.tax) == (D("3.90"), D("3.28"), D("0.62"))
    assert price.energy_wh == 10_000 and price.charging_s == 3600 and price.idle_s == 0


def test_tax_excluded_prices_add_tax_to_the_sum():
    terms = replace(TERMS, energy_price_per_kwh=D("0.39"), tax_rate_percent=D(19), prices_include_tax=False)
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 10_000)])
    # 3.90 * 0.19 = 0.741 -> 0.74
    assert (price.net, price.tax, price.gross) == (D("3.90"), D("0.74"), D("4.64"))


@pytest.mark.parametrize(
    ("unit_price", "wh", "amount"),
    [
        (D("0.385"), 1000, D("0.39")),  # half up, where banker's rounding would give 0.38
        (D("0.125"), 1000, D("0.13")),
        (D("0.3333"), 1000, D("0.33")),
        (D("0.39"), 1, D("0.00")),  # 1 Wh costs less than half a cent: the line shows 0.00
        (D("0.39"), 13, D("0.01")),  # 0.00507
    ],
)
def test_each_line_is_rounded_half_up_to_the_cent(unit_price, wh, amount):
    terms = replace(TERMS, energy_price_per_kwh=unit_price)
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), wh)])
    assert price.lines[0].amount == amount
    assert price.gross == amount


def test_totals_are_sums_of_rounded_lines():
    terms = replace(TERMS, energy_price_per_kwh=D("0.005"), session_fee=D("0.005"))
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 1000)])
    # Two lines of 0.005 -> 0.01 each: 0.02, not round(0.010) = 0.01.
    assert [line.amount for line in price.lines] == [D("0.01"), D("0.01")]
    assert price.gross == D("0.02")


def test_a_currency_without_minor_unit_rounds_to_whole_yen():
    terms = replace(TERMS, currency="JPY", energy_price_per_kwh=D(45), tax_rate_percent=D(10))
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 7_500)])
    assert price.lines[0].amount == D(338)  # 337.5 half up
    assert (price.gross, price.net, price.tax) == (D(338), D(307), D(31))  # 338 / 1.1 = 307.27


def test_ariary_round_to_whole_ariary_as_cards_are_charged_not_to_iso_s_two_decimals():
    terms = replace(TERMS, currency="MGA", energy_price_per_kwh=D("1000.05"), tax_rate_percent=D(20))
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 7_500)])
    assert price.lines[0].amount == D(7500)  # 7500.375 half up to a whole ariary
    assert (price.gross, price.net, price.tax) == (D(7500), D(6250), D(1250))


def test_kuwaiti_dinars_round_to_the_hundredth_stripe_can_charge():
    terms = replace(TERMS, currency="KWD", energy_price_per_kwh=D("0.0331"))
    price = compute(terms, berlin(23, 10), berlin(23, 11), [(berlin(23, 10), 0), (berlin(23, 11), 7_500)])
    assert price.lines[0].amount == D("0.25")  # 0.24825: not 0.248 to the fils, a last digit Stripe refuses


def test_energy_in_each_band_comes_from_a_reading_exactly_at_the_edge():
    terms = replace(TERMS, bands=(NIGHT,))
    # Fast before 22:00, slow after: an average over the session would price this wrongly.
    register = [(berlin(23, 21), 0), (berlin(23, 22), 10_000), (berlin(23, 23), 12_000)]
    price = compute(terms, berlin(23, 21), berlin(23, 23), register)
    assert lines(price) == [
        ("Energy", D("10.000"), D("4.00")),
        ("Energy (Night)", D("2.000"), D("0.40")),
    ]
    assert price.energy_wh == 12_000


def test_energy_at_a_band_edge_between_readings_is_interpolated():
    terms = replace(TERMS, bands=(NIGHT,))
    register = [(berlin(23, 21, 30), 1000), (berlin(23, 22, 30), 13_000)]
    price = compute(terms, berlin(23, 21, 30), berlin(23, 22, 30), register)
    # At 22:00 the register reads 7000, halfway between the readings.
    assert lines(price) == [
        ("Energy", D("6.000"), D("2.40")),
        ("Energy (Night)", D("6.000"), D("1.20")),
    ]


def test_interpolated_watt_hours_are_rounded_at_the_edge_and_add_up():
    terms = replace(TERMS, bands=(NIGHT,))
    register = [(berlin(23, 21, 59), 0), (berlin(23, 22, 2), 1001)]
    price = compute(terms, berlin(23, 21, 59), berlin(23, 22, 2), register)
    # 1001 * 1/3 = 333.67 -> 334 Wh before 22:00, the rest after.
    assert [line.quantity for line in price.lines] == [D("0.334"), D("0.667")]
    assert price.energy_wh == 1001


def test_the_band_end_is_exclusive():
    terms = replace(TERMS, bands=(NIGHT,))
    price = compute(terms, berlin(24, 6), berlin(24, 7), [(berlin(24, 6), 0), (berlin(24, 7), 1000)])
    assert lines(price) == [("Energy", D("1.000"), D("0.40"))]


def test_a_band_past_midnight_covers_a_session_across_midnight():
    terms = replace(TERMS, bands=(NIGHT,))
    register = [(berlin(23, 21), 0), (berlin(24, 0), 3000), (berlin(24, 7), 10_000)]
    price = compute(terms, berlin(23, 21), berlin(24, 7), register)
    # 21-22 before the band, 22-06 in it, 06-07 after: one line per price, in order of appearance.
    assert lines(price) == [
        ("Energy", D("2.000"), D("0.80")),
        ("Energy (Night)", D("8.000"), D("1.60")),
    ]


def test_a_band_past_midnight_belongs_to_the_day_it_opens_on():
    weekday_nights = replace(NIGHT, days=frozenset(range(5)))  # opens Monday to Friday
    terms = replace(TERMS, bands=(weekday_nights,))
    # Friday 2026-11-27 23:00 to Saturday 07:00: Friday's night runs until Saturday 06:00.
    register = [(berlin(27, 23), 0), (berlin(28, 7), 8000)]
    friday = compute(terms, berlin(27, 23), berlin(28, 7), register)
    assert [line.description for line in friday.lines] == ["Energy (Night)", "Energy"]
    assert [line.quantity for line in friday.lines] == [D("7.000"), D("1.000")]
    # Saturday 23:00 to Sunday 01:00: no night opens on Saturday.
    saturday = compute(terms, berlin(28, 23), berlin(29, 1), [(berlin(28, 23), 0), (berlin(29, 1), 2000)])
    assert lines(saturday) == [("Energy", D("2.000"), D("0.80"))]


def test_time_is_priced_per_band_by_the_second():
    peak = Band("Peak", frozenset(range(7)), time(17), time(19), None, D("0.10"))
    terms = replace(TERMS, energy_price_per_kwh=D(0), time_price_per_min=D("0.02"), bands=(peak,))
    start, stop = berlin(23, 16, 30), berlin(23, 17, 45, month=11) + timedelta(seconds=30)
    price = compute(terms, start, stop, [(start, 0), (stop, 0)])
    assert lines(price) == [
        ("Charging time", D("30.0000"), D("0.60")),
        ("Charging time (Peak)", D("45.5000"), D("4.55")),
    ]


def test_clocks_going_forward_give_real_minutes_and_wall_clock_bands():
    # Sunday 2026-03-29 02:00 CET becomes 03:00 CEST. Night band 00:00-03:00 on the wall clock.
    night = Band("Night", frozenset(range(7)), time(0), time(3), None, D("0.01"))
    terms = replace(TERMS, energy_price_per_kwh=D(0), time_price_per_min=D("0.02"), bands=(night,))
    start, stop = berlin(29, 0, 30, month=3), berlin(29, 3, 30, month=3)
    assert stop - start == timedelta(hours=2)
    price = compute(terms, start, stop, [(start, 0), (stop, 0)])
    # 00:30-02:00 CET at night (90 min), then 03:00-03:30 CEST by day (30 min).
    assert lines(price) == [
        ("Charging time (Night)", D("90.0000"), D("0.90")),
        ("Charging time", D("30.0000"), D("0.60")),
    ]
    assert price.charging_s == 7200


def test_clocks_going_back_give_the_repeated_hour_twice():
    # Sunday 2026-10-25 03:00 CEST becomes 02:00 CET: 02:00-03:00 happens twice.
    night = Band("Night", frozenset(range(7)), time(0), time(3), None, D("0.01"))
    terms = replace(TERMS, energy_price_per_kwh=D(0), time_price_per_min=D("0.02"), bands=(night,))
    start, stop = berlin(25, 1, 30, month=10), berlin(25, 3, 30, month=10)
    assert stop - start == timedelta(hours=3)
    price = compute(terms, start, stop, [(start, 0), (stop, 0)])
    assert lines(price) == [
        ("Charging time (Night)", D("150.0000"), D("1.50")),
        ("Charging time", D("30.0000"), D("0.60")),
    ]
    assert price.charging_s == 3 * 3600


def test_a_band_edge_inside_the_repeated_hour_is_crossed_twice():
    early = Band("Early", frozenset(range(7)), time(0), time(2, 30), D("0.10"), None)
    terms = replace(TERMS, bands=(early,))
    start, stop = berlin(25, 1, 30, month=10), berlin(25, 3, 30, month=10)
    first_230, second_200 = berlin(25, 2, 30, month=10), berlin(25, 2, 0, month=10, fold=1)
    assert second_200 - first_230 == timedelta(minutes=30)
    # One kWh per real hour, 3 kWh in all.
    price = compute(terms, start, stop, [(start, 0), (stop, 3000)])
    # Early: 01:30-02:30 CEST and 02:00-02:30 CET (1.5 h); not: 02:30-03:00 CEST, 02:30-03:30 CET.
    assert lines(price) == [
        ("Energy (Early)", D("1.500"), D("0.15")),
        ("Energy", D("1.500"), D("0.60")),
    ]


def test_idle_time_within_the_grace_period_is_free():
    terms = replace(TERMS, energy_price_per_kwh=D(0), idle_price_per_min=D("0.10"), idle_grace_min=10)
    start, charged = berlin(23, 10), berlin(23, 11)
    price = compute(terms, start, charged + timedelta(minutes=10), [(start, 0)], charging_until=charged)
    assert price.lines == ()
    assert (price.charging_s, price.idle_s) == (3600, 600)


def test_idle_time_one_minute_past_the_grace_period_costs_one_minute():
    terms = replace(TERMS, energy_price_per_kwh=D(0), idle_price_per_min=D("0.10"), idle_grace_min=10)
    start, charged = berlin(23, 10), berlin(23, 11)
    price = compute(terms, start, charged + timedelta(minutes=11), [(start, 0)], charging_until=charged)
    assert lines(price) == [("Idle time after 10 min grace", D("1.0000"), D("0.10"))]
    assert price.idle_s == 660


def test_idle_time_is_not_split_by_bands_and_charging_time_stops_with_charging():
    peak = Band("Peak", frozenset(range(7)), time(11), time(12), None, D("0.50"))
    terms = replace(
        TERMS, energy_price_per_kwh=D(0), time_price_per_min=D("0.02"), idle_price_per_min=D("0.10")
    )
    terms = replace(terms, bands=(peak,))
    start, charged, stop = berlin(23, 10), berlin(23, 11), berlin(23, 11, 30)
    price = compute(terms, start, stop, [(start, 0)], charging_until=charged)
    assert lines(price) == [
        ("Charging time", D("60.0000"), D("1.20")),
        ("Idle time", D("30.0000"), D("3.00")),
    ]


def test_a_session_without_energy_pays_its_session_fee_only():
    terms = replace(TERMS, session_fee=D("1.50"), tax_rate_percent=D(19))
    start = berlin(23, 10)
    price = compute(
        terms, start, start + timedelta(minutes=2), [(start, 5000), (start + timedelta(minutes=2), 5000)]
    )
    assert [(line.kind, line.quantity, line.unit, line.amount) for line in price.lines] == [
        (PriceLineKind.SESSION_FEE, D(1), "session", D("1.50"))
    ]
    assert (price.gross, price.net, price.tax, price.energy_wh) == (D("1.50"), D("1.26"), D("0.24"), 0)


def test_a_free_tariff_gives_a_price_of_zero():
    terms = replace(TERMS, energy_price_per_kwh=D(0))
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    price = compute(
        terms, start, start + timedelta(hours=1), [(start, 0), (start + timedelta(hours=1), 9000)]
    )
    assert price.lines == () and price.gross == price.net == price.tax == D(0)
    assert price.energy_wh == 9000
