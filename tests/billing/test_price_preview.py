"""What a driver sees before starting: the prices in force now, for their groups, on the site page."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AccessGroupMember
from billing.models import TariffBand
from billing.services.pricing import price_preview
from billing.templatetags.billing_prices import unit_price
from stations.models import Connector
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.factories import AccessGroupFactory, OrganizationFactory, SiteFactory, StationFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
NOON = datetime(2026, 11, 23, 11, tzinfo=UTC)  # Monday 12:00 in Berlin


@pytest.fixture
def station():
    org = OrganizationFactory()
    station = StationFactory(site=SiteFactory(organization=org, time_zone="Europe/Berlin"), is_online=True)
    Connector.objects.create(station=station, evse_id=1)
    Connector.objects.create(station=station, evse_id=2)
    return station


@pytest.fixture
def public(station):
    tariff = TariffFactory(
        organization=station.site.organization,
        energy_price_per_kwh=D("0.39"),
        idle_price_per_min=D("0.05"),
        idle_grace_min=120,
        tax_rate_percent=D(19),
    )
    TariffBand.objects.create(
        tariff=tariff,
        label="Night",
        window_start=time(22),
        window_end=time(6),
        energy_price_per_kwh=D("0.29"),
    )
    TariffAssignmentFactory(tariff=tariff, site=station.site)
    return tariff


def test_the_preview_gives_the_price_now_and_when_it_changes(station, public):
    preview = price_preview(station=station, connector=None, user=None, at=NOON)
    assert (preview.energy_price_per_kwh, preview.band_label) == (D("0.3900"), "")
    assert preview.until == datetime(2026, 11, 23, 21, tzinfo=UTC)  # 22:00 in Berlin
    night = price_preview(
        station=station, connector=None, user=None, at=datetime(2026, 11, 23, 22, tzinfo=UTC)
    )
    assert (night.energy_price_per_kwh, night.band_label) == (D("0.2900"), "Night")
    assert night.until == datetime(2026, 11, 24, 5, tzinfo=UTC)


def test_prices_without_tax_are_shown_with_tax(station, public):
    public.prices_include_tax = False
    public.save()
    preview = price_preview(station=station, connector=None, user=None, at=NOON)
    assert preview.energy_price_per_kwh == D("0.4641")  # 0.39 * 1.19


def test_a_driver_in_a_group_sees_the_group_s_price(station, public):
    residents = AccessGroupFactory(organization=station.site.organization)
    cheap = TariffFactory(organization=station.site.organization, energy_price_per_kwh=D("0.25"))
    TariffAssignmentFactory(tariff=cheap, site=station.site, group=residents)
    driver = UserFactory(email="resident@example.com")
    AccessGroupMember.objects.create(group=residents, email="resident@example.com")
    assert price_preview(station=station, connector=None, user=driver, at=NOON).energy_price_per_kwh == D(
        "0.25"
    )
    stranger = UserFactory(email="stranger@example.com")
    assert price_preview(station=station, connector=None, user=stranger, at=NOON).energy_price_per_kwh == D(
        "0.39"
    )


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (D("0.390000"), "EUR", "0.39 €"),
        (D("0.3850"), "EUR", "0.385 €"),
        (D(1), "EUR", "1.00 €"),
        (D(45), "JPY", "45 ¥"),
    ],
)
def test_unit_prices_keep_the_currency_s_decimals(value, currency, text):
    assert unit_price(value, currency) == text


def test_the_site_page_shows_the_price_per_charger_and_per_plug_where_they_differ(client, station, public):
    public.bands.all().delete()  # the page prices the real now; without bands it is the same all day
    driver = UserFactory(email="driver@example.com")
    client.force_login(driver)
    url = reverse("portal:site_detail", args=[station.site.pk])
    page = client.get(url).content.decode()
    assert "0.39 €/kWh" in page and "0.05 €/min idle after 120 min" in page and "incl. 19 % tax" in page
    assert "Plug 1:" not in page
    fast = TariffFactory(organization=station.site.organization, energy_price_per_kwh=D("0.59"))
    TariffAssignmentFactory(tariff=fast, connector=station.connectors.get(evse_id=2))
    page = client.get(url).content.decode()
    assert "Plug 1:" in page and "Plug 2:" in page and "0.59 €/kWh" in page
