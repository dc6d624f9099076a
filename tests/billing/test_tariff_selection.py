"""Which tariff applies: the most specific place, a group's tariff over everybody's, validity edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AccessGroupMember
from billing.services.tariffs import tariff_for, user_group_ids
from stations.models import Connector
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.factories import (
    AccessGroupFactory,
    IdTokenFactory,
    OrganizationFactory,
    SiteFactory,
    StationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.fixture
def station(org):
    return StationFactory(site=SiteFactory(organization=org))


@pytest.fixture
def connector(station):
    return Connector.objects.create(station=station, evse_id=1)


def tariff(org, **fields):
    return TariffFactory(organization=org, **fields)


def test_the_connector_beats_the_charger_and_the_charger_beats_the_site(org, station, connector):
    site_tariff, charger_tariff, plug_tariff = tariff(org), tariff(org), tariff(org)
    TariffAssignmentFactory(tariff=site_tariff, site=station.site)
    assert tariff_for(station=station, connector=connector, id_token_pk=None, at=AT) == site_tariff
    TariffAssignmentFactory(tariff=charger_tariff, station=station)
    assert tariff_for(station=station, connector=connector, id_token_pk=None, at=AT) == charger_tariff
    TariffAssignmentFactory(tariff=plug_tariff, connector=connector)
    assert tariff_for(station=station, connector=connector, id_token_pk=None, at=AT) == plug_tariff
    other_plug = Connector.objects.create(station=station, evse_id=2)
    assert tariff_for(station=station, connector=other_plug, id_token_pk=None, at=AT) == charger_tariff


def test_a_group_tariff_beats_everybody_s_at_the_same_place(org, station):
    residents = AccessGroupFactory(organization=org)
    public, cheap = tariff(org), tariff(org)
    TariffAssignmentFactory(tariff=public, site=station.site)
    TariffAssignmentFactory(tariff=cheap, site=station.site, group=residents)
    resident_card, visitor_card = IdTokenFactory(organization=org), IdTokenFactory(organization=org)
    residents.id_tokens.add(resident_card)
    assert tariff_for(station=station, connector=None, id_token_pk=resident_card.pk, at=AT) == cheap
    assert tariff_for(station=station, connector=None, id_token_pk=visitor_card.pk, at=AT) == public
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=AT) == public


def test_a_more_specific_place_beats_a_group_tariff_further_out(org, station):
    fleet = AccessGroupFactory(organization=org)
    fleet_site, charger_public = tariff(org), tariff(org)
    TariffAssignmentFactory(tariff=fleet_site, site=station.site, group=fleet)
    TariffAssignmentFactory(tariff=charger_public, station=station)
    card = IdTokenFactory(organization=org)
    fleet.id_tokens.add(card)
    assert tariff_for(station=station, connector=None, id_token_pk=card.pk, at=AT) == charger_public


def test_a_group_member_by_email_gets_the_group_tariff(org, station):
    fleet = AccessGroupFactory(organization=org)
    fleet_tariff = tariff(org)
    TariffAssignmentFactory(tariff=fleet_tariff, station=station, group=fleet)
    driver = UserFactory(email="Pat@Example.com")
    card = IdTokenFactory(owner=driver)
    AccessGroupMember.objects.create(group=fleet, email="pat@example.com")
    assert tariff_for(station=station, connector=None, id_token_pk=card.pk, at=AT) == fleet_tariff
    assert user_group_ids(driver) == {fleet.pk}


def test_validity_starts_inclusive_and_ends_exclusive(org, station):
    summer = tariff(org)
    TariffAssignmentFactory(
        tariff=summer, site=station.site, valid_from=AT, valid_until=AT + timedelta(days=1)
    )
    assert (
        tariff_for(station=station, connector=None, id_token_pk=None, at=AT - timedelta(microseconds=1))
        is None
    )
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=AT) == summer
    end = AT + timedelta(days=1)
    assert (
        tariff_for(station=station, connector=None, id_token_pk=None, at=end - timedelta(seconds=1)) == summer
    )
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=end) is None


def test_ties_go_to_the_latest_start_then_the_newest_assignment(org, station):
    old, new, newest = tariff(org), tariff(org), tariff(org)
    TariffAssignmentFactory(tariff=old, site=station.site, valid_from=AT - timedelta(days=30))
    TariffAssignmentFactory(tariff=new, site=station.site, valid_from=AT - timedelta(days=1))
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=AT) == new
    TariffAssignmentFactory(tariff=newest, site=station.site, valid_from=AT - timedelta(days=1))
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=AT) == newest


def test_another_organization_s_tariff_never_applies(org, station):
    TariffAssignmentFactory(tariff=tariff(OrganizationFactory()), station=station)
    assert tariff_for(station=station, connector=None, id_token_pk=None, at=AT) is None
