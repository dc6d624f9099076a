"""Server-side sampling (daphne's CPU and memory, PostgreSQL's CPU, the machine's) and the bench report."""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _cpu_or_zero(pid: int) -> float:
    try:
        return _process_cpu_s(pid)
    except OSError:
        return 0.0  # the worker has exited


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process, counting backends that have exited (the postmaster's
    cutime/cstime), so that the figure only ever grows."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a backend that just exited
            total += (int(fields[11]) + int(fields[12])) / TICKS
            if Path(f"/proc/{fields[1]}/comm").read_text().strip() != "postgres":  # the postmaster
                total += (int(fields[13]) + int(fields[14])) / TICKS
    return total


def _machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Sampler(threading.Thread):
    """Every second: daphne's CPU seconds and RSS, PostgreSQL's CPU seconds, the machine's busy ticks."""

    def __init__(self, server_pid: int, t0_wall: float) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.t0_wall = server_pid, t0_wall
        self.client_pids: list[int] = []
        self.samples: list[dict[str, float]] = []
        self.peak_rss_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(1.0)
        self.sample()

    def sample(self) -> None:
        busy, total = _machine_ticks()
        sample = {
            "t": time.time() - self.t0_wall,
            "busy": busy,
            "total": total,
            "pg_cpu": _postgres_cpu_s(),
            "client_cpu": sum(_cpu_or_zero(pid) for pid in self.client_pids),
        }
        if self.server_pid:
            try:
                sample["cpu"] = _process_cpu_s(self.server_pid)
                sample["rss_kb"] = _status_kb(self.server_pid, "VmRSS")
                self.peak_rss_kb = max(self.peak_rss_kb, _status_kb(self.server_pid, "VmHWM"))
            except OSError:
                pass
        self.samples.append(sample)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU use in [start, end], in % of one core: daphne, PostgreSQL, the load client; the machine's
        busy % is of both cores, so anything else running shows as the difference."""
        inside = [s for s in self.samples if start <= s["t"] <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        seconds = last["t"] - first["t"]
        result = {
            "postgres_cpu_pct": round(100 * (last["pg_cpu"] - first["pg_cpu"]) / seconds, 1),
            "client_cpu_pct": round(100 * (last["client_cpu"] - first["client_cpu"]) / seconds, 1),
            "machine_busy_pct": round(
                100 * (last["busy"] - first["busy"]) / (last["total"] - first["total"]), 1
            ),
        }
        if "cpu" in first and "cpu" in last:
            result["daphne_cpu_pct"] = round(100 * (last["cpu"] - first["cpu"]) / seconds, 1)
            result["daphne_rss_mb_at_end"] = round(last["rss_kb"] / 1024, 1)
        return result


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "n": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 2),
    }


def report(args: Any, metrics: Any, sampler: Sampler, actions: tuple[str, ...]) -> dict[str, Any]:
    ramp_s = args.chargers / args.ramp
    end_s = ramp_s + args.duration
    booted = sorted(metrics.booted_at)
    all_booted_s = booted[-1] if booted else ramp_s
    steady_start = (ramp_s + args.settle) if args.rate else max(all_booted_s, ramp_s) + 1
    rows = list(zip(metrics.sent_at, metrics.latency_ms, metrics.action, strict=True))
    ramp_rows = [r for r in rows if r[0] < steady_start]
    steady_rows = [r for r in rows if steady_start <= r[0] < end_s]
    steady_s = max(end_s - steady_start, 1e-9)
    per_second: dict[int, int] = {}
    for sent_at, latency_ms, _ in steady_rows:  # by the second the answer arrived
        done_at = int(sent_at + latency_ms / 1000)
        per_second[done_at] = per_second.get(done_at, 0) + 1
    full_seconds = [per_second.get(s, 0) for s in range(int(steady_start) + 1, int(end_s) - 1)]
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "mode": f"rate {args.rate:g} msg/s" if args.rate else "fleet",
        "args": vars(args),
        "counters": dict(sorted(metrics.counters.items())),
        "call_errors": metrics.call_errors,
        "chargers_booted": len(booted),
        "all_booted_at_s": round(all_booted_s, 1),
        "answered_total": len(rows),
        "ramp": {
            "msg_per_s": round(len(ramp_rows) / max(steady_start, 1e-9), 1),
            "latency_ms": percentiles([r[1] for r in ramp_rows]),
            **sampler.window(0, steady_start),
        },
        "steady": {
            "seconds": round(steady_s, 1),
            "msg_per_s": round(len(steady_rows) / steady_s, 1),
            "worst_second_msgs": min(full_seconds) if full_seconds else 0,
            "latency_ms": percentiles([r[1] for r in steady_rows]),
            **sampler.window(steady_start, end_s),
        },
        "steady_by_action": {
            actions[a]: percentiles([r[1] for r in steady_rows if r[2] == a])
            for a in sorted({r[2] for r in steady_rows})
        },
        "daphne_peak_rss_mb": round(sampler.peak_rss_kb / 1024, 1) if sampler.peak_rss_kb else None,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result
