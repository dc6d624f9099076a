"""Back-office management of chargers: register, list, inspect, and send OCPP commands."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError
from django.utils import timezone

from csms.cli import render_cell, render_json, render_table
from stations import selectors
from stations.credentials import password_generate
from stations.exceptions import (
    CallRejected,
    CallTimeout,
    InvalidCall,
    StationError,
    StationNotFound,
    StationOffline,
)
from stations.exports import session_data
from stations.models import OutgoingCall, Site, Station
from stations.ocpp.commands import station_call
from stations.services.registry import station_create

# 2: unknown charger, or a call that cannot be sent as asked.
EXIT_INVALID, EXIT_OFFLINE, EXIT_TIMEOUT, EXIT_CALL_ERROR = 2, 3, 4, 5
SEND_EXIT_CODES: dict[type[StationError], int] = {
    StationNotFound: EXIT_INVALID,
    InvalidCall: EXIT_INVALID,
    StationOffline: EXIT_OFFLINE,
    CallTimeout: EXIT_TIMEOUT,
    CallRejected: EXIT_CALL_ERROR,
}
LIST_COLUMNS = {
    "identity": "IDENTITY",
    "site": "SITE",
    "vendor": "VENDOR",
    "model": "MODEL",
    "firmware": "FIRMWARE",
    "protocol": "PROTOCOL",
    "registration_status": "REGISTRATION",
    "online": "ONLINE",
    "last_seen_at": "LAST SEEN",
}
SEND_EPILOG = """\
exit codes:
  0  the charger answered; its response payload is printed as JSON
  1  any other error
  2  bad arguments, an unknown charger, or a call its OCPP version does not allow (unknown action,
     a payload the schema rejects, --payload that is not a JSON object)
  3  the charger is offline, never connected, or no gateway process reachable from here holds its socket
  4  the charger did not answer within the timeout
  5  the charger answered with a CALLERROR
"""


def _section(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return f"{title}\n" + (render_table(headers, rows) if rows else "(none)")


def _reasons(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())


def _connectors_label(connectors: list[dict[str, Any]]) -> str:
    """Summarize connectors as `evse:status`, with `/connector` only where an EVSE has several."""
    return " ".join(
        f"{c['evse_id']}{'' if c['connector_id'] == 1 else '/' + str(c['connector_id'])}:{c['status']}"
        for c in connectors
    )


def _call_result(call: OutgoingCall) -> str:
    if call.error_code or call.error_description:
        return f"{call.error_code} {call.error_description}".strip()
    return json.dumps(call.response, ensure_ascii=False) if call.response is not None else ""


def station_data(station: Station) -> dict[str, Any]:
    """Describe a charger as a row of the listing."""
    return {
        "identity": station.identity,
        "site": station.site.name if station.site else None,
        "vendor": station.vendor,
        "model": station.model,
        "firmware": station.firmware_version,
        "protocol": station.protocol,
        "registration_status": station.registration_status,
        "online": station.is_online,
        "last_seen_at": station.last_seen_at,
        "connectors": [
            {"evse_id": c.evse_id, "connector_id": c.connector_id, "status": c.status}
            for c in station.connectors.all()
        ],
    }


def call_data(call: OutgoingCall) -> dict[str, Any]:
    """Describe a CSMS-initiated call and its outcome."""
    return {
        "unique_id": call.unique_id,
        "action": call.action,
        "payload": call.payload,
        "status": call.status,
        "response": call.response,
        "error_code": call.error_code,
        "error_description": call.error_description,
        "requested_by": call.requested_by,
        "created_at": call.created_at,
        "completed_at": call.completed_at,
    }


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError("the timeout must be positive")
    return seconds


def _day(text: str) -> datetime:
    """Midnight of a YYYY-MM-DD day in the server's time zone."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day such as 2026-11-01") from None
    return timezone.make_aware(day)


class Command(BaseCommand):
    help = (
        "Manage chargers: add one, list them, show one, or send it an OCPP command. "
        "An unknown charger exits with 2; `chargers send --help` lists the exit codes of send."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{add,list,show,send,uptime}"
        )

        add = commands.add_parser("add", help="Register a charger and print the password it must use.")
        add.add_argument("identity", help="The charger's identity, the last segment of its URL.")
        add.add_argument("--site", help="Site name; created when new.")
        add.add_argument("--password", help="16 to 40 bytes; generated and printed once when omitted.")

        listing = commands.add_parser("list", help="List chargers with their connectors.")
        listing.add_argument("--json", action="store_true", help="Print a JSON array.")

        show = commands.add_parser("show", help="Show a charger, its open sessions and its last 10 commands.")
        show.add_argument("identity")
        show.add_argument("--json", action="store_true", help="Print a JSON object.")

        send = commands.add_parser(
            "send",
            help="Send an OCPP command and print the charger's answer.",
            epilog=SEND_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        send.add_argument("identity")
        send.add_argument("action", help="The OCPP action, e.g. Reset, RemoteStartTransaction.")
        send.add_argument("--payload", default="{}", help="The request payload, a JSON object (default: {}).")
        send.add_argument("--timeout", type=_positive_seconds, help="Seconds to wait for the answer.")

        uptime = commands.add_parser(
            "uptime", help="Print the availability of each connector and site over the days given, as CSV."
        )
        uptime.add_argument(
            "--since", type=_day, required=True, help="First day, YYYY-MM-DD (server time zone)."
        )
        uptime.add_argument("--until", type=_day, required=True, help="Last day, included, YYYY-MM-DD.")
        uptime.add_argument("--site", help="Only this site (its name).")

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {
            "add": self.add_charger,
            "list": self.list_chargers,
            "show": self.show_charger,
            "send": self.send_command,
            "uptime": self.print_uptime,
        }
        handlers[options["subcommand"]](options)

    def add_charger(self, options: dict[str, Any]) -> None:
        identity, password = options["identity"], options["password"]
        generated = password is None
        if generated:
            password = password_generate()
        try:
            station = station_create(identity=identity, password=password, site_name=options["site"])
        except ValidationError as error:
            raise CommandError(f"Cannot add charger {identity!r}: {_reasons(error)}") from None
        except ValueError as error:
            raise CommandError(f"Cannot add charger {identity!r}: {error}") from None
        except IntegrityError:
            raise CommandError(f"Cannot add charger {identity!r}: it already exists.") from None
        lines = [f"identity: {station.identity}", f"url: /ocpp/{station.identity}"]
        if station.site:
            lines.append(f"site: {station.site.name}")
        if generated:
            lines += [
                f"password: {password}",
                "The password is stored hashed: note it now, it is not shown again.",
            ]
        self.stdout.write("\n".join(lines))

    def list_chargers(self, options: dict[str, Any]) -> None:
        rows = [station_data(station) for station in selectors.station_list()]
        if options["json"]:
            self.stdout.write(render_json(rows))
            return
        cells = ([*(row[key] for key in LIST_COLUMNS), _connectors_label(row["connectors"])] for row in rows)
        self.stdout.write(render_table([*LIST_COLUMNS.values(), "CONNECTORS"], cells))

    def show_charger(self, options: dict[str, Any]) -> None:
        station = self._station(options["identity"])
        sessions = list(selectors.session_list(identity=station.identity, open_only=True))
        calls = selectors.outgoing_call_list(station=station)
        if options["json"]:
            data = {
                **station_data(station),
                "serial_number": station.serial_number,
                "status": station.status,
                "error_code": station.error_code,
                "connected_at": station.connected_at,
                "last_boot_at": station.last_boot_at,
                "open_sessions": [session_data(session) for session in sessions],
                "commands": [call_data(call) for call in calls],
            }
            self.stdout.write(render_json(data))
            return
        details = [
            ("identity", station.identity),
            ("site", station.site),
            ("vendor", station.vendor),
            ("model", station.model),
            ("serial number", station.serial_number),
            ("firmware", station.firmware_version),
            ("protocol", station.protocol),
            ("registration", station.registration_status),
            ("online", station.is_online),
            ("status", station.status),
            ("error code", station.error_code),
            ("connected at", station.connected_at),
            ("last boot at", station.last_boot_at),
            ("last seen at", station.last_seen_at),
        ]
        width = max(len(label) for label, _ in details) + 2
        blocks = ["\n".join(f"{label}:".ljust(width) + render_cell(value) for label, value in details)]
        connectors = [
            [c.evse_id, c.connector_id, c.status, c.error_code, c.status_since]
            for c in station.connectors.all()
        ]
        open_sessions = [
            [s["transaction_id"], s["connector"], s["id_tag"], s["started_at"], s["energy_wh"]]
            for s in map(session_data, sessions)
        ]
        commands = [[c.created_at, c.action, c.status, c.requested_by, _call_result(c)] for c in calls]
        blocks += [
            _section("Connectors", ["EVSE", "CONNECTOR", "STATUS", "ERROR", "SINCE"], connectors),
            _section(
                "Open sessions", ["TRANSACTION", "CONNECTOR", "ID TAG", "STARTED", "ENERGY WH"], open_sessions
            ),
            _section("Last commands", ["CREATED", "ACTION", "STATUS", "BY", "RESULT"], commands),
        ]
        self.stdout.write("\n\n".join(blocks))

    def send_command(self, options: dict[str, Any]) -> None:
        try:
            payload = json.loads(options["payload"])
        except ValueError as error:
            raise CommandError(f"--payload is not valid JSON: {error}", returncode=EXIT_INVALID) from None
        if not isinstance(payload, dict):
            raise CommandError("--payload must be a JSON object.", returncode=EXIT_INVALID)
        try:
            response = station_call(
                identity=options["identity"],
                action=options["action"],
                payload=payload,
                timeout=options["timeout"],
                requested_by="cli",
            )
        except CallRejected as error:
            raise CommandError(
                f"{options['identity']} answered with a CALLERROR: {error}", returncode=EXIT_CALL_ERROR
            ) from None
        except StationError as error:
            raise CommandError(str(error), returncode=SEND_EXIT_CODES.get(type(error), 1)) from None
        self.stdout.write(json.dumps(response, ensure_ascii=False))

    def print_uptime(self, options: dict[str, Any]) -> None:
        """The uptime report of stations.monitoring (its rule is in services/uptime.py)."""
        from stations.monitoring.services.uptime import uptime_csv_rows, uptime_report

        since, until = options["since"], options["until"] + timedelta(days=1)
        if since >= until:
            raise CommandError("--since must not be after --until.")
        sites = Site.objects.order_by("name")
        if options["site"] is not None:
            sites = sites.filter(name=options["site"])
            if not sites.exists():
                raise CommandError(f"No site {options['site']!r}.")
        csv.writer(self.stdout, lineterminator="\n").writerows(
            uptime_csv_rows(uptime_report(sites=sites, since=since, until=until))
        )

    def _station(self, identity: str) -> Station:
        try:
            return selectors.station_get(identity=identity)
        except StationNotFound as error:
            raise CommandError(str(error), returncode=EXIT_INVALID) from None
