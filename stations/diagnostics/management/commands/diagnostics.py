"""Request a log from a charger: `manage.py diagnostics request <identity> [--kind security] [--since ...]`.

The call reaches the charger's socket through the channel layer, so outside the gateway process this
needs REDIS_URL (as every command sent from the command line does)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.diagnostics.services import diagnostics_request
from stations.exceptions import StationError
from stations.models import Station


def aware_datetime(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"{value!r} is not an ISO 8601 date and time with a UTC offset")
    return parsed


class Command(BaseCommand):
    help = "Request a diagnostics or security log from a charger; it uploads it to the CSMS."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        request = actions.add_parser("request", help="send GetDiagnostics (1.6) or GetLog (2.0.1)")
        request.add_argument("identity")
        request.add_argument("--kind", choices=list(LogKind.values), default=LogKind.DIAGNOSTICS)
        request.add_argument("--since", type=aware_datetime, help="oldest entry, e.g. 2026-01-01T00:00Z")
        request.add_argument("--until", type=aware_datetime, help="latest entry")
        request.add_argument("--retries", type=int)
        request.add_argument("--upload-url", help="the CSMS's address as the charger reaches it over HTTP")
        request.add_argument("--timeout", type=float, help="seconds to wait for the answer")

    def handle(self, *args: Any, **options: Any) -> None:
        station = Station.objects.filter(identity=options["identity"]).first()
        if station is None:
            raise CommandError(f"No charger {options['identity']!r}.")
        try:
            request = diagnostics_request(
                station=station,
                kind=options["kind"],
                since=options["since"],
                until=options["until"],
                retries=options["retries"],
                requested_by="cli",
                upload_base_url=options["upload_url"],
                timeout=options["timeout"],
            )
        except StationError as error:
            raise CommandError(str(error)) from None
        line = f"request {request.pk}: {request.get_status_display()}"
        if request.status_info:
            line += f" ({request.status_info})"
        if request.status in (DiagnosticsStatus.FAILED, DiagnosticsStatus.REJECTED):
            raise CommandError(line)
        self.stdout.write(line)
