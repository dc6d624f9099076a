"""Arithmetic on half-open time intervals [start, end), for uptime."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]


def intervals_union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals; empty ones vanish."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intervals_clip(intervals: Iterable[Interval], since: datetime, until: datetime) -> list[Interval]:
    return [(max(s, since), min(e, until)) for s, e in intervals if max(s, since) < min(e, until)]


def intervals_complement(intervals: Iterable[Interval], since: datetime, until: datetime) -> list[Interval]:
    """The parts of [since, until) not covered by `intervals`."""
    gaps, cursor = [], since
    for start, end in intervals_union(intervals_clip(intervals, since, until)):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < until:
        gaps.append((cursor, until))
    return gaps


def intervals_length(intervals: Iterable[Interval]) -> timedelta:
    return sum((end - start for start, end in intervals_union(intervals)), timedelta())


def status_intervals(
    changes: Iterable[tuple[datetime, str]], *, since: datetime, until: datetime, matching: frozenset[str]
) -> list[Interval]:
    """When the reported status was one of `matching`, within [since, until). `changes` are (at, status)
    in any order, including the last report before `since`, which gives the status at the start."""
    spans: list[Interval] = []
    current: tuple[datetime, str] | None = None
    for at, status in sorted(changes):
        if current is not None and current[1] in matching:
            spans.append((current[0], at))
        current = (at, status)
    if current is not None and current[1] in matching:
        spans.append((current[0], until))
    return intervals_clip(spans, since, until)
