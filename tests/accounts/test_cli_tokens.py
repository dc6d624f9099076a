"""`manage.py tokens`: add ID tokens, list them and import them from CSV."""

from __future__ import annotations

import functools
import io
import json
from datetime import UTC, datetime

import pytest

from accounts.models import IdToken, IdTokenStatus, Organization
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


@pytest.fixture
def fleet():
    return Organization.objects.create(name="Fleet A", kind="fleet")


def test_import_creates_cards_then_counts_them_unchanged(tmp_path, fleet):
    path = tmp_path / "cards.csv"
    path.write_text("id_tag;label;status\n04A1;Card 1;Blocked\n04A2;Card 2;\n", encoding="utf-8-sig")
    assert run("import", str(path), "--organization", "Fleet A") == (
        "Imported into Fleet A: 2 created, 0 updated, 0 unchanged.\n"
    )
    assert list(IdToken.objects.values_list("id_tag", "status", "organization__name")) == [
        ("04A1", IdTokenStatus.BLOCKED, "Fleet A"),
        ("04A2", IdTokenStatus.ACCEPTED, "Fleet A"),
    ]
    assert "0 created, 0 updated, 2 unchanged" in run("import", str(path), "--organization", "Fleet A")


def test_import_prints_each_wrong_row_and_saves_nothing(tmp_path, fleet):
    IdTokenFactory(id_tag="THEIRS", organization=Organization.objects.create(name="Other"))
    path = tmp_path / "cards.csv"
    path.write_text("id_tag,status,owner_email\nGOOD,,\nBAD,Lost,nobody@example.com\ntheirs,,\n")
    message = str(fails("import", str(path), "--organization", "Fleet A"))
    lines = message.splitlines()
    assert lines[0] == "3 errors, nothing imported:"
    assert lines[1].split() == ["LINE", "COLUMN", "MESSAGE"]
    assert lines[2].split(maxsplit=2) == ["3", "status", "Must be Accepted or Blocked."]
    assert lines[3].split(maxsplit=2) == ["3", "owner_email", "No user has this email."]
    assert lines[4].split(maxsplit=2) == ["4", "id_tag", "Already registered elsewhere."]
    assert list(IdToken.objects.values_list("id_tag", flat=True)) == ["THEIRS"]


def test_import_dry_run_saves_nothing(tmp_path, fleet):
    path = tmp_path / "cards.csv"
    path.write_text("id_tag\nA\nB\n")
    out = run("import", str(path), "--organization", "Fleet A", "--dry-run")
    assert out == "Checked, nothing saved (dry run): 2 created, 0 updated, 0 unchanged.\n"
    assert not IdToken.objects.exists()


def test_import_reads_stdin_for_a_dash(monkeypatch, fleet):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbfid_tag\nFROM-STDIN\n")))
    assert "1 created" in run("import", "-", "--organization", "Fleet A")
    assert IdToken.objects.get().id_tag == "FROM-STDIN"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{path}", "--organization", "Nobody"], "No organization is named 'Nobody'."),
        (["{missing}", "--organization", "Fleet A"], "Cannot read"),
        (["{empty}", "--organization", "Fleet A"], "1 error, nothing imported:"),
    ],
)
def test_import_refuses_what_it_cannot_use(tmp_path, fleet, args, message):
    (tmp_path / "cards.csv").write_text("id_tag\nA\n")
    (tmp_path / "empty.csv").write_text("")
    paths = {
        "path": tmp_path / "cards.csv",
        "missing": tmp_path / "nope.csv",
        "empty": tmp_path / "empty.csv",
    }
    assert message in str(fails("import", *(arg.format(**paths) for arg in args)))
    assert not IdToken.objects.exists()
