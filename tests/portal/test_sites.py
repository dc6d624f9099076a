from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import AccessGroup, AccessGroupMember, Organization
from stations.domain import AccessPolicy, ConnectorStatus, RegistrationStatus
from stations.models import AccessRule
from tests.factories import SiteFactory
from tests.portal.conftest import online_charger

pytestmark = pytest.mark.django_db

S = ConnectorStatus


def restricted_site_for(email: str, name: str) -> object:
    """A restricted site whose only rule lets a group with this driver in."""
    site = SiteFactory(name=name, access_policy=AccessPolicy.RESTRICTED)
    group = AccessGroup.objects.create(
        organization=Organization.objects.create(name=f"{name} Ltd"), name="Residents"
    )
    AccessGroupMember.objects.create(group=group, email=email)
    AccessRule.objects.create(site=site, group=group)
    return site


def site_names(html: str) -> list[str]:
    return re.findall(r'class="site-card__name">([^<]+)<', html)


@pytest.mark.parametrize(
    "url",
    [
        reverse("portal:home"),
        reverse("portal:site_detail", args=[1]),
        reverse("portal:site_status", args=[1]),
        reverse("portal:sessions"),
        reverse("portal:cards"),
    ],
)
def test_every_portal_page_sends_anonymous_visitors_to_the_login_form(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


def test_the_home_page_lists_open_sites_and_restricted_ones_the_driver_is_let_into(driver_client, driver):
    SiteFactory(name="Open Garage", address="1 High Street")
    SiteFactory(name="Private Yard", access_policy=AccessPolicy.RESTRICTED)
    restricted_site_for(driver.email, "Residents Court")
    restricted_site_for("somebody-else@example.com", "Other Court")
    response = driver_client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert site_names(response.content.decode()) == ["Open Garage", "Residents Court"]
    assert "1 High Street" in response.content.decode()


def test_the_search_matches_name_or_address_ignoring_case(driver_client):
    SiteFactory(name="Open Garage", address="1 High Street")
    SiteFactory(name="Station Square", address="Market Road")
    SiteFactory(name="Harbour", address="Quay 3")
    by_address = driver_client.get(reverse("portal:home"), {"q": "high"})
    assert site_names(by_address.content.decode()) == ["Open Garage"]
    by_name = driver_client.get(reverse("portal:home"), {"q": "SQUARE"})
    assert site_names(by_name.content.decode()) == ["Station Square"]
    nothing = driver_client.get(reverse("portal:home"), {"q": "nowhere"})
    assert site_names(nothing.content.decode()) == []
    assert "No site you may use matches “nowhere”." in nothing.content.decode()


def test_each_site_counts_its_plugs_as_available_busy_or_offline(driver_client):
    site = SiteFactory(name="Open Garage")
    online_charger(site, S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV)
    online_charger(site, S.AVAILABLE, S.FAULTED, S.RESERVED)
    offline = online_charger(site, S.AVAILABLE, S.AVAILABLE)
    offline.is_online = False
    offline.save(update_fields=["is_online"])
    online_charger(site, S.AVAILABLE, registration_status=RegistrationStatus.PENDING)  # not in service
    html = driver_client.get(reverse("portal:home")).content.decode()
    assert "2 available" in html
    assert "3 busy" in html
    assert "3 offline" in html
    assert "3 chargers" in html


def test_a_charger_reporting_itself_unavailable_takes_all_its_plugs_out_of_service(driver_client):
    site = SiteFactory(name="Open Garage")
    online_charger(site, S.AVAILABLE, S.AVAILABLE, status=S.UNAVAILABLE)
    html = driver_client.get(reverse("portal:home")).content.decode()
    assert "0 available" in html
    assert "2 offline" in html


def test_site_pages_are_paginated(driver_client):
    for number in range(25):
        SiteFactory(name=f"Site {number:02d}")
    first = driver_client.get(reverse("portal:home"))
    second = driver_client.get(reverse("portal:home"), {"page": 2})
    assert len(site_names(first.content.decode())) == 20
    assert site_names(second.content.decode()) == [f"Site {n}" for n in range(20, 25)]
    assert "Page 1 of 2" in first.content.decode()


def test_the_site_page_shows_each_charger_with_the_state_of_each_plug(driver_client):
    site = SiteFactory(name="Open Garage", address="1 High Street")
    online_charger(site, S.AVAILABLE, S.CHARGING, identity="GARAGE-1")
    offline = online_charger(site, S.AVAILABLE, identity="GARAGE-2")
    offline.is_online = False
    offline.save(update_fields=["is_online"])
    response = driver_client.get(reverse("portal:site_detail", args=[site.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "GARAGE-1" in html and "GARAGE-2" in html
    assert '<span class="chip chip--available">Available</span>' in html
    assert '<span class="chip chip--busy">Charging</span>' in html
    # The offline charger's plug reads Offline, whatever it last reported.
    assert html.count('<span class="chip chip--offline">Offline</span>') == 2
    assert "Last updated" in html
    assert f'data-status-url="{reverse("portal:site_status", args=[site.pk])}"' in html
    assert "portal/site-status.js" in html


def test_the_status_partial_is_the_plug_states_alone_and_follows_changes(driver_client):
    site = SiteFactory(name="Open Garage")
    station = online_charger(site, S.AVAILABLE, identity="GARAGE-1")
    url = reverse("portal:site_status", args=[site.pk])
    assert '<span class="chip chip--available">Available</span>' in driver_client.get(url).content.decode()
    station.connectors.update(status=S.CHARGING)
    response = driver_client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert '<span class="chip chip--busy">Charging</span>' in html
    assert "Last updated" in html


@pytest.mark.parametrize("name", ["portal:site_detail", "portal:site_status"])
def test_a_site_the_driver_may_not_use_is_not_found(driver_client, name):
    closed = SiteFactory(name="Private Yard", access_policy=AccessPolicy.RESTRICTED)
    other = restricted_site_for("somebody-else@example.com", "Other Court")
    for site in (closed, other):
        assert driver_client.get(reverse(name, args=[site.pk])).status_code == 404
    assert driver_client.get(reverse(name, args=[999999])).status_code == 404
