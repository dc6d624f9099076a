"""Output of the management commands: plain tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone


def render_cell(value: object) -> str:
    """Format one table cell; empty values show as a dash so that columns stay splittable."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Lay rows out in left-aligned columns under the headers."""
    lines = [list(headers), *([render_cell(value) for value in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def render_json(data: object) -> str:
    """Serialize for scripts, with datetimes in ISO 8601."""
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
