"""Turn the energy the flow gives each vehicle in one interval into charging runs that respect min power and
keep the sum of powers within the interval's capacity at every instant.

A vehicle whose average power in the interval is at least its min power runs steadily at that average
(rounded down to the W: floor(avg) <= max, and the floors sum to <= capacity). The others ("blocks") run at
exactly their min power for part of the interval. Blocks are packed into lanes, tallest first: a lane is as
tall as its first block and holds blocks one after another; a block that overruns the lane's end wraps to the
start of a new lane (its two pieces cannot overlap in time because a block is never longer than the
interval). At any instant at most one block per lane runs and no block is taller than its lane, so blocks
never draw more than the sum of lane heights, which is kept within what the steady runs leave. A block that
does not fit is refused; the caller plans its energy elsewhere.

Energy can be added in rounds: a steady vehicle's run grows, a new vehicle runs steadily or as a block in
new lanes; earlier blocks and lanes stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from energy.scheduling_flow import US_PER_HOUR, Interval, Load, ceil_div


@dataclass(frozen=True)
class Run:
    """Vehicle `load` charging at `power_w` from `start_us` to `end_us`."""

    load: int
    start_us: int
    end_us: int
    power_w: int


class IntervalPlan:
    """What runs in one interval so far."""

    def __init__(self, interval: Interval) -> None:
        self.interval = interval
        self.steady_wh: dict[int, int] = {}
        self.steady_total_wh = 0
        self.block_wh: dict[int, int] = {}
        self.block_runs: list[Run] = []
        self.refused: set[int] = set()  # blocks that did not fit: not offered this interval again
        self.lanes_w = 0

    def room_wh(self) -> int:
        """Energy still free for steady runs and new blocks."""
        free_w = self.interval.capacity_w - self.lanes_w
        return max(0, self.interval.energy_wh(free_w) - self.steady_total_wh)

    def offer_wh(self, i: int, load: Load) -> int:
        """The most vehicle i may be offered here: what its steady run can grow by, or a new run when the
        free power could hold its min power."""
        if i in self.block_wh or i in self.refused or not load.present(self.interval):
            return 0
        cap = self.interval.energy_wh(load.max_w)
        if i in self.steady_wh:
            return cap - self.steady_wh[i]
        steady_w = ceil_div(self.steady_total_wh * US_PER_HOUR, self.interval.duration_us)
        return cap if self.interval.capacity_w - self.lanes_w - steady_w >= max(load.min_w, 1) else 0

    def add(self, energy_wh: Mapping[int, int], loads: Sequence[Load]) -> list[int]:
        """Add the energy per vehicle; return the vehicles whose block was refused (energy not added)."""
        interval = self.interval
        blocks: list[tuple[int, int, int]] = []  # (height W, width us, vehicle)
        for i, wh in sorted(energy_wh.items()):
            min_w = max(loads[i].min_w, 1)  # a run below 1 W would round to nothing
            if i in self.steady_wh or interval.reaches(wh, min_w):
                self.steady_wh[i] = self.steady_wh.get(i, 0) + wh
                self.steady_total_wh += wh
            elif wh > 0:
                blocks.append((min_w, ceil_div(wh * US_PER_HOUR, min_w), i))
        headroom = interval.capacity_w - self.lanes_w - sum(power for _, power in self._steady_powers())
        duration, start = interval.duration_us, interval.start_us
        position = duration  # no lane open yet: as if the last one were full
        refused: list[int] = []
        for height, width, i in sorted(blocks, key=lambda block: (-block[0], block[2])):
            if position + width <= duration:
                self.block_runs.append(Run(i, start + position, start + position + width, height))
                position += width
            elif height <= headroom:  # open a lane; the block wraps into it if it overruns the current one
                headroom -= height
                self.lanes_w += height
                if position < duration:
                    self.block_runs.append(Run(i, start + position, interval.end_us, height))
                    width -= duration - position
                self.block_runs.append(Run(i, start, start + width, height))
                position = width
            else:
                refused.append(i)
                self.refused.add(i)
                continue
            self.block_wh[i] = energy_wh[i]
        return refused

    def energy_wh(self) -> dict[int, int]:
        return {**self.steady_wh, **self.block_wh}

    def runs(self) -> list[Run]:
        steady = [
            Run(i, self.interval.start_us, self.interval.end_us, power) for i, power in self._steady_powers()
        ]
        return steady + self.block_runs

    def _steady_powers(self) -> list[tuple[int, int]]:
        duration = self.interval.duration_us
        return [(i, wh * US_PER_HOUR // duration) for i, wh in sorted(self.steady_wh.items())]


def swap_refused(
    energy: dict[int, dict[int, int]], intervals: Sequence[Interval], loads: Sequence[Load]
) -> None:
    """Rearrange a plan's energy (Wh per interval, then per vehicle) so that blocks that would be refused
    run steadily instead, by exchanges that change no cost and no vehicle's total.

    The typical case: a cheap interval filled by vehicles at max power leaves a remainder below the next
    vehicle's min power. Vehicle v then takes its min power there from a steady vehicle u, which takes the
    same energy from v in another interval j they share: both intervals keep their energy and price.
    """
    for k in sorted(energy):
        for v in _refused(intervals[k], energy[k], loads):
            _swap(v, k, energy, intervals, loads)


def _swap(
    v: int, k: int, energy: dict[int, dict[int, int]], intervals: Sequence[Interval], loads: Sequence[Load]
) -> None:
    interval, here = intervals[k], energy[k]
    steady_wh = ceil_div(max(loads[v].min_w, 1) * interval.duration_us, US_PER_HOUR)
    delta = steady_wh - here[v]
    if delta <= 0 or steady_wh > interval.energy_wh(loads[v].max_w):
        return
    refused_here = set(_refused(interval, here, loads)) - {v}
    elsewhere = [j for j in sorted(energy) if j != k and energy[j].get(v, 0) >= delta]
    for u, wh in sorted(here.items()):
        if u == v or not interval.reaches(wh - delta, max(loads[u].min_w, 1)):
            continue
        new_here = {**here, u: wh - delta, v: steady_wh}
        if not set(_refused(interval, new_here, loads)) <= refused_here:
            continue
        for j in elsewhere:
            there = energy[j]
            if not loads[u].present(intervals[j]):
                continue
            if there.get(u, 0) + delta > intervals[j].energy_wh(loads[u].max_w):
                continue
            new_there = {**there, u: there.get(u, 0) + delta, v: there[v] - delta}
            if not set(_refused(intervals[j], new_there, loads)) <= set(_refused(intervals[j], there, loads)):
                continue
            energy[k], energy[j] = new_here, {i: e for i, e in new_there.items() if e}
            return


def _refused(interval: Interval, energy_wh: Mapping[int, int], loads: Sequence[Load]) -> list[int]:
    return IntervalPlan(interval).add(energy_wh, loads)
