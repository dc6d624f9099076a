"""Back-office management of the ID tokens (RFID cards and the like) drivers present at chargers."""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import IdToken, IdTokenStatus, Organization, User
from accounts.services import id_token_create
from accounts.token_import import COLUMNS, expiry_parse, id_tokens_import
from csms.cli import render_cell, render_json, render_table


def _status(text: str) -> str:
    return text.lower()


def _expiry(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time; one without an offset is in the configured time zone."""
    try:
        return expiry_parse(text)
    except ValueError:
        raise CommandError(f"--expires {text!r} is not an ISO 8601 date-time.") from None


def _reasons(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())


def token_data(token: IdToken) -> dict[str, Any]:
    """Describe an ID token as a row of the listing."""
    return {
        "id_tag": token.id_tag,
        "status": token.status,
        "expires_at": token.expires_at,
        "expired": token.is_expired(),
        "user": token.owner.email if token.owner else None,
        "label": token.label,
        "created_at": token.created_at,
    }


class Command(BaseCommand):
    help = "Manage ID tokens: add one, list them, or import an organization's cards from CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="{add,list,import}")

        add = commands.add_parser("add", help="Register an ID token.")
        add.add_argument("id_tag", help="The token as the charger reports it (1.6 idTag).")
        add.add_argument(
            "--status",
            type=_status,
            choices=IdTokenStatus.values,
            metavar="{Accepted,Blocked}",
            default=IdTokenStatus.ACCEPTED,
            help="Accepted (default) or Blocked, in any case.",
        )
        add.add_argument(
            "--expires", help="ISO 8601 date-time; without an offset, in the configured time zone."
        )
        add.add_argument("--user", metavar="EMAIL", help="The email of the existing user who owns the token.")
        add.add_argument("--label", default="", help="A note, such as the number printed on the card.")

        listing = commands.add_parser("list", help="List ID tokens.")
        listing.add_argument("--json", action="store_true", help="Print a JSON array.")

        importing = commands.add_parser(
            "import",
            help="Create and update an organization's cards from CSV; if a row is wrong, nothing is saved.",
            description=f"Columns (header row required, only id_tag mandatory): {', '.join(COLUMNS)}. "
            "A column left out leaves existing cards' field alone; groups are separated by ';'.",
        )
        importing.add_argument("file", help="The CSV file (UTF-8, ',' or ';' separated); - reads stdin.")
        importing.add_argument(
            "--organization", required=True, metavar="NAME", help="The organization that issues the cards."
        )
        importing.add_argument(
            "--dry-run", action="store_true", help="Check the file and count the changes; save nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"add": self.add_token, "list": self.list_tokens, "import": self.import_tokens}
        handlers[options["subcommand"]](options)

    def add_token(self, options: dict[str, Any]) -> None:
        id_tag, email = options["id_tag"], options["user"]
        expires_at = _expiry(options["expires"]) if options["expires"] else None
        try:
            token = id_token_create(
                id_tag=id_tag,
                status=options["status"],
                expires_at=expires_at,
                owner_email=email,
                label=options["label"],
            )
        except User.DoesNotExist:
            raise CommandError(f"No user has the email {email!r}.") from None
        except ValidationError as error:
            raise CommandError(f"Cannot add ID token {id_tag!r}: {_reasons(error)}") from None
        owner = f", owned by {token.owner.email}" if token.owner else ""
        expiry = f", expires {render_cell(token.expires_at)}" if token.expires_at else ""
        self.stdout.write(f"Added ID token {token.id_tag} ({token.status}{expiry}{owner}).")

    def list_tokens(self, options: dict[str, Any]) -> None:
        rows = [token_data(token) for token in IdToken.objects.select_related("owner").order_by("id_tag")]
        if options["json"]:
            self.stdout.write(render_json(rows))
            return
        headers = ["ID TAG", "STATUS", "EXPIRES", "EXPIRED", "USER", "LABEL"]
        keys = ["id_tag", "status", "expires_at", "expired", "user", "label"]
        self.stdout.write(render_table(headers, ([row[key] for key in keys] for row in rows)))

    def import_tokens(self, options: dict[str, Any]) -> None:
        name, path = options["organization"], options["file"]
        try:
            organization = Organization.objects.get(name=name)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization is named {name!r}.") from None
        try:
            with contextlib.ExitStack() as stack:
                file = sys.stdin.buffer if path == "-" else stack.enter_context(Path(path).open("rb"))
                result = id_tokens_import(file=file, organization=organization, dry_run=options["dry_run"])
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        if not result.ok:
            rows = ((error.line, error.column, error.message) for error in result.errors)
            table = render_table(["LINE", "COLUMN", "MESSAGE"], rows)
            count = len(result.errors)
            raise CommandError(f"{count} error{'s' if count > 1 else ''}, nothing imported:\n{table}")
        if result.dry_run:
            self.stdout.write(f"Checked, nothing saved (dry run): {result.counts()}.")
        else:
            self.stdout.write(f"Imported into {organization}: {result.counts()}.")
