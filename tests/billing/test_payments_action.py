"""A charge the bank wants the driver to authenticate (3-D Secure): the mail, the page and the return,
through the Django client and the Stripe double (whose control stands for the bank's challenge)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
import requests
from django.urls import reverse

from billing.domain import InvoiceStatus, PaymentStatus
from billing.models import Payment
from billing.services.invoicing import invoice_issue_for_session
from billing.services.payments import payment_charge_saved_card
from billing.tasks import payment_action_email_task
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import save_card
from tests.factories import UserFactory
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(stripe_double, stripe_api, mailoutbox, django_capture_on_commit_callbacks):
    """A session charged off session to a card that needs 3-D Secure: the payment waits for the driver."""
    scene = Scene()
    card = save_card(stripe_api, scene.driver, "pm_card_authenticationRequired")
    scene.invoice = invoice_issue_for_session(session_price=scene.price)
    with django_capture_on_commit_callbacks(execute=True):
        scene.payment = payment_charge_saved_card(session_price=scene.price)
    scene.card = card
    return scene


def _bank(stripe_double, intent_id: str, result: str) -> None:
    """The driver's answer to the bank's challenge (what Stripe.js's 3-D Secure modal does)."""
    answer = requests.post(
        f"{stripe_double.url}/_double/payment_intents/{intent_id}/authenticate", data={"result": result}
    )
    answer.raise_for_status()


def test_the_driver_is_mailed_a_link_to_confirm_once(waiting, mailoutbox, django_capture_on_commit_callbacks):
    assert waiting.payment.status == PaymentStatus.REQUIRES_ACTION
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [waiting.driver.email] and f"http://127.0.0.1:8000{url}" in mailoutbox[0].body
    assert "6.00 EUR" in mailoutbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        again = payment_charge_saved_card(session_price=waiting.price)
    assert again.status == PaymentStatus.REQUIRES_ACTION and len(mailoutbox) == 1


def test_the_page_is_the_driver_s_alone(waiting, client):
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert "/accounts/login/" in client.get(url)["Location"]
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    back = reverse("billing:payment_authenticated", kwargs={"payment_id": waiting.payment.pk})
    assert client.get(back).status_code == 404


def test_confirming_with_the_bank_pays_the_session_and_its_invoice(
    waiting, client, stripe_double, stripe_api, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(waiting.driver)
    page = client.get(reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk}))
    assert page.status_code == 200 and "confirm this payment" in page.content.decode()
    config = page.context["stripe"]
    assert config["clientSecret"] == stripe_double.get(waiting.payment.provider_reference)["client_secret"]
    assert config["paymentMethod"] == waiting.card.provider_payment_method_id
    assert f'src="{stripe_double.url}/v3/"' in page.content.decode()
    # Stripe.js's confirmCardPayment: confirm on session, the bank challenges, the driver passes.
    intent_id = waiting.payment.provider_reference
    confirmed = stripe_api.v1.payment_intents.confirm(
        intent_id, params={"payment_method": config["paymentMethod"]}
    )
    assert confirmed.status == "requires_action"
    _bank(stripe_double, intent_id, "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        back = client.get(config["returnUrl"], follow=True)
    assert "the payment is confirmed" in back.content.decode() and "Paid" in back.content.decode()
    waiting.payment.refresh_from_db()
    waiting.invoice.refresh_from_db()
    assert waiting.payment.status == PaymentStatus.CAPTURED and waiting.payment.failure_message == ""
    assert waiting.invoice.status == InvoiceStatus.PAID
    assert len(mailoutbox) == 1
    sessions = client.get(reverse("portal:sessions")).content.decode()
    assert "needs your confirmation" not in sessions


def test_a_failed_check_leaves_the_payment_waiting_to_try_again(waiting, client, stripe_double, stripe_api):
    client.force_login(waiting.driver)
    intent_id = waiting.payment.provider_reference
    stripe_api.v1.payment_intents.confirm(
        intent_id, params={"payment_method": waiting.card.provider_payment_method_id}
    )
    _bank(stripe_double, intent_id, "failed")
    back = client.get(
        reverse("billing:payment_authenticated", kwargs={"payment_id": waiting.payment.pk}), follow=True
    )
    assert "was not confirmed" in back.content.decode() and "stripe" in back.context
    waiting.payment.refresh_from_db()
    waiting.invoice.refresh_from_db()
    assert waiting.payment.status == PaymentStatus.REQUIRES_ACTION
    assert "unable to authenticate" in waiting.payment.failure_message
    assert waiting.invoice.status == InvoiceStatus.OPEN


def test_the_sessions_page_links_the_payment_that_needs_the_driver(waiting, client):
    client.force_login(waiting.driver)
    html = client.get(reverse("portal:sessions")).content.decode()
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": waiting.payment.pk})
    assert "Payment needs your confirmation" in html and f'href="{url}"' in html


# --- the mail is a task: queued after the commit, once per attempt, retried while the server fails ---
class SmtpServer(socketserver.ThreadingTCPServer):
    """A real SMTP server on a loopback port that turns away its first `refuse` connections (421)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, refuse: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.refuse = refuse
        self.connections = 0
        self.messages: list[str] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _SmtpSession(socketserver.StreamRequestHandler):
    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            turned_away = self.server.connections <= self.server.refuse
        if turned_away:
            self.reply("421 4.3.2 Service not available, try again later")
            return
        self.reply("220 localhost ESMTP")
        message: list[str] | None = None
        for raw in self.rfile:
            line = raw.decode().rstrip("\r\n")
            if message is not None:  # between DATA and the lone dot
                if line == ".":
                    self.server.messages.append("\n".join(message))
                    message = None
                    self.reply("250 2.0.0 Queued")
                else:
                    message.append(line.removeprefix("."))
                continue
            verb = line[:4].upper()
            if verb == "DATA":
                message = []
                self.reply("354 End data with <CR><LF>.<CR><LF>")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpServer]:
    server = SmtpServer(refuse=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _mail_to(settings, server.port)
    yield server
    server.shutdown()
    server.server_close()


def _mail_to(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def challenged(stripe_double, stripe_api):
    """An invoiced session of a driver whose saved card needs 3-D Secure, not charged yet."""
    scene = Scene()
    save_card(stripe_api, scene.driver, "pm_card_authenticationRequired")
    scene.invoice = invoice_issue_for_session(session_price=scene.price)
    return scene


def test_the_mail_goes_after_the_commit_and_a_repeated_task_sends_nothing(
    challenged, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        payment = payment_charge_saved_card(session_price=challenged.price)
        assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert mailoutbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    for callback in callbacks:  # the queued task delivered twice
        callback()
    assert payment_action_email_task.delay(payment_id=payment.pk, attempt=payment.attempts).get() is False
    assert len(mailoutbox) == 1


def test_a_task_for_an_attempt_that_is_over_mails_nothing(challenged, mailoutbox):
    payment = payment_charge_saved_card(session_price=challenged.price)  # no commit: the task never ran
    Payment.objects.filter(pk=payment.pk).update(attempts=payment.attempts + 1)
    payment_action_email_task.delay(payment_id=payment.pk, attempt=payment.attempts)
    assert mailoutbox == []


def test_a_mail_server_that_turns_the_mail_away_is_tried_again_until_it_takes_it(
    challenged, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_charge_saved_card(session_price=challenged.price)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert smtp_server.connections == 3  # twice "421 try again later", then accepted
    assert len(smtp_server.messages) == 1
    url = reverse("billing:payment_authenticate", kwargs={"payment_id": payment.pk})
    assert f"To: {challenged.driver.email}" in smtp_server.messages[0] and url in smtp_server.messages[0]
    payment_action_email_task.delay(payment_id=payment.pk, attempt=payment.attempts)
    assert smtp_server.connections == 3  # mailed already: not even a connection


def test_a_mail_server_that_never_answers_fails_neither_the_payment_nor_a_later_mail(
    challenged, settings, smtp_server, django_capture_on_commit_callbacks
):
    _mail_to(settings, _unused_port())  # nothing listens there: every try is refused
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_charge_saved_card(session_price=challenged.price)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION and payment.provider_reference
    result = payment_action_email_task.delay(payment_id=payment.pk, attempt=payment.attempts)
    assert isinstance(result.result, ConnectionRefusedError)  # retried MAX_RETRIES times, then given up
    # Once the server is back, the mail that never went out is sent by the next run.
    smtp_server.refuse = 0
    _mail_to(settings, smtp_server.port)
    assert payment_action_email_task.delay(payment_id=payment.pk, attempt=payment.attempts).get() is True
    assert len(smtp_server.messages) == 1
