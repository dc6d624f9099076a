"""Multi-row writes and a one-row UPDATE for the gateway's hot paths (frames, samples, live meter).

The ORM's bulk_create compiles its query on every call, which cost four times the database's own
work per OCPP message; this builds the statement from the model's metadata instead. Inside
`rows_deferred()` (a batch of OCPP frames) the rows of every `rows_insert` are collected and written
once per table when the block ends, on PostgreSQL with COPY: no SQL to parse for each value, and the
values are formatted by psycopg's C code.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models, transaction

# Stays under SQLite's limit of bound parameters per statement.
MAX_PARAMETERS = 30_000

_batch = threading.local()
RowKey = tuple[type[models.Model], tuple[str, ...], bool]
UpdateKey = tuple[type[models.Model], tuple[str, ...], str | None]


def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A column of the model by field name ("pk" for its primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, models.Field), f"{model.__name__}.{name} is not a column"
    return field


def _quoted_column(field: models.Field[Any, Any]) -> str:
    """The field's column, quoted for SQL."""
    assert field.column is not None  # a concrete field's
    return connection.ops.quote_name(field.column)


def rows_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_duplicates: bool = False,
) -> None:
    """Insert rows of values for the named fields; skip_duplicates leaves out rows breaking a unique key.

    Values are what the fields hold in Python (ids for foreign keys, aware datetimes, Decimals).
    """
    if not rows:
        return
    pending: dict[RowKey, list[Sequence[Any]]] | None = getattr(_batch, "pending", None)
    if pending is not None:
        pending.setdefault((model, tuple(columns), skip_duplicates), []).extend(rows)
    elif connection.vendor == "postgresql":
        _copy(model, columns, rows, skip_duplicates=skip_duplicates)
    else:
        _insert(model, columns, rows, skip_duplicates=skip_duplicates)


@contextlib.contextmanager
def rows_deferred() -> Iterator[None]:
    """Collect the rows of every rows_insert and row_update_latest in the block and write them as it
    ends, one statement per table. Use it inside a transaction: the block's reads do not see its own
    deferred writes."""
    if getattr(_batch, "pending", None) is not None:
        yield  # already collecting: the outer block writes
        return
    pending: dict[RowKey, list[Sequence[Any]]] = {}
    updates: dict[UpdateKey, dict[int, tuple[Any, ...]]] = {}
    _batch.pending, _batch.updates = pending, updates
    try:
        yield
    finally:
        _batch.pending = _batch.updates = None
    for (model, columns, skip_duplicates), rows in pending.items():
        rows_insert(model, columns, rows, skip_duplicates=skip_duplicates)
    for (model, columns, where_null), values_by_pk in updates.items():
        _update_many(model, columns, values_by_pk, where_null=where_null)


def row_update_latest(
    model: type[models.Model], pk: int, values: dict[str, Any], *, where_null: str | None = None
) -> None:
    """row_update for values where only the latest matters (a live reading): inside rows_deferred()
    the last call for a row wins and all rows are set by one statement as the block ends."""
    updates: dict[UpdateKey, dict[int, tuple[Any, ...]]] | None = getattr(_batch, "updates", None)
    if updates is None:
        row_update(model, pk, values, where_null=where_null)
    else:
        updates.setdefault((model, tuple(values), where_null), {})[pk] = tuple(values.values())


def _update_many(
    model: type[models.Model],
    columns: tuple[str, ...],
    values_by_pk: dict[int, tuple[Any, ...]],
    *,
    where_null: str | None,
) -> None:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk_field = _concrete_field(model, "pk")
    fields = [_concrete_field(model, name) for name in columns]
    # PostgreSQL gives parameters in VALUES no type of their own: cast each to its column's. SQLite's
    # columns take what they are given (and its CAST to "datetime" would make a date a number).
    if connection.vendor == "postgresql":
        row = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in [pk_field, *fields])
    else:
        row = ", ".join(["%s"] * (len(fields) + 1))
    names = ", ".join(["pk", *(f"v{i}" for i in range(len(fields)))])
    # A CTE names the VALUES' columns on PostgreSQL and SQLite alike (SQLite has no `AS v(a, b)`).
    sql = (
        f"WITH v({names}) AS (VALUES {', '.join([f'({row})'] * len(values_by_pk))})"
        f" UPDATE {table} SET {', '.join(f'{_quoted_column(f)} = v.v{i}' for i, f in enumerate(fields))}"
        f" FROM v WHERE {table}.{_quoted_column(pk_field)} = v.pk"
    )
    if where_null is not None:
        sql += f" AND {table}.{_quoted_column(_concrete_field(model, where_null))} IS NULL"
    params = [
        prepared
        for pk, values in values_by_pk.items()
        for prepared in (
            pk,
            *(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)),
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _copy(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip_duplicates: bool
) -> None:
    """PostgreSQL: COPY the rows in; with skip_duplicates through a temporary table, since COPY
    itself cannot skip rows that break a unique key."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_list = ", ".join(_quoted_column(_concrete_field(model, name)) for name in columns)
    with connection.cursor() as cursor:
        if not skip_duplicates:
            _copy_rows(cursor, table, column_list, rows)
            return
        staging = quote(f"staging_{model._meta.db_table}")
        with transaction.atomic(savepoint=False):
            _staging_table_ensure(cursor, staging, f"SELECT {column_list} FROM {table}")
            _copy_rows(cursor, staging, column_list, rows)
            cursor.execute(
                f"WITH moved AS (DELETE FROM {staging} RETURNING {column_list})"
                f" INSERT INTO {table} ({column_list}) SELECT {column_list} FROM moved ON CONFLICT DO NOTHING"
            )


def _copy_rows(cursor: Any, table: str, column_list: str, rows: Sequence[Sequence[Any]]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# The staging tables each database connection has created (and committed): a temporary table lives as
# long as its connection, and sparing the CREATE ... IF NOT EXISTS spares a round trip per batch.
_staging_tables: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _staging_table_ensure(cursor: Any, staging: str, shape: str) -> None:
    created = _staging_tables.setdefault(connection.connection, set())
    if staging not in created:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS {shape} WITH NO DATA")
        # Rolled back with its transaction, so only known once that commits.
        transaction.on_commit(lambda: created.add(staging))


def _insert(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip_duplicates: bool
) -> None:
    quote = connection.ops.quote_name
    fields = [_concrete_field(model, name) for name in columns]
    head = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(_quoted_column(f) for f in fields)}) VALUES "
    )
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


def row_update(
    model: type[models.Model],
    pk: int,
    values: dict[str, Any],
    *,
    where_null: str | None = None,
    unless_newer: str | None = None,
) -> int:
    """Set fields of one row by primary key, optionally only while `where_null` is still NULL, or
    only unless the row's `unless_newer` (one of the fields set) already holds a later value."""
    quote = connection.ops.quote_name
    fields = [_concrete_field(model, name) for name in values]
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(f'{_quoted_column(f)} = %s' for f in fields)}"
        f" WHERE {_quoted_column(_concrete_field(model, 'pk'))} = %s"
    )
    params = [f.get_db_prep_save(value, connection) for f, value in zip(fields, values.values(), strict=True)]
    conditions = []
    if where_null is not None:
        sql += f" AND {_quoted_column(_concrete_field(model, where_null))} IS NULL"
    if unless_newer is not None:
        column = _quoted_column(_concrete_field(model, unless_newer))
        sql += f" AND ({column} IS NULL OR {column} <= %s)"
        conditions.append(params[list(values).index(unless_newer)])
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk, *conditions])
        return cursor.rowcount
