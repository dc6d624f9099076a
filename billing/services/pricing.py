"""The exact price of a charging session, from its meter readings and its tariff.

What is priced:
- Energy: the session's energy register (Energy.Active.Import.Register, all phases), from the
  meter start through the periodic samples to the meter stop. The register is read as rising
  linearly between two readings, so the energy in a time-of-use band is the register's value
  where the band ends minus its value where it begins, not a share of an average.
- Charging time: from the start until charging stopped, that is the connector's first status after
  the start that is Finishing or Available (suspended by the EV or the charger still counts as
  charging), or the session's stop without one; or, with the tariff's `idle_from_suspended_ev`,
  until the car stopped taking energy (SuspendedEV) for good.
- Idle time: from there until the car was unplugged (the connector's Available, also after the
  stop when the charger ended the transaction first; billing waits for it), or, with none on record
  when the session is priced, the charger's last report of the car still plugged in, else the stop
  (billing/services/session_times.py says exactly); only the minutes past the grace period cost
  the idle price. Idle time is never split by bands.
- The session fee, once.
Bands are wall-clock hours in the site's time zone: across a clock change a band keeps its hours,
and minutes are real elapsed minutes (a night with the clock going back has one more hour).

Rounding, so that every figure can be checked by hand:
- The register is interpolated exactly (Decimal) and rounded half up to a whole Wh at each band edge;
  a band's energy is the difference of two rounded values, so the bands add up to the session's Wh.
- Minutes are elapsed seconds / 60, rounded half up to 4 decimals.
- A line's amount is its quantity times its unit price, rounded half up to the smallest amount a
  card charge in the currency can carry (billing.domain.charge_exponent): the ISO 4217 minor unit
  (2 decimals for EUR, 0 for JPY), except whole ariary for MGA and 0.01 for KWD and the other
  3-decimal currencies, as Stripe takes them. Lines with a zero price or quantity are left out.
- Totals are sums of rounded lines. Prices with tax included: gross is the sum, net is
  gross / (1 + rate) rounded half up, tax is the difference. Prices without tax: net is the sum,
  tax is net x rate rounded half up, gross is net + tax.
A session is priced once, when it has ended; the price keeps the tariff's revision and a snapshot
of its terms, and later tariff changes never touch it. A session no tariff applies to gets no price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import User
from billing.domain import PriceLineKind, charge_exponent
from billing.models import PriceLine, SessionPrice, Tariff
from billing.services.session_times import (
    RegisterPoint,
    register_at,
    seconds_of,
    session_idle_span,
    session_register,
)
from billing.services.tariffs import (
    Band,
    Rates,
    TariffTerms,
    rates_at,
    tariff_for_groups,
    tariff_for_session,
    tariff_terms,
    terms_snapshot,
    user_group_ids,
)
from stations.models import ChargingSession, Connector, Station
from stations.services.access import site_zone
from stations.services.windows import window_edges

WH = Decimal(1)
MINUTE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class Line:
    kind: PriceLineKind
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Breakdown:
    """A computed price, before it is stored."""

    currency: str
    lines: tuple[Line, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal
    energy_wh: int
    charging_s: int
    idle_s: int


def minor_unit(currency: str) -> Decimal:
    """Return the currency's smallest chargeable amount: 0.01 for EUR, 1 for JPY and MGA, 0.01 for KWD."""
    return Decimal(1).scaleb(-charge_exponent(currency))


def money_round(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's smallest chargeable amount."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def stretches(
    *, terms: TariffTerms, since: datetime, until: datetime, zone: ZoneInfo
) -> list[tuple[datetime, datetime, Rates]]:
    """Cut [since, until) where the prices in force change; each stretch with its prices."""
    edges = {since, until}
    for band in terms.bands:
        edges |= window_edges(start=band.start, end=band.end, since=since, until=until, zone=zone)
    moments = sorted(edges)
    result: list[tuple[datetime, datetime, Rates]] = []
    for begin, end in zip(moments, moments[1:], strict=False):
        rates = rates_at(terms, begin, zone)
        if result and result[-1][2] == rates:
            result[-1] = (result[-1][0], end, rates)
        else:
            result.append((begin, end, rates))
    return result


def _band_name(band: Band | None) -> str:
    if band is None:
        return ""
    return f" ({band.label or f'{band.start:%H:%M}-{band.end:%H:%M}'})"


def price_compute(
    *,
    terms: TariffTerms,
    zone: ZoneInfo,
    started_at: datetime,
    charging_until: datetime,
    stopped_at: datetime,
    register: Sequence[RegisterPoint],
    idle_until: datetime | None = None,
) -> Breakdown:
    """Price a session from the tariff's terms, its times and its energy register readings.

    Charging time runs until `charging_until`, idle time from there until `idle_until` (the unplug;
    the stop when not given), which may be before or after the stop."""
    currency = terms.currency
    # In UTC: Python subtracts datetimes of one zone by their wall clocks, wrong across a clock change.
    started_at, stopped_at = started_at.astimezone(UTC), stopped_at.astimezone(UTC)
    charging_until = min(max(charging_until.astimezone(UTC), started_at), stopped_at)
    idle_until = max((idle_until or stopped_at).astimezone(UTC), charging_until)
    register = [(at.astimezone(UTC), value) for at, value in register]
    energy: dict[Band | None, tuple[Decimal, Decimal]] = {}  # band -> (Wh, €/kWh)
    minutes: dict[Band | None, tuple[Decimal, Decimal]] = {}  # band -> (seconds, €/min)
    for begin, end, rates in stretches(terms=terms, since=started_at, until=stopped_at, zone=zone):
        wh = register_at(register, end).quantize(WH, ROUND_HALF_UP) - register_at(register, begin).quantize(
            WH, ROUND_HALF_UP
        )
        so_far = energy.get(rates.band, (Decimal(0), rates.energy_price_per_kwh))[0]
        energy[rates.band] = (so_far + wh, rates.energy_price_per_kwh)
        if begin < charging_until:
            seconds = seconds_of(min(end, charging_until) - begin)
            so_far = minutes.get(rates.band, (Decimal(0), rates.time_price_per_min))[0]
            minutes[rates.band] = (so_far + seconds, rates.time_price_per_min)

    lines: list[Line] = []

    def add(kind: PriceLineKind, description: str, quantity: Decimal, unit: str, price: Decimal) -> None:
        if quantity and price:
            amount = money_round(quantity * price, currency)
            lines.append(Line(kind, description, quantity, unit, price, amount))

    for band, (wh, price) in energy.items():
        add(PriceLineKind.ENERGY, f"Energy{_band_name(band)}", wh.scaleb(-3), "kWh", price)
    for band, (seconds, price) in minutes.items():
        quantity = (seconds / 60).quantize(MINUTE_STEP, ROUND_HALF_UP)
        add(PriceLineKind.TIME, f"Charging time{_band_name(band)}", quantity, "min", price)
    idle = idle_until - charging_until
    billable = max(seconds_of(idle) - terms.idle_grace_min * 60, Decimal(0))
    grace = f" after {terms.idle_grace_min} min grace" if terms.idle_grace_min else ""
    add(
        PriceLineKind.IDLE,
        f"Idle time{grace}",
        (billable / 60).quantize(MINUTE_STEP, ROUND_HALF_UP),
        "min",
        terms.idle_price_per_min,
    )
    add(PriceLineKind.SESSION_FEE, "Session fee", Decimal(1), "session", terms.session_fee)

    total = sum((line.amount for line in lines), Decimal(0))
    rate = terms.tax_rate_percent / 100
    if terms.prices_include_tax:
        gross = total
        net = money_round(gross / (1 + rate), currency)
        tax = gross - net
    else:
        net = total
        tax = money_round(net * rate, currency)
        gross = net + tax
    energy_wh = register_at(register, stopped_at).quantize(WH, ROUND_HALF_UP) - register_at(
        register, started_at
    ).quantize(WH, ROUND_HALF_UP)
    return Breakdown(
        currency=currency,
        lines=tuple(lines),
        net=net,
        tax=tax,
        gross=gross,
        energy_wh=int(energy_wh),
        charging_s=int(seconds_of(charging_until - started_at)),
        idle_s=int(seconds_of(idle)),
    )


@transaction.atomic
def session_price(*, session: ChargingSession) -> SessionPrice | None:
    """Price an ended session once; None while it is open or when no tariff applies to it."""
    session = (
        ChargingSession.objects.select_for_update(of=("self",))
        .select_related("station__site")
        .get(pk=session.pk)
    )
    existing = SessionPrice.objects.filter(session=session).first()
    if existing is not None:
        return existing
    if session.started_at is None or session.stopped_at is None:
        return None
    tariff = tariff_for_session(session)
    if tariff is None:
        return None
    # Locked, so that the snapshot and the revision it names are read together.
    terms = tariff_terms(Tariff.objects.select_for_update().get(pk=tariff.pk))
    register = session_register(session)
    idle_from, idle_until = session_idle_span(
        session, register=register, from_suspended_ev=terms.idle_from_suspended_ev
    )
    breakdown = price_compute(
        terms=terms,
        zone=site_zone(session.station.site),
        started_at=session.started_at,
        charging_until=idle_from,
        stopped_at=session.stopped_at,
        register=register,
        idle_until=idle_until,
    )
    price = SessionPrice.objects.create(
        session=session,
        tariff=tariff,
        tariff_revision=terms.revision,
        tariff_snapshot=terms_snapshot(terms),
        currency=breakdown.currency,
        net=breakdown.net,
        tax=breakdown.tax,
        gross=breakdown.gross,
        energy_wh=breakdown.energy_wh,
        charging_s=breakdown.charging_s,
        idle_s=breakdown.idle_s,
    )
    PriceLine.objects.bulk_create(
        PriceLine(
            price=price,
            position=position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for position, line in enumerate(breakdown.lines, start=1)
    )
    return price


@dataclass(frozen=True)
class PricePreview:
    """What a driver pays at a connector if they start now: tax included, in the tariff's currency."""

    currency: str
    energy_price_per_kwh: Decimal
    time_price_per_min: Decimal
    session_fee: Decimal
    idle_price_per_min: Decimal
    idle_grace_min: int
    tax_rate_percent: Decimal
    band_label: str  # the time-of-use band in force, "" outside bands
    until: datetime | None  # when the energy or time price changes next (within a week)


PREVIEW_STEP = Decimal("0.0001")
PREVIEW_HORIZON = timedelta(days=7)


def price_preview(
    *, station: Station, connector: Connector | None, user: User | None, at: datetime
) -> PricePreview | None:
    """Return the prices a driver (their groups; None: anybody) would pay here starting at `at`."""
    groups = user_group_ids(user) if user is not None else set()
    tariff = tariff_for_groups(station=station, connector=connector, group_ids=groups, at=at)
    if tariff is None:
        return None
    terms = tariff_terms(tariff)
    zone = site_zone(station.site)
    ahead = stretches(terms=terms, since=at, until=at + PREVIEW_HORIZON, zone=zone)
    rates = ahead[0][2]
    # Drivers see what they pay: tax added where the tariff's prices are without it.
    factor = Decimal(1) if terms.prices_include_tax else 1 + terms.tax_rate_percent / 100

    def shown(value: Decimal) -> Decimal:
        return (value * factor).quantize(PREVIEW_STEP, ROUND_HALF_UP)

    return PricePreview(
        currency=terms.currency,
        energy_price_per_kwh=shown(rates.energy_price_per_kwh),
        time_price_per_min=shown(rates.time_price_per_min),
        session_fee=shown(terms.session_fee),
        idle_price_per_min=shown(terms.idle_price_per_min),
        idle_grace_min=terms.idle_grace_min,
        tax_rate_percent=terms.tax_rate_percent,
        band_label=_band_name(rates.band).strip(" ()"),
        until=ahead[0][1] if len(ahead) > 1 else None,
    )
