"""The id store of imported events: which event ids a bulk import stored on a day, kept out of the
OLTP dedupe index (ADR 0011).

Registering every imported id in ``EventKey`` (one B-tree insert per id) capped a file import at
tens of thousands of events a second. An imported event's id is therefore not in the index; its
store is **the id column of the Parquet parts imports wrote**, per brand and day. Those parts are
named ``part-imp-<uuid>.parquet``: the readers' glob (``day=*/part-*.parquet``) and the columns are
those of every other part, compaction keeps the prefix when it merges such a part into a new file,
and erasure keeps it when it rewrites one — so erasing a customer or dropping a day by retention
removes the ids together with the rows, and nothing else has to be kept in step.

Who consults it:

- the importer dedupes a file by an anti-join in DuckDB against *every* part of the days it
  touches (imported or compacted from the WAL) and the WAL's pending rows;
- the API path (``services._store``, ADR 0023): a batch's ids are looked up in the imported parts
  of their days (:func:`stored`) before the WAL, so an id imported earlier and sent again over HTTP
  is stored once (a duplicate, never in ``EventKey``) — a day without imported parts costs one
  directory listing;
- compaction (``settle_keys``): a WAL id the index lacks (a crash between the WAL's fsync and the
  commit) that a day holds as imported is registered with that day, so the imported copy is kept.

An id is deduplicated against the imports **of the same day** (an event and its resend carry the
same time); an id in ``EventKey`` is unique per brand whatever its day, as before.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from siyu.events import lake

IMPORTED_PREFIX = "part-imp-"

_local = threading.local()


def is_imported(part: Path | str) -> bool:
    return Path(part).name.startswith(IMPORTED_PREFIX)


def imported_parts(brand_id: int, day: str) -> list[Path]:
    """The day's parts written (or merged from parts written) by an import."""
    return _imported_in(str(lake.day_dir(brand_id, day)))


# A day directory's listing, kept while the directory's (inode, mtime) stays the same. Adding,
# renaming or removing a part changes the directory's mtime; a listing is only trusted when it was
# taken well after that mtime (RACY_NS), so a change made within the clock's granularity of an
# earlier one is never hidden behind an equal mtime (git's "racily clean" rule).
RACY_NS = 2_000_000_000
_listings: dict[str, tuple[int, int, list[Path]]] = {}


def _imported_in(directory: str) -> list[Path]:
    try:
        stat = os.stat(directory)
    except FileNotFoundError:
        return []
    hit = _listings.get(directory)
    if hit is not None and hit[0] == stat.st_ino and hit[1] == stat.st_mtime_ns:
        return hit[2]
    listed_at = time.time_ns()
    try:
        with os.scandir(directory) as entries:
            found = sorted(
                Path(e.path) for e in entries if e.name.startswith(IMPORTED_PREFIX) and e.name.endswith(".parquet")
            )
    except FileNotFoundError:
        return []
    if listed_at - stat.st_mtime_ns > RACY_NS:
        if len(_listings) > 10_000:
            _listings.clear()
        _listings[directory] = (stat.st_ino, stat.st_mtime_ns, found)
    return found


def _cursor() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
        con.execute("SET threads = 1")
    return con


def stored(brand_id: int, keys: Iterable[tuple[str, dt.date | str]]) -> set[str]:
    """Of these ``(event_id, day)``, the ids an import already stored on that day."""
    by_date: dict[dt.date | str, list[str]] = {}
    for event_id, day in keys:
        by_date.setdefault(day, []).append(event_id)
    by_day: dict[str, list[str]] = {}
    for day, ids in by_date.items():  # one isoformat a day, not one an id
        by_day.setdefault(day if isinstance(day, str) else day.isoformat(), []).extend(ids)
    found: set[str] = set()
    brand_dir = str(lake.brand_dir(brand_id))
    for day, ids in by_day.items():
        for attempt in range(3):  # a compaction may replace a part between the listing and the read
            files = _imported_in(f"{brand_dir}/day={day}")  # imported_parts, without a Path per day
            if not files:
                break
            try:
                rows = (
                    _cursor()
                    .execute(
                        f"SELECT DISTINCT event_id FROM {lake.parquet_reader(files)} "
                        "WHERE event_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))",
                        {"ids": ids},
                    )
                    .fetchall()
                )
            except duckdb.IOException:
                if attempt == 2:
                    raise
                continue
            found.update(r[0] for r in rows)
            break
    return found
