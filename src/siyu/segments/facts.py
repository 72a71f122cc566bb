"""The facts snapshot: the OLTP facts segments need, exported per brand to Parquet.

Read through ``siyu.members.services`` and ``siyu.org.services`` (never their tables) a chunk at a
time, written to a CSV spool and turned into Parquet by DuckDB with the fixed schema of
:data:`siyu.segments.lake.FACT_COLUMNS`. A refresh writes new files under a fresh version name, then
moves them in place and removes the old ones, so a reader sees the old snapshot or the new one.
The version (``facts_version``, a counter) and the time of the refresh are kept in
``lake/facts/_meta/brand_id=<id>.json``; counts say how fresh they are."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import clock
from siyu.segments import lake


@dataclass(frozen=True)
class FactsVersion:
    brand_id: int
    version: int
    refreshed_at: dt.datetime
    rows: dict[str, int]


def _meta_path(brand_id: int) -> Path:
    return lake.root() / "facts" / "_meta" / f"brand_id={int(brand_id)}.json"


def facts_version(brand_id: int) -> FactsVersion | None:
    """The snapshot in place for a brand, or ``None`` when it was never exported."""
    path = _meta_path(brand_id)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return FactsVersion(brand_id, data["version"], dt.datetime.fromisoformat(data["refreshed_at"]), data["rows"])


def _ts(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ")


def _customer_rows(brand_id: int) -> Iterator[Sequence[Any]]:
    stores = {s.id: s for s in org.stores(brand_id)}
    for chunk in members.customer_facts(brand_id):
        for c in chunk:
            store = stores.get(c.store_id) if c.store_id is not None else None
            yield (
                c.id,
                c.store_id if c.store_id is not None else "",
                store.region_id if store else "",
                store.city if store else "",
                c.guide_id if c.guide_id is not None else "",
                c.tier,
                c.lifecycle,
                c.source,
                _ts(c.joined_at),
                c.birthday.month if c.birthday else "",
                c.birthday.day if c.birthday else "",
                c.rfm_r,
                c.rfm_f,
                c.rfm_m,
                c.orders_count,
                c.total_spent_fen,
                _ts(c.last_purchase_at),
            )


def _tag_rows(brand_id: int) -> Iterator[Sequence[Any]]:
    for chunk in members.customer_tag_facts(brand_id):
        yield from chunk


def _consent_rows(brand_id: int) -> Iterator[Sequence[Any]]:
    for chunk in members.consent_facts(brand_id):
        for customer_id, channel, granted, at in chunk:
            yield (customer_id, channel, "true" if granted else "false", _ts(at))


def _write(name: str, brand_id: int, rows: Iterable[Sequence[Any]], version: int) -> int:
    """Spool ``rows`` to CSV, write them as one Parquet file of ``name``'s schema and swap it in."""
    target = lake.facts_dir(name, brand_id)
    target.mkdir(parents=True, exist_ok=True)
    columns = lake.FACT_COLUMNS[name]
    n = 0
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False, dir=target.parent) as spool:
        writer = csv.writer(spool)
        for row in rows:
            writer.writerow(row)
            n += 1
    fresh = target / f".v{version}.parquet.tmp"
    try:
        types = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns) + "}"
        con = duckdb.connect()
        try:
            reader = (
                "SELECT * FROM read_csv(?, header=false, auto_detect=false, delim=',', quote='\"', "
                f"escape='\"', columns={types}, nullstr='')"
            )
            con.execute(lake.fact_copy(name, reader, fresh), [spool.name])
        finally:
            con.close()
    finally:
        os.unlink(spool.name)
    final = target / f"v{version}.parquet"
    os.replace(fresh, final)
    for old in target.glob("*.parquet"):
        if old != final:
            old.unlink()
    return n


def refresh_facts(brand_id: int) -> FactsVersion:
    """Export the brand's customers, their tags and the consent in force; returns the new version."""
    previous = facts_version(brand_id)
    version = (previous.version if previous else 0) + 1
    rows = {
        "customers": _write("customers", brand_id, _customer_rows(brand_id), version),
        "customer_tags": _write("customer_tags", brand_id, _tag_rows(brand_id), version),
        "consents": _write("consents", brand_id, _consent_rows(brand_id), version),
    }
    done = FactsVersion(brand_id, version, clock.now(), rows)
    meta = _meta_path(brand_id)
    meta.parent.mkdir(parents=True, exist_ok=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "refreshed_at": done.refreshed_at.isoformat(), "rows": rows}))
    os.replace(tmp, meta)
    return done
