"""One connector's life: idle, a driver arrives, Preparing, Authorize, the transaction starts, Charging with
meter values, the transaction ends, Finishing, Available again (the charger's dialect words each message).

While charging, the car follows the charging profiles (smart_charging): the connector re-plans at every
sample and whenever a profile's limit changes, and reports SuspendedEVSE when the charger's limit pauses
the car, SuspendedEV when the battery is full, Charging again when energy flows.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stations.simulator.link import CallErrorReceived
from stations.simulator.meter import Ev, Meter
from stations.simulator.smart_charging import Profile, ProfileRefused

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

# How long a driver takes to unplug after the transaction ends.
UNPLUG_S = (1.0, 3.0)
CHARGING_STATES = ("Charging", "SuspendedEV", "SuspendedEVSE")


class Connector:
    """A plug with its meter; `run()` alternates idle pauses and sessions while the charger runs."""

    def __init__(self, charger: SimulatedCharger, connector_id: int, meter: Meter) -> None:
        self.charger, self.connector_id, self.meter = charger, connector_id, meter
        self.status = "Available"
        self.operative = True
        self.inoperative_scheduled = False  # ChangeAvailability answered Scheduled: applies after the session
        self.busy = False  # from Preparing until the plug is free again
        self.claimed_by: str | None = None  # idTag of an accepted RemoteStartTransaction not yet begun
        self.claimed_profile: Profile | None = None  # the TxProfile that remote start brought
        self.transaction_id: int | str | None = None  # ours (1.6) or the charger's (2.0.1)
        self.transaction_started_at: datetime | None = None
        self.id_tag: str | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._nudge = asyncio.Event()  # a stop, or a new limit that changes the charging state
        self._stop_reason = "Other"

    @property
    def free(self) -> bool:
        return self.operative and not self.busy and self.claimed_by is None

    def claim(self, id_tag: str, profile: Profile | None = None) -> None:
        """Reserve the connector for a remote start; `wake()` begins it once the answer is sent."""
        self.claimed_by, self.claimed_profile = id_tag, profile

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self, reason: str) -> bool:
        """Ask the running session to end with this StopTransaction reason; False when there is none."""
        if not self.busy:
            return False
        self._stop_reason = reason
        self._stop.set()
        self._nudge.set()
        return True

    def charging_state(self) -> str:
        """Charging, or why not: the charger offers nothing (SuspendedEVSE) or the car takes nothing."""
        ev = self.meter.ev
        if self.meter.offered_w == 0:
            return "SuspendedEVSE"
        return "Charging" if ev is not None and ev.accepted_power_w() > 0 else "SuspendedEV"

    def follow_limit(self) -> None:
        """Wake the charging loop when the charger's new offer changes the charging state."""
        if self.status in CHARGING_STATES and self.charging_state() != self.status:
            self._nudge.set()

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
                self._transaction_ended()
                self.meter.unplug()
                self.charger.rebalance()
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
            free_tag = charger.tags.acquire(charger.rng)
            if free_tag is not None:
                self.claimed_profile = None  # only a remote start brings a profile
                return free_tag, False
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
        self.transaction_started_at = datetime.now(UTC)
        self._install_start_profile()
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
            charger.rebalance()
            await self.report(self.charging_state())
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
        self._transaction_ended()
        charger.rebalance()  # no energy after the transaction; the other cars may take its share
        await self.report("Finishing")
        await asyncio.sleep(charger.rng.uniform(*UNPLUG_S) if reason not in ("SoftReset", "HardReset") else 0)
        self.meter.unplug()
        if self.inoperative_scheduled:
            self.operative, self.inoperative_scheduled = False, False
            await self.report("Unavailable")
        else:
            await self.report("Available")

    def _install_start_profile(self) -> None:
        profile, self.claimed_profile = self.claimed_profile, None
        if profile is None:
            return
        charger = self.charger
        try:
            transaction_profile = replace(profile, transaction_id=self.transaction_id)
            charger.profiles.install(transaction_profile, version=charger.dialect.version)
        except ProfileRefused as refusal:
            charger.log.warning(
                "connector %d: remote start's profile not kept: %s", self.connector_id, refusal
            )

    def _transaction_ended(self) -> None:
        self.charger.profiles.transaction_ended(self.connector_id)  # its TxProfiles go with it
        self.transaction_id = self.id_tag = self.transaction_started_at = None

    def _seconds_to_next_limit(self) -> float | None:
        assert self.transaction_started_at is not None
        now = datetime.now(UTC)
        change = self.charger.profiles.next_change(self.connector_id, now, self.transaction_started_at)
        return None if change is None else (change - now).total_seconds() + 0.01

    async def _charge(self, deadline: float) -> str:
        """Send MeterValues every MeterValueSampleInterval until the driver leaves or a stop is asked;
        follow the charging profiles' limits meanwhile."""
        charger = self.charger
        next_sample = time.monotonic() + charger.config.integer("MeterValueSampleInterval")
        while True:
            interval = charger.config.integer("MeterValueSampleInterval")
            wake_at = min(deadline, next_sample) if interval else deadline
            if (to_next_limit := self._seconds_to_next_limit()) is not None:
                wake_at = min(wake_at, time.monotonic() + to_next_limit)
            try:
                await asyncio.wait_for(self._nudge.wait(), max(wake_at - time.monotonic(), 0))
            except TimeoutError:
                pass
            self._nudge.clear()
            if self._stop.is_set():
                return self._stop_reason
            now = time.monotonic()
            if now >= deadline:
                return charger.rng.choice(("Local", "EVDisconnected"))
            charger.rebalance()
            await self._report_charging_state()
            if interval and now >= next_sample:
                next_sample = max(next_sample + interval, now)
                await self.send_meter_values("Sample.Periodic")
                await self._report_charging_state()  # e.g. the battery is full

    async def _report_charging_state(self) -> None:
        state = self.charging_state()
        if self.status in CHARGING_STATES and state != self.status:
            await self.charger.dialect.charging_state_changed(self, state)

    async def send_meter_values(self, context: str) -> None:
        meter_value = self.meter.meter_value(self.charger.config.csl("MeterValuesSampledData"), context)
        await self.charger.dialect.meter_values(self, meter_value)
        self.charger.stats.meter_values += 1

    async def _stop_transaction(self, reason: str, begin: dict[str, Any]) -> int:
        end = self.meter.meter_value(self.charger.config.csl("StopTxnSampledData"), "Transaction.End")
        await self.charger.dialect.stop(self, reason, begin, end)
        return self.meter.register_wh
