"""``ingest-bulk`` and ``ingest-http``: behaviour events into the lake from a file and over HTTP
(issue 4, ADR 0011). Both start from the demo brand's stores and a few thousand of its customers
(the generator's ``org``, ``catalog`` and ``customers`` steps, not timed).

``machine_load_pct`` is the load average over the timed run per CPU (100 = every core busy): on a
shared machine, read the throughput next to it.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from siyu.bench.measure import PeakRss
from siyu.bench.registry import Figures, workload

CUSTOMERS = 5_000
BATCH = 1_000
TYPES = ("view", "view", "view", "view", "click", "click", "share", "scan", "sign_in", "order")


def _brand() -> tuple[int, list[int], list[str]]:
    """The demo brand with its stores and CUSTOMERS customers: (brand id, customer ids, store codes)."""
    from siyu.demo import generator
    from siyu.members import services as members
    from siyu.org import services as org

    config = generator.Config(members=CUSTOMERS)
    generator.run(config, only={"org", "catalog"})
    summary = generator.run(config, only={"customers"})
    brand_id = summary.brand_id
    ids = [f.id for chunk in members.customer_facts(brand_id) for f in chunk]
    stores = [s.code for s in org.stores(brand_id, open_only=True)]
    return brand_id, ids, stores


def _load() -> float:
    return os.getloadavg()[0]


def _write_file(path: Path, size: int, customers: list[int], stores: list[str]) -> None:
    """``size`` events over the last 180 days as Parquet, written by DuckDB (not timed)."""
    import duckdb

    from siyu.events import lake

    with duckdb.connect() as con:
        ids = lake.write_temp("\n".join(str(c) for c in customers).encode(), suffix=".csv")
        try:
            con.execute(
                f"CREATE TABLE c AS SELECT row_number() OVER () - 1 AS n, id FROM read_csv('{ids}', header=false, "
                "columns={'id': 'BIGINT'})"
            )
        finally:
            ids.unlink(missing_ok=True)
        kinds = "[" + ", ".join(f"'{t}'" for t in TYPES) + "]"
        codes = "[" + ", ".join(f"'{s}'" for s in stores) + "]"
        con.execute(
            f"COPY (SELECT 'bulk-' || i AS event_id, {kinds}[1 + (hash(i) % {len(TYPES)})::INT] AS type, "
            "strftime(TIMESTAMP '2026-06-01' + INTERVAL (hash(i * 7) % (180 * 86400)) SECOND, '%Y-%m-%dT%H:%M:%S') "
            "|| '+08:00' AS at, c.id AS customer_id, "
            f"{codes}[1 + (hash(i * 3) % {len(stores)})::INT] AS store, "
            "CASE WHEN i % 10 = 9 THEN 19900 + (hash(i) % 50000)::BIGINT END AS amount_fen, "
            "CASE WHEN i % 4 = 0 THEN '{\"page\": \"/m/p/' || (i % 500) || '\"}' END AS properties "
            f"FROM range({size}) t(i) JOIN c ON c.n = hash(i * 13) % {len(customers)}) "
            f"TO '{path}' (FORMAT parquet, COMPRESSION zstd)"
        )


@workload(
    "ingest-bulk",
    "siyu import events: a Parquet file of N events (10 types, 5,000 customers, 69 stores, 180 days) read and "
    "checked by DuckDB, resolved by joins, deduplicated by anti-joins (no id in the OLTP index), written by DuckDB's "
    "partitioned COPY through the journal; events_per_s and cpu_seconds.",
    small=1_000_000,
    full=10_000_000,
)
def ingest_bulk(size: int) -> Figures:
    from siyu.events import importer

    brand_id, customers, stores = _brand()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        _write_file(path, size, customers, stores)
        load_before, cpu = _load(), time.process_time()
        with PeakRss() as peak:
            report = importer.import_file(brand_id, path)
        cpu, load = time.process_time() - cpu, (load_before + _load()) / 2
    if report.accepted != size:
        raise RuntimeError(f"imported {report.accepted} of {size} events: {report.errors[:3]}")
    cores = os.cpu_count() or 1
    return {
        "events_count": report.accepted,
        "seconds": round(peak.seconds, 3),
        "events_per_s": round(report.accepted / peak.seconds),
        "read_validate_seconds": report.seconds.get("read_validate", 0),
        "resolve_seconds": report.seconds.get("resolve", 0),
        "dedupe_write_seconds": report.seconds.get("dedupe_write", 0),
        "listeners_seconds": report.seconds.get("listeners", 0),
        "cpu_seconds": round(cpu, 3),
        "peak_rss_mb": peak.mb,
        "machine_load_pct": round(100 * load / cores),
    }


def _lake_count(brand_id: int, prefix: str) -> int:
    """How many events of the brand with ids under ``prefix`` the lake holds (the compacted files and
    the WAL, read raw, not through the deduplicating relation); none may be there twice."""
    import duckdb

    from siyu.events import lake

    pending, files = lake.pending_ndjson(brand_id), lake.parts(brand_id)
    sources = [f"SELECT event_id FROM {lake.parquet_reader(files)}"] if files else []
    path = lake.write_temp(pending) if pending else None
    if path is not None:
        sources.append(f"SELECT event_id FROM {lake.json_reader(path)}")
    if not sources:
        return 0
    try:
        with duckdb.connect() as con:
            row = con.execute(
                f"SELECT count(*), count(DISTINCT event_id) FROM ({' UNION ALL '.join(sources)}) "
                "WHERE starts_with(event_id, ?)",
                [prefix],
            ).fetchone()
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    total, distinct = (int(row[0]), int(row[1])) if row else (0, 0)
    if total != distinct:
        raise RuntimeError(f"{total - distinct} events are in the lake twice")
    return total


def _bodies(count: int, customers: list[int], stores: list[str], seed: int = 5, prefix: str = "http") -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for b in range(count):
        events = []
        for i in range(BATCH):
            kind = TYPES[rng.randrange(len(TYPES))]
            event: dict[str, Any] = {
                "event_id": f"{prefix}-{b}-{i}",
                "type": kind,
                "at": f"2026-11-{1 + rng.randrange(28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+08:00",
                "customer_id": customers[rng.randrange(len(customers))],
            }
            if rng.random() < 0.5:
                event["store"] = stores[rng.randrange(len(stores))]
            if kind == "order":
                event["amount_fen"] = 19900 + rng.randrange(50000)
            elif rng.random() < 0.3:
                event["properties"] = {"page": f"/m/p/{rng.randrange(500)}"}
            events.append(event)
        out.append(json.dumps({"events": events}).encode())
    return out


class _Shared:
    """Items several threads take from at once, each item once (``next`` under a lock)."""

    def __init__(self, items: list[bytes]) -> None:
        self._items, self._lock = iter(items), threading.Lock()

    def __iter__(self) -> _Shared:
        return self

    def __next__(self) -> bytes:
        with self._lock:
            return next(self._items)


@workload(
    "ingest-http",
    "POST /api/v1/events in batches of 1,000 from 8 concurrent connections against siyu serve (granian, two "
    "single-threaded workers per core; SIYU_BENCH_WORKERS / SIYU_BENCH_THREADS change that), each batch "
    "validated, resolved, deduplicated, WAL fsync-ed (group commit); events_per_s.",
    small=200_000,
    full=2_000_000,
)
def ingest_http(size: int) -> Figures:
    from siyu.bench.server import running
    from siyu.org import services as org
    from siyu.org.rules import Perm

    brand_id, customers, stores = _brand()
    _token, secret = org.issue_token(org.hq_scope(brand_id, "bench"), name="bench", perms=[Perm.EVENTS_INGEST])
    batches = max(1, size // BATCH)
    bodies = _bodies(batches, customers, stores)
    warm = _bodies(8, customers, stores, seed=6, prefix="warm")
    cores = os.cpu_count() or 1
    # Two single-threaded worker processes per core: a worker's request threads spend ~40 % more CPU
    # a batch handing the GIL to each other than they save (bench/README.md, ingest-http).
    workers = int(os.environ.get("SIYU_BENCH_WORKERS") or 2 * cores)
    threads = int(os.environ.get("SIYU_BENCH_THREADS") or 1)
    connections = 8
    with running(workers=workers, threads=threads) as server:
        host, port = server.url.removeprefix("http://").split(":")
        errors: list[str] = []
        accepted = [0]
        lock = threading.Lock()

        def send(todo: _Shared) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            for body in todo:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 200:
                    errors.append(f"{answer.status}: {data[:200]!r}")
                    continue
                got = json.loads(data)
                with lock:
                    accepted[0] += got["accepted"]
            conn.close()

        def run(all_bodies: list[bytes]) -> float:
            # One queue for every connection: each takes the next batch when its answer is in, so all
            # eight stay busy to the end. (A fixed eighth each left the connections of a worker that
            # held three of them still sending while the other workers idled: granian gives a
            # connection to one worker for its life.)
            todo = _Shared(all_bodies)
            threads = [threading.Thread(target=send, args=(todo,)) for _ in range(connections)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return time.perf_counter() - started

        run(warm)  # every worker has its caches, WAL file and connection (not timed)
        accepted[0] = 0
        load_before, server_cpu, client_cpu = _load(), server.cpu_seconds(), time.process_time()
        seconds = run(bodies)
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
        load = (load_before + _load()) / 2
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    # Honest figures: every event sent was acknowledged as new, and every one is in the lake once
    # afterwards (read through the engines' contract, the WAL part included).
    if accepted[0] != batches * BATCH:
        raise RuntimeError(f"{accepted[0]} of {batches * BATCH} events acknowledged as new")
    stored = _lake_count(brand_id, "http-")
    if stored != accepted[0]:
        raise RuntimeError(f"{stored} of the {accepted[0]} acknowledged events found in the lake")
    return {
        "events_count": accepted[0],
        "lake_events_count": stored,
        "seconds": round(seconds, 3),
        "events_per_s": round(accepted[0] / seconds),
        "server_cpu_per_batch_ms": round(1000 * server_cpu / batches, 2),
        "client_cpu_per_batch_ms": round(1000 * client_cpu / batches, 2),
        "server_workers_count": workers,
        "machine_load_pct": round(100 * load / cores),
    }
