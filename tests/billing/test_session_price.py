"""Pricing a stored session: its register samples, its status history, the stored lines, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from billing.domain import PriceLineKind
from billing.models import SessionPrice, TariffBand
from billing.services.pricing import session_price
from billing.services.tariffs import tariff_revision_bump, terms_from_snapshot
from stations.domain import ConnectorStatus
from stations.models import Connector, StatusChange
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory, ended_session
from tests.factories import OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

D = Decimal
START = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)  # 21:30 in Berlin


@pytest.fixture
def connector():
    org = OrganizationFactory()
    station = StationFactory(site=SiteFactory(organization=org, time_zone="Europe/Berlin"))
    return Connector.objects.create(station=station, evse_id=1)


@pytest.fixture
def tariff(connector):
    tariff = TariffFactory(
        organization=connector.station.site.organization,
        energy_price_per_kwh=D("0.40"),
        idle_price_per_min=D("0.10"),
        idle_grace_min=15,
        session_fee=D("1.00"),
        tax_rate_percent=D(19),
    )
    TariffBand.objects.create(
        tariff=tariff,
        label="Night",
        window_start=time(22),
        window_end=time(6),
        energy_price_per_kwh=D("0.20"),
    )
    TariffAssignmentFactory(tariff=tariff, site=connector.station.site)
    return tariff


def a_session(connector, **fields):
    defaults = {
        "station": connector.station,
        "connector": connector,
        "started_at": START,
        "stopped_at": START + timedelta(hours=2),
        "meter_start_wh": 100_000,
        "meter_stop_wh": 115_000,
        # 22:00 Berlin is 21:00 UTC: 6 kWh in the first half hour at the day price.
        "samples": [(START + timedelta(minutes=30), D("106.000"), "kWh")],
    }
    return ended_session(**(defaults | fields))


def test_a_session_is_priced_from_its_samples_in_the_site_s_zone(connector, tariff):
    StatusChange.objects.create(
        station=connector.station,
        connector=connector,
        status=ConnectorStatus.FINISHING,
        occurred_at=START + timedelta(hours=1, minutes=30),
    )
    price = session_price(session=a_session(connector))
    assert [
        (line.position, line.kind, line.description, line.quantity, line.amount) for line in price.lines.all()
    ] == [
        (1, PriceLineKind.ENERGY, "Energy", D("6.000"), D("2.40")),
        (2, PriceLineKind.ENERGY, "Energy (Night)", D("9.000"), D("1.80")),
        (3, PriceLineKind.IDLE, "Idle time after 15 min grace", D("15.0000"), D("1.50")),
        (4, PriceLineKind.SESSION_FEE, "Session fee", D(1), D("1.00")),
    ]
    assert (price.gross, price.net, price.tax, price.currency) == (D("6.70"), D("5.63"), D("1.07"), "EUR")
    assert (price.energy_wh, price.charging_s, price.idle_s) == (15_000, 5400, 1800)
    assert price.tariff == tariff and price.tariff_revision == 1
    assert terms_from_snapshot(price.tariff_snapshot).bands[0].energy_price_per_kwh == D("0.20")


def test_a_second_call_returns_the_stored_price_even_after_the_tariff_changed(connector, tariff):
    session = a_session(connector)
    first = session_price(session=session)
    tariff.energy_price_per_kwh = D("0.99")
    tariff.save()
    tariff.bands.all().delete()
    tariff_revision_bump(tariff=tariff)
    again = session_price(session=session)
    assert again.pk == first.pk and again.gross == first.gross == D("5.20")
    assert again.tariff_revision == 1 and tariff.revision == 2
    assert SessionPrice.objects.filter(session=session).count() == 1
    assert again.lines.count() == 3


def test_a_session_without_a_tariff_or_still_open_gets_no_price(connector, tariff):
    open_session = a_session(connector, stopped_at=None, meter_stop_wh=None, samples=[])
    assert session_price(session=open_session) is None
    tariff.assignments.all().delete()
    assert session_price(session=a_session(connector, started_at=START - timedelta(days=1))) is None
    assert not SessionPrice.objects.exists()


def test_a_falling_reading_counts_as_no_energy_and_a_missing_stop_keeps_the_last_reading(connector, tariff):
    samples = [
        (START + timedelta(minutes=10), D(102_000), "Wh"),
        (START + timedelta(minutes=20), D(101_000), "Wh"),  # a glitch
        (START + timedelta(minutes=40), D(104_000), "Wh"),
    ]
    price = session_price(session=a_session(connector, meter_stop_wh=None, samples=samples))
    assert price.energy_wh == 4000


def test_the_charging_status_before_the_start_does_not_end_charging(connector, tariff):
    StatusChange.objects.create(
        station=connector.station,
        connector=connector,
        status=ConnectorStatus.AVAILABLE,
        occurred_at=START - timedelta(minutes=5),
    )
    price = session_price(session=a_session(connector))
    assert (price.charging_s, price.idle_s) == (7200, 0)
