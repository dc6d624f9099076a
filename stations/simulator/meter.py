"""A connector's energy meter and the EV plugged into it: power, phase currents, voltage, state of charge.

The car draws what it accepts, but no more than the charger offers it (`Meter.offer`, from the charging
profiles): Current.Import per phase and Power.Active.Import show what it draws, Current.Offered and
Power.Offered what the charger allows.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PHASES = ("L1", "L2", "L3")
NOMINAL_VOLTAGE_V = 230
MAX_CURRENT_A = 32
SUPPORTED_MEASURANDS = frozenset(
    {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
        "Current.Offered",
        "Power.Offered",
        "Voltage",
        "SoC",
    }
)


def timestamp(at: datetime | None = None) -> str:
    """Format an OCPP dateTime in UTC with milliseconds."""
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Ev:
    """The car of one session: what it accepts and how full it is."""

    capacity_wh: int
    max_power_w: int
    soc_mwh: int  # energy in the battery, in mWh, so that the integer arithmetic keeps fractions of a Wh

    @classmethod
    def arriving(cls, rng: random.Random) -> Ev:
        capacity_wh = rng.choice((40_000, 58_000, 77_000, 100_000))
        max_power_w = rng.choice((7_400, 11_000, 22_000))  # 1-phase 32 A, 3-phase 16 A, 3-phase 32 A
        return cls(capacity_wh, max_power_w, capacity_wh * rng.randint(10, 60) * 10)

    @property
    def phases(self) -> int:
        return 3 if self.max_power_w > 7_400 else 1

    @property
    def soc_percent(self) -> int:
        return min(100, self.soc_mwh // (self.capacity_wh * 10))

    def accepted_power_w(self) -> int:
        """Full power up to 80 %, then tapering to nothing at 100 %, as lithium cells charge."""
        soc = self.soc_mwh / (self.capacity_wh * 1000)
        if soc >= 1:
            return 0
        return self.max_power_w if soc < 0.8 else int(self.max_power_w * (1 - soc) / 0.2)


@dataclass
class Meter:
    """An Energy.Active.Import.Register that only ever rises, fed by whatever EV is charging."""

    register_mwh: int
    voltage_v: int = NOMINAL_VOLTAGE_V
    ev: Ev | None = None
    power_w: int = 0
    offered_w: float | None = None  # None: whatever the car takes, up to the hardware's 32 A
    offered_phases: int = 3
    _updated: float = field(default_factory=time.monotonic)

    @classmethod
    def installed(cls, rng: random.Random) -> Meter:
        return cls(register_mwh=rng.randint(100_000, 5_000_000) * 1000)

    @property
    def register_wh(self) -> int:
        return self.register_mwh // 1000

    def plug(self, ev: Ev) -> None:
        self.advance()
        self.ev = ev
        self.power_w = self._drawn_w()

    def unplug(self) -> None:
        self.advance()
        self.ev, self.power_w = None, 0

    def offer(self, power_w: float | None, phases: int = 3) -> None:
        """Limit what the car may draw from now on (0 pauses it; None lifts the limit)."""
        self.advance()
        self.offered_w, self.offered_phases = power_w, phases
        self.power_w = self._drawn_w()

    def _drawn_w(self) -> int:
        if self.ev is None:
            return 0
        accepted = self.ev.accepted_power_w()
        return accepted if self.offered_w is None else min(accepted, int(self.offered_w))

    def advance(self) -> None:
        """Account for the energy delivered since the last call, at the power drawn meanwhile."""
        now = time.monotonic()
        delivered_mwh = int(self.power_w * (now - self._updated) * 1000 / 3600)
        self._updated = now
        self.register_mwh += delivered_mwh
        if self.ev is not None:
            self.ev.soc_mwh = min(self.ev.soc_mwh + delivered_mwh, self.ev.capacity_wh * 1000)
            self.power_w = self._drawn_w()

    def phases(self) -> tuple[str, ...]:
        """The phases the car draws on: its own, fewer when the charging profile says so."""
        if self.ev is None:
            return PHASES
        return PHASES[: min(self.ev.phases, self.offered_phases)]

    def offered_current_a(self) -> float:
        if self.offered_w is None:
            return MAX_CURRENT_A
        return min(self.offered_w / (NOMINAL_VOLTAGE_V * len(self.phases())), MAX_CURRENT_A)

    def sampled_values(self, measurands: list[str], context: str) -> list[dict[str, Any]]:
        """Return 1.6 sampledValue entries for the measurands asked for (MeterValuesSampledData)."""
        self.advance()
        phases = self.phases()
        current_a = self.power_w / (NOMINAL_VOLTAGE_V * len(phases))
        values: list[dict[str, Any]] = []

        def add(measurand: str, value: str, unit: str, **extra: str) -> None:
            values.append(
                {
                    "value": value,
                    "context": context,
                    "format": "Raw",
                    "measurand": measurand,
                    "location": extra.pop("location", "Outlet"),
                    "unit": unit,
                    **extra,
                }
            )

        for measurand in measurands:
            if measurand == "Energy.Active.Import.Register":
                add(measurand, str(self.register_wh), "Wh")
            elif measurand == "Power.Active.Import":
                add(measurand, str(self.power_w), "W")
            elif measurand == "Current.Import":
                for phase in phases:
                    add(measurand, f"{current_a:.1f}", "A", phase=phase)
            elif measurand == "Current.Offered":
                add(measurand, f"{self.offered_current_a():.1f}", "A")
            elif measurand == "Power.Offered":
                offered_w = self.offered_current_a() * NOMINAL_VOLTAGE_V * len(phases)
                add(measurand, str(int(offered_w)), "W")
            elif measurand == "Voltage":
                for phase in phases:
                    add(measurand, str(self.voltage_v), "V", phase=f"{phase}-N")
            elif measurand == "SoC" and self.ev is not None:
                add(measurand, str(self.ev.soc_percent), "Percent", location="EV")
        return values

    def meter_value(self, measurands: list[str], context: str) -> dict[str, Any]:
        """One 1.6 MeterValue: a timestamp and its samples."""
        return {"timestamp": timestamp(), "sampledValue": self.sampled_values(measurands, context)}
