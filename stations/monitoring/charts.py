"""Geometry of the dashboard's daily bar charts (energy, utilization), drawn as inline SVG by
templates/admin/monitoring/. Numbers to coordinates only, so a chart is checked without a browser;
static/monitoring/dashboard.js redraws today's bar with the same arithmetic as pushes arrive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 30


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day, under the bar when there is room
    title: str  # the tooltip: day and value
    day: str  # ISO date, for the page's script to find today's bar
    value: float


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    unit: str
    top: float  # the value at the top of the plot; the page's script rescales when today's bar outgrows it
    plot_top: int
    digits: int


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    points: Sequence[tuple[date, float]], *, unit: str, top: float | None = None, digits: int = 0
) -> BarChart:
    """One bar per day; `top` fixes the scale (100 for a percentage), else a round number above the most."""
    top = top or _nice_top(max((value for _, value in points), default=0.0))
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    every = max(1, math.ceil(len(points) / 15))  # at most 15 day labels
    bars = []
    for i, (day, value) in enumerate(points):
        h = plot_h * min(value, top) / top
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.15, 1),
                y=round(TOP + plot_h - h, 1),
                width=round(slot * 0.7, 1),
                height=round(h, 1),
                label=f"{day:%d.%m}" if (len(points) - 1 - i) % every == 0 else "",
                title=f"{day:%a %d %b}: {value:.{digits}f} {unit}",
                day=day.isoformat(),
                value=value,
            )
        )
    ticks = [Tick(y=round(TOP + plot_h - plot_h * k / 4, 1), label=f"{top * k / 4:g}") for k in range(5)]
    return BarChart(WIDTH, HEIGHT, LEFT, TOP + plot_h, bars, ticks, unit, top, TOP, digits)
