"""Paying at a charger in a real browser on a phone: the driver logs in, opens the connector's page
(as its QR code would), authorizes the hold in the Payment Element (the Stripe double's stand-in for
Stripe.js), sees "Charging", and after the session sees the exact amount taken and the receipt.

The pages are served by a live daphne (the gateway process) that also holds the charger's socket, so
the remote start reaches the test's charger through the in-memory channel layer, with no Redis; the
billing run happens in that process too (Celery runs tasks eagerly there without REDIS_URL)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.domain import Role
from accounts.models import Membership
from billing.models import Payment
from stations.ocpp.base import format_timestamp
from tests.billing.card_hold_fixtures import pay_scene
from tests.browser.test_portal import DESKTOP, PHONE, log_in
from tests.factories import STATION_PASSWORD
from tests.ocpp_fixtures import load_payload
from tests.portal.conftest import verified_driver
from tests.simulator_live import wait_until
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)
from tests.stripe_double.fixtures import SECRET_KEY, WEBHOOK_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("CSMS_SCREENSHOTS")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_driver_pays_at_a_charger_on_a_phone_and_gets_the_receipt(browser, gateways, stripe_double):
    web = gateways(
        "pay-browser",
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY="pk_test_double",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_double.url,
        STRIPE_JS_URL=f"{stripe_double.url}/v3/",
    )
    base = f"http://127.0.0.1:{web.port}"
    scene = pay_scene(online=False)
    starts: list[dict] = []

    def remote_start(payload: dict) -> dict:
        starts.append(payload)
        return {"status": "Accepted"}

    identity = scene.station.identity
    with web.client(identity, STATION_PASSWORD, handlers={"RemoteStartTransaction": remote_start}) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        desktop = browser.new_page(viewport=DESKTOP)
        desktop.goto(f"{base}/billing/pay/{identity}/1/")
        assert "Email for your receipt" in desktop.inner_text("main")  # test_pay_as_guest.py pays so
        shot(desktop, "pay-desktop")
        staff = verified_driver("staff@example.com")
        staff.is_staff = True
        staff.save(update_fields=["is_staff"])  # a technician of the charger's organization prints them
        Membership.objects.create(
            user=staff, organization=scene.station.site.organization, role=Role.TECHNICIAN
        )
        log_in(desktop, base, "staff@example.com")
        desktop.goto(f"{base}/billing/pay/{identity}/qr/")
        assert desktop.locator("#qr-1 svg").count() == 1
        assert f"{base}/billing/pay/{identity}/1/" in desktop.inner_text("#qr-1")
        shot(desktop, "pay-qr-desktop")

        page = browser.new_page(viewport=PHONE)
        page.set_default_timeout(20_000)
        log_in(page, base, scene.driver.email)

        page.goto(f"{base}/billing/pay/{identity}/1/")
        assert "0.40 €/kWh" in page.inner_text("main") and "50.00 €" in page.inner_text("main")
        shot(page, "pay-phone")
        page.get_by_role("button", name="Pay and charge").click()
        page.wait_for_selector("#double-card")
        page.select_option("#double-card", "pm_card_chargeDeclined")
        page.get_by_role("button", name="Authorize 50.00 € and charge").click()
        page.wait_for_selector("#card-error:not([hidden])")
        assert page.inner_text("#card-error") == "Your card was declined."
        assert starts == []  # a declined hold starts nothing

        page.select_option("#double-card", "pm_card_visa")
        shot(page, "pay-authorize-phone")
        page.get_by_role("button", name="Authorize 50.00 € and charge").click()
        page.wait_for_selector('#pay-status[data-state="starting"]')
        payment = Payment.objects.get()
        assert starts == [{"connectorId": 1, "idTag": f"PAY-{payment.pk}"}]

        started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        start = {
            "connectorId": 1,
            "idTag": f"PAY-{payment.pk}",
            "meterStart": 0,
            "timestamp": format_timestamp(started_at),
        }
        transaction_id = charger.result("StartTransaction", start)["transactionId"]
        page.reload()
        page.wait_for_selector('#pay-status[data-state="charging"]')
        assert page.locator("h1").inner_text() == "Charging"
        shot(page, "pay-charging-phone")
        charger.result(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": 12_345,
                "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
            },
        )
        assert wait_until(lambda: Payment.objects.get().amount_captured > 0, timeout=20)
        page.reload()
        page.wait_for_selector("#pay-paid")
        assert "4.94 €" in page.inner_text("#pay-paid")
        shot(page, "pay-paid-phone")
        page.click("#pay-receipt")
        page.wait_for_url(f"{base}/billing/documents/**")
        assert "4.94" in page.inner_text("main")
        shot(page, "pay-receipt-phone")
