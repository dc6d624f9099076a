"""Time the site load allocator (energy/allocation.py) on a large site: 1,000 chargers on 50 circuits.

.venv/bin/python bench/energy_allocate.py [--chargers 1000] [--grid-amps 2500] [--runs 50]

The site: a grid connection of 3 x 5,000 A with a contract of 3 MW (--grid-amps scales both), four
distribution boards of 3 x 1,250 A and 45 sub-boards of 3 x 160 A (50 circuits), the chargers spread
over the sub-boards:
55 % three-phase 32 A or 16 A (in the three rotations), 35 % single-phase 32 A (L1, L2 or L3), 5 %
two-phase, 5 % fixed (offline chargers on their 6 A safe default). Half the cars draw less than offered
(some sleep at 0 A), one in ten is a fleet car with priority, minimum 6 A everywhere. Pure Python: no
database, no Django.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from energy.allocation import Circuit, Load, allocate  # noqa: E402

D = Decimal
ROTATIONS_3 = [(1, 2, 3), (2, 3, 1), (3, 1, 2)]


def site(
    chargers: int, grid_amps: int, boards: int = 4, sub_boards: int = 45, seed: int = 1
) -> tuple[list[Circuit], list[Load]]:
    rng = random.Random(seed)
    grid = D(grid_amps)
    circuits = [Circuit("grid", None, (grid, grid, grid), grid * 600)]  # 5,000 A: 3 MW
    circuits += [Circuit(f"board-{b}", "grid", (D(1250), D(1250), D(1250))) for b in range(boards)]
    circuits += [
        Circuit(f"sub-{s}", f"board-{s % boards}", (D(160), D(160), D(160))) for s in range(sub_boards)
    ]
    loads = []
    for n in range(chargers):
        kind = rng.random()
        if kind < 0.55:
            phases, max_amps = rng.choice(ROTATIONS_3), D(rng.choice([16, 32, 32]))
        elif kind < 0.90:
            phases, max_amps = (rng.randint(1, 3),), D(32)
        elif kind < 0.95:
            phases, max_amps = rng.choice([(1, 2), (2, 3), (3, 1)]), D(16)
        else:
            phases, max_amps = rng.choice(ROTATIONS_3), D(6)
        wanted = None if rng.random() < 0.5 else D(rng.choice([0, 8, 10, 13, 16, 20]))
        loads.append(
            Load(
                id=f"{n + 1}:1",
                circuit_id=f"sub-{n % sub_boards}",
                grid_phases=phases,
                max_amps=max_amps,
                min_amps=D(6),
                wanted_amps=wanted,
                priority=1 if rng.random() < 0.1 else 0,
                rank=rng.randrange(chargers),
                fixed=kind >= 0.95,
            )
        )
    return circuits, loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--grid-amps", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    circuits, loads = site(args.chargers, args.grid_amps)
    timings_ms, cpu_ms = [], []
    for _ in range(args.runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = allocate(circuits, loads)
        timings_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
    timings_ms.sort()
    p95 = timings_ms[min(len(timings_ms) - 1, round(0.95 * len(timings_ms)) - 1)]
    adjustable = [load for load in loads if not load.fixed]
    paused = sum(1 for load in adjustable if result[load.id] == 0)
    grid = [sum(result[ld.id] for ld in loads if phase in ld.grid_phases) for phase in (1, 2, 3)]
    print(f"site: {len(circuits)} circuits, {len(loads)} loads ({len(loads) - len(adjustable)} fixed)")
    print(f"result: {len(adjustable) - paused} charging, {paused} paused; grid phases {grid} A")
    print(
        f"allocate() over {args.runs} runs: median {statistics.median(timings_ms):.1f} ms, "
        f"p95 {p95:.1f} ms, min {timings_ms[0]:.1f} ms, max {timings_ms[-1]:.1f} ms "
        f"(CPU median {statistics.median(cpu_ms):.1f} ms)"
    )


if __name__ == "__main__":
    main()
