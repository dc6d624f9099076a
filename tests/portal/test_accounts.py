"""Sign-up, email verification, log-in, password reset and log-out of drivers (django-allauth)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.portal.conftest import PASSWORD, verified_driver

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-battery-staple"


def link_in(message) -> str:
    """The path of the one link in a mail."""
    (url,) = re.findall(r"https?://testserver(/\S+)", message.body)
    return url


def test_a_driver_signs_up_confirms_the_email_and_lands_in_the_portal(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {"email": "New.Driver@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email__iexact="new.driver@example.com")
    assert user.username and user.has_usable_password() and not user.is_staff
    # Not in before the address is confirmed.
    assert client.get(reverse("portal:home")).status_code == 302

    (mail,) = mailoutbox
    assert mail.to == ["new.driver@example.com"]
    assert mail.subject.startswith("[CSMS] ")
    confirm_url = link_in(mail)
    assert "Confirm" in client.get(confirm_url).content.decode()
    confirmed = client.post(confirm_url)
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200


def test_logging_in_before_confirming_the_address_lets_nobody_in(client):
    client.post(
        reverse("account_signup"), {"email": "d@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    client.logout()
    response = client.post(reverse("account_login"), {"login": "d@example.com", "password": PASSWORD})
    assert response["Location"] == reverse("account_email_verification_sent")
    assert client.get(reverse("portal:home")).status_code == 302


def test_a_verified_driver_logs_in_with_the_email_in_any_case(client):
    verified_driver("driver@example.com")
    response = client.post(reverse("account_login"), {"login": "Driver@Example.COM", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200


def test_a_wrong_password_is_refused(client):
    verified_driver("driver@example.com")
    response = client.post(reverse("account_login"), {"login": "driver@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_an_address_already_signed_up_cannot_sign_up_again(client, mailoutbox):
    verified_driver("driver@example.com")
    client.post(
        reverse("account_signup"),
        {"email": "DRIVER@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert User.objects.filter(email__iexact="driver@example.com").count() == 1


def test_a_driver_resets_a_forgotten_password_by_mail(client, mailoutbox):
    verified_driver("driver@example.com")
    response = client.post(reverse("account_reset_password"), {"email": "driver@example.com"})
    assert response["Location"] == reverse("account_reset_password_done")
    (mail,) = mailoutbox
    assert mail.to == ["driver@example.com"]
    # The link stores its key in the session and moves on to a form without it.
    form_url = client.get(link_in(mail))["Location"]
    done = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done["Location"] == reverse("account_reset_password_from_key_done")
    assert client.login(email="driver@example.com", password=NEW_PASSWORD)  # allauth's backend


def test_log_out_is_a_post_from_the_account_menu(driver_client):
    page = driver_client.get(reverse("portal:home")).content.decode()
    assert f'<form method="post" action="{reverse("account_logout")}">' in page
    response = driver_client.post(reverse("account_logout"))
    assert response["Location"] == reverse("account_login")
    assert driver_client.get(reverse("portal:home")).status_code == 302


def test_the_navigation_has_the_portal_sections_and_the_account_menu_but_no_payment_item(driver_client):
    html = driver_client.get(reverse("portal:sessions")).content.decode()
    for url in (reverse("portal:home"), reverse("portal:cards"), reverse("account_change_password")):
        assert f'href="{url}"' in html
    assert f'<a href="{reverse("portal:sessions")}" aria-current="page">Sessions</a>' in html
    assert "driver@example.com" in html
    assert "Payment" not in html


def test_the_allauth_pages_wear_the_portal_layout(driver_client):
    for page in (
        Client().get(reverse("account_login")),
        driver_client.get(reverse("account_change_password")),
    ):
        html = page.content.decode()
        assert page.status_code == 200
        assert "portal/portal.css" in html
        assert '<main class="page page--narrow">' in html


def test_the_admin_stays_where_it_was(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    ("email_url", "expected"),
    [
        ("", "django.core.mail.backends.console.EmailBackend localhost 25 False"),
        (
            "smtp+tls://mailer:secret@smtp.example.com:587",
            "django.core.mail.backends.smtp.EmailBackend smtp.example.com 587 True",
        ),
    ],
)
def test_mail_goes_to_the_console_unless_email_url_names_a_server(email_url, expected):
    env = {k: v for k, v in os.environ.items() if k != "EMAIL_URL"} | {
        "DJANGO_SETTINGS_MODULE": "csms.settings"
    }
    if email_url:
        env["EMAIL_URL"] = email_url
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
    )
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == expected
