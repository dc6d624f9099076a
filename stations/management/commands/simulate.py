"""Run simulated OCPP chargers (1.6J, 2.0.1 or a mix) against a running CSMS."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stations.simulator.charger import ChargerOptions
from stations.simulator.fleet import FleetOptions, fleet_run

VERSIONS = {"1.6": ("1.6",), "2.0.1": ("2.0.1",), "mixed": ("1.6", "2.0.1")}


class Command(BaseCommand):
    help = (
        "Connect N simulated OCPP chargers (identities PREFIX001, PREFIX002, ...) to a running CSMS: "
        "boot, heartbeats, status, charging sessions with meter values, answers to the CSMS's commands. "
        "Ctrl-C ends the running transactions and disconnects."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chargers", type=int, default=1, help="How many chargers (default 1).")
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp", help="The CSMS's OCPP endpoint.")
        parser.add_argument("--prefix", default="SIM-", help="Identity prefix (default SIM-).")
        parser.add_argument(
            "--password",
            default=os.environ.get("CSMS_SIMULATOR_PASSWORD", "simulator-password-0001"),
            help="Every charger's Basic-auth password (default: $CSMS_SIMULATOR_PASSWORD).",
        )
        parser.add_argument("--connectors", type=int, default=2, help="Connectors per charger (default 2).")
        parser.add_argument(
            "--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C)."
        )
        parser.add_argument(
            "--session-every",
            type=float,
            default=120.0,
            help="Mean idle seconds of a connector between sessions (default 120).",
        )
        parser.add_argument(
            "--session-length", type=float, default=600.0, help="Mean seconds a session lasts (default 600)."
        )
        parser.add_argument(
            "--meter-interval", type=int, default=60, help="MeterValueSampleInterval in seconds (default 60)."
        )
        parser.add_argument(
            "--id-tags",
            default="DEMO-TAG-1,DEMO-TAG-2",
            help="Comma-separated idTags of the drivers; each charges at one connector at a time.",
        )
        parser.add_argument("--start-rate", type=float, default=20.0, help="Chargers connecting per second.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for a repeatable run.")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Check every payload, both ways, against the JSON schemas of the charger's OCPP version.",
        )
        parser.add_argument(
            "--ocpp",
            choices=sorted(VERSIONS),
            default="1.6",
            help="OCPP version of the chargers; mixed: 1.6 and 2.0.1 in turn (default 1.6).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chargers"] < 1 or options["connectors"] < 1:
            raise CommandError("--chargers and --connectors must be at least 1.")
        id_tags = tuple(tag.strip() for tag in options["id_tags"].split(",") if tag.strip())
        if not id_tags:
            raise CommandError("--id-tags needs at least one idTag.")
        fleet = FleetOptions(
            chargers=options["chargers"],
            prefix=options["prefix"],
            id_tags=id_tags,
            duration_s=options["duration"],
            start_rate_per_s=options["start_rate"],
            seed=options["seed"],
            versions=VERSIONS[options["ocpp"]],
            charger=ChargerOptions(
                url=options["url"],
                password=options["password"],
                connectors=options["connectors"],
                meter_interval_s=options["meter_interval"],
                session_every_s=options["session_every"],
                session_length_s=options["session_length"],
                strict=options["strict"],
            ),
        )
        try:
            stats = asyncio.run(_run_until_interrupted(fleet))
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.stderr.write("Interrupted before the chargers had stopped.")
            return
        self.stdout.write(stats.summary())


async def _run_until_interrupted(fleet: FleetOptions) -> Any:
    """Run the fleet; the first Ctrl-C (or SIGTERM) stops it gracefully, a second one at once."""
    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None

    def interrupted() -> None:
        if stop.is_set():
            main.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupted)
    return await fleet_run(fleet, stop=stop)
