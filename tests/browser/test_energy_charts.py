"""The per-site energy charts in a real browser, on a desktop and a narrow window: the three charts draw
with their accessible names, the plan's table shows the saving, nothing overflows. Screenshots go to
$ENERGY_SCREENSHOTS when it is set, to look at them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import User
from energy.models import FleetPlanRecord, FleetPlanStatus
from tests.energy.test_charts import money, quiet_demo_site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 900}, "narrow": {"width": 760, "height": 900}}
CHARTS = (
    "Load per phase over time, against the limit",
    "Current allocated per charger now",
    "Fleet plan: charging power per vehicle over time, on the price bands",
)


def log_in(page, base_url: str) -> None:
    User.objects.create_superuser("energy-admin", "energy@example.com", "energy-password")
    page.goto(f"{base_url}/admin/login/")
    page.fill('input[name="username"]', "energy-admin")
    page.fill('input[name="password"]', "energy-password")
    page.click('input[type="submit"]')
    page.wait_for_url(f"{base_url}/admin/")


@pytest.mark.parametrize("size", SIZES)
def test_the_charts_draw_fit_the_window_and_show_the_saving(browser, live_server, size):
    site = quiet_demo_site()
    record = FleetPlanRecord.objects.get(site=site)
    page = browser.new_page(viewport=SIZES[size])
    page.set_default_timeout(15_000)
    log_in(page, live_server.url)

    page.goto(live_server.url + reverse("admin:energy_site_charts", args=[site.pk]))

    for name in CHARTS:
        chart = page.get_by_role("img", name=name)
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["x"] + box["width"] <= SIZES[size]["width"]
    assert page.locator(".csms-block").count() > 0
    assert page.locator("polyline.csms-series").count() == 4
    saving = page.locator("strong.csms-saving").inner_text()
    assert saving == f"{money(record.saving)} EUR"
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= SIZES[size]["width"] + 1, "the page scrolls sideways"
    record.refresh_from_db()
    assert record.status == FleetPlanStatus.SENT  # still the plan in force
    if shots := os.environ.get("ENERGY_SCREENSHOTS"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/charts-{size}.png", full_page=True)
        record_url = reverse("admin:energy_fleetplanrecord_change", args=[record.pk])
        page.goto(live_server.url + record_url)
        page.screenshot(path=f"{shots}/plan-{size}.png", full_page=True)
