"""A simulated OCPP charger (1.6J or 2.0.1): connect, boot, heartbeat, report status, run sessions."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from stations.simulator import handlers
from stations.simulator.configuration import Configuration
from stations.simulator.connector import Connector
from stations.simulator.dialects import FIRMWARE, VENDOR, dialect_for
from stations.simulator.drivers import Stats, TagPool
from stations.simulator.link import (
    Answer,
    CallErrorReceived,
    CallTimeout,
    LinkClosed,
    OcppLink,
    Offline,
    Socket,
)
from stations.simulator.local_list import LocalAuthList
from stations.simulator.meter import Meter
from stations.simulator.smart_charging import Car, ProfileStore, offers

logger = logging.getLogger("stations.simulator")

# Used when the CSMS answers a boot with interval 0, which leaves the choice to the charger.
DEFAULT_INTERVAL_S = 60
MAX_BACKOFF_S = 60.0

Opener = Callable[[], AbstractAsyncContextManager[Socket]]


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> list[Any]:
    """Cancel the tasks and wait for them all. Cancel again while any still runs: Python 3.11's
    wait_for swallows a cancellation that arrives as its awaitable finishes (seen as a simulator that
    did not stop, once in several loaded test runs)."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
    return [task.exception() if not task.cancelled() and task.exception() else None for task in tasks]


class _Prefixed(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"{self.extra['identity']}: {msg}" if self.extra else msg, kwargs


@dataclass(frozen=True)
class ChargerOptions:
    url: str
    password: str
    connectors: int = 2
    meter_interval_s: int = 60
    session_every_s: float = 120.0  # mean idle time of a connector between sessions
    session_length_s: float = 600.0  # mean session length
    call_timeout_s: float = 30.0
    strict: bool = False  # check every payload both ways against the schemas of its version
    ocpp: str = "1.6"  # or "2.0.1"


def websocket_opener(
    url: str, identity: str, password: str, ping_interval_s: float | None, subprotocol: str = "ocpp1.6"
) -> Opener:
    """Open a real WebSocket with HTTP Basic auth (security profile 1) offering one subprotocol."""
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()

    def opener() -> AbstractAsyncContextManager[Socket]:
        return connect(  # type: ignore[return-value]
            f"{url.rstrip('/')}/{quote(identity, safe='')}",
            subprotocols=[Subprotocol(subprotocol)],
            additional_headers={"Authorization": f"Basic {token}"},
            compression=None,
            proxy=None,
            open_timeout=10,
            ping_interval=ping_interval_s,
            user_agent_header=f"{VENDOR}/{FIRMWARE}",
        )

    return opener


class SimulatedCharger:
    def __init__(
        self,
        identity: str,
        options: ChargerOptions,
        *,
        tags: TagPool,
        stats: Stats | None = None,
        rng: random.Random | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.identity, self.options, self.tags = identity, options, tags
        self.stats = stats or Stats()
        self.rng = rng or random.Random(identity)
        self.log = _Prefixed(logger, {"identity": identity})
        self.config = Configuration(
            connectors=options.connectors,
            heartbeat_interval_s=DEFAULT_INTERVAL_S,
            meter_interval_s=options.meter_interval_s,
        )
        self.dialect = dialect_for(options.ocpp)
        self.opener = opener or websocket_opener(
            options.url,
            identity,
            options.password,
            self.config.integer("WebSocketPingInterval") or None,
            self.dialect.subprotocol,
        )
        self.connectors = {
            n: Connector(self, n, Meter.installed(self.rng)) for n in range(1, options.connectors + 1)
        }
        self.operative = True
        self.draining = False  # shutting down or resetting: no new sessions
        self.registration = ""
        self.diagnostics_status = self.firmware_status = "Idle"
        self.firmware_version = FIRMWARE  # an update installs another (kept across reboots)
        self.boot_reason = "PowerUp"  # of the next BootNotification (2.0.1; 1.6 has no reason)
        self.firmware_image: bytes | None = None
        self.local_list = LocalAuthList()  # kept across reconnections and resets, as in flash memory
        self.profiles = ProfileStore(  # likewise
            connectors=options.connectors, max_profiles=self.config.integer("MaxChargingProfilesInstalled")
        )
        self.link: OcppLink | None = None
        self.online = asyncio.Event()  # connected and accepted: every message may be sent
        self.interval_changed = asyncio.Event()
        self._boot_now = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connector_tasks: list[asyncio.Task[None]] = []

    # --- timing of the drivers ---------------------------------------------------------------------
    def pause_s(self) -> float:
        return self.rng.uniform(0.5, 1.5) * self.options.session_every_s

    def session_length_s(self) -> float:
        return self.rng.uniform(0.5, 1.5) * self.options.session_length_s

    # --- smart charging ------------------------------------------------------------------------------
    def rebalance(self) -> None:
        """Offer each car in a transaction what the charging profiles allow now (none outside one), and
        nudge the connectors whose charging state this changes, to report it."""
        now = datetime.now(UTC)
        cars = {
            n: Car(
                phases=c.meter.ev.phases,
                accepted_w=c.meter.ev.accepted_power_w(),
                tx_start=c.transaction_started_at or now,
                transaction_id=c.transaction_id,
            )
            for n, c in self.connectors.items()
            if c.meter.ev is not None and c.transaction_id is not None
        }
        offered = offers(self.profiles, cars, now)
        for n, connector in self.connectors.items():
            if n in offered:
                connector.meter.offer(offered[n].power_w, offered[n].phases)
            else:
                connector.meter.offer(0.0 if connector.meter.ev is not None else None)
            connector.follow_limit()

    # --- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, boot and operate until stop(); after a drop, reconnect with exponential backoff."""
        failures = 0
        while not self._stopping.is_set():
            self._reconnect.clear()
            try:
                async with self.opener() as socket:
                    failures = 0
                    await self._connected(socket)
            except InvalidStatus as error:
                self.log.warning("handshake refused with HTTP %s", error.response.status_code)
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                self.log.warning("cannot connect: %s", error or type(error).__name__)
            if self._stopping.is_set():
                break
            if self._reconnect.is_set():
                continue  # a reset: reboot at once
            failures += 1
            delay = min(MAX_BACKOFF_S, 2.0 ** min(failures - 1, 6)) * self.rng.uniform(0.5, 1.0)
            self.log.info("reconnecting in %.1f s", delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        await self._stop_connectors()
        await cancel_all(list(self._tasks))

    async def stop(self, *, timeout_s: float = 10.0) -> None:
        """Power down gracefully: end running transactions (reason Local), then close the socket."""
        self.draining = True
        if self.online.is_set():
            await self.stop_sessions("Local", timeout_s=timeout_s)
        self._stopping.set()

    def halt(self) -> None:
        """Close the connection now, whatever runs."""
        self._stopping.set()

    async def reset(self, kind: str) -> None:
        """Carry out an accepted Reset: end transactions (SoftReset/HardReset), reconnect and reboot."""
        self.log.info("%s reset: ending transactions and rebooting", kind.lower())
        self.draining = True
        await self.stop_sessions("SoftReset" if kind == "Soft" else "HardReset")
        await self._stop_connectors()
        self._reconnect.set()

    async def stop_sessions(self, reason: str, *, timeout_s: float = 30.0) -> None:
        busy = [c for c in self.connectors.values() if c.request_stop(reason)]
        if busy:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.idle.wait() for c in busy)), timeout_s)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _stop_connectors(self) -> None:
        await cancel_all(self._connector_tasks)
        self._connector_tasks = []
        for connector in self.connectors.values():
            connector.meter.unplug()
            connector.transaction_id, connector.claimed_by, connector.busy = None, None, False
            connector.transaction_started_at = None
            self.profiles.transaction_ended(connector.connector_id)
            connector.status = "Available" if connector.operative else "Unavailable"
            connector.idle.set()

    async def _connected(self, socket: Socket) -> None:
        subprotocol = self.dialect.subprotocol
        if getattr(socket, "subprotocol", subprotocol) != subprotocol:
            self.log.error("the CSMS did not accept the %s subprotocol", subprotocol)
            return
        self.stats.connections += 1
        self.log.info("connected to %s", self.options.url)
        link = OcppLink(
            socket,
            self._answer,
            spawn=self.spawn,
            timeout_s=self.options.call_timeout_s,
            log=self.log,
            strict=self.options.strict,
            on_protocol_error=self.stats.protocol_error,
            version=self.dialect.version,
        )
        self.link = link
        watched = [
            asyncio.create_task(c)
            for c in (link.serve(), self._operate(link), self._reconnect.wait(), self._stopping.wait())
        ]
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.online.clear()
            results = await cancel_all(watched)
        failure = next((r for r in results if isinstance(r, Exception)), None)
        if isinstance(failure, (LinkClosed, CallTimeout, ConnectionClosed)):
            self.log.warning("connection lost: %s", failure)
        elif failure is not None:
            self.log.error("stopped operating: %r", failure, exc_info=failure)
        else:
            self.log.info("disconnected")

    async def _operate(self, link: OcppLink) -> None:
        await self._boot(link)
        self.draining = self._stopping.is_set()
        self.online.set()
        for connector_id in (0, *self.connectors):
            await self.notify_status(connector_id)
        if not self._connector_tasks:
            self._connector_tasks = [self.spawn(c.run()) for c in self.connectors.values()]
        await self._heartbeats()

    async def _boot(self, link: OcppLink) -> None:
        while True:
            answer = await link.call("BootNotification", self.boot_payload())
            if self.apply_boot(answer):
                return
            self._boot_now.clear()
            with suppress(TimeoutError):  # Pending/Rejected: boot again after `interval` (or when triggered)
                await asyncio.wait_for(self._boot_now.wait(), answer["interval"] or DEFAULT_INTERVAL_S)

    def boot_now(self) -> None:
        """Make a Pending charger boot again now rather than after the interval (TriggerMessage)."""
        self._boot_now.set()

    def boot_payload(self) -> dict[str, Any]:
        return self.dialect.boot_payload(
            self.identity, firmware_version=self.firmware_version, reason=self.boot_reason
        )

    def apply_boot(self, answer: dict[str, Any]) -> bool:
        """Take the CSMS's registration status and interval; tell whether the charger is accepted."""
        self.registration = answer["status"]
        self.stats.boots += 1
        self.log.info("boot %s, interval %s s", answer["status"], answer["interval"])
        if answer["status"] != "Accepted":
            return False
        self.boot_reason = "PowerUp"  # the reboot's reason is told; later reconnections boot as before
        if answer["interval"] > 0:
            self.config.keys["HeartbeatInterval"].value = str(answer["interval"])
            self.interval_changed.set()
        return True

    async def _heartbeats(self) -> None:
        while True:
            self.interval_changed.clear()
            interval = self.config.integer("HeartbeatInterval")
            try:  # 0 turns heartbeats off; a ChangeConfiguration restarts the wait
                await asyncio.wait_for(self.interval_changed.wait(), interval or None)
                continue
            except TimeoutError:
                pass
            try:
                await self.call("Heartbeat", {})
                self.stats.heartbeats += 1
            except CallErrorReceived as error:
                self.log.warning("heartbeat answered with %s", error)

    # --- messages -----------------------------------------------------------------------------------
    async def call(self, action: str, payload: dict[str, Any], *, persistent: bool = False) -> dict[str, Any]:
        """Send a call once accepted. Persistent ones (transaction messages) wait out disconnections."""
        while True:
            if not self.online.is_set():
                if not persistent:
                    raise Offline(action)
                await self.online.wait()
            link = self.link
            assert link is not None
            try:
                return await link.call(action, payload)
            except (LinkClosed, CallTimeout):
                if not persistent:
                    raise
                self.log.info("%s not answered; sending it again once reconnected", action)
                if not link.closed:
                    await asyncio.sleep(self.config.integer("TransactionMessageRetryInterval"))

    async def notify_status(self, connector_id: int, status: str | None = None) -> None:
        """Report a connector's status (0: the charger); when offline the next boot reports it instead."""
        if status is None:
            status = (
                self.connectors[connector_id].status
                if connector_id
                else ("Available" if self.operative else "Unavailable")
            )
        payload = self.dialect.status_payload(connector_id, status)
        if payload is None:
            return
        try:
            await self.call("StatusNotification", payload)
        except (Offline, LinkClosed, CallTimeout):
            self.log.debug("status %s of connector %d not sent: offline", status, connector_id)
        else:
            self.log.debug("connector %d: %s", connector_id, status)

    async def _answer(self, action: str, payload: dict[str, Any]) -> Answer:
        answer = await handlers.answer(self, action, payload)
        self.stats.calls_answered += 1
        self.log.info("answered %s %s: %s", action, payload, answer.payload)
        return answer
