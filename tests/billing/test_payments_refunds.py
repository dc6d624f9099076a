"""Refunds credit the receipt: credit notes issued once per key, from the webhook's refund events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain import InvoiceKind, PaymentStatus
from billing.models import Invoice
from billing.services.invoicing import invoice_issue_for_session
from billing.services.invoicing_credit import credit_note_issue
from billing.services.payments import payment_charge_saved_card, payment_refund
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import save_card
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


def _notes() -> list[Invoice]:
    return list(Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).order_by("pk"))


@pytest.fixture
def receipted(stripe_double, stripe_api):
    """A session paid with a saved card, with its receipt."""
    scene = Scene()
    save_card(stripe_api, scene.driver)
    scene.payment = payment_charge_saved_card(session_price=scene.price)
    scene.receipt = invoice_issue_for_session(session_price=scene.price)
    scene.payment.refresh_from_db()
    assert scene.payment.status == PaymentStatus.CAPTURED and scene.payment.invoice == scene.receipt
    return scene


def test_a_credit_note_issued_again_with_its_key_is_the_same_note(receipted):
    first = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("2.40"), reason="fault", idempotency_key="staff:7"
    )
    again = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("2.40"), reason="fault", idempotency_key="staff:7"
    )
    assert again.pk == first.pk and first.idempotency_key == "staff:7"
    other = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("1.00"), reason="fault", idempotency_key="staff:8"
    )
    assert other.pk != first.pk and len(_notes()) == 2


def test_a_refund_from_the_dashboard_credits_the_receipt_once_however_often_delivered(
    receipted, stripe_double, stripe_api, post_event
):
    refund = stripe_api.v1.refunds.create(
        params={"payment_intent": receipted.payment.provider_reference, "amount": 150}
    )
    created = stripe_double.last_event("refund.created")
    assert post_event(created).status_code == 200
    assert post_event(created).status_code == 200  # the same event again
    assert post_event(stripe_double.last_event("charge.refunded")).status_code == 200
    replay = {
        **created,
        "id": created["id"] + "_again",
        "type": "refund.updated",
    }  # another event, same refund
    assert post_event(replay).status_code == 200
    (note,) = _notes()
    assert note.credit_for == receipted.receipt and note.gross == Decimal("-1.50")
    assert note.idempotency_key == refund.id
    receipted.payment.refresh_from_db()
    assert receipted.payment.status == PaymentStatus.PARTIALLY_REFUNDED

    second = stripe_api.v1.refunds.create(params={"payment_intent": receipted.payment.provider_reference})
    post_event(stripe_double.last_event("refund.created"))
    post_event(stripe_double.last_event("refund.created"))
    notes = _notes()
    assert [n.gross for n in notes] == [Decimal("-1.50"), Decimal("-4.50")]
    assert notes[1].idempotency_key == second.id


def test_a_refund_for_a_credit_note_staff_issued_is_not_credited_again(receipted, stripe_double, post_event):
    note = credit_note_issue(invoice=receipted.receipt, amount=Decimal("2.00"), reason="fault")
    payment_refund(payment=receipted.payment, amount=Decimal("2.00"), reference=note.code)
    assert post_event(stripe_double.last_event("refund.created")).status_code == 200
    assert _notes() == [note]
