"""`manage.py tokens`: add ID tokens and list them."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

import pytest

from accounts.models import IdToken, IdTokenStatus
from tests.cli import command_error, command_output
from tests.factories import IdTokenFactory, UserFactory

pytestmark = pytest.mark.django_db


run = functools.partial(command_output, "tokens")
fails = functools.partial(command_error, "tokens")


def test_add_with_defaults_makes_an_accepted_token_that_never_expires():
    out = run("add", "04A2B3C4D5")
    token = IdToken.objects.get(id_tag="04A2B3C4D5")
    assert (token.status, token.expires_at, token.owner, token.label) == (
        IdTokenStatus.ACCEPTED,
        None,
        None,
        "",
    )
    assert "04A2B3C4D5" in out and "accepted" in out


@pytest.mark.parametrize("status", ["Blocked", "blocked", "BLOCKED"])
def test_add_takes_the_status_in_any_case(status):
    run("add", "CARD1", "--status", status)
    assert IdToken.objects.get().status == IdTokenStatus.BLOCKED


def test_add_with_owner_expiry_and_label():
    user = UserFactory(email="Driver@Example.com")
    out = run(
        "add",
        "CARD2",
        "--expires",
        "2027-06-30T22:00:00Z",
        "--user",
        "driver@example.com",
        "--label",
        "fleet card 12",
    )
    token = IdToken.objects.get()
    assert token.owner == user
    assert token.expires_at == datetime(2027, 6, 30, 22, tzinfo=UTC)
    assert token.label == "fleet card 12"
    assert "Driver@Example.com" in out


def test_an_expiry_without_offset_is_in_the_configured_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    run("add", "CARD3", "--expires", "2027-01-01T00:00")
    assert IdToken.objects.get().expires_at == datetime(2026, 12, 31, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["TAKEN"], "already exists"),
        (["taken"], "already exists"),
        (["NEW", "--user", "nobody@example.com"], "nobody@example.com"),
        (["NEW", "--expires", "next tuesday"], "ISO 8601"),
        (["NEW", "--status", "Expired"], "invalid choice"),
        (["X" * 37], "at most 36"),
    ],
)
def test_add_refuses_bad_input_and_creates_nothing(args, message):
    IdTokenFactory(id_tag="TAKEN")
    assert message in str(fails("add", *args))
    assert list(IdToken.objects.values_list("id_tag", flat=True)) == ["TAKEN"]


def test_add_refuses_an_email_that_several_users_share():
    UserFactory(username="a", email="shared@example.com")
    UserFactory(username="b", email="shared@example.com")
    assert "Several users" in str(fails("add", "CARD4", "--user", "shared@example.com"))
    assert not IdToken.objects.exists()


def test_list_as_json():
    IdTokenFactory(
        id_tag="B-TAG",
        status=IdTokenStatus.BLOCKED,
        label="lost",
        expires_at=datetime(2020, 1, 1, tzinfo=UTC),
        owner=UserFactory(email="d@example.com"),
    )
    IdTokenFactory(id_tag="A-TAG")
    rows = json.loads(run("list", "--json"))
    assert [row["id_tag"] for row in rows] == ["A-TAG", "B-TAG"]
    assert {k: v for k, v in rows[1].items() if k != "created_at"} == {
        "id_tag": "B-TAG",
        "status": "blocked",
        "expires_at": "2020-01-01T00:00:00Z",
        "expired": True,
        "user": "d@example.com",
        "label": "lost",
    }
    assert rows[0]["user"] is None and rows[0]["expires_at"] is None and rows[0]["expired"] is False
    assert datetime.fromisoformat(rows[0]["created_at"]).tzinfo is not None


def test_list_as_a_table():
    IdTokenFactory(id_tag="A-TAG", label="spare card")
    header, line = run("list").splitlines()
    assert header.split() == ["ID", "TAG", "STATUS", "EXPIRES", "EXPIRED", "USER", "LABEL"]
    assert line.split() == ["A-TAG", "accepted", "-", "no", "-", "spare", "card"]
