"""Geometry of the site charts, drawn as inline SVG by templates/admin/energy/charts/: the load per phase
over time against the limit, the allocation per charger now, and the fleet plan over its price bands.
Plain functions from numbers to coordinates, so that a chart is checked without a browser."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from energy.services.fleet_state import RecordedPlan

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 34
PHASE_COLOURS = {"L1": "#8c510a", "L2": "#1f2933", "L3": "#7b8794"}  # brown, black, grey (IEC 60446)
ALLOCATED_COLOUR = "#2b6cb0"
LIMIT_COLOUR = "#c0392b"
VEHICLE_COLOURS = ["#2f9e44", "#1c7ed6", "#e8590c", "#ae3ec9", "#0c8599", "#f08c00", "#5c7cfa", "#d6336c"]
PRICE_FILLS = ["#e3f5e8", "#f1f7d9", "#fff4d6", "#fde7d4", "#fde2e1"]  # cheapest to dearest
TIME_STEPS_H = (1, 2, 3, 6, 12, 24)


@dataclass(frozen=True)
class Tick:
    at: float  # pixels
    label: str


@dataclass(frozen=True)
class Frame:
    """A plot area: its pixel box and the value ranges it maps."""

    height: int
    since: datetime
    until: datetime
    top_value: float
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP

    @property
    def bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def width(self) -> int:
        return WIDTH

    def x(self, at: datetime) -> float:
        span = (self.until - self.since).total_seconds() or 1.0
        share = (at - self.since).total_seconds() / span
        return round(self.left + min(max(share, 0.0), 1.0) * (self.right - self.left), 1)

    def y(self, value: float | Decimal) -> float:
        share = float(value) / self.top_value if self.top_value else 0.0
        return round(self.bottom - min(max(share, 0.0), 1.0) * (self.bottom - self.top), 1)


def nice_top(value: float) -> tuple[float, float]:
    """A round top for an axis showing `value` (at least 1) and its tick step, 1, 2 or 5 times a power of
    ten, for about five ticks."""
    value = max(value, 1.0)
    magnitude = 10 ** math.floor(math.log10(value / 5))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value / 5)
    return step * math.ceil(value / step - 1e-9), step


def value_ticks(frame: Frame, step: float, unit: str) -> list[Tick]:
    ticks, value = [], 0.0
    while value <= frame.top_value + 1e-9:
        label = f"{value:g} {unit}" if value else "0"
        ticks.append(Tick(frame.y(value), label))
        value += step
    return ticks


def time_ticks(frame: Frame, zone: ZoneInfo) -> list[Tick]:
    """Ticks on whole local hours, at most 8 of them; a midnight tick names the day."""
    hours = (frame.until - frame.since).total_seconds() / 3600
    step = next((h for h in TIME_STEPS_H if hours / h <= 8), 24)
    local = frame.since.astimezone(zone)
    at = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    ticks = []
    while at <= frame.until:
        local_at = at.astimezone(zone)
        if local_at.hour % step == 0:
            label = local_at.strftime("%a %H:%M") if local_at.hour == 0 else local_at.strftime("%H:%M")
            ticks.append(Tick(frame.x(at), label))
        at += timedelta(hours=1)
    return ticks


def hhmm(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


# --- load over time ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPoint:
    at: datetime
    measured: tuple[Decimal, Decimal, Decimal]  # L1, L2, L3
    allocated: Decimal  # the highest phase
    limit: Decimal | None


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: str  # "x,y x,y ..."
    dashed: bool = False


@dataclass
class LoadChart:
    frame: Frame
    series: list[Series] = field(default_factory=list)
    limit: list[Series] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    peak: Decimal = Decimal(0)
    highest_limit: Decimal | None = None

    @property
    def empty(self) -> bool:
        return not self.series


def _steps(frame: Frame, points: Sequence[tuple[datetime, Decimal]], until: datetime) -> str:
    """A step line: each value holds until the next sample (the balancer records one per recompute)."""
    coordinates = []
    for (at, value), following in zip(points, [*points[1:], (until, None)], strict=True):
        y = frame.y(value)
        coordinates += [f"{frame.x(at)},{y}", f"{frame.x(following[0])},{y}"]
    return " ".join(coordinates)


def load_chart(points: Sequence[LoadPoint], *, since: datetime, until: datetime, zone: ZoneInfo) -> LoadChart:
    """Measured current per phase and the allocated current over [since, until), the limit as a line."""
    limits = [p.limit for p in points if p.limit is not None]
    peak = max((max(*p.measured, p.allocated) for p in points), default=Decimal(0))
    top, step = nice_top(float(max([peak, *limits], default=Decimal(0))) * 1.05)
    chart = LoadChart(Frame(300, since, until, top), peak=peak, highest_limit=max(limits, default=None))
    if points:
        for index, phase in enumerate(("L1", "L2", "L3")):
            line = _steps(chart.frame, [(p.at, p.measured[index]) for p in points], until)
            chart.series.append(Series(f"measured {phase}", PHASE_COLOURS[phase], line))
        allocated = _steps(chart.frame, [(p.at, p.allocated) for p in points], until)
        chart.series.append(Series("allocated (highest phase)", ALLOCATED_COLOUR, allocated, dashed=True))
        limited = [(p.at, p.limit) for p in points if p.limit is not None]
        if limited:
            chart.limit.append(
                Series("limit", LIMIT_COLOUR, _steps(chart.frame, limited, until), dashed=True)
            )
    chart.x_ticks = time_ticks(chart.frame, zone)
    chart.y_ticks = value_ticks(chart.frame, step, "A")
    return chart


# --- allocation per charger now ------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationRow:
    label: str  # charger identity and EVSE
    amps: Decimal
    maximum: Decimal
    measured: Decimal | None
    busy: bool
    status: str
    reason: str

    @property
    def fleet(self) -> bool:
        return self.reason.startswith("fleet plan")


@dataclass(frozen=True)
class Bar:
    row: AllocationRow
    y: float
    track: float  # the maximum's width
    width: float  # the allocation's
    measured_x: float | None
    colour: str


@dataclass
class AllocationChart:
    height: int
    bars: list[Bar]
    x_ticks: list[Tick]
    left: int
    right: int
    bar_height: int = 16

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def empty(self) -> bool:
        return not self.bars


def allocation_chart(rows: Sequence[AllocationRow]) -> AllocationChart:
    """One bar per EVSE: its allocation (a session's share, or what an idle EVSE holds for the next car)
    over a track as long as its maximum, a tick where its car was last measured."""
    left, right, row_height = 190, WIDTH - 150, 26
    top, step = nice_top(float(max((max(r.maximum, r.amps) for r in rows), default=Decimal(0))))
    scale = (right - left) / top

    def x(amps: Decimal) -> float:
        return round(left + float(amps) * scale, 1)

    bars = [
        Bar(
            row=row,
            y=TOP + index * row_height,
            track=round(float(row.maximum) * scale, 1),
            width=round(float(row.amps) * scale, 1),
            measured_x=x(row.measured) if row.measured is not None else None,
            colour=ALLOCATED_COLOUR if row.busy else "#9fb3c8",
        )
        for index, row in enumerate(rows)
    ]
    ticks, value = [], 0.0
    while value <= top + 1e-9:
        ticks.append(Tick(x(Decimal(str(value))), f"{value:g} A"))
        value += step
    height = TOP + len(rows) * row_height + BOTTOM
    return AllocationChart(height, bars, ticks, left, right)


# --- fleet plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Legend:
    label: str
    colour: str


@dataclass
class PlanChart:
    frame: Frame
    bands: list[Block] = field(default_factory=list)
    band_labels: list[Tick] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    departures: list[Block] = field(default_factory=list)
    capacity_y: float | None = None
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)
    prices: list[Legend] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.legend


def _price_fill(price: Decimal, prices: list[Decimal]) -> str:
    if len(prices) == 1:
        return PRICE_FILLS[0]
    rank = prices.index(price) / (len(prices) - 1)
    return PRICE_FILLS[round(rank * (len(PRICE_FILLS) - 1))]


def plan_chart(plan: RecordedPlan, *, zone: ZoneInfo, currency: str) -> PlanChart:
    """The plan's power per vehicle stacked over time, on bands coloured by the price per kWh (cheapest
    green, dearest red), the fleet's capacity as a line and each departure as a marker."""
    if plan.start is None or plan.end is None or not plan.vehicles:
        return PlanChart(Frame(280, plan.start or datetime.now(zone), plan.end or datetime.now(zone), 1.0))
    colours = {v.session_id: VEHICLE_COLOURS[i % len(VEHICLE_COLOURS)] for i, v in enumerate(plan.vehicles)}
    edges = sorted(
        {p.start for v in plan.vehicles for p in v.periods}
        | {p.end for v in plan.vehicles for p in v.periods}
    )
    stacked: list[tuple[datetime, datetime, list[tuple[int, Decimal, Decimal]]]] = []
    for begin, end in zip(edges, edges[1:], strict=False):
        layers = [
            (v.session_id, p.kw, p.amps)
            for v in plan.vehicles
            for p in v.periods
            if p.start <= begin and end <= p.end
        ]
        if layers:
            stacked.append((begin, end, layers))
    highest = max((sum(kw for _, kw, _ in layers) for _, _, layers in stacked), default=Decimal(0))
    top, step = nice_top(float(max(highest, plan.capacity_kw or Decimal(0))) * 1.1)
    chart = PlanChart(Frame(300, plan.start, plan.end, top))
    frame = chart.frame
    names = {v.session_id: v.name for v in plan.vehicles}

    prices = sorted({slot.price_per_kwh for slot in plan.slots})
    last_label_x = -100.0
    for slot in plan.slots:
        x0, x1 = frame.x(slot.start), frame.x(slot.end)
        previous = chart.bands[-1] if chart.bands else None
        fill = _price_fill(slot.price_per_kwh, prices)
        title = f"{slot.price_per_kwh.normalize():f} {currency}/kWh"
        if previous is not None and previous.colour == fill and previous.title.startswith(title):
            chart.bands[-1] = Block(
                previous.x, previous.y, round(x1 - previous.x, 1), previous.height, fill, previous.title
            )
            continue
        chart.bands.append(Block(x0, frame.top, round(x1 - x0, 1), frame.bottom - frame.top, fill, title))
        if x0 - last_label_x >= 64:
            chart.band_labels.append(Tick(x0 + 3, title))
            last_label_x = x0
    chart.prices = [
        Legend(f"{price.normalize():f} {currency}/kWh", _price_fill(price, prices)) for price in prices
    ]

    for begin, end, layers in stacked:
        base = Decimal(0)
        for session_id, kw, amps in layers:
            y_top, y_base = frame.y(base + kw), frame.y(base)
            when = f"{hhmm(begin, zone)}–{hhmm(end, zone)}"
            title = f"{names[session_id]}: {kw.normalize():f} kW ({amps} A), {when}"
            chart.blocks.append(
                Block(
                    frame.x(begin),
                    y_top,
                    round(frame.x(end) - frame.x(begin), 1),
                    round(y_base - y_top, 1),
                    colours[session_id],
                    title,
                )
            )
            base += kw
    for vehicle in plan.vehicles:
        x = frame.x(vehicle.departure)
        title = f"{vehicle.name} leaves at {hhmm(vehicle.departure, zone)}"
        chart.departures.append(Block(x, frame.bottom, 0, 8, colours[vehicle.session_id], title))
        chart.legend.append(Legend(vehicle.name, colours[vehicle.session_id]))
    if plan.capacity_kw is not None:
        chart.capacity_y = frame.y(plan.capacity_kw)
    chart.x_ticks = time_ticks(frame, zone)
    chart.y_ticks = value_ticks(frame, step, "kW")
    return chart
