"""Small lake fixtures for the segment tests: events and facts written straight into the lake's
layout (``SIYU_HOME/lake/...``) with DuckDB, so the engine tests need no ingestion and no OLTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from siyu.segments import lake

EVENT_FIELDS = [c for c, _ in lake.EVENT_COLUMNS]


def _write(path: Path, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (" + ", ".join(f'"{c}" {t}' for c, t in columns) + ")")
        rows = list(rows)
        if rows:
            con.executemany("INSERT INTO t VALUES (" + ", ".join("?" for _ in columns) + ")", rows)
        con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    finally:
        con.close()


def event(
    brand_id: int,
    customer_id: int | None,
    type: str,
    at: dt.datetime,
    *,
    amount_fen: int | None = None,
    store_id: int | None = None,
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    **other: Any,
) -> dict[str, Any]:
    at = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
    return {
        "event_id": event_id or f"e-{customer_id}-{type}-{at.isoformat()}-{amount_fen}-{json.dumps(properties)}",
        "brand_id": brand_id,
        "type": type,
        "at": at,
        "customer_id": customer_id,
        "store_id": store_id,
        "guide_id": other.get("guide_id"),
        "content_id": other.get("content_id"),
        "product_id": other.get("product_id"),
        "sku_id": other.get("sku_id"),
        "amount_fen": amount_fen,
        "quantity": other.get("quantity"),
        "properties": json.dumps(properties or {}),
        "received_at": at,
    }


def write_events(brand_id: int, events: list[dict[str, Any]], name: str = "part-0") -> None:
    """One Parquet file per day of the events, in the hive layout the events app writes. As an import
    writes its parts (ADR 0024), a column none of the day's events sets is left out of the file: every
    engine test reads parts that lack columns."""
    days: dict[dt.date, list[dict[str, Any]]] = {}
    for e in events:
        days.setdefault(e["at"].date(), []).append(e)
    for day, rows in days.items():
        path = lake.events_dir(brand_id) / f"day={day.isoformat()}" / f"{name}.parquet"
        columns = [(c, t) for c, t in lake.EVENT_COLUMNS if any(r[c] is not None for r in rows)]
        _write(path, columns, [[r[c] for c, _t in columns] for r in rows])


def customer(customer_id: int, **kw: Any) -> dict[str, Any]:
    row = {c: None for c, _ in lake.FACT_COLUMNS["customers"]}
    row.update(
        customer_id=customer_id, tier="regular", lifecycle="active", source="store_code", rfm_r=0, rfm_f=0, rfm_m=0
    )
    row.update(orders_count=0, total_spent_fen=0, joined_at=dt.datetime(2024, 1, 1))
    row.update(kw)
    return row


def write_facts(
    brand_id: int,
    customers: list[dict[str, Any]],
    tags: Iterable[tuple[int, int]] = (),
    consents: Iterable[tuple[int, str, bool, dt.datetime]] = (),
) -> None:
    cols = lake.FACT_COLUMNS["customers"]
    _write(lake.facts_dir("customers", brand_id) / "v1.parquet", cols, [[c[k] for k, _ in cols] for c in customers])
    _write(lake.facts_dir("customer_tags", brand_id) / "v1.parquet", lake.FACT_COLUMNS["customer_tags"], tags)
    _write(lake.facts_dir("consents", brand_id) / "v1.parquet", lake.FACT_COLUMNS["consents"], consents)
