"""Compaction: WAL records into Parquet, small files of a day merged, and every rewrite of the lake
(erasure, retention) applied through one journal so that a crash at any point leaves each event
stored once (ADR 0011).

A rewrite is prepared (new files written under ``.tmp`` names the readers' glob ignores), then
committed by writing ``journal.json`` atomically (the files to rename into place, the files to
delete, the new WAL checkpoint, the WAL files to remove), then applied; the journal is removed last.
A journal found at start (the process died while applying) is applied again — every step of it is
idempotent. Only one compaction or rewrite runs at a time (``compact.lock``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from siyu.events import idstore, lake, wal
from siyu.events.models import EventKey
from siyu.platform import hooks

SMALL_BYTES = 32 * 1024 * 1024  # parts of a day under this size are merged into the next compaction's file
KEY_CHUNK = 500


@dataclass
class Plan:
    renames: list[tuple[str, str]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    checkpoint: dict[str, int] | None = None
    remove_wal: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Compacted:
    events: int  # rows written to the lake
    skipped: int  # repeated event ids left out
    files: int  # Parquet files written
    wal_removed: int


@contextmanager
def exclusive() -> Iterator[None]:
    """The lake's writer lock: one compaction or rewrite at a time (across processes)."""
    root = lake.root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "compact.lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            recover()
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _journal_path() -> Path:
    return lake.root() / "journal.json"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fsync_all([path])


SYNC_THREADS = 16


def fsync_all(paths: Iterable[Path | str]) -> None:
    """``fsync`` each file or directory, several at once: an import touches a day partition per day
    of its file, and one ``fsync`` after the other waits for the disk each time (0.6 s for 180)."""

    def sync(path: Path | str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    todo = list(paths)
    if len(todo) <= 1:
        for path in todo:
            sync(path)
        return
    with ThreadPoolExecutor(min(SYNC_THREADS, len(todo))) as pool:
        list(pool.map(sync, todo))


def commit(plan: Plan) -> None:
    """Write the journal (the commit point), then apply it."""
    data = {
        "renames": plan.renames,
        "deletes": plan.deletes,
        "checkpoint": plan.checkpoint,
        "remove_wal": plan.remove_wal,
    }
    _write_atomic(_journal_path(), json.dumps(data).encode())
    _apply_and_tell(data)


def _apply_and_tell(data: dict[str, Any]) -> None:
    """Apply a journal, then tell the lake's listeners which days it changed (the segment engine's
    summary of those days is stale from now on)."""
    _apply(data)
    for brand_id, days in _days_of(data).items():
        hooks.lake_days_changed(brand_id, days)


def _days_of(data: dict[str, Any]) -> dict[int, set[str]]:
    """The (brand, day partition) pairs a journal's renames and deletes touch."""
    found: dict[int, set[str]] = {}
    paths = [final for _tmp, final in data.get("renames", [])] + list(data.get("deletes", []))
    for name in paths:
        day, brand = Path(name).parent.name, Path(name).parent.parent.name
        if day.startswith("day=") and brand.startswith("brand_id="):
            found.setdefault(int(brand.removeprefix("brand_id=")), set()).add(day.removeprefix("day="))
    return found


def _apply(data: dict[str, Any]) -> None:
    touched: set[Path] = set()
    for tmp, final in data.get("renames", []):
        if os.path.exists(tmp):
            os.replace(tmp, final)
            touched.add(Path(final).parent)
    for name in data.get("deletes", []):
        Path(name).unlink(missing_ok=True)
        touched.add(Path(name).parent)
    checkpoint = data.get("checkpoint")
    removed = set(data.get("remove_wal", []))
    if checkpoint is not None:
        kept = {k: v for k, v in checkpoint.items() if k not in removed}
        lake.wal_dir().mkdir(parents=True, exist_ok=True)
        _write_atomic(lake.checkpoint_path(), json.dumps({"files": kept}).encode())
    for name in removed:
        (lake.wal_dir() / name).unlink(missing_ok=True)
    present = [d for d in touched if d.exists()]
    fsync_all(present)
    for directory in present:
        if directory.name.startswith("day=") and not any(directory.iterdir()):
            directory.rmdir()
    _journal_path().unlink(missing_ok=True)


def recover() -> None:
    """Finish a journal left by a process that died applying it; drop files of an uncommitted one."""
    journal = _journal_path()
    if journal.exists():
        _apply_and_tell(json.loads(journal.read_text()))
    for tmp in lake.events_dir().glob("brand_id=*/day=*/.part-*.tmp") if lake.events_dir().exists() else []:
        tmp.unlink(missing_ok=True)


def new_part(brand_id: int, day: str, prefix: str = "part-") -> tuple[Path, Path]:
    """A fresh part's temporary and final paths (``prefix`` keeps what its name says: imported ids
    live in ``part-imp-`` files, see :mod:`siyu.events.idstore`)."""
    directory = lake.day_dir(brand_id, day)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}{uuid.uuid4().hex}.parquet"
    return directory / f".{name}.tmp", directory / name


# --- the dedupe index: which day's copy of an event id is kept ----------------------------------------
def settle_keys(rows: list[tuple[int, str, dt.date, list[dt.date]]]) -> list[tuple[int, str, dt.date]]:
    """Register the event ids of WAL rows being compacted (with the day of their first copy) when a
    request did not (its process died between the WAL's fsync and the commit), and return the copies
    ``(brand, event_id, day)`` to leave out: those of another day than the registered one. An id the
    index lacks that an import stored on one of its days (:mod:`siyu.events.idstore`) is registered
    with that day, so the imported copy is the one kept."""
    losing: list[tuple[int, str, dt.date]] = []
    by_brand: dict[int, dict[str, tuple[dt.date, list[dt.date]]]] = {}
    for brand_id, event_id, first_day, all_days in rows:
        by_brand.setdefault(int(brand_id), {})[event_id] = (first_day, all_days)
    for brand_id, wanted in by_brand.items():
        ids = list(wanted)
        for start in range(0, len(ids), KEY_CHUNK):
            chunk = ids[start : start + KEY_CHUNK]
            known = dict(EventKey.objects.filter(brand_id=brand_id, event_id__in=chunk).values_list("event_id", "day"))
            missing = [i for i in chunk if i not in known]
            if missing:
                first = {i: wanted[i][0] for i in missing}
                for day in sorted({d for i in missing for d in wanted[i][1]}, reverse=True):
                    for i in idstore.stored(brand_id, [(i, day) for i in missing if day in wanted[i][1]]):
                        first[i] = day  # the earliest day holding it imported
                EventKey.objects.bulk_create(
                    [EventKey(brand_id=brand_id, event_id=i, day=first[i]) for i in missing], ignore_conflicts=True
                )
                known.update(
                    EventKey.objects.filter(brand_id=brand_id, event_id__in=missing).values_list("event_id", "day")
                )
            for event_id in chunk:
                losing += [(brand_id, event_id, d) for d in wanted[event_id][1] if d != known.get(event_id)]
    return losing


def compact() -> Compacted:
    """Move every whole WAL record into the lake, each event id once, and merge the small files of the
    days it touches. Safe to run at any time, from any process; idempotent."""
    with exclusive():
        return _compact()


def _compact() -> Compacted:
    done = lake.read_checkpoint()
    offsets = dict(done)
    chunks: list[bytes] = []
    dead: list[str] = []
    for path in lake.wal_files():
        live = wal.is_live(path)
        end = done.get(path.name, 0)
        for record in wal.read_records(path, end):
            chunks.append(record.payload)
            end = record.end
        offsets[path.name] = end
        if not live:  # its process has ended: what is not whole by now never will be
            dead.append(path.name)
    if not chunks:
        if dead:
            commit(Plan(checkpoint=offsets, remove_wal=dead))
        return Compacted(events=0, skipped=0, files=0, wal_removed=len(dead))
    source = lake.write_temp(b"".join(chunks))
    try:
        with duckdb.connect() as con:
            return _write_incoming(con, source, offsets, dead)
    finally:
        source.unlink(missing_ok=True)


def _write_incoming(
    con: duckdb.DuckDBPyConnection, source: Path, offsets: dict[str, int], dead: list[str]
) -> Compacted:
    con.execute(f"CREATE TABLE raw AS SELECT {lake.SELECT_LIST} FROM {lake.json_reader(source)}")
    total_row = con.execute("SELECT count(*) FROM raw").fetchone()
    total = int(total_row[0]) if total_row else 0
    keys = con.execute(
        'SELECT brand_id, event_id, arg_min(CAST("at" AS DATE), received_at), list(DISTINCT CAST("at" AS DATE)) '
        "FROM raw GROUP BY 1, 2"
    ).fetchall()
    losing = settle_keys([(int(b), str(e), d, list(ds)) for b, e, d, ds in keys])
    if losing:
        con.execute("CREATE TABLE losing (brand_id BIGINT, event_id VARCHAR, day DATE)")
        con.executemany("INSERT INTO losing VALUES (?, ?, ?)", [list(x) for x in losing])
        con.execute(
            'DELETE FROM raw WHERE (brand_id, event_id, CAST("at" AS DATE)) IN '
            "(SELECT brand_id, event_id, day FROM losing)"
        )
    con.execute(
        "CREATE TABLE incoming AS SELECT * FROM raw "
        "QUALIFY row_number() OVER (PARTITION BY brand_id, event_id ORDER BY received_at) = 1"
    )
    plan = Plan(checkpoint=offsets, remove_wal=dead)
    written = 0
    groups = con.execute(
        "SELECT DISTINCT brand_id, strftime(\"at\", '%Y-%m-%d') FROM incoming ORDER BY 1, 2"
    ).fetchall()
    for brand_id, day in groups:
        existing = lake.parts(int(brand_id), day)
        small = [p for p in existing if p.stat().st_size < SMALL_BYTES]
        fresh = "SELECT * FROM incoming WHERE brand_id = $brand AND strftime(\"at\", '%Y-%m-%d') = $day" + (
            f" AND event_id NOT IN (SELECT event_id FROM {lake.parquet_reader(existing)})" if existing else ""
        )
        merged = (
            fresh if not small else f"SELECT {lake.SELECT_LIST} FROM {lake.parquet_reader(small)} UNION ALL {fresh}"
        )
        imported = any(idstore.is_imported(p) for p in small)
        tmp, final = new_part(int(brand_id), day, idstore.IMPORTED_PREFIX if imported else "part-")
        con.execute(
            f'COPY (SELECT {lake.SELECT_LIST} FROM ({merged}) ORDER BY "at", event_id) '
            f"TO {lake._quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
            {"brand": int(brand_id), "day": day},
        )
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        count = con.execute(f"SELECT count(*) FROM ({fresh})", {"brand": int(brand_id), "day": day}).fetchone()
        written += int(count[0]) if count else 0
        plan.renames.append((str(tmp), str(final)))
        plan.deletes += [str(p) for p in small]
    commit(plan)
    return Compacted(events=written, skipped=total - written, files=len(plan.renames), wal_removed=len(dead))


def rewrite_without(brand_id: int, where_sql: str, params: list[Any]) -> list[str]:
    """Rewrite the brand's parts that hold rows matching ``where_sql`` without them (erasure); the
    event ids removed. Runs under the writer lock after a compaction (so the WAL's rows are in)."""
    removed: list[str] = []
    with exclusive():
        _compact()
        plan = Plan()
        with duckdb.connect() as con:
            for part in lake.parts(brand_id):
                reader = lake.parquet_reader([part])
                ids = [r[0] for r in con.execute(f"SELECT event_id FROM {reader} WHERE {where_sql}", params).fetchall()]
                if not ids:
                    continue
                removed += ids
                day = part.parent.name.removeprefix("day=")
                tmp, final = new_part(brand_id, day, part.name[: part.name.rindex("-") + 1])  # keeps its kind
                kept = con.execute(f"SELECT count(*) FROM {reader} WHERE NOT ({where_sql})", params).fetchone()
                if kept and int(kept[0]) > 0:
                    con.execute(
                        f'COPY (SELECT * FROM {reader} WHERE NOT ({where_sql}) ORDER BY "at", event_id) '
                        f"TO {lake._quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)",
                        params,
                    )
                    plan.renames.append((str(tmp), str(final)))
                plan.deletes.append(str(part))
        if plan.deletes:
            commit(plan)
    return removed


def drop_days_before(brand_id: int, cutoff: str) -> int:
    """Drop the brand's day partitions older than ``cutoff`` (YYYY-MM-DD); how many days went."""
    with exclusive():
        old = [d for d in lake.days(brand_id) if d < cutoff]
        plan = Plan(deletes=[str(p) for d in old for p in lake.parts(brand_id, d)])
        if plan.deletes:
            commit(plan)
    return len(old)
