"""The driver's receipt page and PDF in the portal, and the cost and receipt on the sessions page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from billing.services.invoicing import invoice_issue_for_session
from tests.billing.invoicing_fixtures import Scene, driver_with_card, paid

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene() -> Scene:
    scene = Scene()
    paid(scene.price)
    return scene


def test_the_driver_sees_their_receipt_and_downloads_its_pdf(client: Client, scene: Scene) -> None:
    receipt = invoice_issue_for_session(session_price=scene.price)
    client.force_login(scene.driver)
    page = client.get(reverse("billing:invoice", args=[receipt.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Receipt {receipt.code}" in html and "Session fee" in html and "6.00 EUR" in html
    pdf = client.get(reverse("billing:invoice_pdf", args=[receipt.code]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="{receipt.code}.pdf"'
    assert pdf.content.startswith(b"%PDF")


def test_another_drivers_receipt_is_not_found(client: Client, scene: Scene) -> None:
    receipt = invoice_issue_for_session(session_price=scene.price)
    stranger, _ = driver_with_card("stranger@example.com")
    client.force_login(stranger)
    assert client.get(reverse("billing:invoice", args=[receipt.code])).status_code == 404
    assert client.get(reverse("billing:invoice_pdf", args=[receipt.code])).status_code == 404
    client.logout()
    response = client.get(reverse("billing:invoice", args=[receipt.code]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_sessions_page_shows_cost_and_receipt(client: Client, scene: Scene) -> None:
    client.force_login(scene.driver)
    html = client.get(reverse("portal:sessions")).content.decode()
    assert "6.00 EUR" in html and ">Receipt<" in html
    receipt = invoice_issue_for_session(session_price=scene.price)
    html = client.get(reverse("portal:sessions")).content.decode()
    assert f'href="{reverse("billing:invoice", args=[receipt.code])}"' in html
