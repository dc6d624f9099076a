"""The payments admin: read-only, scoped; events and saved cards for superusers only."""

from __future__ import annotations

import pytest

from accounts.domain import Role
from billing.domain import PaymentStatus
from billing.models import PaymentEvent
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import payment_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_see_their_organization_s_payments_read_only_and_no_events(client):
    scene, elsewhere = Scene(), Scene(email="bob@example.com", operator_name="Other")
    mine = payment_for("pi_mine", session=scene.session, status=PaymentStatus.CAPTURED)
    payment_for("pi_theirs", session=elsewhere.session)
    PaymentEvent.objects.create(event_id="evt_1", event_type="x", payload={})
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, organization=scene.operator, role=Role.MANAGER)
    client.force_login(staff)
    page = client.get("/admin/billing/payment/")
    assert page.status_code == 200 and b"pi_mine" not in page.content  # listed by id, not reference
    assert list(page.context["cl"].queryset) == [mine]
    assert client.get(f"/admin/billing/payment/{mine.pk}/change/").status_code == 200
    assert b'name="_save"' not in client.get(f"/admin/billing/payment/{mine.pk}/change/").content
    assert client.get("/admin/billing/paymentevent/").status_code == 403
    assert client.get("/admin/billing/savedpaymentmethod/").status_code == 403


def test_superusers_see_the_events(client):
    PaymentEvent.objects.create(event_id="evt_1", event_type="payment_intent.succeeded", payload={})
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert b"evt_1" in client.get("/admin/billing/paymentevent/").content


def test_staff_find_a_guest_s_payment_by_the_receipt_address(client):
    scene = Scene()
    guest = payment_for("pi_guest", session=scene.session, status=PaymentStatus.CAPTURED)
    guest.user, guest.guest_email = None, "walk-up@example.org"
    guest.save(update_fields=["user", "guest_email"])
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/billing/payment/", {"q": "walk-up@"})
    assert list(page.context["cl"].queryset) == [guest]
    assert b"walk-up@example.org (guest)" in page.content
