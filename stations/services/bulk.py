"""A multi-row INSERT for the gateway's hot paths (frames, meter samples).

The ORM's bulk_create compiles its query on every call, which cost four times the database's own
work per OCPP message; this builds the statement from the model's metadata instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Stays under SQLite's limit of bound parameters per statement.
MAX_PARAMETERS = 30_000


def rows_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_duplicates: bool = False,
) -> None:
    """Insert rows of values for the named fields; skip_duplicates leaves out rows breaking a unique key."""
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = " ON CONFLICT DO NOTHING" if skip_duplicates else ""
    per_statement = max(MAX_PARAMETERS // len(fields), 1)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [
                f.get_db_prep_save(value, connection)
                for row in chunk
                for f, value in zip(fields, row, strict=True)
            ]
            cursor.execute(head + ", ".join([placeholders] * len(chunk)) + tail, params)
