"""Receipts and invoices: gapless numbers, once per session, credit notes, statements, PDF and mail."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import OrganizationKind
from billing.domain import InvoiceKind, InvoiceStatus
from billing.models import Invoice, InvoiceSeries
from billing.services.invoicing import (
    invoice_email,
    invoice_issue_for_session,
    invoice_pdf,
    invoice_series_next,
)
from billing.services.invoicing_credit import credit_note_issue
from billing.services.invoicing_statements import statement_issue
from tests.billing.invoicing_fixtures import Scene, ended_session, operator, paid, price_of, site_of
from tests.factories import IdTokenFactory, OrganizationFactory, StationFactory

pytestmark = pytest.mark.django_db


def test_a_paid_session_gets_a_receipt_and_an_unpaid_one_an_invoice() -> None:
    scene = Scene()
    paid(scene.price)
    receipt = invoice_issue_for_session(session_price=scene.price)
    assert (receipt.kind, receipt.status, receipt.code) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        receipt.code,
    )
    assert receipt.code == f"R-{scene.operator.pk}-000001"
    assert receipt.gross == Decimal("6.00") and receipt.user == scene.driver
    assert [line["description"] for line in receipt.lines] == ["Energy", "Session fee"]
    assert scene.session.payments.get().invoice == receipt

    other = ended_session(station=scene.station, token=scene.token)
    invoice = invoice_issue_for_session(session_price=price_of(other))
    assert (invoice.kind, invoice.status) == (InvoiceKind.INVOICE, InvoiceStatus.OPEN)
    assert invoice.code == f"INV-{scene.operator.pk}-000001"


def test_issuing_twice_returns_the_first_document() -> None:
    scene = Scene()
    first = invoice_issue_for_session(session_price=scene.price)
    second = invoice_issue_for_session(session_price=scene.price)
    assert first == second
    assert Invoice.objects.count() == 1
    assert InvoiceSeries.objects.get().next_number == 2


def test_numbers_follow_each_other_per_organization_and_kind() -> None:
    scene = Scene()
    codes = [
        invoice_issue_for_session(
            session_price=price_of(ended_session(station=scene.station, token=scene.token))
        ).number
        for _ in range(3)
    ]
    other = Scene(email="other@example.com", operator_name="Other Operator")
    assert codes == [1, 2, 3]
    assert invoice_issue_for_session(session_price=other.price).number == 1


def test_a_failed_issue_leaves_no_gap() -> None:
    scene = Scene()
    series = InvoiceSeries.objects.create(organization=scene.operator, kind=InvoiceKind.INVOICE, prefix="X-")
    # Another document already holds the code the next number would print as: the insert fails.
    blocker_series = InvoiceSeries.objects.create(
        organization=OrganizationFactory(), kind=InvoiceKind.INVOICE, prefix="Y-"
    )
    blocker = Invoice.objects.create(
        series=blocker_series,
        number=1,
        code="X-000001",
        kind=InvoiceKind.INVOICE,
        organization=blocker_series.organization,
        issued_at=datetime.now(UTC),
        currency="EUR",
        net=0,
        tax=0,
        gross=0,
    )
    with pytest.raises(IntegrityError):
        invoice_issue_for_session(session_price=scene.price)
    series.refresh_from_db()
    assert series.next_number == 1
    blocker.delete()
    assert invoice_issue_for_session(session_price=scene.price).code == "X-000001"


@pytest.mark.django_db(transaction=True)
def test_a_number_is_taken_only_inside_a_transaction() -> None:
    scene = Scene()
    with pytest.raises(RuntimeError):
        invoice_series_next(organization=scene.operator, kind=InvoiceKind.RECEIPT)
    with transaction.atomic():
        assert invoice_series_next(organization=scene.operator, kind=InvoiceKind.RECEIPT)[1] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_take_distinct_numbers_without_gaps() -> None:
    scene = Scene()
    prices = [price_of(ended_session(station=scene.station, token=scene.token)) for _ in range(8)]
    prices.append(scene.price)
    start = threading.Barrier(len(prices))
    errors: list[BaseException] = []

    def issue(price) -> None:  # type: ignore[no-untyped-def]
        try:
            start.wait()
            invoice_issue_for_session(session_price=price)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(price,)) for price in prices]
    # The same session twice at once: one document, the other thread finds it.
    threads.append(threading.Thread(target=issue, args=(scene.price,)))
    start = threading.Barrier(len(threads))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, len(prices) + 1))
    assert InvoiceSeries.objects.get().next_number == len(prices) + 1


def test_credit_notes_credit_at_most_what_is_left() -> None:
    scene = Scene()
    paid(scene.price)
    receipt = invoice_issue_for_session(session_price=scene.price)
    note = credit_note_issue(invoice=receipt, amount=Decimal("2.40"), reason="charger fault")
    assert note.kind == InvoiceKind.CREDIT_NOTE and note.credit_for == receipt
    assert note.code == f"CN-{scene.operator.pk}-000001"
    assert (note.gross, note.tax, note.net) == (Decimal("-2.40"), Decimal("-0.40"), Decimal("-2.00"))
    assert "charger fault" in note.lines[0]["description"]
    with pytest.raises(ValidationError, match="3.60"):
        credit_note_issue(invoice=receipt, amount=Decimal("3.61"), reason="too much")
    second = credit_note_issue(invoice=receipt, amount=Decimal("3.60"), reason="rest")
    assert second.number == 2
    with pytest.raises(ValidationError):
        credit_note_issue(invoice=receipt, amount=Decimal("0.01"), reason="nothing left")
    with pytest.raises(ValidationError):
        credit_note_issue(invoice=note, amount=Decimal("1"), reason="a credit of a credit")


def _fleet_scene() -> tuple[Scene, object, object]:
    scene = Scene()
    fleet = OrganizationFactory(name="Delivery Vans", kind=OrganizationKind.FLEET)
    card = IdTokenFactory(organization=fleet)
    return scene, fleet, card


def test_a_statement_holds_the_fleets_sessions_that_ended_in_the_period() -> None:
    scene, fleet, card = _fleet_scene()
    march, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    inside = [
        ended_session(station=scene.station, token=card, stopped_at=march),  # the first instant counts
        ended_session(
            station=scene.station, token=card, stopped_at=datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
        ),
    ]
    outside = [
        ended_session(station=scene.station, token=card, stopped_at=april),  # the end is exclusive
        ended_session(
            station=scene.station, token=card, stopped_at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
        ),
    ]
    for session in inside + outside:
        price_of(session, gross="10.00")
    (statement,) = statement_issue(organization=fleet, period_start=march, period_end=april)
    assert statement.kind == InvoiceKind.STATEMENT
    assert statement.customer_organization == fleet and statement.organization == scene.operator
    assert statement.gross == Decimal("20.00") and len(statement.lines) == 2
    assert statement.code == f"ST-{scene.operator.pk}-000001"
    # Idempotent per fleet and period.
    assert statement_issue(organization=fleet, period_start=march, period_end=april) == [statement]
    assert Invoice.objects.filter(kind=InvoiceKind.STATEMENT).count() == 1
    (february,) = statement_issue(
        organization=fleet, period_start=datetime(2026, 2, 1, tzinfo=UTC), period_end=march
    )
    assert february.gross == Decimal("10.00")


def test_statements_are_per_operator_and_only_for_fleets() -> None:
    scene, fleet, card = _fleet_scene()
    elsewhere = Scene(email="x@example.com", operator_name="Other Operator")
    march, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    day = datetime(2026, 3, 10, tzinfo=UTC)
    price_of(ended_session(station=scene.station, token=card, stopped_at=day))
    price_of(ended_session(station=elsewhere.station, token=card, stopped_at=day))
    statements = statement_issue(organization=fleet, period_start=march, period_end=april)
    assert {s.organization for s in statements} == {scene.operator, elsewhere.operator}
    with pytest.raises(ValidationError):
        statement_issue(organization=scene.operator, period_start=march, period_end=april)
    assert (
        statement_issue(organization=fleet, period_start=april, period_end=datetime(2026, 5, 1, tzinfo=UTC))
        == []
    )


def test_the_pdf_is_a_pdf_with_the_code() -> None:
    scene = Scene()
    invoice = invoice_issue_for_session(session_price=scene.price)
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF")
    assert invoice.code.encode() in pdf
    assert b"Session fee" in pdf


def test_the_mail_has_html_text_and_the_pdf_and_goes_once(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    scene = Scene()
    paid(scene.price)
    receipt = invoice_issue_for_session(session_price=scene.price)
    assert invoice_email(receipt) is True
    assert invoice_email(receipt) is False
    (message,) = mail.outbox
    assert message.to == ["driver@example.com"]
    assert receipt.code in message.subject and receipt.code in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and receipt.code in html
    ((name, content, attachment_type),) = message.attachments
    assert (name, attachment_type) == (f"{receipt.code}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    receipt.refresh_from_db()
    assert receipt.emailed_at is not None
    assert invoice_email(receipt, resend=True) is True
    assert len(mail.outbox) == 2


def test_a_statement_is_mailed_to_the_fleets_managers(settings) -> None:
    from tests.factories import MembershipFactory

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    scene, fleet, card = _fleet_scene()
    MembershipFactory(organization=fleet, user__email="boss@vans.example")
    price_of(ended_session(station=scene.station, token=card, stopped_at=datetime(2026, 3, 3, tzinfo=UTC)))
    (statement,) = statement_issue(
        organization=fleet,
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert invoice_email(statement) is True
    assert mail.outbox[0].to == ["boss@vans.example"]


def test_a_fleet_card_session_is_invoiced_to_the_fleet() -> None:
    scene, fleet, card = _fleet_scene()
    station = StationFactory(site=scene.site)
    invoice = invoice_issue_for_session(session_price=price_of(ended_session(station=station, token=card)))
    assert invoice.kind == InvoiceKind.INVOICE and invoice.customer_organization == fleet
    assert invoice.user is None


def test_another_organizations_card_is_invoiced_to_it_and_the_sites_own_card_to_nobody_else() -> None:
    site = site_of(operator("Volt Parking"))
    station = StationFactory(site=site)
    partner = operator("Harbour Homes")
    partner_card = IdTokenFactory(organization=partner)
    own_card = IdTokenFactory(organization=site.organization)
    partner_invoice = invoice_issue_for_session(
        session_price=price_of(ended_session(station=station, token=partner_card))
    )
    own_invoice = invoice_issue_for_session(
        session_price=price_of(ended_session(station=station, token=own_card))
    )
    assert partner_invoice.customer_organization == partner
    assert own_invoice.customer_organization is None
