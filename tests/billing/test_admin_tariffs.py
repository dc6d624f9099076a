"""The tariff admin, scoped: bands with day checkboxes, assignments within the organization, revisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from billing.models import Tariff, TariffBand
from billing.services.pricing import session_price
from stations.models import Connector
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory, ended_session
from tests.factories import AccessGroupFactory, MembershipFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ours():
    membership = MembershipFactory(role=Role.MANAGER)
    org = membership.organization
    station = StationFactory(site=SiteFactory(organization=org))
    tariff = TariffFactory(organization=org, name="Public", energy_price_per_kwh=Decimal("0.39"))
    client = Client()
    client.force_login(membership.user)
    return type("Ours", (), {"org": org, "station": station, "tariff": tariff, "client": client})


@pytest.fixture
def theirs():
    membership = MembershipFactory(role=Role.MANAGER)
    client = Client()
    client.force_login(membership.user)
    station = StationFactory(site=SiteFactory(organization=membership.organization))
    return type("Theirs", (), {"org": membership.organization, "station": station, "client": client})


def change_url(obj: Any) -> str:
    return reverse(f"admin:billing_{obj._meta.model_name}_change", args=[obj.pk])


def tariff_form(tariff: Tariff, **extra: Any) -> dict[str, Any]:
    data = {
        "organization": tariff.organization_id,
        "name": tariff.name,
        "currency": tariff.currency,
        "energy_price_per_kwh": str(tariff.energy_price_per_kwh),
        "time_price_per_min": "0",
        "session_fee": "0",
        "idle_price_per_min": "0",
        "idle_grace_min": "0",
        "tax_rate_percent": str(tariff.tax_rate_percent),
        "prices_include_tax": "on",
        "bands-TOTAL_FORMS": 0,
        "bands-INITIAL_FORMS": 0,
        "assignments-TOTAL_FORMS": 0,
        "assignments-INITIAL_FORMS": 0,
    }
    return data | extra


def test_a_band_added_with_day_checkboxes_bumps_the_revision(ours):
    page = ours.client.get(change_url(ours.tariff)).content.decode()
    assert "bands-__prefix__-weekdays" in page
    response = ours.client.post(
        change_url(ours.tariff),
        tariff_form(
            ours.tariff,
            **{
                "bands-TOTAL_FORMS": 1,
                "bands-0-label": "Night",
                "bands-0-weekdays": ["0", "1", "2", "3", "4"],
                "bands-0-window_start": "22:00",
                "bands-0-window_end": "06:00",
                "bands-0-energy_price_per_kwh": "0.25",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    band = TariffBand.objects.get(tariff=ours.tariff)
    assert (band.weekdays, band.energy_price_per_kwh) == ("01234", Decimal("0.25"))
    ours.tariff.refresh_from_db()
    assert ours.tariff.revision == 2


def test_saving_without_a_change_keeps_the_revision_and_a_price_change_bumps_it(ours):
    assert ours.client.post(change_url(ours.tariff), tariff_form(ours.tariff)).status_code == 302
    ours.tariff.refresh_from_db()
    assert ours.tariff.revision == 1
    response = ours.client.post(
        change_url(ours.tariff), tariff_form(ours.tariff, energy_price_per_kwh="0.45")
    )
    assert response.status_code == 302
    ours.tariff.refresh_from_db()
    assert (ours.tariff.revision, ours.tariff.energy_price_per_kwh) == (2, Decimal("0.45"))


def test_assignments_offer_only_the_organization_s_places_and_groups(ours, theirs):
    our_group = AccessGroupFactory(organization=ours.org, name="Residents")
    AccessGroupFactory(organization=theirs.org, name="Strangers")
    page = ours.client.get(change_url(ours.tariff)).content.decode()
    assert ours.station.identity in page and "Residents" in page
    assert theirs.station.identity not in page and "Strangers" not in page
    # Another organization's charger is refused even when posted by hand.
    data = tariff_form(
        ours.tariff,
        **{
            "assignments-TOTAL_FORMS": 1,
            "assignments-0-station": theirs.station.pk,
            "assignments-0-group": our_group.pk,
        },
    )
    response = ours.client.post(change_url(ours.tariff), data)
    assert response.status_code == 200
    assert not ours.tariff.assignments.exists()


def test_an_assignment_names_exactly_one_place(ours):
    connector = Connector.objects.create(station=ours.station, evse_id=1)
    data = tariff_form(
        ours.tariff,
        **{
            "assignments-TOTAL_FORMS": 1,
            "assignments-0-station": ours.station.pk,
            "assignments-0-connector": connector.pk,
        },
    )
    response = ours.client.post(change_url(ours.tariff), data)
    assert "Choose one place" in response.content.decode()
    data.pop("assignments-0-station")
    assert ours.client.post(change_url(ours.tariff), data).status_code == 302
    assert ours.tariff.assignments.get().connector == connector
    ours.tariff.refresh_from_db()
    assert ours.tariff.revision == 1  # where a tariff applies is not part of its prices


def test_a_manager_of_another_organization_can_neither_see_nor_use_the_tariff(ours, theirs):
    listing = theirs.client.get(reverse("admin:billing_tariff_changelist")).content.decode()
    assert "Public" not in listing
    assert theirs.client.get(change_url(ours.tariff)).status_code in (302, 404)
    add = theirs.client.get(reverse("admin:billing_tariff_add")).content.decode()
    assert ours.org.name not in add


def test_priced_sessions_are_read_only_and_scoped(ours, theirs):
    TariffAssignmentFactory(tariff=ours.tariff, station=ours.station)
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    session = ended_session(
        station=ours.station,
        connector=None,
        started_at=start,
        stopped_at=start + timedelta(hours=1),
        meter_start_wh=0,
        meter_stop_wh=10_000,
    )
    price = session_price(session=session)
    page = ours.client.get(change_url(price)).content.decode()
    assert "3.9000" in page and "Energy" in page
    assert 'name="_save"' not in page
    assert ours.client.get(reverse("admin:billing_sessionprice_add")).status_code == 403
    assert theirs.client.get(change_url(price)).status_code in (302, 404)
