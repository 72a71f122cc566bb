"""A large event lake and facts snapshot for the segment benchmarks, written straight by DuckDB.

The demo generator's organisation (its stores, regions and guides, and HQ's tags) is in the
database; the customers and their events are not inserted through the services (millions of rows
would take hours) but written as the lake's own files with the lake's schemas — the facts snapshot
(``lake/facts/<table>/brand_id=<id>/v1.parquet``) and the events partitioned by brand and day
(``lake/events/brand_id=<id>/day=<YYYY-MM-DD>/part-*.parquet``) — from ``range()`` and DuckDB's
``hash()``: pseudo-random, deterministic for a key, generated in bounded memory.

Generating 50M events takes minutes, so the files are kept in a cache directory
(``SIYU_BENCH_CACHE``, which the bench runner sets to ``<SIYU_HOME>/bench-cache`` of the calling
shell) under a key of everything they depend on (sizes, the day of the history's end, the stores,
guides and tags); a run links them into its throwaway ``SIYU_HOME``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

VERSION = 1  # bump when the generated data changes
HISTORY_DAYS = 365
EVENT_TYPES = (  # (type, percent): views dominate, orders are 8%
    ("view", 45),
    ("click", 15),
    ("share", 8),
    ("sign_in", 10),
    ("order", 8),
    ("refund", 2),
    ("scan", 4),
    ("add_friend", 3),
    ("message", 3),
    ("join_group", 2),
)


@dataclass(frozen=True)
class Org:
    brand_id: int
    stores: Sequence[tuple[int, int, str]]  # (store_id, region_id, city)
    guides: Sequence[tuple[int, int]]  # (guide_id, store_id)
    tags: Sequence[int]


@dataclass(frozen=True)
class Generated:
    key: str
    directory: Path
    customers: int
    events: int
    as_of: dt.datetime  # UTC, naive: the end of the history (midnight)
    seconds: float  # how long generating took (0 when it came from the cache)


def cache_root() -> Path:
    from django.conf import settings

    return Path(os.environ.get("SIYU_BENCH_CACHE") or Path(settings.SIYU_HOME) / "bench-cache")


def key_of(org: Org, customers: int, events: int, as_of: dt.datetime) -> str:
    blob = json.dumps(
        [
            VERSION,
            customers,
            events,
            as_of.isoformat(),
            org.brand_id,
            list(org.stores),
            list(org.guides),
            list(org.tags),
        ]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _values(rows: Sequence[tuple[object, ...]]) -> str:
    def lit(v: object) -> str:
        return "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(int(v))  # type: ignore[call-overload]

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def generate(org: Org, customers: int, events: int, as_of: dt.datetime, *, threads: int = 2) -> Generated:
    """The lake files for ``customers`` customers and ``events`` events of the 365 days up to
    ``as_of``, from the cache or written now."""
    import time

    key = key_of(org, customers, events, as_of)
    target = cache_root() / f"segment-{key}"
    if (target / "done.json").exists():
        return Generated(key, target, customers, events, as_of, 0.0)
    started = time.perf_counter()
    work = target.with_name(target.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    facts = work / "facts"
    for name in ("customers", "customer_tags", "consents"):
        (facts / name).mkdir(parents=True)
    (work / "events").mkdir(parents=True)
    con = duckdb.connect(config={"threads": threads, "memory_limit": "3GB", "preserve_insertion_order": False})
    try:
        con.execute(f"SET temp_directory = '{work / 'spill'}'")
        con.execute("CREATE TABLE stores(idx INTEGER, store_id BIGINT, region_id BIGINT, city VARCHAR)")
        con.execute("INSERT INTO stores VALUES " + _values([(i, s, r, c) for i, (s, r, c) in enumerate(org.stores)]))
        by_store: dict[int, list[int]] = {}
        for g, s in org.guides:
            by_store.setdefault(s, []).append(g)
        con.execute("CREATE TABLE guides(store_id BIGINT, n INTEGER, ids BIGINT[])")
        for s, ids in by_store.items():
            con.execute("INSERT INTO guides VALUES (?, ?, ?)", [s, len(ids), ids])
        n_stores, end = len(org.stores), as_of.strftime("%Y-%m-%d %H:%M:%S")
        tier = "['regular','regular','regular','silver','silver','gold','platinum']"
        life = "['new','active','active','dormant','churned','recalled']"
        source = "['store_code','guide_code','campaign','wecom','pos','mini_program','import']"
        con.execute(
            f"""COPY (
            WITH c AS (
                SELECT i AS customer_id, s.store_id, s.region_id, s.city,
                       hash(i, 2) AS h2, hash(i, 3) AS h3, hash(i, 4) AS h4
                FROM range(1, {customers + 1}) r(i) JOIN stores s ON s.idx = hash(i, 1) % {n_stores})
            SELECT c.customer_id, c.store_id, c.region_id, c.city,
                   CASE WHEN g.n IS NULL THEN NULL ELSE g.ids[1 + (c.h2 % g.n)::INTEGER] END AS guide_id,
                   {tier}[1 + (c.h2 % 7)::INTEGER] AS tier,
                   {life}[1 + (c.h3 % 6)::INTEGER] AS lifecycle,
                   {source}[1 + (c.h4 % 7)::INTEGER] AS source,
                   TIMESTAMP '{end}' - to_days((700 + c.h3 % 1400)::INTEGER) AS joined_at,
                   (1 + c.h4 % 12)::INTEGER AS birth_month, (1 + c.h4 % 28)::INTEGER AS birth_day,
                   (c.h2 % 6)::INTEGER AS rfm_r, (c.h3 % 6)::INTEGER AS rfm_f, (c.h4 % 6)::INTEGER AS rfm_m,
                   (c.h2 % 20)::BIGINT AS orders_count, (c.h3 % 2000000)::BIGINT AS total_spent_fen,
                   CAST(NULL AS TIMESTAMP) AS last_purchase_at
            FROM c LEFT JOIN guides g ON g.store_id = c.store_id
            ORDER BY c.customer_id
            ) TO '{facts / "customers" / "v1.parquet"}' (FORMAT parquet, COMPRESSION zstd)"""
        )
        tags = "[" + ", ".join(str(int(t)) for t in org.tags) + "]"
        n_tags = len(org.tags)
        con.execute(
            f"""COPY (
            SELECT customer_id, tag_id FROM (
                SELECT i AS customer_id, {tags}[1 + (hash(i, 5) % {n_tags})::INTEGER]::BIGINT AS tag_id
                FROM range(1, {customers + 1}) r(i) WHERE hash(i, 6) % 10 < 4
                UNION
                SELECT i, {tags}[1 + (hash(i, 7) % {n_tags})::INTEGER]::BIGINT
                FROM range(1, {customers + 1}) r(i) WHERE hash(i, 8) % 10 < 2)
            ORDER BY customer_id, tag_id
            ) TO '{facts / "customer_tags" / "v1.parquet"}' (FORMAT parquet, COMPRESSION zstd)"""
        )
        con.execute(
            f"""COPY (
            SELECT i AS customer_id, ['sms','wecom','mini_program'][1 + (hash(i, 9) % 3)::INTEGER] AS channel,
                   hash(i, 10) % 4 <> 0 AS granted, TIMESTAMP '{end}' - to_days((hash(i, 11) % 600)::INTEGER) AS "at"
            FROM range(1, {customers + 1}) r(i) WHERE hash(i, 12) % 2 = 0
            ) TO '{facts / "consents" / "v1.parquet"}' (FORMAT parquet, COMPRESSION zstd)"""
        )
        # Events: 30% of them from the most active tenth of the customers.
        bounds, total = [], 0
        for name, pct in EVENT_TYPES:
            total += pct
            bounds.append(f"WHEN hash(j, 21) % 100 < {total} THEN '{name}'")
        kind = "CASE " + " ".join(bounds) + " END"
        heavy = max(1, customers // 10)
        store_list = "[" + ", ".join(str(int(s)) for s, _, _ in org.stores) + "]"
        # one month of history at a time keeps the memory of the partitioned writer bounded
        step = 30
        for first in range(0, HISTORY_DAYS, step):
            last = min(HISTORY_DAYS, first + step)
            lo, hi = events * first // HISTORY_DAYS, events * last // HISTORY_DAYS
            con.execute(
                f"""COPY (
                WITH e AS (
                    SELECT j, (hash(j, 21) % 100)::INTEGER AS h, {kind} AS type,
                           TIMESTAMP '{end}' - to_microseconds(
                               ({first} * 86400000000 + (hash(j, 22) % {(last - first) * 86_400_000_000}))::BIGINT
                           ) - INTERVAL 1 MICROSECOND AS "at",
                           CASE WHEN hash(j, 23) % 10 < 3 THEN 1 + hash(j, 24) % {heavy}
                                ELSE 1 + hash(j, 24) % {customers} END AS customer_id
                    FROM range({lo}, {hi}) r(j))
                SELECT 'g' || j::VARCHAR AS event_id, {org.brand_id}::BIGINT AS brand_id, type, "at",
                       customer_id::BIGINT AS customer_id,
                       {store_list}[1 + (hash(j, 25) % {n_stores})::INTEGER]::BIGINT AS store_id,
                       CAST(NULL AS BIGINT) AS guide_id, CAST(NULL AS VARCHAR) AS content_id,
                       CASE WHEN h >= 45 AND h < 60 THEN NULL ELSE (1 + hash(j, 26) % 64)::BIGINT END AS product_id,
                       CAST(NULL AS BIGINT) AS sku_id,
                       CASE WHEN type IN ('order', 'refund') THEN (5000 + hash(j, 27) % 60000)::BIGINT
                       END AS amount_fen,
                       CASE WHEN type = 'order' THEN (1 + hash(j, 28) % 3)::INTEGER END AS quantity,
                       CASE WHEN type = 'order' AND hash(j, 29) % 2 = 0 THEN '{{"channel":"mall"}}' END AS properties,
                       "at" AS received_at,
                       strftime("at", '%Y-%m-%d') AS day
                FROM e
                ORDER BY "at"
                ) TO '{work / "events"}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day),
                    FILENAME_PATTERN 'part-{{uuid}}', APPEND)"""
            )
    finally:
        con.close()
    _check_columns(work / "events", threads)
    shutil.rmtree(work / "spill", ignore_errors=True)
    seconds = time.perf_counter() - started
    (work / "done.json").write_text(
        json.dumps({"customers": customers, "events": events, "as_of": as_of.isoformat(), "seconds": seconds})
    )
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    return Generated(key, target, customers, events, as_of, seconds)


def _check_columns(events_dir: Path, threads: int) -> None:
    """The written files have exactly the lake's columns, in order (brand_id in the file too)."""
    from siyu.events import lake

    con = duckdb.connect(config={"threads": threads})
    try:
        files = sorted(events_dir.glob("day=*/part-*.parquet"))
        if not files:
            return
        cols = [
            r[0]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{files[0]}', hive_partitioning = false)"
            ).fetchall()
        ]
        wanted = list(lake.COLUMN_NAMES)
        if cols != wanted:
            raise RuntimeError(f"generated event columns {cols} are not the lake's {wanted}")
    finally:
        con.close()


FACTS_LAYOUT = 2  # bump with segments.lake.FACT_ORDER / FACT_WRITE_OPTIONS: the cached facts are rewritten


def _facts_in_layout(generated: Generated) -> Path:
    """The generated facts as ``segments.facts.refresh_facts`` writes them (``segments.lake.fact_copy``:
    sorted, Parquet v2), made once per cache entry from the generated files."""
    from siyu.segments import lake

    target = generated.directory / f"facts-layout{FACTS_LAYOUT}"
    if (target / "done").exists():
        return target
    work = target.with_name(target.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    try:
        for name in lake.FACT_COLUMNS:
            (work / name).mkdir(parents=True)
            source = str(generated.directory / "facts" / name / "v1.parquet").replace("'", "''")
            con.execute(lake.fact_copy(name, f"SELECT * FROM read_parquet('{source}')", work / name / "v1.parquet"))
    finally:
        con.close()
    (work / "done").write_text("")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    return target


def install(generated: Generated, brand_id: int) -> float:
    """Link the generated files into this ``SIYU_HOME``'s lake as the brand's events and facts
    snapshot (version 1), as the events app and ``segments.facts.refresh_facts`` would leave them,
    and the behaviour summary of every day before the history's end as the summary job would
    (kept in the cache too); how long summarising took (0 when it was there)."""
    import time

    from siyu.events import lake as events_lake
    from siyu.platform import clock
    from siyu.segments import lake, summary

    facts = _facts_in_layout(generated)
    summarised = generated.directory / f"summary-v{summary.VERSION}"
    summarised.mkdir(exist_ok=True)
    links = [(events_lake.brand_dir(brand_id), generated.directory / "events")]
    links += [(lake.facts_dir(n, brand_id), facts / n) for n in lake.FACT_COLUMNS]
    links += [(summary.root(brand_id), summarised)]
    for link, target in links:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            if link.is_symlink():
                link.unlink()
            else:
                shutil.rmtree(link)
        link.symlink_to(target, target_is_directory=True)
    meta = lake.root() / "facts" / "_meta" / f"brand_id={int(brand_id)}.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    rows = {"customers": generated.customers, "customer_tags": 0, "consents": 0}
    meta.write_text(json.dumps({"version": 1, "refreshed_at": clock.now().isoformat(), "rows": rows}))
    # the day the history ends in is today for the benchmarks: not closed, so read from its events
    started = time.perf_counter()
    built = summary.refresh(brand_id, today=generated.as_of.date()).built
    return time.perf_counter() - started if built else 0.0
