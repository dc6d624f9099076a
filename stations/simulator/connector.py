"""One connector's life: idle, a driver arrives, Preparing, Authorize, the transaction starts, Charging with
meter values, the transaction ends, Finishing, Available again (the charger's dialect words each message)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from stations.simulator.link import CallErrorReceived
from stations.simulator.meter import Ev, Meter

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

# How long a driver takes to unplug after the transaction ends.
UNPLUG_S = (1.0, 3.0)


class Connector:
    """A plug with its meter; `run()` alternates idle pauses and sessions while the charger runs."""

    def __init__(self, charger: SimulatedCharger, connector_id: int, meter: Meter) -> None:
        self.charger, self.connector_id, self.meter = charger, connector_id, meter
        self.status = "Available"
        self.operative = True
        self.inoperative_scheduled = False  # ChangeAvailability answered Scheduled: applies after the session
        self.busy = False  # from Preparing until the plug is free again
        self.claimed_by: str | None = None  # idTag of an accepted RemoteStartTransaction not yet begun
        self.transaction_id: int | str | None = None  # ours (1.6) or the charger's (2.0.1)
        self.id_tag: str | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._stop_reason = "Other"

    @property
    def free(self) -> bool:
        return self.operative and not self.busy and self.claimed_by is None

    def claim(self, id_tag: str) -> None:
        """Reserve the connector for a remote start; `wake()` begins it once the answer is sent."""
        self.claimed_by = id_tag

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self, reason: str) -> bool:
        """Ask the running session to end with this StopTransaction reason; False when there is none."""
        if not self.busy:
            return False
        self._stop_reason = reason
        self._stop.set()
        return True

    async def report(self, status: str) -> None:
        """Send a StatusNotification; while offline, the next boot reports the current status instead."""
        self.status = status
        await self.charger.notify_status(self.connector_id, status)

    # --- the session loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            id_tag, remote = await self._next_driver()
            self.busy = True
            self.idle.clear()
            self._stop.clear()
            try:
                await self._session(id_tag, remote=remote)
            except Exception as error:
                if isinstance(error, CallErrorReceived):
                    self.charger.stats.call_errors += 1
                    self.charger.log.error(
                        "connector %d: session aborted, the CSMS answered %s", self.connector_id, error
                    )
                else:  # e.g. an answer without a field the simulator needs: end the session, carry on
                    self.charger.log.exception("connector %d: session aborted", self.connector_id)
                self.meter.unplug()
                self.transaction_id = self.id_tag = None
                await self.report("Available")
            finally:
                if not remote:
                    self.charger.tags.release(id_tag)
                self.busy = False
                self.idle.set()

    async def _next_driver(self) -> tuple[str, bool]:
        """Wait for a remote start, or for a driver with a free tag after an idle pause."""
        charger = self.charger
        while True:
            if self.claimed_by is not None:
                id_tag, self.claimed_by = self.claimed_by, None
                return id_tag, True
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), charger.pause_s())
                continue  # a remote start or an availability change
            except TimeoutError:
                pass
            if (
                not self.operative
                or self.claimed_by is not None
                or charger.draining
                or not charger.online.is_set()
            ):
                continue
            id_tag = charger.tags.acquire(charger.rng)
            if id_tag is not None:
                return id_tag, False
            charger.log.debug("connector %d: every id tag is charging elsewhere", self.connector_id)

    async def _session(self, id_tag: str, *, remote: bool) -> None:
        charger, n = self.charger, self.connector_id
        await self.report("Preparing")
        if not remote or charger.config.flag("AuthorizeRemoteTxRequests"):
            authorized = await charger.dialect.authorize(charger, id_tag)
            if authorized != "Accepted":
                charger.log.info("connector %d: %s not authorized (%s)", n, id_tag, authorized)
                charger.stats.refused += 1
                await self.report("Available")
                return
        begin = self.meter.meter_value(charger.config.csl("StopTxnSampledData"), "Transaction.Begin")
        meter_start_wh = self.meter.register_wh
        transaction_id, status = await charger.dialect.start(self, id_tag, begin)
        self.transaction_id, self.id_tag = transaction_id, id_tag
        charger.stats.sessions_started += 1
        charger.log.info(
            "connector %d: transaction %s started for %s%s (%s)",
            n,
            self.transaction_id,
            id_tag,
            " (remote)" if remote else "",
            status,
        )
        reason = None
        if status != "Accepted" and charger.config.flag("StopTransactionOnInvalidId"):
            reason = "DeAuthorized"
        elif self._stop.is_set():
            reason = self._stop_reason  # a reset or a remote stop arrived while starting
        else:
            self.meter.plug(Ev.arriving(charger.rng))
            await self.report("Charging")
            await charger.dialect.charging_started(self)
            reason = await self._charge(time.monotonic() + charger.session_length_s())
        meter_stop_wh = await self._stop_transaction(reason, begin)
        charger.stats.sessions_stopped += 1
        charger.log.info(
            "connector %d: transaction %s stopped (%s), %d Wh",
            n,
            self.transaction_id,
            reason,
            meter_stop_wh - meter_start_wh,
        )
        self.transaction_id = self.id_tag = None
        await self.report("Finishing")
        await asyncio.sleep(charger.rng.uniform(*UNPLUG_S) if reason not in ("SoftReset", "HardReset") else 0)
        self.meter.unplug()
        if self.inoperative_scheduled:
            self.operative, self.inoperative_scheduled = False, False
            await self.report("Unavailable")
        else:
            await self.report("Available")

    async def _charge(self, deadline: float) -> str:
        """Send MeterValues every MeterValueSampleInterval until the driver leaves or a stop is asked."""
        charger = self.charger
        next_sample = time.monotonic() + charger.config.integer("MeterValueSampleInterval")
        while True:
            interval = charger.config.integer("MeterValueSampleInterval")
            wake_at = min(deadline, next_sample) if interval else deadline
            try:
                await asyncio.wait_for(self._stop.wait(), max(wake_at - time.monotonic(), 0))
                return self._stop_reason
            except TimeoutError:
                pass
            now = time.monotonic()
            if now >= deadline:
                return charger.rng.choice(("Local", "EVDisconnected"))
            if interval and now >= next_sample:
                next_sample = max(next_sample + interval, now)
                await self.send_meter_values("Sample.Periodic")
                if self.meter.power_w == 0 and self.status == "Charging":
                    await self.report("SuspendedEV")  # the battery is full

    async def send_meter_values(self, context: str) -> None:
        meter_value = self.meter.meter_value(self.charger.config.csl("MeterValuesSampledData"), context)
        await self.charger.dialect.meter_values(self, meter_value)
        self.charger.stats.meter_values += 1

    async def _stop_transaction(self, reason: str, begin: dict[str, Any]) -> int:
        end = self.meter.meter_value(self.charger.config.csl("StopTxnSampledData"), "Transaction.End")
        await self.charger.dialect.stop(self, reason, begin, end)
        return self.meter.register_wh
