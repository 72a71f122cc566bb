"""The behaviour summary (ADR 0020): for each closed day partition of a brand's event lake, every
customer's events of each type counted per hour, with the sums of ``amount_fen`` and ``quantity``
— what the count and sum conditions of a window need, in a fraction of the bytes of the events.

Layout, beside the facts snapshot::

    lake/summary/brand_id=<id>/day=<YYYY-MM-DD>/v<VERSION>-<fingerprint>/<type>.parquet

one file per event type of that day (the type percent-encoded), rows
``(type, hour, customer_id, events, amount_fen, quantity)`` sorted by customer and hour; events
without a customer are left out (no condition can count them).

**Never stale when read.** The fingerprint names the day's Parquet parts the summary was built
from. The lake never changes a part in place (compaction, a file import, erasure and retention
write new parts and delete old ones, ADR 0011), so a summary whose fingerprint is not that of the
day's parts *now* no longer describes the day and is never read (:func:`current`): the engine
reads that day's events instead. The WAL's pending events are never in a summary. So a query that
combines the summary of the days it finds current with the events of every other day and the WAL
(``segments.engine``) is exact at any moment, and fresh the moment an event is acknowledged.

**Kept in step.** The lake tells :func:`forget_days` (``platform.hooks.on_lake_days_changed``)
which days each change touched, right after applying it: their summaries are deleted at once, so
an erased customer's counts and the days retention dropped leave the summary with the events.
:func:`refresh` (a job every minute, and ``siyu segments summarise``) builds the missing summaries
of closed days (before today, UTC) and removes what no day's parts need any more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import duckdb

from siyu.events import services as events_services
from siyu.platform import clock
from siyu.segments import lake

log = logging.getLogger(__name__)

VERSION = 1  # bump when the columns or their meaning change: older summaries are then never read
COLUMNS: tuple[tuple[str, str], ...] = (
    ("type", "VARCHAR"),
    ("hour", "TIMESTAMP"),  # the UTC hour of the events (date_trunc('hour', at))
    ("customer_id", "BIGINT"),
    ("events", "BIGINT"),  # how many events of the type the customer has in that hour
    ("amount_fen", "BIGINT"),  # SUM(amount_fen) of them (NULL when every one is NULL)
    ("quantity", "BIGINT"),  # SUM(quantity)
)
SUMMED = ("amount_fen", "quantity")  # the columns a sum condition can read from the summary
WRITE_OPTIONS = "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2"


def root(brand_id: int) -> Path:
    return lake.root() / "summary" / f"brand_id={int(brand_id)}"


def fingerprint(parts: Iterable[Path]) -> str:
    """What names the Parquet parts of a day: the sorted names of its files."""
    return _fingerprint_names(p.name for p in parts)


def _fingerprint_names(names: Iterable[str]) -> str:
    digest = hashlib.sha1()
    for name in sorted(names):
        digest.update(name.encode() + b"\n")
    return digest.hexdigest()[:20]


def type_file(directory: Path, kind: str) -> Path:
    return directory / f"{quote(kind, safe='')}.parquet"


def _version_dir(brand_id: int, day: str, parts: Sequence[Path]) -> Path:
    return root(brand_id) / f"day={day}" / f"v{VERSION}-{fingerprint(parts)}"


def current(brand_id: int, since_day: str | None = None) -> dict[str, Path]:
    """The days (from ``since_day`` on) whose summary describes the day's parts as they are now:
    day → the directory of its per-type files."""
    base = root(brand_id)
    if not base.exists():
        return {}
    found: dict[str, Path] = {}
    with os.scandir(base) as entries:
        days = sorted(e.name[4:] for e in entries if e.name.startswith("day=") and e.is_dir())
    if since_day is not None:
        days = [d for d in days if d >= since_day]
    # every query checks each day of its horizon: one listing a day, no other look-up
    for day, names in events_services.day_part_names(brand_id, days).items():
        if names:
            directory = base / f"day={day}" / f"v{VERSION}-{_fingerprint_names(names)}"
            if os.path.isdir(directory):
                found[day] = directory
    return found


def files(days: dict[str, Path], types: Iterable[str] | None = None) -> list[Path]:
    """The summary files of these days (of some event types, or all)."""
    out: list[Path] = []
    for directory in (days[d] for d in sorted(days)):
        if types is None:
            out += sorted(directory.glob("*.parquet"))
        else:
            out += [f for f in (type_file(directory, t) for t in sorted(set(types))) if f.exists()]
    return out


def build_day(brand_id: int, day: str, con: duckdb.DuckDBPyConnection | None = None) -> Path | None:
    """Summarise one day from its parts now and put it in place (older versions of the day removed);
    its directory, or ``None`` when the day has no parts."""
    parts = events_services.day_parts(brand_id, day)
    if not parts:
        return None
    final = _version_dir(brand_id, day, parts)
    if final.is_dir():
        return final
    work = final.parent / f".tmp-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    own = con is None
    con = con or duckdb.connect(config={"threads": 1})
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE siyu_summary AS "
            "SELECT type, date_trunc('hour', CAST(\"at\" AS TIMESTAMP)) AS hour, "
            "CAST(customer_id AS BIGINT) AS customer_id, COUNT(*) AS events, "
            "CAST(SUM(amount_fen) AS BIGINT) AS amount_fen, "
            "CAST(SUM(quantity) AS BIGINT) AS quantity "
            f"FROM {events_services.parts_reader(parts)} "
            "WHERE customer_id IS NOT NULL GROUP BY ALL"
        )
        kinds = [r[0] for r in con.execute("SELECT DISTINCT type FROM siyu_summary ORDER BY 1").fetchall()]
        for kind in kinds:
            target = str(type_file(work, kind)).replace("'", "''")
            con.execute(
                "COPY (SELECT type, hour, customer_id, events, amount_fen, quantity FROM siyu_summary "
                f"WHERE type = $kind ORDER BY customer_id, hour) TO '{target}' ({WRITE_OPTIONS})",
                {"kind": kind},
            )
        con.execute("DROP TABLE siyu_summary")
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if own:
            con.close()
    try:
        os.rename(work, final)
    except OSError:  # built meanwhile by another process: theirs stands
        shutil.rmtree(work, ignore_errors=True)
    for other in final.parent.iterdir():
        if other != final:
            shutil.rmtree(other, ignore_errors=True)
    return final


@dataclass(frozen=True)
class Refreshed:
    built: int  # days summarised now
    removed: int  # summaries of days the lake no longer has
    current: int  # days summarised after the refresh


def refresh(brand_id: int, *, today: dt.date | None = None) -> Refreshed:
    """Summarise every closed day of the brand (before ``today``, UTC) that has no current summary,
    and remove the summaries of days without parts (dropped by retention, emptied by erasure)."""
    today = today or clock.now().astimezone(dt.UTC).date()
    days = set(events_services.lake_days(brand_id))
    wanted = {d for d in days if d < today.isoformat()}
    have = current(brand_id)
    built = 0
    con = None
    try:
        for day in sorted(wanted - set(have)):
            con = con or duckdb.connect(config={"threads": 1})
            try:
                if build_day(brand_id, day, con) is not None:
                    built += 1
            except (duckdb.IOException, FileNotFoundError):  # the day changed while read: next turn
                log.info("summary of brand %s day %s not built: its parts changed", brand_id, day)
    finally:
        if con is not None:
            con.close()
    removed = 0
    base = root(brand_id)
    if base.exists():
        for entry in base.iterdir():
            if entry.name.startswith("day=") and entry.name[4:] not in days:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    return Refreshed(built, removed, len(current(brand_id)))


def refresh_all() -> dict[int, int]:
    """:func:`refresh` for every brand with events; days built per brand."""
    return {b: refresh(b).built for b in events_services.lake_brands()}


def forget_days(brand_id: int, days: Iterable[str]) -> None:
    """The lake changed these days (``on_lake_days_changed``): delete their summaries now, whatever
    their version — an erasure or retention reaches the summary with the events."""
    base = root(brand_id)
    for day in days:
        shutil.rmtree(base / f"day={day}", ignore_errors=True)
