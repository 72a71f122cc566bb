"""Plain SQL for hot paths: a few statements that run unchanged on SQLite and PostgreSQL, for the
rare writes where the ORM's query compilation costs more than the database (order placement,
ADR 0014). Values go through the driver as parameters, never into the SQL text; table and column
names come from the models (``Model._meta``), never from input.

Both databases support multi-row ``INSERT … VALUES (…), (…) RETURNING``, and both return the rows
in the order of ``VALUES`` (Django's ``bulk_create`` relies on the same). Datetimes and decimals are
adapted with the connection's own operations (:func:`stamp`, :func:`decimal`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model


@cache
def _insert_sql(table: str, columns: tuple[str, ...], rows: int, returning: tuple[str, ...]) -> str:
    qn = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES {', '.join([one] * rows)}"
    if returning:
        sql += f" RETURNING {', '.join(qn(c) for c in returning)}"
    return sql


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = (),
    cursor: Any = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (values in the order of ``columns``, database column names) into ``model``'s
    table in one statement; returns the ``returning`` columns of each row, in the order given."""
    if not rows:
        return []
    sql = _insert_sql(model._meta.db_table, tuple(columns), len(rows), tuple(returning))
    params = [value for row in rows for value in row]
    if cursor is not None:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if returning else []
    with connection.cursor() as own:
        own.execute(sql, params)
        return list(own.fetchall()) if returning else []


def stamp(at: dt.datetime | None) -> Any:
    """A timezone-aware datetime as the connection stores it."""
    return connection.ops.adapt_datetimefield_value(at)


def decimal(value: float | Decimal | None, max_digits: int, decimal_places: int) -> Any:
    """A number for a ``DecimalField(max_digits, decimal_places)``, rounded as the ORM would."""
    if value is None:
        return None
    exact = round(Decimal(str(value)), decimal_places)
    return connection.ops.adapt_decimalfield_value(exact, max_digits, decimal_places)
