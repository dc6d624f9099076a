from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from stations.domain import StopReason
from stations.models import ChargingSession
from tests.factories import IdTokenFactory, SiteFactory, UserFactory
from tests.portal.conftest import online_charger

pytestmark = pytest.mark.django_db


def charged(token, station, *, started_at, **fields) -> ChargingSession:
    return ChargingSession.objects.create(
        station=station,
        connector=station.connectors.first(),
        id_token=token,
        id_tag=token.id_tag,
        started_at=started_at,
        **fields,
    )


@pytest.fixture
def station():
    site = SiteFactory(name="Open Garage", time_zone="Europe/Berlin")
    return online_charger(site, "available", identity="GARAGE-1")


def test_the_driver_sees_only_sessions_of_their_own_cards_newest_first(driver_client, driver, station):
    mine = IdTokenFactory(id_tag="MINE", owner=driver)
    theirs = IdTokenFactory(id_tag="THEIRS", owner=UserFactory())
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    charged(
        mine,
        station,
        started_at=start,
        stopped_at=start + timedelta(minutes=95),
        energy_wh=12345,
        stop_reason=StopReason.EV_DISCONNECTED,
    )
    charged(theirs, station, started_at=start + timedelta(hours=3), energy_wh=999)
    charged(mine, station, started_at=start + timedelta(days=1), meter_start_wh=1000, meter_last_wh=3500)
    html = driver_client.get(reverse("portal:sessions")).content.decode()
    started = re.findall(r'<time datetime="[^"]+">([^<]+)</time>', html)
    # Times read as on the site's clock (Berlin is UTC+1 in March).
    assert started == ["3 Mar 2026, 09:00", "2 Mar 2026, 09:00"]
    assert "1.00 kWh" not in html  # the other driver's session
    assert "Open Garage" in html and "GARAGE-1, Plug 1" in html


def test_a_finished_session_shows_its_duration_energy_and_stop_reason(driver_client, driver, station):
    start = timezone.now() - timedelta(hours=5)
    charged(
        IdTokenFactory(owner=driver),
        station,
        started_at=start,
        stopped_at=start + timedelta(minutes=95),
        energy_wh=12345,
        stop_reason=StopReason.EV_DISCONNECTED,
    )
    html = driver_client.get(reverse("portal:sessions")).content.decode()
    assert "1 h 35 min" in html
    assert "12.35 kWh" in html
    assert '<span class="chip chip--ended">Ended</span>' in html
    assert "EV disconnected" in html


def test_a_session_still_charging_shows_energy_so_far_and_its_access_limit(driver_client, driver, station):
    charged(
        IdTokenFactory(owner=driver),
        station,
        started_at=timezone.now() - timedelta(minutes=12),
        meter_start_wh=1000,
        meter_last_wh=3500,
        limit="until 18:00 (Residents)",
    )
    html = driver_client.get(reverse("portal:sessions")).content.decode()
    assert '<span class="chip chip--busy">Charging</span>' in html
    assert "12 min" in html
    assert "2.50 kWh" in html
    assert "Limit: until 18:00 (Residents)" in html


def test_sessions_are_paginated_and_a_driver_without_sessions_is_told_how_they_appear(
    driver_client, driver, station
):
    assert "No sessions yet." in driver_client.get(reverse("portal:sessions")).content.decode()
    token = IdTokenFactory(owner=driver)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(30):
        charged(token, station, started_at=start + timedelta(days=day), meter_start_wh=day)
    first = driver_client.get(reverse("portal:sessions")).content.decode()
    second = driver_client.get(reverse("portal:sessions"), {"page": 2}).content.decode()
    assert first.count("<tr>") == 1 + 25 and second.count("<tr>") == 1 + 5
    assert "Page 2 of 2" in second


def test_the_sessions_page_shows_a_dash_for_cost_and_receipt_until_a_session_is_billed(
    driver_client, driver, station
):
    charged(IdTokenFactory(owner=driver), station, started_at=timezone.now(), energy_wh=1000)
    html = driver_client.get(reverse("portal:sessions")).content.decode()
    assert re.search(r'data-label="Cost"[^>]*>\s*—', html) and re.search(r'data-label="Receipt">\s*—', html)
    assert "Payment" not in html
