"""The fleet plan's integer model and its min-cost flow (see energy/scheduling.py for the public API).

Units are integers so that network simplex is exact: time in microseconds since the epoch (UTC), power in W,
energy in Wh, price in millionths of the currency per kWh. The network is

    source --need_wh--> vehicle --max_w * hours--> interval --capacity_w * hours, price--> sink
    source ------------------------------ bypass, cost BIG ---------------------------> sink

The bypass carries what cannot be delivered; its cost exceeds that of any augmenting path, so the optimum
delivers the maximum energy and, among those flows, has the minimum cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import networkx as nx

US_PER_HOUR = 3_600_000_000
PRICE_UNITS_PER_CURRENCY = 1_000_000  # the flow sees prices rounded to 6 decimals; costs use the exact price

Pair = tuple[int, int]  # (load index, interval index)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True)
class Interval:
    """A stretch of one slot during which no vehicle arrives or leaves."""

    start_us: int
    end_us: int
    price: Decimal  # per kWh, exactly as given
    price_units: int
    capacity_w: int

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us

    def energy_wh(self, power_w: int) -> int:
        """The energy of `power_w` held through the interval, rounded down to the Wh."""
        return power_w * self.duration_us // US_PER_HOUR

    def reaches(self, energy_wh: int, power_w: int) -> bool:
        """Whether `energy_wh` spread over the interval averages at least `power_w`."""
        return energy_wh * US_PER_HOUR >= power_w * self.duration_us


@dataclass(frozen=True)
class Load:
    """A vehicle in integer units."""

    need_wh: int
    max_w: int
    min_w: int
    from_us: int
    until_us: int

    def present(self, interval: Interval) -> bool:
        return self.from_us <= interval.start_us and interval.end_us <= self.until_us


def solve_flow(
    intervals: Sequence[Interval],
    need_wh: Sequence[int],
    edge_wh: Mapping[Pair, int],
    interval_wh: Sequence[int],
) -> dict[Pair, int]:
    """Return the Wh per (load, interval) of a maximum flow of minimum cost, where load i needs need_wh[i],
    takes at most edge_wh[(i, k)] in interval k (absent: nothing) and interval k carries at most
    interval_wh[k] in all."""
    source, sink = "source", "sink"
    total_wh = sum(need_wh)
    # Lexicographic weights: price first, then the interval's rank, so that among the plans of least cost
    # the one charging earliest wins (ties in price go to earlier slots). The rank term of any flow stays
    # below rank_range, one unit of the price term.
    rank_range = max(len(intervals), 1) * max(total_wh, 1) + 1
    weights = [interval.price_units * rank_range + k for k, interval in enumerate(intervals)]
    used = sorted({k for _, k in edge_wh})
    graph = nx.DiGraph()
    graph.add_node(source, demand=-total_wh)
    graph.add_node(sink, demand=total_wh)
    for i, need in enumerate(need_wh):
        if need > 0:
            graph.add_edge(source, ("load", i), capacity=need, weight=0)
    for (i, k), cap in sorted(edge_wh.items()):
        if cap > 0 and need_wh[i] > 0:
            graph.add_edge(("load", i), ("interval", k), capacity=cap, weight=0)
    for k in used:
        graph.add_edge(("interval", k), sink, capacity=interval_wh[k], weight=weights[k])
    longest_path = len(need_wh) + len(used) + 2
    max_weight = max((abs(weights[k]) for k in used), default=0)
    graph.add_edge(source, sink, capacity=total_wh, weight=longest_path * max_weight + 1)
    _, flow = nx.network_simplex(graph)
    energy: dict[Pair, int] = {}
    for node, out in flow.items():
        if isinstance(node, tuple) and node[0] == "load":
            for (_, k), wh in out.items():
                if wh:
                    energy[(node[1], k)] = wh
    return energy
