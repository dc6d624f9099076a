"""Paying at a charger without an account, in a real browser on a phone: the visitor opens the
connector's page (as its QR code would), gives an email address, authorizes the hold in the Payment
Element (the Stripe double's stand-in for Stripe.js), follows the session on their signed link with its
energy and cost, stops it there, and sees the exact amount taken and the receipt; a forged link shows a
page saying it opens nothing.

Like test_pay_at_charger.py, the pages are served by a live daphne that also holds the charger's
socket (the in-memory channel layer, no Redis), and the billing run happens in that process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from billing.models import Payment
from stations.ocpp.base import format_timestamp
from tests.billing.card_hold_fixtures import pay_scene
from tests.browser.test_pay_at_charger import shot
from tests.browser.test_portal import PHONE
from tests.factories import STATION_PASSWORD
from tests.ocpp_fixtures import load_payload
from tests.simulator_live import wait_until
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)
from tests.stripe_double.fixtures import SECRET_KEY, WEBHOOK_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

GUEST_EMAIL = "walk.up@example.org"


def test_a_guest_pays_on_a_phone_stops_the_session_and_gets_the_receipt(browser, gateways, stripe_double):
    web = gateways(
        "pay-browser",
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY="pk_test_double",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_double.url,
        STRIPE_JS_URL=f"{stripe_double.url}/v3/",
    )
    cache.clear()
    base = f"http://127.0.0.1:{web.port}"
    scene = pay_scene(online=False)
    calls: list[tuple[str, dict]] = []

    def answer(action: str):  # type: ignore[no-untyped-def]
        def handler(payload: dict) -> dict:
            calls.append((action, payload))
            return {"status": "Accepted"}

        return handler

    handlers = {name: answer(name) for name in ("RemoteStartTransaction", "RemoteStopTransaction")}
    identity = scene.station.identity
    with web.client(identity, STATION_PASSWORD, handlers=handlers) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        page = browser.new_page(viewport=PHONE)
        page.set_default_timeout(20_000)

        page.goto(f"{base}/billing/pay/{identity}/1/")
        main = page.inner_text("main")
        assert "0.40 €/kWh" in main and "50.00 €" in main and "Email for your receipt" in main
        shot(page, "guest-pay-phone")
        page.get_by_role("button", name="Pay and charge").click()  # no address: the browser asks for one
        assert page.url == f"{base}/billing/pay/{identity}/1/" and not Payment.objects.exists()
        page.get_by_label("Email for your receipt").fill(GUEST_EMAIL)
        page.get_by_role("button", name="Pay and charge").click()
        page.wait_for_selector("#double-card")
        link = page.url
        assert link.startswith(f"{base}/billing/guest/")
        assert GUEST_EMAIL in page.inner_text("#pay-guest-note")
        page.select_option("#double-card", "pm_card_chargeDeclined")
        page.get_by_role("button", name="Authorize 50.00 € and charge").click()
        page.wait_for_selector("#card-error:not([hidden])")
        assert page.inner_text("#card-error") == "Your card was declined." and calls == []

        page.select_option("#double-card", "pm_card_visa")
        shot(page, "guest-authorize-phone")
        page.get_by_role("button", name="Authorize 50.00 € and charge").click()
        page.wait_for_selector('#pay-status[data-state="starting"]')
        payment = Payment.objects.get()
        assert (payment.user, payment.guest_email) == (None, GUEST_EMAIL)
        assert calls == [("RemoteStartTransaction", {"connectorId": 1, "idTag": f"PAY-{payment.pk}"})]

        # Back on the connector's page (the QR code again), this browser finds its session.
        page.goto(f"{base}/billing/pay/{identity}/1/")
        page.get_by_role("link", name="Follow your session").click()
        page.wait_for_selector('#pay-status[data-state="starting"]')

        started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        start = {"connectorId": 1, "idTag": f"PAY-{payment.pk}", "meterStart": 0}
        transaction_id = charger.result(
            "StartTransaction", {**start, "timestamp": format_timestamp(started_at)}
        )["transactionId"]
        charger.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
                        "sampledValue": [
                            {"value": "6000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                        ],
                    }
                ],
            },
        )

        def shows_energy() -> bool:
            page.reload()
            return (
                page.inner_text("#pay-energy") == "6.00 kWh" if page.locator("#pay-energy").count() else False
            )

        assert wait_until(shows_energy, timeout=20)
        assert page.locator("h1").inner_text() == "Charging" and page.inner_text("#pay-cost") == "2.40 €"
        shot(page, "guest-charging-phone")
        page.get_by_role("button", name="Stop charging").click()
        page.wait_for_selector(".message--success")
        assert "The charger is stopping." in page.inner_text(".messages")
        assert calls[1] == ("RemoteStopTransaction", {"transactionId": transaction_id})
        charger.result(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": 12_345,
                "timestamp": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
                "reason": "Remote",
            },
        )
        assert wait_until(lambda: Payment.objects.get().amount_captured > 0, timeout=20)
        page.goto(link)
        page.wait_for_selector("#pay-paid")
        assert "4.94 €" in page.inner_text("#pay-paid") and page.inner_text("#pay-cost") == "4.94 €"
        shot(page, "guest-paid-phone")
        page.click("#pay-receipt")
        page.wait_for_url(f"{link}documents/**")
        assert "4.94" in page.inner_text("main") and GUEST_EMAIL in page.inner_text("main")
        assert page.get_by_role("link", name="Download PDF").count() == 1
        shot(page, "guest-receipt-phone")

        token = link.split("/")[-2]
        page.goto(f"{base}/billing/guest/{token[:-3]}abc/")
        assert page.locator("h1").inner_text() == "This link opens nothing"
        shot(page, "guest-link-invalid-phone")
