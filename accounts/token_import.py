"""Bulk import of an organization's ID tokens (RFID cards) from CSV: all rows checked, then all saved."""

from __future__ import annotations

import codecs
import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import AccessGroup, IdToken, IdTokenStatus, Organization, User
from accounts.signals import access_changed_on_commit

COLUMNS = ("id_tag", "label", "status", "expires_at", "owner_email", "parent_id_tag", "groups")
MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
# The card's field each column sets; id_tag identifies the card and groups are not a field of it.
FIELD_OF_COLUMN = {
    "label": "label",
    "status": "status",
    "expires_at": "expires_at",
    "owner_email": "owner_id",
    "parent_id_tag": "parent_id_tag",
}
# Served to download from the import form, as a start for a manager's own file.
EXAMPLE_CSV = (
    "id_tag,label,status,expires_at,owner_email,parent_id_tag,groups\r\n"
    "04A2B3C4D5E6F7,Card 12,Accepted,2027-12-31T23:59,driver@example.com,FLEET-1,Staff;Garage\r\n"
    "04A2B3C4D5E6F8,Spare card,Blocked,,,FLEET-1,\r\n"
)
# Values per query when looking tags and emails up: SQLite refuses statements with too many parameters.
CHUNK = 500

T = TypeVar("T")
Record = tuple[int, dict[str, str]]


@dataclass(frozen=True)
class RowError:
    """A problem with one cell, one line, or (line None) the whole file."""

    line: int | None
    column: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[RowError, ...] = ()
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class _Row:
    """A valid row: the card it creates or updates, with the existing card's fields as they were."""

    line: int
    token: IdToken
    before: dict[str, object] = field(default_factory=dict)
    groups: list[AccessGroup] = field(default_factory=list)


class _FileError(Exception):
    def __init__(self, message: str, line: int | None = None, column: str = "") -> None:
        super().__init__(message)
        self.error = RowError(line, column, message)


def id_tokens_import(
    *, file: IO[bytes] | IO[str], organization: Organization, dry_run: bool = False
) -> ImportResult:
    """Create and update the organization's cards from a CSV file, or write nothing if any row is wrong.

    A column the file lacks leaves that field of existing cards alone; an empty cell sets the field's
    default (no label, never expires, no owner), except an empty status, which leaves an existing card's
    alone so that re-importing an old file cannot unblock a lost card. Cards are only ever added to groups.
    """
    try:
        header, records = _csv_read(file)
    except _FileError as failure:
        return ImportResult(errors=(failure.error,), dry_run=dry_run)
    rows, errors = _rows_check(records, organization=organization)
    if errors:
        return ImportResult(errors=tuple(sorted(errors, key=_error_order)), dry_run=dry_run)
    fields = [FIELD_OF_COLUMN[column] for column in header if column in FIELD_OF_COLUMN]
    new = [row for row in rows if row.token.pk is None]
    pairs = _memberships(row.token.pk for row in rows if row.token.pk is not None)
    changed = [row for row in rows if row.token.pk is not None and _changed(row, fields=fields, pairs=pairs)]
    if not dry_run:
        try:
            with transaction.atomic():
                _rows_save(new=new, changed=changed, fields=fields)
                if new or changed:
                    access_changed_on_commit(organization_ids=[organization.pk])
        except IntegrityError:
            # Another import or an admin registered one of the new tags since the check.
            message = "A card of the file was registered meanwhile; nothing was imported, import it again."
            return ImportResult(errors=(RowError(None, "id_tag", message),), dry_run=dry_run)
    return ImportResult(
        created=len(new), updated=len(changed), unchanged=len(rows) - len(new) - len(changed), dry_run=dry_run
    )


def _error_order(error: RowError) -> tuple[int, int]:
    return (error.line or 0, COLUMNS.index(error.column) if error.column in COLUMNS else -1)


def _csv_read(file: IO[bytes] | IO[str]) -> tuple[list[str], list[Record]]:
    """Decode the file and split it into the header's columns and (line, {column: cell}) records."""
    # newline="" as the csv module wants: only \n, \r and \r\n end lines, not the other Unicode breaks.
    lines = io.StringIO(_decode(file.read(MAX_BYTES + 1)), newline="").readlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _FileError("The file is empty.")
    # Excel writes ";" where the decimal separator is a comma, and its "Unicode text" is tab-separated;
    # column names contain none of them, so the header row tells which one the file uses.
    delimiter = max(",;\t", key=lines[first].count)
    reader = csv.reader(lines[first:], delimiter=delimiter, strict=True)
    try:
        header = _header_read(next(reader), line=first + 1)
        records: list[Record] = []
        end = reader.line_num
        for cells in reader:
            start, end = first + end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(records) == MAX_ROWS:
                raise _FileError(f"The file has more than {MAX_ROWS:,} rows; split it into several files.")
            records.append((start, _record(cells, header=header, line=start)))
    except csv.Error as error:
        raise _FileError(f"Not readable as CSV: {error}.", line=first + reader.line_num) from None
    return [name for name in header if name], records


def _decode(data: bytes | str) -> str:
    if len(data) > MAX_BYTES:
        raise _FileError(f"The file is larger than {MAX_BYTES // 2**20} MB; split it into several files.")
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _FileError('The file is not UTF-8 text; in Excel, save it as "CSV UTF-8".', line=line) from None


def _header_read(cells: list[str], *, line: int) -> list[str]:
    """Normalize the column names ("ID tag" is id_tag); trailing separators make unnamed columns ("")."""
    names = [cell.strip().lower().replace(" ", "_").replace("-", "_") for cell in cells]
    expected = ", ".join(COLUMNS)
    if "id_tag" not in names:
        raise _FileError(
            f"The first line must name the columns, among them id_tag: {expected}.", line, "id_tag"
        )
    for name in names:
        if name and name not in COLUMNS:
            raise _FileError(f"Unknown column {name!r}; the columns are: {expected}.", line, name)
        if name and names.count(name) > 1:
            raise _FileError(f"Column {name!r} appears twice.", line, name)
    return names


def _record(cells: list[str], *, header: list[str], line: int) -> dict[str, str]:
    if any(cell.strip() for cell in cells[len(header) :]):
        raise _FileError(f"{len(cells)} values for {len(header)} columns.", line)
    # Some programs leave out a row's trailing empty cells.
    cells = [cell.strip() for cell in cells] + [""] * (len(header) - len(cells))
    if any(cell for name, cell in zip(header, cells, strict=False) if not name):
        raise _FileError("A value in a column without a name.", line)
    return {name: cell for name, cell in zip(header, cells, strict=False) if name}


def _rows_check(records: list[Record], *, organization: Organization) -> tuple[list[_Row], list[RowError]]:
    """Resolve each record to the card it creates or updates, and tell what is wrong with the others."""
    existing = _tokens_by_tag(cells["id_tag"] for _, cells in records)
    owners = _users_by_email(cells.get("owner_email", "") for _, cells in records)
    groups = _GroupNames(organization)
    rows: list[_Row] = []
    errors: list[RowError] = []
    lines_of_tag: dict[str, list[int]] = defaultdict(list)
    for line, cells in records:
        tag = cells["id_tag"]
        if not tag:
            errors.append(RowError(line, "id_tag", "Required."))
            continue
        lines_of_tag[tag.lower()].append(line)
        token = existing.get(tag.lower())
        if token is not None and token.organization_id != organization.pk:
            # Whose card it is stays unsaid: a tag must not tell one organization about another's cards.
            errors.append(RowError(line, "id_tag", "Already registered elsewhere."))
            continue
        row = _Row(line, token or IdToken(id_tag=tag, organization=organization))
        if token is not None:
            row.before = {name: getattr(token, name) for name in FIELD_OF_COLUMN.values()}
        row_errors = []
        for column, value in cells.items():
            try:
                if column == "groups":
                    row.groups = [groups.get(name) for name in value.split(";") if name.strip()]
                else:
                    _cell_apply(row.token, column, value, owners=owners)
            except ValidationError as error:
                row_errors.append(RowError(line, column, " ".join(error.messages)))
        row_errors += _model_errors(row.token, line=line, skip={error.column for error in row_errors})
        errors += row_errors
        rows.append(row)
    for lines in lines_of_tag.values():
        for line in lines if len(lines) > 1 else ():
            others = ", ".join(str(other) for other in lines if other != line)
            errors.append(RowError(line, "id_tag", f"Repeated in the file: also on line {others}."))
    return rows, errors


def _cell_apply(token: IdToken, column: str, value: str, *, owners: dict[str, User]) -> None:
    """Set the card's field from one cell; raise ValidationError for a value that cannot be."""
    if column == "status":
        if not value:  # a new card is Accepted; an existing one keeps its status (a lost card stays blocked)
            return
        status = value.lower()
        if status not in IdTokenStatus.values:
            raise ValidationError("Must be Accepted or Blocked.")
        token.status = status
    elif column == "expires_at":
        try:
            token.expires_at = expiry_parse(value) if value else None
        except ValueError:
            raise ValidationError("Not an ISO 8601 date or date-time, such as 2027-12-31T23:59.") from None
    elif column == "owner_email":
        if value and value.lower() not in owners:
            raise ValidationError("No user has this email.")
        token.owner = owners[value.lower()] if value else None
    elif not value.isprintable():  # id_tag, parent_id_tag, label: a pasted tab or line break, say
        raise ValidationError("Contains characters that are not printable.")
    elif column != "id_tag":  # an existing card keeps its tag as first written; tags ignore case anyway
        setattr(token, column, value)


def expiry_parse(text: str) -> datetime:
    """Parse an ISO 8601 date (its midnight) or date-time; without an offset, in the configured time zone."""
    value = datetime.fromisoformat(text)
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _model_errors(token: IdToken, *, line: int, skip: set[str]) -> list[RowError]:
    """Validate the card as the model does, except the columns already found wrong."""
    column_of_field = {"owner": "owner_email", **{name: name for name in COLUMNS}}
    try:
        # The owner, the organization and the tag's uniqueness were checked for all rows at once;
        # full_clean() would check each again with a query per row.
        token.full_clean(
            exclude=["owner", "organization", *skip], validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        return [
            RowError(line, column_of_field.get(name, name), " ".join(messages))
            for name, messages in error.message_dict.items()
        ]
    return []


class _GroupNames:
    """The organization's access groups by name: the exact name first, else the only one ignoring case."""

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.exact: dict[str, AccessGroup] = {}
        self.folded: dict[str, list[AccessGroup]] = defaultdict(list)
        for group in AccessGroup.objects.filter(organization=organization):
            self.exact[group.name] = group
            self.folded[group.name.lower()].append(group)

    def get(self, name: str) -> AccessGroup:
        name = name.strip()
        if name in self.exact:
            return self.exact[name]
        candidates = self.folded.get(name.lower(), [])
        if len(candidates) != 1:
            found = "several access groups" if candidates else "no access group"
            raise ValidationError(f"{self.organization} has {found} named {name!r}.")
        return candidates[0]


def _changed(row: _Row, *, fields: list[str], pairs: set[tuple[int, int]]) -> bool:
    return any(getattr(row.token, name) != row.before[name] for name in fields) or any(
        (group.pk, row.token.pk) not in pairs for group in row.groups
    )


def _rows_save(*, new: list[_Row], changed: list[_Row], fields: list[str]) -> None:
    """Create the new cards, save the changed ones and add the cards to their groups."""
    # bulk_create() sets the primary keys on PostgreSQL and SQLite, which the group rows below need.
    IdToken.objects.bulk_create([row.token for row in new], batch_size=CHUNK)
    if fields and changed:
        IdToken.objects.bulk_update([row.token for row in changed], fields, batch_size=CHUNK)
    through = AccessGroup.id_tokens.through
    through.objects.bulk_create(
        [
            through(accessgroup_id=group.pk, idtoken_id=row.token.pk)
            for row in [*new, *changed]
            for group in row.groups
        ],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )


def _chunks(values: Iterable[T]) -> Iterator[list[T]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _tokens_by_tag(tags: Iterable[str]) -> dict[str, IdToken]:
    found: dict[str, IdToken] = {}
    for chunk in _chunks({tag.lower() for tag in tags if tag}):
        for token in IdToken.objects.alias(tag=Lower("id_tag")).filter(tag__in=chunk):
            found[token.id_tag.lower()] = token
    return found


def _users_by_email(emails: Iterable[str]) -> dict[str, User]:
    # Addresses are unique ignoring case (user_email_unique).
    return {
        user.email.lower(): user
        for chunk in _chunks({email.lower() for email in emails if email})
        for user in User.objects.alias(address=Lower("email")).filter(address__in=chunk)
    }


def _memberships(token_pks: Iterable[int]) -> set[tuple[int, int]]:
    """(access group, card) pairs of these cards."""
    through = AccessGroup.id_tokens.through.objects
    return {
        pair
        for chunk in _chunks(token_pks)
        for pair in through.filter(idtoken_id__in=chunk).values_list("accessgroup_id", "idtoken_id")
    }
