"""Load benchmark of the OCPP 1.6J gateway: many chargers at once, or a target message rate.

Fleet mode (default): N chargers connect at --ramp per second, boot, report each connector's status,
then heartbeat every --heartbeat s; chargers in a session send MeterValues every --meter-interval s,
and sessions start and stop (StartTransaction / StopTransaction) at random.
Rate mode (--rate R): once connected and booted, with a transaction open on every charger, the chargers
send R messages per second in all (MeterValues 60 %, Heartbeat 25 %, StatusNotification 15 %).

    .venv/bin/python bench/load.py --chargers 5000 --duration 120 --url ws://127.0.0.1:8000/ocpp
    .venv/bin/python bench/load.py --chargers 1000 --rate 1000 --duration 60 --processes 2

Identities are f"{prefix}{i:05d}" (BENCH-00001 ...) with idTags f"TAG-{i:05d}", as bench/seed.py creates
them. The client is lean on purpose (raw websockets, one coroutine per charger, no schema checks): it
shares the machine's cores with the server. Latency is measured from just before send() to the reply.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import itertools
import json
import multiprocessing
import random
import resource
import sys
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from report import Sampler, report  # noqa: E402

ACTIONS = (
    "BootNotification",
    "StatusNotification",
    "Heartbeat",
    "StartTransaction",
    "MeterValues",
    "StopTransaction",
)
CALL_TIMEOUT_S = 30.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Metrics:
    """What one worker process saw; merged by the parent."""

    sent_at: array = field(default_factory=lambda: array("d"))  # seconds since the common start
    latency_ms: array = field(default_factory=lambda: array("d"))
    action: array = field(default_factory=lambda: array("b"))
    counters: dict[str, int] = field(default_factory=dict)
    call_errors: dict[str, int] = field(default_factory=dict)
    booted_at: array = field(default_factory=lambda: array("d"))

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


class Charger:
    def __init__(self, number: int, args: argparse.Namespace, metrics: Metrics, t0: float) -> None:
        self.number, self.args, self.metrics, self.t0 = number, args, metrics, t0
        self.identity = f"{args.prefix}{number:05d}"
        self.id_tag = f"TAG-{number:05d}"
        self.rng = random.Random(number)
        self.ws: ClientConnection | None = None
        self.ids = itertools.count(1)
        self.busy = False
        self.transaction_id: int | None = None
        self.meter_wh = self.rng.randint(100_000, 5_000_000)
        self.status = "Available"

    async def open(self) -> bool:
        auth = base64.b64encode(f"{self.identity}:{self.args.password}".encode()).decode()
        try:
            self.ws = await connect(
                f"{self.args.url.rstrip('/')}/{self.identity}",
                subprotocols=[Subprotocol("ocpp1.6")],
                additional_headers={"Authorization": f"Basic {auth}"},
                compression=None,
                proxy=None,
                ping_interval=None,
                open_timeout=60,
                close_timeout=5,
                max_queue=4,
            )
        except InvalidStatus as error:
            self.metrics.count(f"refused_http_{error.response.status_code}")
            return False
        except Exception as error:  # refused, reset, timed out: counted by kind
            self.metrics.count(f"connect_failed_{type(error).__name__}")
            return False
        self.metrics.count("connected")
        return True

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send one CALL and wait for its answer; record the latency. None on a CallError or a failure."""
        assert self.ws is not None
        unique_id = str(next(self.ids))
        self.busy = True
        started = time.perf_counter()
        try:
            await self.ws.send(json.dumps([2, unique_id, action, payload], separators=(",", ":")))
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), CALL_TIMEOUT_S))
        except TimeoutError:
            self.metrics.count("timeouts")
            return None
        finally:
            self.busy = False
        elapsed_ms = (time.perf_counter() - started) * 1000
        m = self.metrics
        m.sent_at.append(started - self.t0)
        m.latency_ms.append(elapsed_ms)
        m.action.append(ACTIONS.index(action))
        if reply[0] == 4:
            key = f"{action}:{reply[2]}"
            m.call_errors[key] = m.call_errors.get(key, 0) + 1
            return None
        return reply[2]

    async def boot(self) -> bool:
        answer = await self.call(
            "BootNotification",
            {
                "chargePointVendor": "Bench",
                "chargePointModel": "Load AC",
                "chargePointSerialNumber": self.identity[-20:],
                "firmwareVersion": "1.0.0",
            },
        )
        if answer is None or answer.get("status") != "Accepted":
            self.metrics.count("boot_not_accepted")
            return False
        for connector_id in range(self.args.connectors + 1):
            await self.status_notification(connector_id, "Available")
        self.metrics.booted_at.append(time.perf_counter() - self.t0)
        return True

    async def status_notification(self, connector_id: int, status: str) -> None:
        await self.call(
            "StatusNotification",
            {"connectorId": connector_id, "errorCode": "NoError", "status": status, "timestamp": now_iso()},
        )

    async def start_transaction(self) -> None:
        await self.status_notification(1, "Preparing")
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": self.id_tag, "meterStart": self.meter_wh, "timestamp": now_iso()},
        )
        if answer is not None:
            self.transaction_id = answer["transactionId"]
            await self.status_notification(1, "Charging")

    async def meter_values(self) -> None:
        self.meter_wh += self.rng.randint(50, 400)
        payload: dict[str, Any] = {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": now_iso(),
                    "sampledValue": [
                        {
                            "value": str(self.meter_wh),
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W"},
                        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
                        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
                        {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
                        {
                            "value": str(self.rng.randint(20, 90)),
                            "measurand": "SoC",
                            "unit": "Percent",
                            "location": "EV",
                        },
                    ],
                }
            ],
        }
        if self.transaction_id is not None:
            payload["transactionId"] = self.transaction_id
        await self.call("MeterValues", payload)

    async def stop_transaction(self) -> None:
        self.meter_wh += self.rng.randint(50, 400)
        await self.call(
            "StopTransaction",
            {
                "transactionId": self.transaction_id,
                "meterStop": self.meter_wh,
                "timestamp": now_iso(),
                "reason": "EVDisconnected",
            },
        )
        self.transaction_id = None
        await self.status_notification(1, "Finishing")
        await self.status_notification(1, "Available")

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", {})

    # --- fleet mode -----------------------------------------------------------------------------------
    async def live(self, end: float) -> None:
        """Heartbeats, and sessions with MeterValues, until `end` (perf_counter seconds)."""
        args, rng = self.args, self.rng
        share = args.session_length / (args.session_length + args.idle_length)
        next_heartbeat = time.perf_counter() + rng.uniform(0, args.heartbeat)
        in_session = rng.random() < share
        if in_session:
            await self.start_transaction()
            change_at = time.perf_counter() + rng.expovariate(1 / args.session_length)
        else:
            change_at = time.perf_counter() + rng.expovariate(1 / args.idle_length)
        next_meter = time.perf_counter() + rng.uniform(0, args.meter_interval)
        while True:
            wake = min(next_heartbeat, change_at, next_meter if in_session else end, end)
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))
            now = time.perf_counter()
            if now >= end:
                return
            if now >= change_at:
                if in_session:
                    await self.stop_transaction()
                    change_at = now + rng.expovariate(1 / args.idle_length)
                else:
                    await self.start_transaction()
                    next_meter = now + args.meter_interval
                    change_at = now + rng.expovariate(1 / args.session_length)
                in_session = not in_session
            elif in_session and now >= next_meter:
                await self.meter_values()
                next_meter += args.meter_interval
            elif now >= next_heartbeat:
                await self.heartbeat()
                next_heartbeat += args.heartbeat


async def run_worker(args: argparse.Namespace, worker: int, t0_wall: float) -> Metrics:
    # The client's own full collections (thousands of sockets) would stall it for hundreds of
    # milliseconds and count as the gateway's latency; a run is short, so its cycles can wait.
    gc.disable()
    metrics = Metrics()
    t0 = time.perf_counter() + (t0_wall - time.time())
    numbers = list(range(args.first + worker, args.first + args.chargers, args.processes))
    chargers = [Charger(n, args, metrics, t0) for n in numbers]
    ramp_s = args.chargers / args.ramp
    end = t0 + ramp_s + args.duration

    async def one(charger: Charger, index: int) -> None:
        await asyncio.sleep(max(0.0, t0 + index / args.ramp - time.perf_counter()))
        if not await charger.open():
            return
        try:
            if not await charger.boot():
                return
            if args.rate:
                await charger.start_transaction()
                await asyncio.sleep(max(0.0, end - time.perf_counter()))
            else:
                await charger.live(end)
        except ConnectionClosed:
            metrics.count("dropped")
        except Exception as error:
            metrics.count(f"failed_{type(error).__name__}")
        finally:
            if args.rate == 0 and charger.transaction_id is not None:
                metrics.count("sessions_open_at_end")
            if charger.ws is not None:
                await charger.ws.close()

    tasks = [asyncio.create_task(one(c, c.number - args.first)) for c in chargers]
    if args.rate:
        await drive_rate(args, chargers, metrics, start=t0 + ramp_s + args.settle, end=end)
    await asyncio.gather(*tasks, return_exceptions=True)
    metrics.count("client_cpu_ms", int(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) * 1000))
    return metrics


async def drive_rate(
    args: argparse.Namespace, chargers: list[Charger], metrics: Metrics, *, start: float, end: float
) -> None:
    """Open loop: fire this worker's share of --rate messages per second at idle chargers."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    rate = args.rate / args.processes
    rng = random.Random(1)
    ring = itertools.cycle(chargers)
    pending: set[asyncio.Task[None]] = set()
    for k in itertools.count():
        due = start + k / rate
        if due >= end:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        for _ in range(len(chargers)):
            charger = next(ring)
            if not charger.busy and charger.ws is not None and charger.transaction_id is not None:
                break
        else:
            metrics.count("rate_slots_missed")  # every charger still waits for an answer
            continue
        kind = rng.random()
        if kind < 0.60:
            coro = charger.meter_values()
        elif kind < 0.85:
            coro = charger.heartbeat()
        else:
            charger.status = "SuspendedEV" if charger.status == "Charging" else "Charging"
            coro = charger.status_notification(1, charger.status)
        charger.busy = True
        task = asyncio.create_task(coro)
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending, return_exceptions=True)


def worker_main(args: argparse.Namespace, worker: int, t0_wall: float, out: Any) -> None:
    raise_fd_limit()
    metrics = asyncio.run(run_worker(args, worker, t0_wall))
    out.send(
        (
            metrics.sent_at.tobytes(),
            metrics.latency_ms.tobytes(),
            metrics.action.tobytes(),
            metrics.counters,
            metrics.call_errors,
            metrics.booted_at.tobytes(),
        )
    )
    out.close()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def merge(parts: list[tuple[Any, ...]]) -> Metrics:
    total = Metrics()
    for sent_at, latency, action, counters, call_errors, booted_at in parts:
        total.sent_at.frombytes(sent_at)
        total.latency_ms.frombytes(latency)
        total.action.frombytes(action)
        total.booted_at.frombytes(booted_at)
        for key, value in counters.items():
            total.count(key, value)
        for key, value in call_errors.items():
            total.call_errors[key] = total.call_errors.get(key, 0) + value
    return total


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--url", default="ws://127.0.0.1:8000/ocpp")
    p.add_argument("--chargers", type=int, default=5000)
    p.add_argument("--first", type=int, default=1, help="number of the first identity (default 1)")
    p.add_argument("--prefix", default="BENCH-")
    p.add_argument("--password", default="bench-password-0001")
    p.add_argument("--connectors", type=int, default=2)
    p.add_argument("--ramp", type=float, default=200.0, help="new connections per second (default 200)")
    p.add_argument(
        "--duration", type=float, default=120.0, help="seconds to run after the ramp (default 120)"
    )
    p.add_argument("--heartbeat", type=float, default=300.0, help="heartbeat interval, s (default 300)")
    p.add_argument("--meter-interval", type=float, default=60.0, help="MeterValues interval in a session, s")
    p.add_argument("--session-length", type=float, default=1800.0, help="mean session length, s")
    p.add_argument("--idle-length", type=float, default=1800.0, help="mean time between sessions, s")
    p.add_argument("--rate", type=float, default=0.0, help="rate mode: total messages per second")
    p.add_argument("--settle", type=float, default=5.0, help="rate mode: pause after the ramp, s")
    p.add_argument("--processes", type=int, default=1, help="client processes (default 1)")
    p.add_argument("--server-pid", type=int, default=0, help="daphne's pid: report its CPU and memory")
    p.add_argument("--json", default="", help="also write the report as JSON to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_fd_limit()
    t0_wall = time.time() + 1.0
    sampler = Sampler(args.server_pid, t0_wall)
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for worker in range(args.processes):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=worker_main, args=(args, worker, t0_wall, sender))
        process.start()
        pipes.append(receiver)
        processes.append(process)
    sampler.client_pids = [process.pid for process in processes if process.pid]
    sampler.start()
    parts = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join()
    sampler.stop()
    report(args, merge(parts), sampler, ACTIONS)


if __name__ == "__main__":
    main()
