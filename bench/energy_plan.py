"""Time the fleet charging planner (energy/scheduling.py): 200 vehicles over 96 quarter-hours.

.venv/bin/python bench/energy_plan.py [--vehicles 200] [--runs 5] [--scattered]

A depot of 400 kW from 18:00 for 24 hours, off-peak 0.10 from 00:00 to 06:00 and peak prices of 0.25 to
0.31 otherwise; two vehicles in three take 11 kW (minimum 4.14 kW), one in three 3.7 kW (minimum 1.38 kW);
5 to 60 kWh needed, departures spread over the next day on quarter-hours. --scattered puts arrivals and
departures at arbitrary seconds, which cuts the slots into many more pieces. Pure Python: no database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from energy.scheduling import Slot, Vehicle, fleet_plan  # noqa: E402

D = Decimal
QUARTER = timedelta(minutes=15)


def depot(vehicles: int, scattered: bool) -> tuple[list[Slot], list[Vehicle]]:
    start = datetime(2024, 6, 1, 18, tzinfo=UTC)
    prices = [D("0.10") if 24 <= n < 48 else D(("0.25", "0.31", "0.28")[n % 3]) for n in range(96)]
    slots = [Slot(start + n * QUARTER, start + (n + 1) * QUARTER, prices[n], D("400")) for n in range(96)]
    fleet = []
    for n in range(vehicles):
        jitter = timedelta(seconds=n * 37 % 900) if scattered else timedelta(0)
        fleet.append(
            Vehicle(
                f"{n}:1",
                start + timedelta(minutes=7) + jitter,
                start + QUARTER * (40 + n * 7 % 57) + jitter,
                D(5 + n * 13 % 56),
                D("11.04") if n % 3 else D("3.68"),
                D("4.14") if n % 3 else D("1.38"),
            )
        )
    return slots, fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scattered", action="store_true")
    args = parser.parse_args()
    slots, vehicles = depot(args.vehicles, args.scattered)
    timings = []
    for _ in range(args.runs):
        began = time.perf_counter()
        plan = fleet_plan(slots, vehicles)
        timings.append(time.perf_counter() - began)
    planned = sum(vp.energy_kwh for vp in plan.vehicles)
    print(f"{args.vehicles} vehicles, {len(slots)} slots, scattered={args.scattered}, {args.runs} runs")
    print(f"median {statistics.median(timings) * 1000:.0f} ms, min {min(timings) * 1000:.0f} ms")
    print(f"planned {planned} kWh for {plan.cost}; charging at once: {plan.cost_immediate}")
    print(f"(at once {plan.shortfall_immediate_kwh} kWh would miss their departure: the site is too small)")


if __name__ == "__main__":
    main()
