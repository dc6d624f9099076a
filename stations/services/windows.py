"""Weekly wall-clock windows: on some weekdays, from a start up to (not including) an end.

Access rules and tariff bands both use them. A window whose end is not after its start runs past
midnight and belongs to the day it opens on. Times are wall-clock times in a site's zone, so a
window keeps its hours across a daylight saving change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def weekdays_parse(weekdays: str) -> set[int]:
    """Read a weekday string such as "01234" (Monday 0) into a set of days."""
    return {int(day) for day in weekdays if day.isdigit() and int(day) < 7}


def local_at(day: date, at: time, zone: ZoneInfo, *, fold: int = 0) -> datetime:
    """Return the wall-clock moment `at` on `day` in `zone` (fold 1: the second of a repeated hour)."""
    return datetime.combine(day, at, tzinfo=zone).replace(fold=fold)


def window_close(*, days: set[int], start: time, end: time, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the window holding `at` closes, or None if `at` is outside the window."""
    local = at.astimezone(zone)
    today = local.date()
    now = local.time().replace(tzinfo=None)
    if start < end:
        if local.weekday() in days and start <= now < end:
            return local_at(today, end, zone)
        return None
    if now >= start and local.weekday() in days:
        return local_at(today + timedelta(days=1), end, zone)
    if now < end and (local.weekday() - 1) % 7 in days:
        return local_at(today, end, zone)
    return None


def window_edges(
    *, start: time, end: time, since: datetime, until: datetime, zone: ZoneInfo
) -> set[datetime]:
    """Every moment in [since, until) where a window with these hours may open or close.

    A wall-clock time repeated when clocks go back is an edge at both of its moments; the clock
    changes themselves are edges too, since the wall clock jumps over or back across an edge.
    Edges are in UTC: Python compares and subtracts datetimes of one zone by their wall clocks."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    first = since.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date() + timedelta(days=1)
    edges = set()
    day = first
    while day <= last:
        for at in (start, end):
            for fold in (0, 1):
                moment = local_at(day, at, zone, fold=fold).astimezone(UTC)
                if since <= moment < until:
                    edges.add(moment)
        day += timedelta(days=1)
    return edges | zone_transitions(since=since, until=until, zone=zone)


def zone_transitions(*, since: datetime, until: datetime, zone: ZoneInfo) -> set[datetime]:
    """The moments in [since, until) where the zone's offset from UTC changes (daylight saving)."""
    transitions = set()
    step = timedelta(hours=6)
    low, until = since.astimezone(UTC), until.astimezone(UTC)
    while low < until:
        high = min(low + step, until)
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            before, after = low, high
            while after - before > timedelta(seconds=1):
                middle = before + (after - before) / 2
                if middle.astimezone(zone).utcoffset() == before.astimezone(zone).utcoffset():
                    before = middle
                else:
                    after = middle
            transitions.add(after.astimezone(UTC).replace(microsecond=0))  # offsets change on a whole second
        low = high
    return {moment for moment in transitions if since <= moment < until}
