"""One load-balancing recompute of a site with 1,000 chargers, each with an open session, on PostgreSQL.

Measures the path up to the calls to the chargers: reading the site (grid, circuits, wiring, connector
limits, open sessions with their latest currents, allocations), the allocation (sessions, then what idle
EVSEs may hold), the decisions (which limits to send, lowered ones first) and writing the allocations and
the site's load sample. The calls themselves (one SetChargingProfile per changed EVSE, sent concurrently
over the channel layer) are counted, not sent: see bench/README.md.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_energy_bench .venv/bin/python bench/energy_recompute.py

The database named in DATABASE_URL is dropped and created again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csms_energy_bench")


def database_recreate(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed(chargers: int, samples: int, online: bool) -> int:
    """A site of `chargers` three-phase chargers on ten circuits, each in a session with `samples` meter
    readings (energy, power, three currents); returns the site's id."""
    from django.utils import timezone

    from energy.models import ChargerWiring, Circuit, SiteGrid
    from stations.models import ChargingSession, Connector, MeterSample, Site, Station

    now = timezone.now()
    site = Site.objects.create(name="Depot")
    SiteGrid.objects.create(site=site, phase_limit_amps=Decimal(chargers * 8), base_load_amps=Decimal(40))
    circuits = [
        Circuit.objects.create(site=site, name=f"Row {n}", phase_limit_amps=Decimal(chargers * 8 // 10 + 100))
        for n in range(10)
    ]
    stations = Station.objects.bulk_create(
        Station(
            identity=f"DEPOT-{n:05d}",
            site=site,
            protocol="ocpp1.6",
            is_online=online,
            channel_name="specific.bench" if online else "",
        )
        for n in range(chargers)
    )
    ChargerWiring.objects.bulk_create(
        ChargerWiring(
            station=s,
            circuit=circuits[i % 10],
            phases=3 if i % 4 else 1,
            phase_rotation=["RST", "STR", "TRS"][i % 3],
            max_amps=Decimal(32 if i % 2 else 16),
            priority=1 if i % 10 == 0 else 0,
        )
        for i, s in enumerate(stations)
    )
    connectors = Connector.objects.bulk_create(Connector(station=s, evse_id=1) for s in stations)
    sessions = ChargingSession.objects.bulk_create(
        ChargingSession(
            station=s,
            connector=c,
            external_id=f"{i + 1}",
            started_at=now - timedelta(minutes=30 + i % 60),
            meter_start_wh=0,
        )
        for i, (s, c) in enumerate(zip(stations, connectors, strict=True))
    )
    rows = []
    for i, session in enumerate(sessions):
        drawn = Decimal(4 + i % 12)  # some cars draw clearly less than they will be given
        for k in range(samples):
            at = now - timedelta(seconds=15 * (samples - k))
            rows.append((session, at, "Energy.Active.Import.Register", "", Decimal(k * 100)))
            rows.append((session, at, "Power.Active.Import", "", drawn * 690))
            rows.extend((session, at, "Current.Import", phase, drawn) for phase in ("L1", "L2", "L3"))
    MeterSample.objects.bulk_create(
        (
            MeterSample(
                station_id=session.station_id,
                session=session,
                evse_id=1,
                sampled_at=at,
                measurand=measurand,
                phase=phase,
                unit="A" if measurand == "Current.Import" else "Wh",
                value=value,
            )
            for session, at, measurand, phase, value in rows
        ),
        batch_size=5000,
    )
    return site.pk


def timed(run: Callable[[], Any], repeat: int, before: Callable[[], None] = lambda: None) -> list[float]:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):7.1f} ms  min {min(times):7.1f}  max {max(times):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20, help="meter readings per session (every 15 s)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--offline", action="store_true", help="chargers offline: counted, nothing to send")
    args = parser.parse_args()

    database_recreate(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    site_id = seed(args.chargers, args.samples, online=not args.offline)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {args.chargers} chargers in sessions in {time.perf_counter() - started:.1f} s")

    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from energy.allocation import allocate
    from energy.models import Allocation, AllocationStatus
    from energy.services.balancing import idle_shares, site_rebalance_plan
    from energy.services.loads import site_loads
    from energy.services.recording import outcomes_record
    from energy.services.sending import Sent
    from stations.models import ChargingSession

    def forget() -> None:
        Allocation.objects.filter(station__site_id=site_id).delete()

    loads = site_loads(site_id)
    print(
        f"loads: {len(loads.loads)}, circuits: {len(loads.circuits)}, chargers online: {len(loads.chargers)}"
    )
    print(f"read the site (site_loads)         {summary(timed(lambda: site_loads(site_id), args.repeat))}")

    def allocate_both() -> None:
        amps = allocate(loads.circuits, loads.loads)
        idle_shares(loads, amps)

    print(f"allocate (sessions, then idle)     {summary(timed(allocate_both, args.repeat))}")
    plans: list[Any] = []

    def recompute() -> None:
        plans.append(site_rebalance_plan(site_id=site_id))

    def answered() -> None:
        """Record every limit of the last recompute as accepted, as the sending step would."""
        sent = [Sent(send, AllocationStatus.ACCEPTED, timezone.now()) for send in plans[-1].sends]
        outcomes_record(site_id=site_id, outcomes=sent)

    first = timed(recompute, args.repeat, before=forget)
    print(f"whole recompute, first time        {summary(first)}  ({len(plans[-1].sends)} limits to send)")
    print(f"recording their answers            {summary(timed(answered, 1))}")
    steady = timed(recompute, args.repeat)
    print(f"whole recompute, nothing changed   {summary(steady)}  ({len(plans[-1].sends)} limits to send)")

    def one_car_leaves() -> None:
        ChargingSession.objects.filter(pk=open_sessions.pop()).update(stopped_at=timezone.now())

    open_sessions = list(ChargingSession.objects.open().values_list("pk", flat=True))
    leaving = timed(recompute, args.repeat, before=lambda: (answered(), one_car_leaves()))
    print(f"whole recompute, one car left      {summary(leaving)}  ({len(plans[-1].sends)} limits to send)")
    rows = Allocation.objects.filter(station__site_id=site_id, evse_id__gt=0, session__isnull=False)
    amps = list(rows.values_list("amps", flat=True))
    paused = sum(1 for a in amps if a == 0)
    print(f"allocated {sum(amps)} A to {len(amps)} sessions, {paused} paused", end="; ")
    with CaptureQueriesContext(connection) as queries:
        recompute()
    print(f"queries in a recompute: {len(queries)}")


if __name__ == "__main__":
    main()
