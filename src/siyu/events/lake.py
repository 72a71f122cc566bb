"""The event lake: where events live for analytics, and how an engine reads them (ADR 0011).

Layout under ``SIYU_HOME/lake/``::

    events/brand_id=<id>/day=<YYYY-MM-DD>/part-<uuid>.parquet   compacted events (DuckDB writes them)
    wal/<pid>-<uuid>.wal                                         accepted, not yet compacted (wal.py)
    wal/checkpoint.json                                          how far each WAL file is compacted
    journal.json                                                 a compaction or erase being applied

Every Parquet file has columns of :data:`COLUMNS`, by name (``brand_id`` is in the file as well as in
the path; read with ``hive_partitioning=false``). A part an import writes leaves out the columns its
file does not give, which are NULL in every row (ADR 0024); :func:`parquet_reader` reads the parts by
name together with :func:`schema_file` — no rows, every column — so a column missing from a part, or
from all of them, reads as NULL of its type. Compaction writes every column. Times are UTC without a
zone, in microseconds.

**The contract for engines** (the segment engine reads only this module): :func:`relation` gives a
DuckDB relation over a brand's events, the compacted ones *and* those still in the WAL, each
``(brand_id, event_id)`` once — the lake is fresh the moment an event is acknowledged.
:func:`events_glob` names the brand's Parquet files for engines that read them directly (Spark, by
name with the lake's schema: a column a part lacks is NULL), with :func:`pending_ndjson` for the WAL
part.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from siyu.events import wal

if TYPE_CHECKING:
    import duckdb

# The lake's columns, in order, with their DuckDB types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "VARCHAR"),
    ("brand_id", "BIGINT"),
    ("type", "VARCHAR"),
    ("at", "TIMESTAMP"),
    ("customer_id", "BIGINT"),
    ("store_id", "BIGINT"),
    ("guide_id", "BIGINT"),
    ("content_id", "VARCHAR"),
    ("product_id", "BIGINT"),
    ("sku_id", "BIGINT"),
    ("amount_fen", "BIGINT"),
    ("quantity", "INTEGER"),
    ("properties", "VARCHAR"),
    ("received_at", "TIMESTAMP"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
SELECT_LIST = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in COLUMNS)
_COLUMNS_DIGEST = hashlib.sha256(repr(COLUMNS).encode()).hexdigest()[:12]  # names the schema file


def root() -> Path:
    return Path(os.environ.get("SIYU_LAKE", settings.SIYU_HOME / "lake"))


def events_dir() -> Path:
    return root() / "events"


def wal_dir() -> Path:
    return root() / "wal"


def brand_dir(brand_id: int) -> Path:
    return events_dir() / f"brand_id={int(brand_id)}"


def day_dir(brand_id: int, day: str) -> Path:
    return brand_dir(brand_id) / f"day={day}"


def events_glob(brand_id: int) -> str:
    """The glob of a brand's compacted Parquet files (``read_parquet(glob, hive_partitioning=false)``)."""
    return str(brand_dir(brand_id) / "day=*" / "part-*.parquet")


def parts(brand_id: int, day: str | None = None) -> list[Path]:
    """The brand's Parquet files (of one day), oldest name first."""
    base = brand_dir(brand_id)
    pattern = f"day={day}/part-*.parquet" if day else "day=*/part-*.parquet"
    return sorted(base.glob(pattern)) if base.exists() else []


def part_names(brand_id: int, days: Iterable[str]) -> dict[str, list[str]]:
    """The names of the Parquet files of each of these days (sorted; none for a day without
    files) — :func:`parts` by name, one directory listing a day, for readers that check many days
    at every query (the segment engine's behaviour summary)."""
    base = brand_dir(brand_id)
    found: dict[str, list[str]] = {}
    for day in days:
        try:
            with os.scandir(base / f"day={day}") as entries:
                names = [e.name for e in entries if e.name.startswith("part-") and e.name.endswith(".parquet")]
        except (FileNotFoundError, NotADirectoryError):
            names = []
        found[day] = sorted(names)
    return found


def days(brand_id: int) -> list[str]:
    base = brand_dir(brand_id)
    if not base.exists():
        return []
    return sorted(p.name.removeprefix("day=") for p in base.glob("day=*") if p.is_dir())


def brands() -> list[int]:
    base = events_dir()
    if not base.exists():
        return []
    return sorted(int(p.name.removeprefix("brand_id=")) for p in base.glob("brand_id=*") if p.is_dir())


# --- the WAL's pending part ------------------------------------------------------------------------
def checkpoint_path() -> Path:
    return wal_dir() / "checkpoint.json"


def read_checkpoint() -> dict[str, int]:
    """How far each WAL file (by name) has been compacted."""
    try:
        data = json.loads(checkpoint_path().read_text())
    except FileNotFoundError:
        return {}
    return {str(k): int(v) for k, v in data.get("files", {}).items()}


def wal_files() -> list[Path]:
    base = wal_dir()
    return sorted(base.glob("*.wal")) if base.exists() else []


def pending_records(brand_id: int | None = None) -> Iterator[tuple[Path, wal.Record]]:
    """The WAL records not yet compacted (of one brand, or all)."""
    done = read_checkpoint()
    for path in wal_files():
        for record in wal.read_records(path, done.get(path.name, 0)):
            if brand_id is None or record.brand_id == brand_id:
                yield path, record


def pending_ndjson(brand_id: int) -> bytes:
    """The brand's events still in the WAL, as NDJSON rows of the lake's columns."""
    return b"".join(r.payload for _, r in pending_records(brand_id))


def write_temp(data: bytes, suffix: str = ".ndjson") -> Path:
    tmp = root() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    return path


def json_reader(path: Path | str) -> str:
    """SQL reading NDJSON event rows with the lake's column types. Times are UTC in ISO 8601, as
    ``2025-05-01 02:00:00.000000`` (older WAL records) or as orjson writes a UTC datetime,
    ``2025-05-01T02:00:00+00:00`` (fractional seconds when there are some): DuckDB's own parser reads
    both."""
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS) + "}"
    return f"read_json({_quote(str(path))}, format='newline_delimited', columns={columns})"


def schema_file() -> Path:
    """A Parquet file of no rows with every column of :data:`COLUMNS`, written once (atomically) under
    ``lake/schema/``; its name changes with the columns, so a file of older columns is never read."""
    path = root() / "schema" / f"events-{_COLUMNS_DIGEST}.parquet"
    if not path.exists():
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
        try:
            with duckdb.connect() as con:
                con.execute(f"COPY ({empty_sql()}) TO {_quote(str(tmp))} (FORMAT parquet)")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def parquet_reader(files: list[Path] | str) -> str:
    """SQL reading event parts (a list, or a glob) by column name, with :func:`schema_file` first:
    every column of :data:`COLUMNS` is there, NULL in a part that leaves it out."""
    given = [files] if isinstance(files, str) else [str(f) for f in files]
    listed = "[" + ", ".join(_quote(f) for f in [str(schema_file()), *given]) + "]"
    return f"read_parquet({listed}, hive_partitioning=false, union_by_name=true)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def empty_sql() -> str:
    return "SELECT " + ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in COLUMNS) + " WHERE false"


def relation(
    con: duckdb.DuckDBPyConnection,
    brand_id: int,
    *,
    since_day: str | None = None,
    skip_days: frozenset[str] | set[str] = frozenset(),
) -> duckdb.DuckDBPyRelation:
    """A brand's events as one DuckDB relation: the Parquet files and the WAL's pending rows, each
    ``event_id`` once (a WAL row whose id is already compacted, or repeated in the WAL after a crash
    and resend, is left out). The WAL part is loaded into a temporary table of ``con``. With
    ``since_day`` only the day partitions from that day on are read (the WAL part is whole); the
    Parquet files of the days in ``skip_days`` are left out (a reader that has those days' rows
    from elsewhere: the segment engine's summary), the WAL's rows of those days are not."""
    every = parts(brand_id) if since_day is None else _parts_since(brand_id, since_day)
    files = [f for f in every if f.parent.name.removeprefix("day=") not in skip_days] if skip_days else every
    lake_sql = f"SELECT {SELECT_LIST} FROM {parquet_reader(files)}" if files else empty_sql()
    pending = pending_ndjson(brand_id)
    if not pending:
        return con.sql(lake_sql)
    table = f"siyu_wal_{uuid.uuid4().hex}"
    path = write_temp(pending)
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT {SELECT_LIST} FROM {json_reader(path)} "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1"
        )
    finally:
        path.unlink(missing_ok=True)
    if not every:
        return con.sql(f"SELECT * FROM {table}")
    # a WAL row already compacted is left out, whichever day's file holds it (skipped or not)
    known = f'SELECT event_id, "at" FROM {parquet_reader(every)}'
    return con.sql(
        f"WITH lake AS ({lake_sql}) SELECT * FROM lake UNION ALL "
        f"SELECT w.* FROM {table} w WHERE w.event_id NOT IN ("
        f'SELECT event_id FROM ({known}) k WHERE "at" >= (SELECT date_trunc(\'day\', min("at")) FROM {table}))'
    )


def describe() -> dict[str, Any]:
    """What the lake holds (for the CLI and the explorer)."""
    return {
        "root": str(root()),
        "brands": brands(),
        "parquet_files": sum(len(parts(b)) for b in brands()),
        "wal_files": len(wal_files()),
    }


def customers_relation(
    con: duckdb.DuckDBPyConnection,
    brand_id: int,
    customer_ids: Iterator[int] | list[int] | set[int],
    *,
    types: list[str] | None = None,
    since_day: str | None = None,
) -> duckdb.DuckDBPyRelation:
    """The events of a few customers (of some ``types``, on day partitions from ``since_day``
    on), compacted and pending, each ``event_id`` once — what :func:`relation` holds for them.
    The segment engine's incremental freshness reads this instead of the whole lake."""
    ids = sorted({int(c) for c in customer_ids}) or [0]
    where = f"customer_id IN ({', '.join(str(c) for c in ids)})"
    if types is not None:
        where += " AND type IN (" + (", ".join(_quote(t) for t in sorted(set(types))) or "NULL") + ")"
    files = parts(brand_id) if since_day is None else _parts_since(brand_id, since_day)
    lake_sql = f"SELECT {SELECT_LIST}, 0 AS siyu_src FROM {parquet_reader(files)} WHERE {where}" if files else ""
    pending = pending_ndjson(brand_id)
    if not pending:
        return con.sql(f"SELECT {SELECT_LIST} FROM ({lake_sql})" if files else empty_sql())
    path = write_temp(pending)
    table = f"siyu_wal_{uuid.uuid4().hex}"
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT {SELECT_LIST}, 1 AS siyu_src FROM {json_reader(path)} WHERE {where}"
        )
    finally:
        path.unlink(missing_ok=True)
    union = f"{lake_sql} UNION ALL SELECT * FROM {table}" if files else f"SELECT * FROM {table}"
    names = ", ".join(f'"{name}"' for name in COLUMN_NAMES)
    return con.sql(
        f"SELECT {names} FROM ({union}) "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY siyu_src, received_at) = 1"
    )


def _parts_since(brand_id: int, since_day: str) -> list[Path]:
    """The brand's Parquet files of the days from ``since_day`` on (only those directories listed)."""
    base = brand_dir(brand_id)
    if not base.exists():
        return []
    found: list[Path] = []
    with os.scandir(base) as days_found:
        wanted = sorted(d.path for d in days_found if d.name.startswith("day=") and d.name[4:] >= since_day)
    for day in wanted:
        with os.scandir(day) as entries:
            found += sorted(Path(e.path) for e in entries if e.name.startswith("part-") and e.name.endswith(".parquet"))
    return found
