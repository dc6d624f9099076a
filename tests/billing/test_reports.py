"""The invoice admin and the revenue and energy report: numbers, CSV, and each organization's own only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from billing.domain import InvoiceKind
from billing.models import Invoice
from billing.services.invoicing import invoice_issue_for_session
from billing.services.invoicing_credit import credit_note_issue
from tests.billing.invoicing_fixtures import Scene, ended_session, paid, price_of
from tests.factories import MembershipFactory, StationFactory

pytestmark = pytest.mark.django_db

MARCH = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def scenes() -> tuple[Scene, Scene]:
    ours = Scene(email="ours@example.com", operator_name="Ours Operator")
    theirs = Scene(email="theirs@example.com", operator_name="Theirs Operator")
    for scene in (ours, theirs):
        scene.session.stopped_at = MARCH
        scene.session.save(update_fields=["stopped_at"])
        paid(scene.price)
        scene.receipt = invoice_issue_for_session(session_price=scene.price)  # type: ignore[attr-defined]
    return ours, theirs


def staff_client(client: Client, scene: Scene, role: Role = Role.MANAGER) -> Client:
    membership = MembershipFactory(organization=scene.operator, role=role)
    client.force_login(membership.user)
    return client


def test_the_report_sums_revenue_and_energy_per_site_in_the_period(client: Client, scenes) -> None:
    ours, _ = scenes
    second_site = StationFactory(site__organization=ours.operator, site__name="Ours Second Site")
    price_of(
        ended_session(station=ours.station, token=ours.token, stopped_at=MARCH, energy_wh=7_500), gross="4.00"
    )
    price_of(ended_session(station=second_site, token=ours.token, stopped_at=MARCH), gross="3.00")
    april = ended_session(station=ours.station, token=ours.token, stopped_at=datetime(2026, 4, 1, tzinfo=UTC))
    price_of(april, gross="99.00")  # the day after the period
    credit = credit_note_issue(invoice=ours.receipt, amount=Decimal("1.20"), reason="fault")
    Invoice.objects.filter(pk=credit.pk).update(issued_at=MARCH)
    staff_client(client, ours)

    response = client.get(
        reverse("admin:billing_invoice_report"), {"start": "2026-03-01", "end": "2026-03-31"}
    )
    assert response.status_code == 200
    rows = {row.site: row for row in response.context["rows"]}
    assert set(rows) == {ours.site.name, "Ours Second Site"}  # not the other operator's site
    main = rows[ours.site.name]
    assert (main.sessions, main.energy_kwh, main.gross, main.credited) == (
        2,
        Decimal("20.000"),
        Decimal("10.00"),
        Decimal("1.20"),
    )
    assert main.net + main.tax == main.gross

    export = client.get(
        reverse("admin:billing_invoice_report"), {"start": "2026-03-01", "end": "2026-03-31", "format": "csv"}
    )
    assert export["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert {(r["site"], r["sessions"], r["gross"], r["credited"]) for r in table} == {
        (ours.site.name, "2", "10.00", "1.20"),
        ("Ours Second Site", "1", "3.00", "0.00"),
    }


def test_a_period_that_ends_before_it_starts_is_refused(client: Client, scenes) -> None:
    staff_client(client, scenes[0])
    response = client.get(
        reverse("admin:billing_invoice_report"), {"start": "2026-03-31", "end": "2026-03-01"}
    )
    assert response.status_code == 200 and response.context["rows"] == []
    assert "ends before it starts" in response.content.decode()


def test_staff_see_only_their_organizations_documents(client: Client, scenes) -> None:
    ours, theirs = scenes
    staff_client(client, ours, role=Role.VIEWER)
    listing = client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert ours.receipt.code in listing and theirs.receipt.code not in listing
    assert "Revenue and energy report" in listing
    for name in ("document", "pdf", "credit_note"):
        url = reverse(f"admin:billing_invoice_{name}", args=[theirs.receipt.pk])
        assert client.get(url).status_code == 404, name
    assert client.get(reverse("admin:billing_invoice_document", args=[ours.receipt.pk])).status_code == 200
    pdf = client.get(reverse("admin:billing_invoice_pdf", args=[ours.receipt.pk]))
    assert pdf.content.startswith(b"%PDF")
    # A viewer may look, not credit.
    assert client.get(reverse("admin:billing_invoice_credit_note", args=[ours.receipt.pk])).status_code == 403


def test_a_manager_resends_and_credits_their_documents_only(client: Client, settings, scenes) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ours, theirs = scenes
    staff_client(client, ours)
    changelist = reverse("admin:billing_invoice_changelist")
    client.post(
        changelist,
        {"action": "resend_email", "_selected_action": [ours.receipt.pk, theirs.receipt.pk]},
    )
    assert [m.to for m in mail.outbox] == [["ours@example.com"]]

    url = reverse("admin:billing_invoice_credit_note", args=[ours.receipt.pk])
    form = client.get(url)
    assert "6.00 EUR" in form.content.decode()
    token = form.context["form"]["token"].value()
    refused = client.post(url, {"amount": "7.00", "reason": "too much", "token": token})
    assert refused.status_code == 200 and "left to credit" in refused.content.decode()
    client.post(url, {"amount": "2.00", "reason": "charger fault", "token": token})
    note = Invoice.objects.get(kind=InvoiceKind.CREDIT_NOTE)
    assert note.credit_for == ours.receipt and note.gross == Decimal("-2.00")


def test_documents_cannot_be_added_changed_or_deleted(client: Client, scenes) -> None:
    ours, _ = scenes
    staff_client(client, ours, role=Role.OWNER)
    assert client.get(reverse("admin:billing_invoice_add")).status_code == 403
    assert client.get(reverse("admin:billing_invoice_delete", args=[ours.receipt.pk])).status_code == 403
    page = client.get(reverse("admin:billing_invoice_change", args=[ours.receipt.pk]))
    assert page.status_code == 200 and "Issue a credit note" in page.content.decode()
