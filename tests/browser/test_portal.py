"""The portal in a real browser: sign-up to a card, live plug status, every page on a phone and a desktop."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import IdTokenStatus, Organization
from stations.domain import ConnectorStatus, StopReason
from stations.models import ChargingSession
from tests.factories import IdTokenFactory, SiteFactory
from tests.portal.conftest import PASSWORD, online_charger, verified_driver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
S = ConnectorStatus


def log_in(page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base_url}/")


def test_a_driver_signs_up_confirms_logs_in_and_adds_a_card(browser, live_server, mailoutbox):
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/"

    page.get_by_role("link", name="Sign up").first.click()
    page.fill('input[name="email"]', "new.driver@example.com")
    page.fill('input[name="password1"]', PASSWORD)
    page.fill('input[name="password2"]', PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(f"{live_server.url}/accounts/confirm-email/")

    (message,) = mailoutbox
    (confirm_url,) = re.findall(r"https?://\S+/accounts/confirm-email/\S+", message.body)
    page.goto(confirm_url)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/")

    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    log_in(page, live_server.url, "new.driver@example.com")

    page.get_by_role("link", name="Cards").click()
    page.fill('input[name="id_tag"]', "04A1B2C3")
    page.fill('input[name="label"]', "Blue key fob")
    page.get_by_role("button", name="Add card").click()
    page.wait_for_url(f"{live_server.url}/cards/")
    assert page.locator(".message--success").inner_text() == "Card 04A1B2C3 added."
    card = page.locator(".card-item", has_text="04A1B2C3")
    assert card.locator(".chip").inner_text() == "Accepted"
    assert "Blue key fob" in card.inner_text()

    card.get_by_role("button", name="Block").click()
    page.wait_for_url(f"{live_server.url}/cards/")
    assert page.locator(".card-item", has_text="04A1B2C3").locator(".chip").inner_text() == "Blocked"
    assert len(mail.outbox) == 1


def test_the_site_page_follows_plug_status_without_reloading(browser, live_server, monkeypatch):
    monkeypatch.setattr("stations.portal.views.STATUS_REFRESH_S", 1)
    verified_driver("driver@example.com")
    station = online_charger(SiteFactory(name="Open Garage"), S.AVAILABLE, identity="GARAGE-1")
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(15_000)
    log_in(page, live_server.url, "driver@example.com")
    page.get_by_role("link", name=re.compile("Open Garage")).click()
    plug = page.locator(".plug", has_text="Plug 1").locator(".chip")
    assert plug.inner_text() == "Available"
    page.evaluate("window.reloaded = false")  # a full reload would drop this

    station.connectors.update(status=S.CHARGING, status_since=timezone.now())
    page.wait_for_function("document.querySelector('.plug .chip').textContent.trim() === 'Charging'")
    assert page.evaluate("window.reloaded") is False
    assert "chip--busy" in plug.get_attribute("class")


def portal_data(driver) -> dict[str, str]:
    """Sites, chargers, sessions and cards as a driver would see them; returns page name -> path."""
    garage = SiteFactory(name="Open Garage", address="1 High Street, Springfield", time_zone="Europe/Berlin")
    online_charger(garage, S.AVAILABLE, S.CHARGING, identity="GARAGE-1")
    online_charger(garage, S.FAULTED, S.AVAILABLE, identity="GARAGE-2")
    offline = online_charger(garage, S.AVAILABLE, identity="GARAGE-3")
    offline.is_online = False
    offline.save(update_fields=["is_online"])
    square = SiteFactory(name="Station Square car park, level -2", address="Market Road 12, 80331 Munich")
    online_charger(square, *[S.AVAILABLE] * 4, identity="SQUARE-EAST-WALLBOX-0001")
    SiteFactory(name="Harbour", address="Quay 3")

    fob = IdTokenFactory(id_tag="04A1B2C3", label="Blue key fob", owner=driver)
    IdTokenFactory(
        id_tag="0123456789ABCDEF0123456789ABCDEF", label="", owner=driver, status=IdTokenStatus.BLOCKED
    )
    IdTokenFactory(
        id_tag="FLEET-0007",
        label="Company card",
        owner=driver,
        organization=Organization.objects.create(name="Acme Fleet"),
    )
    start = timezone.now() - timedelta(days=3)
    station = garage.stations.get(identity="GARAGE-1")
    for day in range(3):
        ChargingSession.objects.create(
            station=station,
            connector=station.connectors.first(),
            id_token=fob,
            id_tag=fob.id_tag,
            started_at=start + timedelta(days=day),
            stopped_at=start + timedelta(days=day, minutes=95),
            energy_wh=12345 + day * 1000,
            stop_reason=StopReason.EV_DISCONNECTED,
        )
    ChargingSession.objects.create(
        station=station,
        connector=station.connectors.last(),
        id_token=fob,
        id_tag=fob.id_tag,
        started_at=timezone.now() - timedelta(minutes=42),
        meter_start_wh=0,
        meter_last_wh=8400,
        limit="until 18:00 (Residents of Open Garage)",
    )
    return {
        "home": "/",
        "search": "/?q=square",
        "site": f"/sites/{garage.pk}/",
        "sessions": "/sessions/",
        "cards": "/cards/",
        "password": "/accounts/password/change/",
        "email": "/accounts/email/",
    }


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_the_screen_without_sideways_scrolling(browser, live_server, viewport):
    """Save screenshots into $PORTAL_SCREENSHOTS when it is set, to look at them."""
    shots = Path(os.environ["PORTAL_SCREENSHOTS"]) if os.environ.get("PORTAL_SCREENSHOTS") else None
    size = f"{viewport['width']}x{viewport['height']}"
    pages = portal_data(verified_driver("a.rather.long.address@example.com"))
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(15_000)

    def check(name: str) -> None:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {size} is {overflow} px too wide"
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=shots / f"{name}-{size}.png", full_page=True)

    for name, path in (
        ("login", "/accounts/login/"),
        ("signup", "/accounts/signup/"),
        ("password-reset", "/accounts/password/reset/"),
    ):
        page.goto(f"{live_server.url}{path}")
        check(name)
    log_in(page, live_server.url, "a.rather.long.address@example.com")
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        check(name)
    page.goto(f"{live_server.url}/cards/")
    page.locator(".account-menu summary").click()
    check("account-menu")
