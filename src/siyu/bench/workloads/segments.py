"""``segment`` and ``segment-freshness`` (issue 4): the compound segment against hand-written SQL on
the same engine and on PostgreSQL, and how fast an event's membership change becomes visible.

Both run on the demo brand's organisation (stores, regions, guides; HQ's tags) and a lake of
``size`` events and ``size / 10`` customers written straight by DuckDB (``siyu.bench.lakegen``:
the facts snapshot and the day partitions, cached between runs under a key).

``segment`` — the compound segment of docs/segments-dsl.md (≥2 orders totalling ≥300 CNY in the last
90 days, a tag, a store in one region, no view in the last 30 days), timed side by side in one run:

* ``siyu_s``: ``segments.services.evaluate`` — the compiled query on the engine's views of the lake
  (the events app's reader, Parquet plus pending WAL), the member ids in order;
* ``handwritten_s``: the same segment written by hand for DuckDB on the same files (one pass over
  the orders, ``NOT EXISTS`` for the views), same threads;
* ``postgres_s``: the same segment by hand in PostgreSQL over tables loaded with ``COPY`` from the
  same data, with the indexes such tables have for their usual reads — events by ``(type, at)`` and
  by ``(customer_id, type, at)``, tags by ``(tag_id, customer_id)`` and by customer, customers by
  id and by region — vacuumed and analysed.

Each is run once to warm the caches, then ``ROUNDS`` times in turn; the figure is the median. All
three must return the same customers (``members_count``), or the run fails. The PostgreSQL
database (``siyu_segbench_<key>`` on ``SIYU_BENCH_POSTGRES_URL``, default the local server) is kept
for the next run with the same key; older ones are dropped.

``segment-freshness`` — the segment is materialised once, then ``PROBES`` times an event is
ingested through ``events.services.ingest`` (the same call as ``POST /api/v1/events``) for a
customer it moves in or out (two orders of 150 CNY let her in, a view lets her out); the time from
the acknowledgement (``ingest`` returning) to ``segments.services.is_member`` answering the new
state, polled every 2 ms, is the latency. ``p95_ms``, ``p50_ms``, ``max_ms``.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from siyu.bench.registry import Figures, workload

ROUNDS = 3
POSTGRES_LAYOUT = 2  # bump when the tables or indexes loaded into PostgreSQL change
PROBES_SMALL = 40
PROBES_FULL = 100


# --- set-up shared by both -------------------------------------------------------------------------------
def _org(customers_in_db: int = 1) -> Any:
    from siyu.bench import lakegen
    from siyu.demo import generator
    from siyu.demo.seed_assets import TAG_GROUPS
    from siyu.members import services as members
    from siyu.org import services as org

    only = {"org", "catalog", "customers"} if customers_in_db > 1 else {"org"}
    summary = generator.run(generator.Config(members=max(1, customers_in_db)), only=only)
    brand_id = summary.brand_id
    hq = org.hq_scope(brand_id, "bench")
    tags = []
    for group_name, exclusive, names in TAG_GROUPS:
        group = members.create_tag_group(hq, name=group_name, exclusive=exclusive)
        tags += [members.create_tag(hq, group=group, name=name).pk for name in names]
    stores = [(s.id, s.region_id, s.city) for s in org.stores(brand_id)]
    guides = [(g.id, g.store_id) for g in org.guides(brand_id, active_only=False) if g.store_id is not None]
    return lakegen.Org(brand_id, stores, guides, tags), summary.as_of


def _lake(size: int, customers_in_db: int = 1) -> tuple[Any, Any, float]:
    """The organisation, the generated lake (installed, its closed days summarised) and how long
    summarising took (0 when cached)."""
    from siyu.bench import lakegen

    organisation, as_of = _org(customers_in_db)
    end = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    generated = lakegen.generate(organisation, max(1, size // 10), size, end)
    summarised = lakegen.install(generated, organisation.brand_id)
    return organisation, generated, summarised


def compound(tag: int, region: int) -> dict[str, Any]:
    return {
        "version": 1,
        "root": {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
                    "window": {"last_days": 90},
                },
                {"type": "tags", "match": "any", "tags": [tag]},
                {"type": "attribute", "field": "region", "in": [region]},
                {
                    "type": "not",
                    "child": {
                        "type": "event",
                        "event": "view",
                        "count": {"op": ">=", "value": 1},
                        "window": {"last_days": 30},
                    },
                },
            ],
        },
    }


def _choice(organisation: Any) -> tuple[int, int]:
    """The tag and region of the segment: the first tag, the region with the most stores."""
    counts: dict[int, int] = {}
    for _s, region, _c in organisation.stores:
        counts[region] = counts.get(region, 0) + 1
    region = max(sorted(counts), key=lambda r: counts[r])
    return organisation.tags[0], region


def _load() -> float:
    return os.getloadavg()[0]


# --- segment ------------------------------------------------------------------------------------------------
def _ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _parquet(files: list[Any]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}], hive_partitioning = false)"


def handwritten_duckdb(brand_id: int, tag: int, region: int, now: dt.datetime) -> list[int]:
    """The segment as one would write it by hand for DuckDB over the files siyu reads: the facts,
    the behaviour summary's order and view files of the summarised days of each window (its whole
    hours), and the events of the days without a summary (here: the day ``now`` falls in).
    Same DuckDB instance and threads as siyu's engine."""
    from siyu.events import lake as events_lake
    from siyu.segments import engine, lake, summary

    customers = f"read_parquet('{lake.facts_dir('customers', brand_id) / '*.parquet'}', hive_partitioning = false)"
    tags = f"read_parquet('{lake.facts_dir('customer_tags', brand_id) / '*.parquet'}', hive_partitioning = false)"
    d90, d30 = now - dt.timedelta(days=90), now - dt.timedelta(days=30)
    days = summary.current(brand_id, (d90 - dt.timedelta(days=1)).date().isoformat())
    raw = [p for p in events_lake.parts(brand_id) if p.parent.name.removeprefix("day=") >= d90.date().isoformat()]
    raw = [p for p in raw if p.parent.name.removeprefix("day=") not in days]
    nothing = (
        'SELECT NULL::VARCHAR AS type, NULL::TIMESTAMP AS "at", NULL::BIGINT AS customer_id, NULL::BIGINT AS amount_fen'
    )
    events = _parquet(raw) if raw else f"({nothing} WHERE false)"
    # the summary holds whole hours: each window's type on the days of its hours
    h90, h30, end = (summary_hour(t) for t in (d90, d30, now))

    def within(start: dt.datetime) -> dict[str, Any]:
        return {d: p for d, p in days.items() if d >= start.date().isoformat()}

    orders, views = _parquet(summary.files(within(h90), ["order"])), _parquet(summary.files(within(h30), ["view"]))
    sql = f"""
        WITH cand AS (
            SELECT customer_id FROM {customers}
            WHERE region_id = {region} AND customer_id IN (SELECT customer_id FROM {tags} WHERE tag_id = {tag})),
        o AS (
            SELECT customer_id, events AS n, amount_fen FROM {orders}
            WHERE hour >= TIMESTAMP '{_ts(h90)}' AND hour < TIMESTAMP '{_ts(end)}'
              AND customer_id IN (SELECT customer_id FROM cand)
            UNION ALL
            SELECT customer_id, 1, amount_fen FROM {events}
            WHERE type = 'order' AND "at" >= TIMESTAMP '{_ts(d90)}' AND "at" <= TIMESTAMP '{_ts(now)}'
              AND customer_id IN (SELECT customer_id FROM cand)),
        v AS (
            SELECT customer_id FROM {views}
            WHERE hour >= TIMESTAMP '{_ts(h30)}' AND hour < TIMESTAMP '{_ts(end)}'
              AND customer_id IN (SELECT customer_id FROM cand)
            UNION ALL
            SELECT customer_id FROM {events}
            WHERE type = 'view' AND "at" >= TIMESTAMP '{_ts(d30)}' AND "at" <= TIMESTAMP '{_ts(now)}'
              AND customer_id IN (SELECT customer_id FROM cand))
        SELECT customer_id FROM o
        GROUP BY customer_id HAVING sum(n) >= 2 AND sum(amount_fen) >= 30000
           AND customer_id NOT IN (SELECT customer_id FROM v)
        ORDER BY customer_id"""
    con = engine.duck()
    try:
        return [int(r[0]) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def summary_hour(value: dt.datetime) -> dt.datetime:
    """The benchmark's windows start and end on whole hours (``now`` is a local midnight)."""
    if value != value.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"the hand-written query expects whole hours, not {value}")
    return value


def postgres_query(tag: int, region: int, now: dt.datetime) -> str:
    d90, d30 = _ts(now - dt.timedelta(days=90)), _ts(now - dt.timedelta(days=30))
    return f"""
        SELECT c.customer_id
        FROM customers c
        JOIN (SELECT customer_id FROM events
              WHERE type = 'order' AND at >= '{d90}' AND at <= '{_ts(now)}'
              GROUP BY customer_id HAVING count(*) >= 2 AND sum(amount_fen) >= 30000) o
          ON o.customer_id = c.customer_id
        WHERE c.region_id = {region}
          AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.customer_id AND t.tag_id = {tag})
          AND NOT EXISTS (SELECT 1 FROM events v WHERE v.customer_id = c.customer_id AND v.type = 'view'
                          AND v.at >= '{d30}' AND v.at <= '{_ts(now)}')
        ORDER BY c.customer_id"""


def postgres_url() -> str:
    return os.environ.get("SIYU_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def ensure_postgres(generated: Any, brand_id: int) -> tuple[str, float]:
    """The PostgreSQL database holding the generated data (loaded now unless a database of the same
    key exists); its URL and how long loading took (0 when it was there)."""
    import duckdb
    import psycopg
    from psycopg import sql

    from siyu.events import lake as events_lake
    from siyu.segments import lake

    def facts(table: str) -> str:
        return f"read_parquet('{lake.facts_dir(table, brand_id) / '*.parquet'}', hive_partitioning = false)"

    name = f"siyu_segbench_{generated.key}_{POSTGRES_LAYOUT}"
    admin = psycopg.connect(postgres_url(), autocommit=True)
    try:
        found = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'siyu_segbench_%'").fetchall()
        for (other,) in found:
            if other != name:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))
        url = psycopg.conninfo.make_conninfo(postgres_url(), dbname=name)
        if (name,) in found:
            with psycopg.connect(url) as con:
                done = con.execute("SELECT to_regclass('bench_done') IS NOT NULL").fetchone()
                if done and done[0]:
                    return url, 0.0
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    started = time.perf_counter()
    tables = {
        "customers": (
            "customer_id bigint PRIMARY KEY, store_id bigint, region_id bigint, city text, guide_id bigint, "
            "tier text, lifecycle text, source text, joined_at timestamp, birth_month int, birth_day int, "
            "rfm_r int, rfm_f int, rfm_m int, orders_count bigint, total_spent_fen bigint, last_purchase_at timestamp",
            f"SELECT * FROM {facts('customers')}",
        ),
        "customer_tags": (
            "customer_id bigint NOT NULL, tag_id bigint NOT NULL",
            f"SELECT * FROM {facts('customer_tags')}",
        ),
        "events": (
            "event_id text NOT NULL, type text NOT NULL, at timestamp NOT NULL, customer_id bigint, "
            "store_id bigint, amount_fen bigint",
            f'SELECT event_id, type, "at", customer_id, store_id, amount_fen FROM read_parquet('
            f"'{events_lake.events_glob(brand_id)}', hive_partitioning = false)",
        ),
    }
    with psycopg.connect(url, autocommit=True) as con, tempfile.TemporaryDirectory(prefix="segbench-") as tmp:
        duck = duckdb.connect(config={"threads": 2})
        try:
            for table, (columns, select) in tables.items():
                con.execute(f"CREATE UNLOGGED TABLE {table} ({columns})")
                path = Path(tmp) / f"{table}.csv"
                duck.execute(f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER false)")
                with (
                    con.cursor() as cur,
                    cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy,
                    path.open("rb") as f,
                ):
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
                path.unlink()
        finally:
            duck.close()
        # the indexes an events table of an OLTP database has for its usual reads (events by type
        # over time, a customer's events), not covering indexes made for this one query
        con.execute("CREATE INDEX ON events (type, at)")
        con.execute("CREATE INDEX ON events (customer_id, type, at)")
        con.execute("CREATE INDEX ON customer_tags (tag_id, customer_id)")
        con.execute("CREATE INDEX ON customer_tags (customer_id)")
        con.execute("CREATE INDEX ON customers (region_id)")
        con.execute("VACUUM ANALYZE")
        con.execute("CREATE TABLE bench_done (at timestamptz DEFAULT now())")
    return url, time.perf_counter() - started


@workload(
    "segment",
    "The compound segment (2+ orders totalling 300 CNY in 90 days, a tag, a region, no view in 30 days) over "
    "N events and N/10 customers: siyu vs hand-written DuckDB SQL on the same files vs PostgreSQL; siyu_s, "
    "handwritten_s, postgres_s, ratio_vs_handwritten, ratio_vs_postgres.",
    small=2_000_000,
    full=50_000_000,
)
def segment(size: int) -> Figures:
    import psycopg

    from siyu.platform import clock
    from siyu.segments import services

    organisation, generated, summary_s = _lake(size)
    brand_id = organisation.brand_id
    tag, region = _choice(organisation)
    definition = compound(tag, region)
    now = generated.as_of  # the end of the generated history: the windows are the same every run
    url, pg_load = ensure_postgres(generated, brand_id)
    pg_sql = postgres_query(tag, region, now)

    def siyu() -> list[int]:
        with clock.frozen(now.replace(tzinfo=dt.UTC)):
            return services.evaluate(brand_id, definition)

    def hand() -> list[int]:
        return handwritten_duckdb(brand_id, tag, region, now)

    def postgres() -> list[int]:
        with psycopg.connect(url) as con:
            return [int(r[0]) for r in con.execute(pg_sql).fetchall()]

    timed: dict[str, list[float]] = {"siyu": [], "hand": [], "postgres": []}
    answers: dict[str, list[int]] = {}
    runs = {"siyu": siyu, "hand": hand, "postgres": postgres}
    for name, fn in runs.items():  # warm the caches; check they agree
        answers[name] = fn()
    if not answers["siyu"] == answers["hand"] == answers["postgres"]:
        sizes = {k: len(v) for k, v in answers.items()}
        raise RuntimeError(f"the three queries disagree on the members: {sizes}")
    load_before = _load()
    for _ in range(ROUNDS):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            timed[name].append(time.perf_counter() - started)
    load = (load_before + _load()) / 2
    siyu_s, hand_s, pg_s = (statistics.median(timed[k]) for k in ("siyu", "hand", "postgres"))
    return {
        "siyu_s": round(siyu_s, 3),
        "handwritten_s": round(hand_s, 3),
        "postgres_s": round(pg_s, 3),
        "ratio_vs_handwritten": round(siyu_s / hand_s, 3),
        "ratio_vs_postgres": round(pg_s / siyu_s, 1),
        "members_count": len(answers["siyu"]),
        "customers_count": generated.customers,
        "events_count": generated.events,
        "generate_seconds": round(generated.seconds, 1),
        "postgres_load_seconds": round(pg_load, 1),
        "summary_seconds": round(summary_s, 1),
        "machine_load_pct": round(100 * load / (os.cpu_count() or 1)),
    }


# --- segment-freshness ---------------------------------------------------------------------------------------
CUSTOMERS_IN_DB = 15_000  # the generated customers that also exist in the database (ingest resolves them)


@workload(
    "segment-freshness",
    "From an event's acknowledgement (events.services.ingest) to the changed membership of the compound "
    "segment being visible (is_member), over N events and N/10 customers; p95_ms.",
    small=2_000_000,
    full=50_000_000,
)
def segment_freshness(size: int) -> Figures:
    from siyu.events import services as events
    from siyu.org import services as org
    from siyu.platform import clock
    from siyu.segments import fresh, services

    organisation, generated, _summary_s = _lake(size, customers_in_db=CUSTOMERS_IN_DB)
    brand_id = organisation.brand_id
    tag, region = _choice(organisation)
    hq = org.hq_scope(brand_id, "bench")
    seg = services.create_segment(hq, name="回头客 bench", definition=compound(tag, region))
    first = services.materialise(brand_id, seg.pk)
    # customers who exist in the database, in the tag and region, with no view in 30 days, not members:
    # two orders of 150 CNY let each in, a view lets her out again
    near = {"version": 1, "root": {"type": "and", "children": compound(tag, region)["root"]["children"][2:]}}
    members = set(services.members_of(brand_id, seg.pk))
    probes = PROBES_FULL if size >= 10_000_000 else PROBES_SMALL
    candidates = [c for c in services.evaluate(brand_id, near) if c <= CUSTOMERS_IN_DB and c not in members]
    if len(candidates) * 2 < probes:
        raise RuntimeError(f"only {len(candidates)} customers can be moved; {probes // 2} are needed")
    latencies: list[float] = []
    missed = 0
    load_before = _load()
    started = time.perf_counter()
    for n, customer in enumerate(candidates[: probes // 2]):
        at = clock.now() - dt.timedelta(minutes=1)
        for expected, batch in (
            (True, [_probe_event(f"fo-{n}-{i}", "order", customer, at, 15000) for i in (1, 2)]),
            (False, [_probe_event(f"fv-{n}", "view", customer, at, None)]),
        ):
            result = events.ingest(brand_id, batch)
            acknowledged = time.perf_counter()
            if result.accepted != len(batch):
                raise RuntimeError(f"probe events refused: {result.errors}")
            while services.is_member(brand_id, seg.pk, customer) != expected:
                if time.perf_counter() - acknowledged > 10:
                    missed += 1
                    break
                time.sleep(0.005)
            latencies.append(time.perf_counter() - acknowledged)
            fresh.wait_idle()
            time.sleep(0.02)
    seconds = time.perf_counter() - started
    load = (load_before + _load()) / 2
    ordered = sorted(latencies)
    turns = fresh.cycles()
    update_ms = statistics.median(t for _n, t, _c in turns) * 1000 if turns else 0.0
    update_cpu_ms = statistics.median(c for _n, _t, c in turns) * 1000 if turns else 0.0

    def pct(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {
        "p95_ms": pct(95),
        "p50_ms": pct(50),
        "max_ms": round(1000 * ordered[-1], 1),
        "update_p50_ms": round(update_ms, 1),
        "update_cpu_p50_ms": round(update_cpu_ms, 1),
        "probes_count": len(latencies),
        "missed_count": missed,
        "audience_count": first.size,
        "full_run_ms": first.duration_ms,
        "customers_count": generated.customers,
        "events_count": generated.events,
        "seconds": round(seconds, 1),
        "machine_load_pct": round(100 * load / (os.cpu_count() or 1)),
    }


def _probe_event(event_id: str, kind: str, customer: int, at: dt.datetime, fen: int | None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": event_id, "type": kind, "at": at.isoformat(), "customer_id": customer}
    if fen is not None:
        event["amount_fen"] = fen
    return event
