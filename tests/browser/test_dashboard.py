"""The network dashboard in a real browser while a simulated charger runs a session: the page, served by
a live daphne that also holds the charger's socket, updates its figures over its WebSocket without a
reload (online, charging, power, and today's bar of the energy chart). Screenshots go to $CSMS_SCREENSHOTS
when it is set."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.domain import Role
from accounts.models import Membership, Organization, User
from stations.models import ChargingSession, Connector, Station
from stations.monitoring.services.dashboard import next_day_start
from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import TagPool
from tests.factories import STATION_PASSWORD, IdTokenFactory, SiteFactory, StationFactory

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("CSMS_SCREENSHOTS")
DESKTOP = {"width": 1280, "height": 900}


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


class ChargerThread(threading.Thread):
    """The simulator on its own event loop, charging with one card until stopped."""

    def __init__(self, url: str, identity: str) -> None:
        super().__init__(daemon=True)
        self.url, self.identity = url, identity
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        options = ChargerOptions(
            url=self.url,
            password=STATION_PASSWORD,
            connectors=2,
            meter_interval_s=1,
            session_every_s=1.0,
            session_length_s=1000.0,
        )
        charger = SimulatedCharger(self.identity, options, tags=TagPool(["DASH-CARD"]))
        task = asyncio.create_task(charger.run())
        while not self.stopping.is_set():
            await asyncio.sleep(0.1)
        charger.halt()
        await task


def history(station: Station) -> None:
    """Sessions of the last days, so the charts have bars: day n ago, n hours from 08:00, n * 7 kWh."""
    connector = Connector.objects.create(station=station, evse_id=1)
    Connector.objects.create(station=station, evse_id=2)
    morning = timezone.localtime(timezone.now(), ZoneInfo("Europe/Berlin")).replace(hour=8, minute=0)
    for days_ago in range(1, 13):
        started = morning - timedelta(days=days_ago)
        hours = days_ago % 5 + 1
        ChargingSession.objects.create(
            station=station,
            connector=connector,
            started_at=started,
            stopped_at=started + timedelta(hours=hours),
            meter_start_wh=0,
            meter_stop_wh=hours * 7000,
            energy_wh=hours * 7000,
        )


def cell(page, site_id: int, field: str):  # type: ignore[no-untyped-def]
    return page.locator(f'tr[data-site-id="{site_id}"] [data-field="{field}"]')


SHOWS = "([id, field, text]) => document.querySelector(`tr[data-site-id='${id}'] [data-field=${field}]`)"


TODAY_ENERGY = 'svg[data-chart="energy"] rect.csms-bar:last-of-type'


def until_shown(page, site_id: int, field: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the cell to show `text`; with a leading "!", for it to stop starting with the rest."""
    if text.startswith("!"):
        check = f"{SHOWS}.textContent.startsWith(text.slice(1)) === false"
    else:
        check = f"{SHOWS}.textContent === text"
    page.wait_for_function(check, arg=[site_id, field, text])


def manager_of(organization: Organization) -> None:
    manager = User.objects.create_user("ops", "ops@example.com", "ops-password", is_staff=True)
    Membership.objects.create(user=manager, organization=organization, role=Role.MANAGER)


def dashboard_open(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """Log in as the manager and open the dashboard, live."""
    page.set_default_timeout(20_000)
    page.goto(f"{base}/admin/login/")
    page.fill('input[name="username"]', "ops")
    page.fill('input[name="password"]', "ops-password")
    page.click('input[type="submit"]')
    page.wait_for_url(f"{base}/admin/")
    page.goto(base + reverse("admin:monitoring_networkdashboard_changelist"))
    page.wait_for_selector('#live-state[data-state="live"]')


def test_the_dashboard_follows_a_simulated_session_without_reloading(browser, gateways):
    web = gateways("monitoring-browser")
    base = f"http://127.0.0.1:{web.port}"
    organization = Organization.objects.create(name="Fleet Ops")
    site = SiteFactory(organization=organization, name="Depot North", time_zone="Europe/Berlin")
    SiteFactory(name="Somebody Else's Car Park")
    station = StationFactory(site=site, identity="SIM-DASH-1")
    history(station)
    IdTokenFactory(id_tag="DASH-CARD", organization=organization)
    manager_of(organization)

    page = browser.new_page(viewport=DESKTOP)
    dashboard_open(page, base)
    assert "Somebody Else" not in page.inner_text("#content-main")
    assert [cell(page, site.pk, f).inner_text() for f in ("online", "offline", "charging")] == ["0", "1", "0"]
    assert cell(page, site.pk, "power_w").inner_text() == "0 W"
    today_energy = page.locator(TODAY_ENERGY)
    assert (today_energy.get_attribute("data-value"), today_energy.get_attribute("height")) == ("0", "0.0")
    page.evaluate("window.notReloaded = true")
    shot(page, "dashboard-before")

    charger = ChargerThread(web.url, station.identity)
    charger.start()
    try:
        until_shown(page, site.pk, "online", "1")
        until_shown(page, site.pk, "charging", "1")
        until_shown(page, site.pk, "power_w", "!0 ")
        page.wait_for_function(f"Number(document.querySelector('{TODAY_ENERGY}').dataset.value) > 0")
        assert float(today_energy.get_attribute("height")) > 0
        assert "kWh" in today_energy.locator("title").text_content()
        assert cell(page, site.pk, "offline").inner_text() == "0"
        assert cell(page, site.pk, "sessions_today").inner_text() == "1"
        assert page.get_by_role("img", name="Energy per day, kWh").locator("rect.csms-bar").count() == 14
        assert cell(page, site.pk, "power_w").inner_text().endswith("kW")
        shot(page, "dashboard-charging")
    finally:
        charger.stopping.set()
        charger.join(20)
    until_shown(page, site.pk, "online", "0")
    until_shown(page, site.pk, "charging", "0")  # an offline charger's last statuses are stale
    assert cell(page, site.pk, "power_w").inner_text() == "0 W"
    assert page.evaluate("window.notReloaded") is True  # every change came over the socket
    shot(page, "dashboard-after")

    page.goto(base + reverse("admin:monitoring_uptimereport_changelist"))
    connectors = page.locator("section:has(h2:text('Connectors')) tbody tr")
    assert connectors.count() == 2 and "SIM-DASH-1" in connectors.first.inner_text()
    shot(page, "uptime")


def test_the_dashboard_reloads_itself_at_the_first_of_its_sites_midnights(browser, gateways):
    web = gateways("monitoring-browser")
    organization = Organization.objects.create(name="Fleet Ops")
    sites = [
        SiteFactory(organization=organization, name=name, time_zone=zone)
        for name, zone in (("Depot Berlin", "Europe/Berlin"), ("Depot Tokyo", "Asia/Tokyo"))
    ]
    manager_of(organization)
    page = browser.new_page(viewport=DESKTOP)
    page.clock.install()  # the page's timers, run forward below
    dashboard_open(page, f"http://127.0.0.1:{web.port}")
    rollover_in_s = int(page.get_attribute("#content-main", "data-rollover-in-s") or "")
    expected_s = (next_day_start(sites) - timezone.now()).total_seconds()
    assert expected_s - 5 < rollover_in_s <= expected_s + 5
    page.evaluate("window.notReloaded = true")
    page.clock.fast_forward((rollover_in_s - 2) * 1000)
    assert page.evaluate("window.notReloaded") is True
    with page.expect_navigation():
        page.clock.fast_forward(3000)
    page.wait_for_selector('#live-state[data-state="live"]')
    assert page.evaluate("window.notReloaded") is None


def test_on_a_phone_each_site_is_a_card_of_labelled_figures(browser, gateways):
    web = gateways("monitoring-browser")
    organization = Organization.objects.create(name="Fleet Ops")
    site = SiteFactory(organization=organization, name="Depot North", time_zone="Europe/Berlin")
    StationFactory(site=site, identity="SIM-DASH-PHONE")
    manager_of(organization)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    dashboard_open(page, f"http://127.0.0.1:{web.port}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the screen"
    label = "(cell) => getComputedStyle(cell, '::before').content"
    assert cell(page, site.pk, "offline").evaluate(label) == '"Offline"'
    assert cell(page, site.pk, "power_w").evaluate(label) == '"Power now"'
    shot(page, "dashboard-phone")
