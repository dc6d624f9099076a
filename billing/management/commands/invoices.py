"""Back-office runs of invoicing: bill sessions, mail a document again, export documents."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from billing.invoicing_selectors import INVOICE_COLUMNS, invoice_data, invoice_list_issued
from billing.models import Invoice
from billing.services.billing_run import session_bill, sessions_unbilled
from billing.services.invoicing import invoice_email
from billing.services.unplug_wait import session_awaits_unplug
from csms.cli import render_json
from stations.models import ChargingSession

EXIT_INVALID, EXIT_UNAVAILABLE = 2, 3


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}", returncode=EXIT_INVALID) from None


def midnight(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


class Command(BaseCommand):
    help = "Bill ended sessions, mail a document again, or export the documents of a period."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="{generate,resend,export}")
        generate = commands.add_parser("generate", help="Price, charge, issue and mail; skips what is done.")
        which = generate.add_mutually_exclusive_group(required=True)
        which.add_argument("--session", type=int, metavar="ID", help="This session (its primary key).")
        which.add_argument(
            "--since", metavar="DATE", help="Every session ended since this day, not yet billed."
        )
        generate.add_argument(
            "--no-unplug-wait",
            action="store_true",
            help="Bill sessions waiting for the car's unplug now (idle time as far as reported).",
        )
        resend = commands.add_parser("resend", help="Mail a document again.")
        resend.add_argument("code", help="The document's code, e.g. R-1-000042.")
        export = commands.add_parser("export", help="Print the documents issued in a period.")
        export.add_argument("--from", dest="start", required=True, metavar="DATE", help="First day.")
        export.add_argument("--to", dest="end", required=True, metavar="DATE", help="Last day (inclusive).")
        export.add_argument("--organization", metavar="NAME", help="Only this issuing organization's.")
        export.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, options["subcommand"])(options)

    def generate(self, options: dict[str, Any]) -> None:
        from billing.payments.base import ProviderUnavailable

        if options["session"] is not None:
            if not ChargingSession.objects.filter(pk=options["session"]).exists():
                raise CommandError(f"No session {options['session']}.", returncode=EXIT_INVALID)
            session_ids = [options["session"]]
        else:
            session_ids = sessions_unbilled(since=midnight(day(options["since"])))
        wait = not options["no_unplug_wait"]
        for session_id in session_ids:
            if wait and (until := session_awaits_unplug(ChargingSession.objects.get(pk=session_id))):
                shown = f"{timezone.localtime(until):%Y-%m-%d %H:%M %Z}"
                self.stdout.write(f"session {session_id}: waits for the car's unplug until {shown}")
                continue
            try:
                invoice = session_bill(session_id=session_id, unplug_wait=wait)
            except ProviderUnavailable as error:
                raise CommandError(
                    f"Session {session_id}: the payment provider is unavailable ({error}); run again later.",
                    returncode=EXIT_UNAVAILABLE,
                ) from None
            outcome = f"{invoice.get_kind_display()} {invoice.code}" if invoice else "nothing to issue yet"
            self.stdout.write(f"session {session_id}: {outcome}")
        if not session_ids:
            self.stdout.write("No session to bill.")

    def resend(self, options: dict[str, Any]) -> None:
        invoice = Invoice.objects.filter(code=options["code"]).first()
        if invoice is None:
            raise CommandError(f"No document {options['code']}.", returncode=EXIT_INVALID)
        if not invoice_email(invoice, resend=True):
            raise CommandError(f"{invoice.code} has nobody to mail it to.", returncode=EXIT_INVALID)
        self.stdout.write(f"{invoice.code} sent.")

    def export(self, options: dict[str, Any]) -> None:
        start, end = day(options["start"]), day(options["end"])
        if end < start:
            raise CommandError("--to is before --from.", returncode=EXIT_INVALID)
        organization = options["organization"]
        if organization is not None:
            from accounts.models import Organization

            if not Organization.objects.filter(name=organization).exists():
                raise CommandError(f"No organization {organization!r}.", returncode=EXIT_INVALID)
        rows = [
            invoice_data(invoice)
            for invoice in invoice_list_issued(
                start=midnight(start), end=midnight(end + timedelta(days=1)), organization=organization
            )
        ]
        if options["format"] == "json":
            self.stdout.write(render_json(rows))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=INVOICE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
