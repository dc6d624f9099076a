"""Importing an organization's cards from CSV: every row checked first, then all saved or none."""

from __future__ import annotations

import codecs
import io
from datetime import UTC, datetime

import pytest

from accounts import token_import
from accounts.models import AccessGroup, IdToken, IdTokenStatus, Organization
from accounts.signals import access_changed
from accounts.token_import import EXAMPLE_CSV, ImportResult, RowError, id_tokens_import
from tests.factories import IdTokenFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "id_tag,label,status,expires_at,owner_email,parent_id_tag,groups\n"


@pytest.fixture
def fleet() -> Organization:
    organization = Organization.objects.create(name="Fleet A", kind="fleet")
    AccessGroup.objects.create(organization=organization, name="Drivers")
    AccessGroup.objects.create(organization=organization, name="Night shift")
    return organization


@pytest.fixture
def other() -> Organization:
    organization = Organization.objects.create(name="Other Org")
    AccessGroup.objects.create(organization=organization, name="Residents")
    return organization


def run(text: str | bytes, organization: Organization, **options: bool) -> ImportResult:
    data = text.encode() if isinstance(text, str) else text
    return id_tokens_import(file=io.BytesIO(data), organization=organization, **options)


def snapshot() -> tuple[list[dict[str, object]], list[tuple[int, int]]]:
    """Everything an import may write: the cards and their groups."""
    through = AccessGroup.id_tokens.through.objects
    return (
        list(IdToken.objects.order_by("pk").values()),
        sorted(through.values_list("accessgroup__name", "idtoken__id_tag")),
    )


def errors_of(result: ImportResult) -> list[tuple[int | None, str]]:
    return [(error.line, error.column) for error in result.errors]


def test_creates_the_cards_with_every_column(fleet):
    driver = UserFactory(email="Driver@Example.com")
    result = run(
        HEADER + "04A1,Card 1,Blocked,2027-06-30T22:00:00Z,driver@example.COM,FLEET-7,Drivers; Night shift\n"
        "04A2,,,,,,\n",
        fleet,
    )
    assert (result.ok, result.created, result.updated, result.unchanged) == (True, 2, 0, 0)
    first, second = IdToken.objects.order_by("id_tag")
    assert (first.label, first.status, first.owner, first.parent_id_tag, first.organization) == (
        "Card 1",
        IdTokenStatus.BLOCKED,
        driver,
        "FLEET-7",
        fleet,
    )
    assert first.expires_at == datetime(2027, 6, 30, 22, tzinfo=UTC)
    assert sorted(first.access_groups.values_list("name", flat=True)) == ["Drivers", "Night shift"]
    assert (second.label, second.status, second.expires_at, second.owner, second.organization) == (
        "",
        IdTokenStatus.ACCEPTED,
        None,
        None,
        fleet,
    )
    assert not second.access_groups.exists()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2027-01-01T00:00", datetime(2026, 12, 31, 23, tzinfo=UTC)),
        ("2027-01-01", datetime(2026, 12, 31, 23, tzinfo=UTC)),
        ("2027-01-01T00:00+00:00", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_expiry_without_offset_is_in_the_configured_time_zone(settings, fleet, cell, expected):
    settings.TIME_ZONE = "Europe/Berlin"
    assert run(f"id_tag,expires_at\nCARD,{cell}\n", fleet).ok
    assert IdToken.objects.get().expires_at == expected


@pytest.mark.parametrize("status", ["Blocked", "blocked", "BLOCKED", " blocked "])
def test_the_status_is_read_in_any_case(fleet, status):
    assert run(f"id_tag,status\nCARD,{status}\n", fleet).ok
    assert IdToken.objects.get().status == IdTokenStatus.BLOCKED


def test_group_names_are_matched_ignoring_case_when_only_one_fits(fleet):
    AccessGroup.objects.create(organization=fleet, name="drivers")
    result = run('id_tag,groups\nCARD1,night SHIFT\nCARD2,"Drivers;drivers"\nCARD3,DRIVERS\n', fleet)
    assert errors_of(result) == [(4, "groups")]
    assert "several access groups named 'DRIVERS'" in result.errors[0].message


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (",Card without tag", "id_tag", "Required."),
        ("CARD,,Lost", "status", "Must be Accepted or Blocked."),
        ("CARD,,,next tuesday", "expires_at", "Not an ISO 8601 date or date-time"),
        ("CARD,,,2027-02-30", "expires_at", "Not an ISO 8601 date or date-time"),
        ("CARD,,,,nobody@example.com", "owner_email", "No user has this email."),
        ("CARD,,,,,,Drivers;Day shift", "groups", "Fleet A has no access group named 'Day shift'."),
        ("CARD,,,,,,Residents", "groups", "Fleet A has no access group named 'Residents'."),
        ("X" * 37, "id_tag", "at most 36 characters"),
        ("CARD\x01", "id_tag", "not printable"),
        ('"CARD\tTAB"', "id_tag", "not printable"),
        ('CARD,"two\nlines"', "label", "not printable"),
        ("CARD," + "L" * 101, "label", "at most 100 characters"),
        ("CARD,,,,," + "P" * 37, "parent_id_tag", "at most 36 characters"),
    ],
)
def test_a_wrong_cell_is_reported_with_its_line_and_column(fleet, other, row, column, message):
    result = run(HEADER + "GOOD,fine\n" + row + "\n", fleet)
    assert not result.ok
    assert errors_of(result) == [(3, column)]
    assert message in result.errors[0].message
    assert not IdToken.objects.exists()


def test_every_wrong_cell_of_a_row_is_reported(fleet):
    result = run(HEADER + "X" * 37 + ",,Lost,soon,nobody@example.com,,Nope\n", fleet)
    assert errors_of(result) == [
        (2, "id_tag"),
        (2, "status"),
        (2, "expires_at"),
        (2, "owner_email"),
        (2, "groups"),
    ]


def test_a_tag_repeated_in_the_file_names_both_lines_ignoring_case(fleet):
    result = run("id_tag\nCARD-1\nOTHER\n\ncard-1\nCard-1\n", fleet)
    assert result.errors == (
        RowError(2, "id_tag", "Repeated in the file: also on line 5, 6."),
        RowError(5, "id_tag", "Repeated in the file: also on line 2, 6."),
        RowError(6, "id_tag", "Repeated in the file: also on line 2, 5."),
    )


def test_cards_registered_elsewhere_are_refused_without_saying_whose(fleet, other):
    IdTokenFactory(id_tag="OTHERS", organization=other, label="theirs")
    IdTokenFactory(id_tag="DRIVERS", owner=UserFactory(email="someone@example.com"))
    IdTokenFactory(id_tag="LOOSE")
    before = snapshot()
    result = run("id_tag,label\nothers,mine now\nDrivers,mine\nloose,mine\nNEW,fine\n", fleet)
    assert result.errors == tuple(
        RowError(line, "id_tag", "Already registered elsewhere.") for line in (2, 3, 4)
    )
    assert snapshot() == before


def test_nothing_is_written_when_any_row_is_wrong(fleet):
    IdTokenFactory(id_tag="MINE", organization=fleet, label="old")
    before = snapshot()
    result = run(HEADER + "MINE,new label,Blocked,,,,Drivers\nNEW1,,,,,,Drivers\nNEW2,,Lost\n", fleet)
    assert errors_of(result) == [(4, "status")]
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert snapshot() == before


def test_importing_the_same_file_again_changes_nothing(fleet):
    UserFactory(email="driver@example.com")
    text = HEADER + "04A1,Card 1,Blocked,2027-06-30,driver@example.com,FLEET-7,Drivers\n04A2,Card 2,,,,,\n"
    first = run(text, fleet)
    after_first = snapshot()
    second = run(text, fleet)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert snapshot() == after_first


def test_updates_the_organizations_existing_cards(fleet):
    driver = UserFactory(email="driver@example.com")
    kept = IdTokenFactory(id_tag="KEPT", organization=fleet, label="same")
    changed = IdTokenFactory(
        id_tag="04abc",
        organization=fleet,
        label="old",
        owner=driver,
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        parent_id_tag="FLEET-1",
    )
    result = run("id_tag,label,status,expires_at,owner_email\n04ABC,new,blocked,,\nkept,same,,,\n", fleet)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    changed.refresh_from_db()
    # Empty cells clear; the missing parent_id_tag column leaves the group id alone; the tag keeps its case.
    assert (changed.id_tag, changed.label, changed.status, changed.expires_at, changed.owner) == (
        "04abc",
        "new",
        IdTokenStatus.BLOCKED,
        None,
        None,
    )
    assert changed.parent_id_tag == "FLEET-1"
    assert IdToken.objects.get(pk=kept.pk).label == "same"


def test_an_empty_status_leaves_a_lost_card_blocked_and_makes_a_new_one_accepted(fleet):
    lost = IdTokenFactory(id_tag="LOST", organization=fleet, status=IdTokenStatus.BLOCKED)
    result = run("id_tag,label,status\nlost,,\nfresh,,\n", fleet)
    assert (result.created, result.unchanged) == (1, 1)
    assert IdToken.objects.get(pk=lost.pk).status == IdTokenStatus.BLOCKED
    assert IdToken.objects.get(id_tag="fresh").status == IdTokenStatus.ACCEPTED


def test_a_file_of_tags_only_changes_no_existing_card(fleet):
    card = IdTokenFactory(id_tag="CARD", organization=fleet, label="keep", status=IdTokenStatus.BLOCKED)
    result = run("id_tag\nCARD\nNEW\n", fleet)
    assert (result.created, result.updated, result.unchanged) == (1, 0, 1)
    card.refresh_from_db()
    assert (card.label, card.status) == ("keep", IdTokenStatus.BLOCKED)


def test_groups_are_added_never_removed(fleet):
    card = IdTokenFactory(id_tag="CARD", organization=fleet)
    fleet.access_groups.get(name="Drivers").id_tokens.add(card)
    result = run("id_tag,groups\nCARD,Night shift\n", fleet)
    assert (result.updated, result.unchanged) == (1, 0)
    assert sorted(card.access_groups.values_list("name", flat=True)) == ["Drivers", "Night shift"]
    assert run("id_tag,groups\nCARD,Drivers\n", fleet).unchanged == 1


def test_a_dry_run_counts_and_writes_nothing(fleet):
    IdTokenFactory(id_tag="OLD", organization=fleet, label="old")
    IdTokenFactory(id_tag="SAME", organization=fleet)
    before = snapshot()
    result = run("id_tag,label,groups\nOLD,new,\nSAME,,\nNEW,,Drivers\n", fleet, dry_run=True)
    assert (result.ok, result.dry_run, result.created, result.updated, result.unchanged) == (
        True,
        True,
        1,
        1,
        1,
    )
    assert snapshot() == before


def test_excel_files_with_a_bom_semicolons_and_crlf(fleet):
    text = (
        "ID Tag;Label;Status;Groups\r\n"
        "04A1;Müller;Accepted;Drivers\r\n"
        ";;;\r\n"
        '04A2;"a;b";;"Drivers;Night shift"\r\n'
    )
    result = run(codecs.BOM_UTF8 + text.encode(), fleet)
    assert (result.ok, result.created) == (True, 2)
    assert list(IdToken.objects.order_by("id_tag").values_list("label", flat=True)) == ["Müller", "a;b"]
    assert IdToken.objects.get(id_tag="04A2").access_groups.count() == 2


def test_utf16_tab_separated_as_excel_saves_unicode_text(fleet):
    result = run("id_tag\tlabel\r\n04A1\tÅse\r\n".encode("utf-16"), fleet)
    assert result.ok and IdToken.objects.get().label == "Åse"


def test_a_text_stream_is_read_too(fleet):
    result = id_tokens_import(file=io.StringIO("\ufeffid_tag\nCARD\n"), organization=fleet)
    assert result.created == 1 and IdToken.objects.get().id_tag == "CARD"


def test_line_numbers_count_blank_lines_and_line_breaks_inside_quotes(fleet):
    result = run('\n\nid_tag,parent_id_tag\n\nA,"x\ny"\n\nB,P\nC,P\n' + "X" * 37 + ",P\n", fleet)
    assert errors_of(result) == [(5, "parent_id_tag"), (10, "id_tag")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", RowError(None, "", "The file is empty.")),
        (b"\r\n \n\n", RowError(None, "", "The file is empty.")),
        (codecs.BOM_UTF8, RowError(None, "", "The file is empty.")),
        (b"label,status\nCard,Accepted\n", RowError(1, "id_tag", "The first line must name the columns")),
        (b"04A1B2C3\n04A1B2C4\n", RowError(1, "id_tag", "The first line must name the columns")),
        (
            b"id_tag,colour\nCARD,red\n",
            RowError(1, "colour", "Unknown column 'colour'; the columns are: id_tag,"),
        ),
        (b"id_tag,Label,label\nCARD,a,b\n", RowError(1, "label", "Column 'label' appears twice.")),
        (b"id_tag,label\nCARD,a,b\n", RowError(2, "", "3 values for 2 columns.")),
        (b"id_tag,,label\nCARD,x,\n", RowError(2, "", "A value in a column without a name.")),
        (b'id_tag,label\nCARD,"a"b\n', RowError(2, "", "Not readable as CSV")),
        (
            b"id_tag,label\nCARD,M\xfcller\n",
            RowError(2, "", 'The file is not UTF-8 text; in Excel, save it as "CSV UTF-8".'),
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused(fleet, data, error):
    result = run(data, fleet)
    assert len(result.errors) == 1
    assert (result.errors[0].line, result.errors[0].column) == (error.line, error.column)
    assert result.errors[0].message.startswith(error.message)
    assert not IdToken.objects.exists()


def test_trailing_separators_and_short_rows_are_fine(fleet):
    result = run("id_tag,label,status,,\nCARD1,one,blocked,,\nCARD2\n", fleet)
    assert result.ok
    assert IdToken.objects.get(id_tag="CARD2").status == IdTokenStatus.ACCEPTED


def test_too_many_rows_are_refused(fleet, monkeypatch):
    monkeypatch.setattr(token_import, "MAX_ROWS", 3)
    assert run("id_tag\nA\nB\n\nC\n", fleet).created == 3
    result = run("id_tag\nA\nB\nC\nD\n", fleet)
    assert result.errors == (
        RowError(None, "", "The file has more than 3 rows; split it into several files."),
    )


def test_too_large_a_file_is_refused(fleet, monkeypatch):
    monkeypatch.setattr(token_import, "MAX_BYTES", 20)
    assert "larger than" in run("id_tag\nA\nB\nC\nD\nE\nF\nG\n", fleet).errors[0].message


def test_the_example_file_imports(fleet):
    UserFactory(email="driver@example.com")
    AccessGroup.objects.create(organization=fleet, name="Staff")
    AccessGroup.objects.create(organization=fleet, name="Garage")
    result = run(EXAMPLE_CSV, fleet)
    assert (result.ok, result.created) == (True, 2)


def test_a_large_file_takes_a_few_queries_not_one_per_row(fleet, django_assert_max_num_queries):
    users = [UserFactory(email=f"d{n}@example.com") for n in range(20)]
    IdTokenFactory.create_batch(3, organization=fleet)
    existing = [token.id_tag for token in IdToken.objects.all()]
    rows = [f"{tag},label,,,{users[0].email},,Drivers" for tag in existing]
    rows += [f"NEW{n:04d},label {n},,,{users[n % 20].email},,Drivers;Night shift" for n in range(1200)]
    text = "id_tag,label,status,expires_at,owner_email,parent_id_tag,groups\n" + "\n".join(rows)
    with django_assert_max_num_queries(30):
        result = run(text, fleet)
    assert (result.created, result.updated) == (1200, 3)
    assert AccessGroup.id_tokens.through.objects.count() == 3 + 2400


def test_an_import_that_changes_cards_tells_the_chargers_lists_and_one_that_does_not_is_silent(
    fleet, django_capture_on_commit_callbacks
):
    heard: list[list[int]] = []

    def listener(sender: object, *, organization_ids: list[int], **kwargs: object) -> None:
        heard.append(organization_ids)

    access_changed.connect(listener)
    try:
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                run("id_tag,label\n04A1,Card 1\n", fleet)
    finally:
        access_changed.disconnect(listener)
    assert heard == [[fleet.pk]]
