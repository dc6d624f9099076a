"""Back-office listing of charging sessions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from csms.cli import render_json, render_table
from stations import selectors
from stations.exceptions import StationNotFound
from stations.exports import SESSION_COLUMNS, session_data
from stations.management.commands.chargers import EXIT_INVALID


class Command(BaseCommand):
    help = "List charging sessions, newest first; an open session's energy is the amount so far."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="{list}")
        listing = commands.add_parser("list", help="List charging sessions, newest first.")
        listing.add_argument("--json", action="store_true", help="Print a JSON array.")
        listing.add_argument("--charger", metavar="IDENTITY", help="Only this charger's sessions.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.list_sessions(options)

    def list_sessions(self, options: dict[str, Any]) -> None:
        identity = options["charger"]
        if identity is not None:
            try:
                selectors.station_get(identity=identity)
            except StationNotFound as error:
                raise CommandError(str(error), returncode=EXIT_INVALID) from None
        rows = [session_data(session) for session in selectors.session_list(identity=identity)]
        if options["json"]:
            self.stdout.write(render_json(rows))
            return
        self.stdout.write(
            render_table(
                list(SESSION_COLUMNS.values()), ([row[key] for key in SESSION_COLUMNS] for row in rows)
            )
        )
