"""The integer core of the load allocator: admission at minimum, then progressive filling by events.

Everything here is in whole units (deciamps for loads). A constraint k has a slack (what is left of its
capacity after the fixed loads); a demand uses ``coefficient * amount`` of every constraint on its path
(1 per phase limit, its number of phases per power limit). ``energy/allocation.py`` builds these from
circuits and loads and documents the rules.

Filling one priority class works on a common water level ``level``: every rising demand sits exactly at
``level``; a demand waits (above the level) until the level reaches its minimum, and stops at its cap. The
level jumps straight to the next event: a demand's minimum or cap, or the highest level at which a
constraint still fits, ``ref + slack // rate`` (slack and rate per constraint, updated lazily). When some
constraint cannot take one more step of all its rising demands, those demands are tried one by one in
admission order: each gets one more unit if it fits everywhere on its path, or is frozen where it is
(slack only ever shrinks, so it could never get more). Every such pass freezes at least one demand, and the
work per event is proportional to the path of the demand it touches, not to the number of demands.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

WAITING, RISING, DONE = 0, 1, 2
LEAVE, JOIN = 0, 1


@dataclass(frozen=True)
class Demand:
    terms: tuple[tuple[int, int], ...]  # (constraint index, units of it per unit of this demand)
    min_units: int
    cap_units: int  # >= min_units
    priority: int


def share(slack: Sequence[int], demands: Sequence[Demand]) -> list[int]:
    """Units per demand; demands come in admission order (priority desc first), slack per constraint."""
    free = list(slack)
    amounts = [0] * len(demands)
    admitted: list[int] = []
    for index, demand in enumerate(demands):
        need = demand.min_units
        if need == 0 or all(free[k] >= a * need for k, a in demand.terms):
            for k, a in demand.terms:
                free[k] -= a * need
            amounts[index] = need
            admitted.append(index)
    for _, members in groupby(admitted, key=lambda index: demands[index].priority):
        _ClassFill(free, demands, list(members), amounts).run()
    return amounts


class _ClassFill:
    """Raise one priority class of admitted demands max-min fairly; ``free`` and ``amounts`` are updated."""

    def __init__(self, free: list[int], demands: Sequence[Demand], members: list[int], amounts: list[int]):
        self.free, self.demands, self.amounts = free, demands, amounts
        count = len(free)
        self.ref = [0] * count  # the level at which free[k] was last brought up to date
        self.rate = [0] * count  # units of k per level step of its rising demands
        self.version = [0] * count
        self.rising: list[set[int]] = [set() for _ in range(count)]
        self.saturation: list[tuple[int, int, int]] = []  # (highest level that fits, version, k)
        self.dirty: set[int] = set()  # constraints whose rate changed since the last _reschedule
        self.events: list[tuple[int, int, int]] = []  # (level, LEAVE/JOIN, demand index)
        self.state = {index: WAITING for index in members}
        self.rising_count = 0
        for index in members:
            demand = demands[index]
            if amounts[index] >= demand.cap_units:
                self.state[index] = DONE
            else:
                self.events.append((amounts[index], JOIN, index))
                self.events.append((demand.cap_units, LEAVE, index))
        heapq.heapify(self.events)

    def run(self) -> None:
        level = 0
        while self.events or self.rising_count:
            if not self.rising_count:
                level = max(level, self.events[0][0])
            while self.events and self.events[0][0] <= level:
                self._apply_event(heapq.heappop(self.events), level)
            if not self.rising_count:
                continue
            blocked = self._blocked_at(level)
            if blocked:
                self._one_by_one(level, blocked)
                continue
            level = min(self._next_saturation(), self.events[0][0])

    def _apply_event(self, event: tuple[int, int, int], level: int) -> None:
        _, kind, index = event
        state = self.state[index]
        if kind == LEAVE and state == RISING:
            self._stop(index, level)
            self.amounts[index] = level
            self.state[index] = DONE
        elif kind == JOIN and state == WAITING:
            self._start(index, level)

    def _start(self, index: int, level: int) -> None:
        free, rate, ref, rising, dirty = self.free, self.rate, self.ref, self.rising, self.dirty
        for k, a in self.demands[index].terms:
            free[k] -= rate[k] * (level - ref[k])  # bring free[k] up to the current level first
            ref[k] = level
            rate[k] += a
            rising[k].add(index)
            dirty.add(k)
        self.state[index] = RISING
        self.rising_count += 1

    def _stop(self, index: int, level: int, extra: int = 0) -> None:
        """Take a rising demand off the level at ``level``, using ``extra`` more units of it everywhere."""
        free, rate, ref, rising, dirty = self.free, self.rate, self.ref, self.rising, self.dirty
        for k, a in self.demands[index].terms:
            free[k] -= rate[k] * (level - ref[k]) + a * extra
            ref[k] = level
            rate[k] -= a
            rising[k].discard(index)
            dirty.add(k)
        self.rising_count -= 1

    def _reschedule(self) -> None:
        """Queue the saturation level of every constraint whose rate changed (older entries go stale)."""
        for k in self.dirty:
            self.version[k] += 1
            if self.rate[k]:
                heapq.heappush(
                    self.saturation, (self.ref[k] + self.free[k] // self.rate[k], self.version[k], k)
                )
        self.dirty.clear()

    def _blocked_at(self, level: int) -> list[int]:
        """Constraints that cannot let all their rising demands go one level higher."""
        self._reschedule()
        blocked = []
        heap = self.saturation
        while heap and heap[0][0] <= level:
            _, version, k = heapq.heappop(heap)
            if version == self.version[k]:
                blocked.append(k)
        return blocked

    def _next_saturation(self) -> int:
        self._reschedule()
        heap = self.saturation
        while heap:
            top_level, version, k = heap[0]
            if version == self.version[k]:
                return top_level
            heapq.heappop(heap)
        return self.events[0][0]  # no limit binds: the next cap ends the step

    def _fits_one_more(self, index: int, level: int) -> bool:
        free, rate, ref = self.free, self.rate, self.ref
        return all(free[k] - rate[k] * (level - ref[k]) >= a for k, a in self.demands[index].terms)

    def _one_by_one(self, level: int, blocked: list[int]) -> None:
        """Give the rising demands on blocked constraints one unit each in admission order, or freeze them."""
        candidates = sorted(set().union(*(self.rising[k] for k in blocked)))
        for index in candidates:
            if self.state[index] != RISING:
                continue
            if self._fits_one_more(index, level):
                self._stop(index, level, extra=1)
                self.amounts[index] = level + 1
                if level + 1 >= self.demands[index].cap_units:
                    self.state[index] = DONE
                else:
                    self.state[index] = WAITING
                    heapq.heappush(self.events, (level + 1, JOIN, index))
            else:
                self._stop(index, level)
                self.amounts[index] = level
                self.state[index] = DONE
