"""Idle time from the charger's status history: until the unplug, also after a stop that came first
(OCPP 1.6 chargers ending the transaction before the car leaves), and from SuspendedEV when the
tariff says so. Statuses are stored as the gateway stores them (StatusChange rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.domain import PriceLineKind
from billing.services.pricing import session_price
from billing.services.running_cost import session_cost_so_far
from stations.domain import ConnectorStatus
from stations.models import ChargingSession, Connector, StatusChange
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory, ended_session
from tests.factories import OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

D = Decimal
START = datetime(2026, 11, 23, 10, tzinfo=UTC)
STOP = START + timedelta(hours=1)  # the charger's StopTransaction


@pytest.fixture
def connector():
    org = OrganizationFactory()
    station = StationFactory(site=SiteFactory(organization=org, time_zone="Europe/Berlin"))
    return Connector.objects.create(station=station, evse_id=1)


@pytest.fixture
def tariff(connector):
    tariff = TariffFactory(
        organization=connector.station.site.organization,
        energy_price_per_kwh=D(0),
        idle_price_per_min=D("0.10"),
        idle_grace_min=15,
    )
    TariffAssignmentFactory(tariff=tariff, site=connector.station.site)
    return tariff


def status(connector, state: ConnectorStatus, at: datetime) -> None:
    StatusChange.objects.create(station=connector.station, connector=connector, status=state, occurred_at=at)


def session(connector, **fields) -> ChargingSession:
    defaults = {
        "station": connector.station,
        "connector": connector,
        "started_at": START,
        "stopped_at": STOP,
        "meter_start_wh": 0,
        "meter_stop_wh": 20_000,
    }
    return ended_session(**(defaults | fields))


def idle_line(price) -> tuple[Decimal, Decimal] | None:
    line = price.lines.filter(kind=PriceLineKind.IDLE).first()
    return (line.quantity, line.amount) if line else None


def stop_first(connector, *, unplugged_after: timedelta | None) -> None:
    """OCPP 1.6: StopTransaction, then Finishing, then (maybe) Available when the car leaves."""
    status(connector, ConnectorStatus.CHARGING, START + timedelta(seconds=5))
    status(connector, ConnectorStatus.FINISHING, STOP + timedelta(seconds=1))
    if unplugged_after is not None:
        status(connector, ConnectorStatus.AVAILABLE, STOP + unplugged_after)


def test_idle_time_runs_past_the_stop_until_the_car_is_unplugged(connector, tariff):
    stop_first(connector, unplugged_after=timedelta(minutes=40))
    price = session_price(session=session(connector))
    assert (price.charging_s, price.idle_s) == (3600, 2400)
    assert idle_line(price) == (D("25.0000"), D("2.50"))  # 40 min less 15 of grace


def test_without_an_unplug_on_record_idle_time_ends_at_the_last_report_of_the_car_plugged_in(
    connector, tariff
):
    stop_first(connector, unplugged_after=None)
    price = session_price(session=session(connector))
    assert (price.charging_s, price.idle_s) == (3600, 1)  # the Finishing a second after the stop
    assert idle_line(price) is None


@pytest.mark.parametrize(
    ("unplugged_after", "expected"),
    [
        (timedelta(minutes=15), None),  # the grace period exactly: free
        (timedelta(minutes=15, seconds=1), (D("0.0167"), D("0.00"))),
        (timedelta(minutes=16), (D("1.0000"), D("0.10"))),
    ],
)
def test_the_grace_period_counts_from_the_stop_to_the_unplug(connector, tariff, unplugged_after, expected):
    stop_first(connector, unplugged_after=unplugged_after)
    assert idle_line(session_price(session=session(connector))) == expected


def test_an_available_after_the_next_session_started_is_not_this_car_s_unplug(connector, tariff):
    stop_first(connector, unplugged_after=None)
    first = session(connector)
    session(connector, started_at=STOP + timedelta(minutes=20), stopped_at=STOP + timedelta(hours=2))
    status(connector, ConnectorStatus.AVAILABLE, STOP + timedelta(hours=2, minutes=1))
    assert session_price(session=first).idle_s == 1  # to its Finishing, a second after the stop


def test_a_car_unplugged_before_the_charger_ended_the_session_idles_until_the_unplug(connector, tariff):
    status(connector, ConnectorStatus.FINISHING, START + timedelta(minutes=30))
    status(connector, ConnectorStatus.AVAILABLE, START + timedelta(minutes=50))  # StopTransaction 10 min late
    price = session_price(session=session(connector))
    assert (price.charging_s, price.idle_s) == (1800, 1200)
    assert idle_line(price) == (D("5.0000"), D("0.50"))


def test_a_session_priced_before_the_unplug_keeps_idle_time_up_to_the_stop(connector, tariff):
    stop_first(connector, unplugged_after=None)
    ended = session(connector)
    first = session_price(session=ended)  # the billing run, right after StopTransaction
    status(connector, ConnectorStatus.AVAILABLE, STOP + timedelta(minutes=40))
    again = session_price(session=ended)
    assert again.pk == first.pk and again.idle_s == 1 and idle_line(again) is None


# --- idle from SuspendedEV (a tariff option) ---------------------------------------------------------
def full_at_40_min(connector) -> ChargingSession:
    """The car takes 20 kWh in 40 minutes, then the charger reports SuspendedEV until it is stopped."""
    status(connector, ConnectorStatus.CHARGING, START + timedelta(seconds=5))
    status(connector, ConnectorStatus.SUSPENDED_EV, START + timedelta(minutes=40))
    status(connector, ConnectorStatus.FINISHING, STOP)
    status(connector, ConnectorStatus.AVAILABLE, STOP + timedelta(minutes=5))
    samples = [(START + timedelta(minutes=m), D(wh), "Wh") for m, wh in ((20, 10_000), (40, 20_000))]
    return session(connector, samples=samples)


def test_without_the_option_suspended_ev_still_counts_as_charging(connector, tariff):
    price = session_price(session=full_at_40_min(connector))
    assert (price.charging_s, price.idle_s) == (3600, 300)
    assert idle_line(price) is None


def test_with_the_option_idle_time_starts_at_suspended_ev_and_ends_charging_time(connector, tariff):
    tariff.idle_from_suspended_ev = True
    tariff.time_price_per_min = D("0.05")
    tariff.save()
    price = session_price(session=full_at_40_min(connector))
    assert (price.charging_s, price.idle_s) == (2400, 1500)  # 20 min suspended + 5 min to the unplug
    assert idle_line(price) == (D("10.0000"), D("1.00"))
    time_line = price.lines.get(kind=PriceLineKind.TIME)
    assert (time_line.quantity, time_line.amount) == (D("40.0000"), D("2.00"))
    assert price.tariff_snapshot["idle_from_suspended_ev"] is True


def test_with_the_option_charging_again_after_suspended_ev_restarts_the_count(connector, tariff):
    tariff.idle_from_suspended_ev = True
    tariff.save()
    status(connector, ConnectorStatus.SUSPENDED_EV, START + timedelta(minutes=10))
    status(connector, ConnectorStatus.CHARGING, START + timedelta(minutes=12))  # a top-up
    price = session_price(session=full_at_40_min(connector))
    assert (price.charging_s, price.idle_s) == (2400, 1500)


def test_with_the_option_idle_time_waits_for_the_register_to_stand_still(connector, tariff):
    tariff.idle_from_suspended_ev = True
    tariff.save()
    status(connector, ConnectorStatus.CHARGING, START + timedelta(seconds=5))
    status(connector, ConnectorStatus.SUSPENDED_EV, START + timedelta(minutes=30))  # yet the car still draws
    status(connector, ConnectorStatus.FINISHING, STOP)
    samples = [(START + timedelta(minutes=m), D(wh), "Wh") for m, wh in ((30, 15_000), (45, 20_000))]
    price = session_price(session=session(connector, samples=samples))
    assert (price.charging_s, price.idle_s) == (2700, 900)


def test_the_running_cost_of_an_open_session_counts_idle_time_from_suspended_ev_to_now(connector, tariff):
    tariff.idle_from_suspended_ev = True
    tariff.save()
    status(connector, ConnectorStatus.CHARGING, START + timedelta(seconds=5))
    status(connector, ConnectorStatus.SUSPENDED_EV, START + timedelta(minutes=40))
    samples = [(START + timedelta(minutes=40), D(20_000), "Wh")]
    open_session = session(connector, stopped_at=None, meter_stop_wh=None, samples=samples)
    open_session = ChargingSession.objects.select_related("station__site").get(pk=open_session.pk)
    cost = session_cost_so_far(session=open_session, at=START + timedelta(minutes=70))
    assert (cost.charging_s, cost.idle_s) == (2400, 1800)
    assert [(line.kind, line.amount) for line in cost.lines] == [(PriceLineKind.IDLE, D("1.50"))]
