"""Paying at a charger by card, without a live charger: the pay page, the hold, a declined card, an
offline charger, the capture at the end, a free session, the running cost and the stop job's records."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.domain import Role
from accounts.models import IdToken, IdTokenStatus
from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import Invoice, Payment
from billing.services.card_hold import card_holds_stop_at_limit, card_holds_watch
from billing.services.pricing import session_price
from billing.services.running_cost import session_cost_so_far
from billing.tasks import session_bill_task
from stations.domain import AccessPolicy, ConnectorStatus
from stations.models import ChargingSession, OutgoingCall
from stations.ocpp.adapters import ADAPTERS
from tests.billing.card_hold_fixtures import (
    PAY,
    authorize,
    held_payment,
    open_session_with_register,
    pay_scene,
    start_hold,
)
from tests.factories import AccessRuleFactory, MembershipFactory, UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def test_the_pay_page_shows_the_connector_the_price_and_the_hold(client, stripe_double):
    scene = pay_scene()
    page = client.get(PAY.format(identity=scene.station.identity)).content.decode()
    assert scene.station.identity in page and "Available" in page
    assert "0.40 €/kWh" in page and "50.00 €" in page
    assert 'id="guest-form"' in page  # a visitor not logged in pays as a guest (test_card_hold_guest.py)
    client.force_login(scene.driver)
    assert (
        "Pay and charge</button>" in client.get(PAY.format(identity=scene.station.identity)).content.decode()
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("restricted", "not open to the public"),
        ("offline", "The charger is offline"),
        ("faulted", "The connector is faulted"),
        ("no_stripe", "Card payments are not available"),
    ],
)
def test_no_payment_is_offered_where_the_driver_could_not_charge(
    client, stripe_double, settings, change, reason
):
    scene = pay_scene(online=change != "offline")
    if change == "restricted":
        site = scene.station.site
        site.access_policy = AccessPolicy.RESTRICTED
        site.save()
    if change == "faulted":
        scene.connector.status = ConnectorStatus.FAULTED
        scene.connector.save()
    if change == "no_stripe":
        settings.STRIPE_SECRET_KEY = ""
    client.force_login(scene.driver)
    page = client.get(PAY.format(identity=scene.station.identity)).content.decode()
    assert reason in page and "Pay and charge</button>" not in page
    client.post(PAY.format(identity=scene.station.identity) + "start/")
    assert not Payment.objects.exists()


def test_a_site_with_a_public_rule_offers_payment(client, stripe_double):
    scene = pay_scene()
    site = scene.station.site
    site.access_policy = AccessPolicy.RESTRICTED
    site.save()
    AccessRuleFactory(site=site, group=None)
    client.force_login(scene.driver)
    assert (
        "Pay and charge</button>" in client.get(PAY.format(identity=scene.station.identity)).content.decode()
    )


def test_paying_opens_a_manual_capture_hold_for_the_configured_amount(client, stripe_double, settings):
    settings.CSMS_CARD_HOLD_AMOUNT = Decimal("30")
    scene = pay_scene()
    payment = start_hold(client, scene)
    intent = stripe_double.get(payment.provider_reference)
    assert (intent["amount"], intent["currency"], intent["capture_method"]) == (3000, "eur", "manual")
    assert intent["metadata"] == {"payment": str(payment.pk), "station": scene.station.identity, "evse": "1"}
    assert (payment.method, payment.status, payment.evse_id) == (PaymentMethodKind.CARD_HOLD, "pending", 1)
    page = client.get(f"/billing/payments/{payment.pk}/")
    assert page.context["stripe"]["clientSecret"] == intent["client_secret"]
    assert f'src="{stripe_double.url}/v3/"' in page.content.decode()


def test_a_declined_hold_shows_the_error_and_never_starts(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = start_hold(client, scene)
    assert "declined" in authorize(stripe_api, payment, "pm_card_chargeDeclined")["error"]
    response = client.get(
        f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference}, follow=True
    )
    assert "Your card was declined." in response.content.decode()
    assert response.context["state"] == "authorize"  # the driver can try another card
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.id_token is None
    assert not OutgoingCall.objects.exists() and not IdToken.objects.exists()


def test_an_unconfirmed_hold_starts_nothing_whatever_the_return_url_says(client, stripe_double):
    scene = pay_scene()
    payment = start_hold(client, scene)
    client.get(f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference})
    assert Payment.objects.get().status == PaymentStatus.PENDING and not OutgoingCall.objects.exists()


def test_another_driver_s_payment_is_not_found(client, stripe_double):
    scene = pay_scene()
    payment = start_hold(client, scene)
    client.force_login(UserFactory())
    assert client.get(f"/billing/payments/{payment.pk}/").status_code == 404
    reply = client.get(
        f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference}
    )
    assert reply.status_code == 404


def test_a_held_card_at_a_charger_gone_offline_is_released(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = start_hold(client, scene)
    authorize(stripe_api, payment)
    scene.station.is_online = False
    scene.station.save()
    response = client.get(
        f"/billing/payments/{payment.pk}/return/", {"payment_intent": payment.provider_reference}, follow=True
    )
    assert (
        "The charger is offline. The amount held on your card has been released." in response.content.decode()
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert stripe_double.get(payment.provider_reference)["status"] == "canceled"
    assert payment.id_token.status == IdTokenStatus.BLOCKED


def test_the_session_end_captures_the_exact_price_once_and_mails_the_receipt(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    now = timezone.now()
    session = open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=40),
        readings_wh=[(now - timedelta(minutes=20), 6000)],
    )
    session.stopped_at, session.meter_stop_wh = now - timedelta(minutes=1), 12_345
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
        session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert payment.session == session and payment.status == PaymentStatus.CAPTURED
    assert payment.amount_captured == Decimal("4.94")  # 12.345 kWh x 0.40, rounded
    intent = stripe_double.get(payment.provider_reference)
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 494)
    captures = [r for r in stripe_double.state.requests if r[1].endswith("/capture")]
    assert len(captures) == 1
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status, receipt.gross) == (
        InvoiceKind.RECEIPT,
        InvoiceStatus.PAID,
        Decimal("4.94"),
    )
    assert receipt.user == scene.driver and len(mail.outbox) == 1
    assert IdToken.objects.get(pk=payment.id_token_id).status == IdTokenStatus.BLOCKED
    page = client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert "4.94 €" in page and receipt.code in page


def test_a_session_with_nothing_to_pay_releases_the_hold_and_captures_nothing(
    client, stripe_double, stripe_api, django_capture_on_commit_callbacks
):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    now = timezone.now()
    session = open_session_with_register(
        payment=payment, started_at=now - timedelta(minutes=3), readings_wh=[]
    )
    session.stopped_at, session.meter_stop_wh = now, 0
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": session.pk})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and payment.amount_captured == 0
    assert stripe_double.get(payment.provider_reference)["status"] == "canceled"
    assert not [r for r in stripe_double.state.requests if r[1].endswith("/capture")]
    assert not Invoice.objects.exists()


def test_the_running_cost_is_what_the_price_would_be_if_the_session_stopped_now(
    client, stripe_double, stripe_api
):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    now = timezone.now().replace(microsecond=0)
    session = open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=30),
        readings_wh=[(now - timedelta(minutes=20), 4000), (now - timedelta(minutes=10), 9000)],
    )
    so_far = session_cost_so_far(session=session, at=now)
    assert so_far is not None and so_far.gross == Decimal("3.60")  # 9 kWh x 0.40
    session.stopped_at, session.meter_stop_wh = now, 9000
    session.save()
    assert session_price(session=ChargingSession.objects.get(pk=session.pk)).gross == so_far.gross


def test_the_stop_job_asks_to_stop_at_the_hold_and_records_why(client, stripe_double, stripe_api, settings):
    settings.CSMS_CARD_HOLD_AMOUNT, settings.CSMS_CARD_HOLD_MARGIN = Decimal("5"), Decimal("1")
    scene = pay_scene(protocol="ocpp1.6")
    payment = held_payment(client, scene, stripe_api)
    now = timezone.now()
    session = open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=30),
        readings_wh=[(now - timedelta(minutes=1), 10_000)],
    )
    scene.station.is_online = False  # the live test has the charger that accepts
    scene.station.save()
    assert card_holds_stop_at_limit(now=now) == 0
    payment.refresh_from_db()
    assert payment.stop_requested_at == now and payment.session == session
    assert payment.stop_outcome == (
        "The cost (4.00 EUR) reached the hold of 5.00 EUR: Not stopped yet: the charger is offline."
    )
    card_holds_watch(now=now + timedelta(seconds=30))  # not asked again within the retry interval
    assert Payment.objects.get().stop_requested_at == now
    card_holds_watch(now=now + timedelta(minutes=3))
    assert Payment.objects.get().stop_requested_at == now + timedelta(minutes=3)


def test_a_session_below_the_hold_is_left_alone(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    now = timezone.now()
    open_session_with_register(
        payment=payment,
        started_at=now - timedelta(minutes=30),
        readings_wh=[(now - timedelta(minutes=1), 9000)],
    )
    assert card_holds_stop_at_limit(now=now) == 0
    assert Payment.objects.get().stop_requested_at is None and not OutgoingCall.objects.exists()


def test_a_hold_whose_charger_never_started_a_session_is_released(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    card_holds_watch(now=timezone.now() + timedelta(minutes=16))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert stripe_double.get(payment.provider_reference)["status"] == "canceled"


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
def test_the_remote_start_call_passes_each_version_s_schema(version):
    action, payload = ADAPTERS[version].remote_start_call(evse_id=2, id_tag="PAY-7")
    ADAPTERS[version].encode_call("u1", action, payload)  # raises on a payload the schema refuses
    if version == "ocpp1.6":
        assert (action, payload) == ("RemoteStartTransaction", {"connectorId": 2, "idTag": "PAY-7"})
    else:
        assert action == "RequestStartTransaction" and payload["evseId"] == 2
        assert payload["idToken"] == {"idToken": "PAY-7", "type": "Central"}


def test_staff_print_a_qr_code_per_connector(client, stripe_double, admin_user):
    scene = pay_scene()
    client.force_login(scene.driver)
    assert client.get(f"/billing/pay/{scene.station.identity}/qr/").status_code == 302
    client.force_login(admin_user)
    page = client.get(f"/billing/pay/{scene.station.identity}/qr/").content.decode()
    assert page.count("<svg") == 1 and f"http://testserver/billing/pay/{scene.station.identity}/1/" in page


def test_another_organizations_staff_get_no_qr_codes_of_a_charger(client, stripe_double):
    scene = pay_scene()
    client.force_login(MembershipFactory(role=Role.MANAGER).user)  # of another organization
    assert client.get(f"/billing/pay/{scene.station.identity}/qr/").status_code == 404
    client.force_login(MembershipFactory(organization=scene.station.site.organization).user)
    assert client.get(f"/billing/pay/{scene.station.identity}/qr/").status_code == 200


def test_a_driver_stops_their_card_paid_session_and_no_one_else_can(client, stripe_double, stripe_api):
    scene = pay_scene()
    payment = held_payment(client, scene, stripe_api)
    open_session_with_register(
        payment=payment, started_at=timezone.now() - timedelta(minutes=5), readings_wh=[]
    )
    scene.station.is_online = False  # the guest's live test has a charger that answers
    scene.station.save()
    page = client.get(f"/billing/payments/{payment.pk}/").content.decode()
    assert f'action="/billing/payments/{payment.pk}/stop/"' in page
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.post(f"/billing/payments/{payment.pk}/stop/").status_code == 404
    assert Payment.objects.get().stop_requested_at is None
    response = client.post(f"/billing/payments/{payment.pk}/stop/", follow=True)
    assert "Not stopped yet: the charger is offline." in response.content.decode()
    assert (
        Payment.objects.get().stop_outcome
        == "Stop asked by the driver: Not stopped yet: the charger is offline."
    )
