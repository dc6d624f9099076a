"""Paying at a charger without an account: the email address, the hold, the signed link to the guest's
page (and what it does not open), the limit on holds, the stop by the guest, the receipt to the guest's
address, and the stop at the hold that a guest's session needs earlier than a driver's."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import IdToken, IdTokenStatus
from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.guest_links import GUEST_LINK_MAX_AGE, GUEST_LINK_SALT, guest_link_token
from billing.models import Invoice, Payment
from billing.services.card_hold import card_holds_stop_at_limit
from billing.services.card_hold_guest import GUEST_HOLDS_PER_ADDRESS, GUEST_HOLDS_PER_BROWSER
from billing.tasks import session_bill_task
from stations.models import ChargingSession, OutgoingCall
from tests.billing.card_hold_fixtures import (
    PAY,
    PayScene,
    authorize,
    held_payment,
    open_session_with_register,
    pay_scene,
)
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db

GUEST_EMAIL = "walk.up@example.org"


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://charge.example.com"
    return mail.outbox


@pytest.fixture(autouse=True)
def holds_counted_afresh() -> None:
    cache.clear()  # the guest hold limits are counted in the cache


def guest_pays(client: Client, scene: PayScene, email: str = GUEST_EMAIL, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(PAY.format(identity=scene.station.identity) + "guest/", {"email": email}, **extra)


def guest_hold(client: Client, scene: PayScene) -> tuple[Payment, str]:
    """A guest's hold, pending, and the link to their page the start redirected to."""
    response = guest_pays(client, scene)
    payment = Payment.objects.get()
    assert response.status_code == 302 and response["Location"].startswith("/billing/guest/")
    return payment, response["Location"]


def guest_held(client: Client, scene: PayScene, stripe_api) -> tuple[Payment, str]:  # type: ignore[no-untyped-def]
    """A guest's hold authorized, with its one-off tag (the start itself is the live tests')."""
    payment, link = guest_hold(client, scene)
    authorize(stripe_api, payment)
    payment.status = PaymentStatus.AUTHORIZED
    payment.id_token = IdToken.objects.create(id_tag=f"PAY-{payment.pk}", owner=None)
    payment.save()
    return payment, link


def ended_session(payment: Payment, meter_stop_wh: int) -> ChargingSession:
    """The hold's session, ended a minute ago (0.40 EUR/kWh)."""
    now = timezone.now()
    session = open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=40),
        readings_wh=[(now - timedelta(minutes=20), meter_stop_wh // 2)],
    )
    session.stopped_at, session.meter_stop_wh = now - timedelta(minutes=1), meter_stop_wh
    session.save()
    return session


def test_a_visitor_not_logged_in_is_offered_to_pay_with_an_email_address(client, stripe_double):
    scene = pay_scene()
    page = client.get(PAY.format(identity=scene.station.identity)).content.decode()
    assert 'id="guest-form"' in page and 'type="email" name="email"' in page
    assert "Email for your receipt" in page and "Pay and charge</button>" in page
    assert "/accounts/login/?next=" in page  # drivers with an account may still log in
    client.force_login(scene.driver)
    page = client.get(PAY.format(identity=scene.station.identity)).content.decode()
    assert 'id="guest-form"' not in page and "Pay and charge</button>" in page


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("", "Enter the email address your receipt should go to."),
        ("not-an-address", "Enter a valid email address."),
        ("someone@", "Enter a valid email address."),
        ("a" * 250 + "@example.org", "Ensure this value has at most 254 characters"),
    ],
)
def test_a_guest_without_a_valid_email_address_gets_no_hold(client, stripe_double, email, error):
    scene = pay_scene()
    response = guest_pays(client, scene, email)
    assert response.status_code == 400 and error in response.content.decode()
    assert not Payment.objects.exists() and not stripe_double.state.requests


def test_a_guest_s_hold_has_their_address_no_account_and_no_provider_customer(client, stripe_double):
    scene = pay_scene()
    payment, link = guest_hold(client, scene)
    assert (payment.user, payment.guest_email, payment.method) == (
        None,
        GUEST_EMAIL,
        PaymentMethodKind.CARD_HOLD,
    )
    intent = stripe_double.get(payment.provider_reference)
    assert (intent["amount"], intent["capture_method"], intent["customer"]) == (5000, "manual", None)
    page = client.get(link)
    assert page.context["state"] == "authorize"
    assert page.context["stripe"]["clientSecret"] == intent["client_secret"]
    assert page.context["stripe"]["returnUrl"] == f"http://testserver{link}return/"
    assert GUEST_EMAIL in page.content.decode()


def test_the_address_is_stored_with_its_domain_in_lower_case(client, stripe_double):
    guest_pays(client, pay_scene(), "  Walk.Up@Example.ORG ")
    assert Payment.objects.get().guest_email == "Walk.Up@example.org"


def test_a_logged_in_driver_posting_the_guest_form_pays_as_themselves_or_not_at_all(client, stripe_double):
    scene = pay_scene()
    client.force_login(scene.driver)
    response = guest_pays(client, scene)
    assert response.status_code == 302 and response["Location"] == PAY.format(identity=scene.station.identity)
    assert not Payment.objects.exists()


def test_a_guest_hold_is_refused_where_paying_is_not_offered(client, stripe_double):
    scene = pay_scene(online=False)
    response = guest_pays(client, scene)
    assert response.status_code == 409 and "The charger is offline" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_guest_s_declined_card_shows_the_bank_s_message_and_starts_nothing(
    client, stripe_double, stripe_api
):
    payment, link = guest_hold(client, pay_scene())
    assert "declined" in authorize(stripe_api, payment, "pm_card_chargeDeclined")["error"]
    response = client.get(f"{link}return/", {"payment_intent": payment.provider_reference}, follow=True)
    assert "Your card was declined." in response.content.decode()
    assert response.context["state"] == "authorize"
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert not OutgoingCall.objects.exists() and not IdToken.objects.exists()


def test_a_guest_s_hold_at_a_charger_gone_offline_is_released(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, link = guest_hold(client, scene)
    authorize(stripe_api, payment)
    scene.station.is_online = False
    scene.station.save()
    response = client.get(f"{link}return/", {"payment_intent": payment.provider_reference}, follow=True)
    assert "The amount held on your card has been released." in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and payment.id_token.owner is None
    assert payment.id_token.status == IdTokenStatus.BLOCKED
    assert stripe_double.get(payment.provider_reference)["status"] == "canceled"


def test_the_return_page_wants_the_link_s_own_payment_intent(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, link = guest_hold(client, scene)
    authorize(stripe_api, payment)
    assert client.get(f"{link}return/", {"payment_intent": "pi_someone_else"}).status_code == 404
    assert Payment.objects.get().status == PaymentStatus.PENDING and not OutgoingCall.objects.exists()


def test_a_forged_or_altered_link_opens_nothing(client, stripe_double):
    scene = pay_scene()
    payment, link = guest_hold(client, scene)
    token = link.split("/")[3]
    value, stamp, signature = token.split(":")
    other = Payment.objects.create(
        method=PaymentMethodKind.CARD_HOLD, guest_email="other@example.org", currency="EUR"
    )
    forged = [
        f"{other.pk}:{stamp}:{signature}",  # another payment's id under this one's signature
        f"{value}:{stamp}:{signature[:-2]}xx",
        signing.Signer(salt=GUEST_LINK_SALT).sign(str(other.pk)),  # no timestamp
        signing.TimestampSigner(salt="another.salt").sign(str(other.pk)),
        signing.TimestampSigner(salt=GUEST_LINK_SALT, key="not-the-secret-key").sign(str(other.pk)),
        "nonsense",
    ]
    for bad in forged:
        response = client.get(f"/billing/guest/{bad}/")
        assert response.status_code == 404, bad
        assert "This link opens nothing" in response.content.decode()
        assert client.post(f"/billing/guest/{bad}/stop/").status_code == 404
    assert client.get(link).status_code == 200


def test_a_driver_s_payment_is_not_reachable_by_a_guest_link(client, stripe_double):
    scene = pay_scene()
    client.force_login(scene.driver)
    client.post(PAY.format(identity=scene.station.identity) + "start/")
    driver_payment = Payment.objects.get()
    client.logout()
    token = guest_link_token(driver_payment)  # a genuine signature, but not a guest's payment
    assert client.get(f"/billing/guest/{token}/").status_code == 404


class OldSigner(signing.TimestampSigner):
    """Signs as of GUEST_LINK_MAX_AGE and a minute ago: a genuine link that has expired."""

    def timestamp(self) -> str:
        then = int(time.time() - GUEST_LINK_MAX_AGE.total_seconds() - 60)
        return signing.b62_encode(then)


def test_an_expired_link_says_so_with_a_403(client, stripe_double):
    payment, _ = guest_hold(client, pay_scene())
    expired = OldSigner(salt=GUEST_LINK_SALT).sign(str(payment.pk))
    response = client.get(f"/billing/guest/{expired}/")
    assert response.status_code == 403 and "This link has expired" in response.content.decode()


def test_the_browser_remembers_the_guest_s_payment_and_another_does_not_see_it(client, stripe_double):
    scene = pay_scene()
    _, link = guest_hold(client, scene)
    page = client.get(PAY.format(identity=scene.station.identity)).content.decode()
    assert f'href="{link}"' in page and "You started paying at this connector." in page
    other = Client().get(PAY.format(identity=scene.station.identity)).content.decode()
    assert "/billing/guest/" not in other


def test_holds_are_limited_per_browser(client, stripe_double):
    scene = pay_scene()
    for _ in range(GUEST_HOLDS_PER_BROWSER):
        assert guest_pays(client, scene).status_code == 302
    response = guest_pays(client, scene)
    assert response.status_code == 429 and "Too many payments" in response.content.decode()
    assert Payment.objects.count() == GUEST_HOLDS_PER_BROWSER
    assert guest_pays(Client(), scene).status_code == 302  # another browser is not held back


def test_holds_are_limited_per_address(stripe_double):
    scene = pay_scene()
    for _ in range(GUEST_HOLDS_PER_ADDRESS):  # each a new browser, all behind one address
        assert guest_pays(Client(REMOTE_ADDR="203.0.113.7"), scene).status_code == 302
    assert guest_pays(Client(REMOTE_ADDR="203.0.113.7"), scene).status_code == 429
    assert guest_pays(Client(REMOTE_ADDR="203.0.113.8"), scene).status_code == 302
    assert Payment.objects.count() == GUEST_HOLDS_PER_ADDRESS + 1


def test_the_charging_page_shows_energy_and_cost_so_far_and_the_stop_button(
    client, stripe_double, stripe_api
):
    scene = pay_scene()
    payment, link = guest_held(client, scene, stripe_api)
    now = timezone.now()
    open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=30),
        readings_wh=[(now - timedelta(minutes=10), 4000), (now - timedelta(minutes=1), 9000)],
    )
    ChargingSession.objects.update(meter_last_wh=9000)  # as the gateway keeps it with the samples
    response = client.get(link)
    assert response.context["state"] == "charging"
    page = response.content.decode()
    assert re.search(r'id="pay-energy">9.00 kWh<', page) and re.search(r'id="pay-cost">3.60 €<', page)
    assert f'action="{link}stop/"' in page


def test_the_guest_s_stop_asks_the_charger_and_says_what_came_of_it(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, link = guest_held(client, scene, stripe_api)
    open_session_with_register(
        payment=payment, started_at=timezone.now() - timedelta(minutes=5), readings_wh=[]
    )
    scene.station.is_online = False  # the live test has a charger that answers
    scene.station.save()
    response = client.post(f"{link}stop/", follow=True)
    assert "Not stopped yet: the charger is offline." in response.content.decode()
    payment.refresh_from_db()
    assert payment.stop_outcome == "Stop asked by the driver: Not stopped yet: the charger is offline."
    assert payment.stop_requested_at is not None


def test_the_session_end_captures_and_mails_the_receipt_to_the_guest_with_the_link(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = pay_scene()
    payment, link = guest_held(client, scene, stripe_api)
    session = ended_session(payment, 12_345)
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
        session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("4.94"))
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.user, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        None,
        Decimal("4.94"),
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [GUEST_EMAIL]
    sent = mail.outbox[0]
    assert f"Customer: {GUEST_EMAIL}" in sent.body
    mailed_link = re.search(r"https://charge\.example\.com(/billing/guest/[^/\s]+/)", sent.body)
    assert mailed_link is not None and mailed_link[0] in sent.alternatives[0][0]
    # The mailed link opens the guest's page in a browser that never paid, with the receipt.
    stranger = Client()
    page = stranger.get(mailed_link[1])
    assert page.context["state"] == "paid" and "4.94 €" in page.content.decode()
    document = stranger.get(f"{mailed_link[1]}documents/{receipt.code}/").content.decode()
    assert receipt.code in document and GUEST_EMAIL in document and "4.94 EUR" in document
    pdf = stranger.get(f"{mailed_link[1]}documents/{receipt.code}/pdf")
    assert pdf["Content-Type"] == "application/pdf" and receipt.code.encode() in pdf.content
    assert client.get(link).context["documents"][0][0] == receipt


def test_a_guest_link_opens_only_its_own_session_s_documents(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, link = guest_held(client, scene, stripe_api)
    session_bill_task.apply(kwargs={"session_id": ended_session(payment, 5000).pk})
    own = Invoice.objects.get()
    payment.refresh_from_db()
    # Another guest's session and receipt at the same charger.
    other_link = guest_pays(Client(), scene, "other@example.org")["Location"]
    other_payment = Payment.objects.get(guest_email="other@example.org")
    authorize(stripe_api, other_payment)
    other_payment.status = PaymentStatus.AUTHORIZED
    other_payment.id_token = IdToken.objects.create(id_tag=f"PAY-{other_payment.pk}")
    other_payment.save()
    ChargingSession.objects.update(external_id="1")
    session_bill_task.apply(kwargs={"session_id": ended_session(other_payment, 7000).pk})
    theirs = Invoice.objects.exclude(pk=own.pk).get()
    assert client.get(f"{link}documents/{own.code}/").status_code == 200
    assert client.get(f"{link}documents/{theirs.code}/").status_code == 404
    assert client.get(f"{link}documents/{theirs.code}/pdf").status_code == 404
    assert Client().get(f"{other_link}documents/{theirs.code}/").status_code == 200
    assert client.get(f"/billing/documents/{own.code}/").status_code == 302  # the portal's wants a login


def test_a_guest_s_session_is_stopped_before_its_pace_would_pass_the_hold(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, _ = guest_held(client, scene, stripe_api)
    now = timezone.now()
    # 50 EUR held, 0.40 EUR/kWh: 44.00 EUR so far, 12.00 EUR in the last 10 minutes, so 6.00 in the next
    # 5: it would pass 49 (the hold less the margin) before the next runs could stop it.
    readings = [(now - timedelta(minutes=10), 80_000), (now - timedelta(seconds=30), 110_000)]
    session = open_session_with_register(
        payment=payment, started_at=now - timedelta(minutes=60), readings_wh=readings
    )
    scene.station.is_online = False
    scene.station.save()
    card_holds_stop_at_limit(now=now)
    payment.refresh_from_db()
    assert payment.stop_requested_at == now and payment.session == session
    assert payment.stop_outcome == (
        "The cost (44.00 EUR) would pass the hold of 50.00 EUR at its pace: "
        "Not stopped yet: the charger is offline."
    )


def test_a_driver_s_session_at_the_same_cost_and_pace_runs_on(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)  # a driver's: the rest can go on their card
    now = timezone.now()
    readings = [(now - timedelta(minutes=10), 80_000), (now - timedelta(seconds=30), 110_000)]
    open_session_with_register(payment=payment, started_at=now - timedelta(minutes=60), readings_wh=readings)
    card_holds_stop_at_limit(now=now)
    assert Payment.objects.get().stop_requested_at is None


def test_a_guest_s_session_at_a_slow_pace_runs_on(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment, _ = guest_held(client, scene, stripe_api)
    now = timezone.now()
    readings = [(now - timedelta(minutes=10), 108_000), (now - timedelta(seconds=30), 110_000)]
    open_session_with_register(payment=payment, started_at=now - timedelta(minutes=60), readings_wh=readings)
    card_holds_stop_at_limit(now=now)  # 44.00 + 0.80 per 10 min: far from 49 in 5 minutes
    assert Payment.objects.get().stop_requested_at is None


def test_a_guest_s_session_that_cost_more_than_the_hold_leaves_the_rest_open_to_their_address(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks, settings
):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("5")
    scene = pay_scene()
    payment, link = guest_held(client, scene, stripe_api)
    session = ended_session(payment, 20_000)  # 8.00 EUR: the stop came too late
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("5.00"))
    receipt, invoice = Invoice.objects.order_by("pk")
    assert (receipt.kind, receipt.gross, invoice.kind, invoice.gross, invoice.status) == (
        InvoiceKind.RECEIPT,
        Decimal("5.00"),
        InvoiceKind.INVOICE,
        Decimal("3.00"),
        InvoiceStatus.OPEN,
    )
    assert [m.to for m in mail.outbox] == [[GUEST_EMAIL], [GUEST_EMAIL]]
    assert [d[0] for d in client.get(link).context["documents"]] == [receipt, invoice]
