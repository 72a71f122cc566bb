"""Run a compiled segment query on the configured engine (``SIYU_ANALYTICS_ENGINE``).

Both engines expose the same tables for one brand — ``events``, ``customers``, ``customer_tags``,
``consents``, and the behaviour summary's (ADR 0020): one table per :class:`Summarised` the query
names (``event_days_<n>``: one event type's summary rows on the days of a window that have a current
summary) and ``events_unsummarised`` (the events of every other day, and the WAL's) — read from
the lake's Parquet files with the fixed schemas of :mod:`siyu.segments.lake` (an empty table of the
right columns when a brand has no file yet), so one compiled query means the same on each.
DuckDB runs embedded: one instance per process (Parquet metadata cached across queries; the lake's
files are never changed in place), a cursor per evaluation, the tables given to the query as its
own common table expressions (bound once, with it; the WAL's rows a temporary table of the cursor).
Spark runs in local mode (one session per process, no UI, no downloads); it needs the ``[spark]``
extra and Java 17."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
from django.conf import settings

from siyu.segments import lake, summary
from siyu.segments.compile import Query, Summarised

TABLES = ("customers", "customer_tags", "consents")
_READS_EVENTS = re.compile(r"\bFROM events\b")  # how a compiled query reads the events table


class Engine(Protocol):
    name: str

    def rows(
        self,
        brand_id: int,
        sql: str,
        params: dict[str, Any],
        *,
        since_day: str | None = None,
        raw_days: frozenset[str] | None = None,
        summaries: Sequence[Summarised] = (),
    ) -> list[tuple[Any, ...]]: ...


def _duck_empty(columns: Sequence[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns) + " WHERE FALSE"


def _duck_select(files: str, columns: Sequence[tuple[str, str]]) -> str:
    """``files``: a quoted path or glob, or a list of them (:func:`_listed`)."""
    cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns)
    return f"SELECT {cols} FROM read_parquet({files}, hive_partitioning = false)"


def _listed(files: Sequence[Path | str]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def summarised_days(brand_id: int, since_day: str | None, raw_days: frozenset[str] | None) -> dict[str, Path]:
    """The days a query reads from the behaviour summary: those with a current one, less the days
    it reads partial hours of (:attr:`Query.raw_days`); none when those are not known (``None``)."""
    if raw_days is None:
        return {}
    return {d: p for d, p in summary.current(brand_id, since_day).items() if d not in raw_days}


def summary_files(days: dict[str, Path], table: Summarised) -> list[Path]:
    """The files of a summary table: its type's summary of the ``days`` (:func:`summarised_days`)
    that hold its hours."""
    first, last = table.first_day, table.last_day
    chosen = {d: p for d, p in days.items() if (first is None or d >= first) and d <= last}
    return summary.files(chosen, [table.type])


def duckdb_tables(
    con: duckdb.DuckDBPyConnection,
    brand_id: int,
    since_day: str | None = None,
    raw_days: frozenset[str] | None = None,
    summaries: Sequence[Summarised] = (),
    *,
    with_events: bool = True,
    facts: Sequence[str] = TABLES,
) -> list[tuple[str, str]]:
    """The tables of a brand as (name, query) for ``con`` (``events`` only ``with_events``: binding
    it costs a look at every file's schema; of the facts, those in ``facts``). The events come
    from the events domain's reader: the compacted Parquet files (of the days from ``since_day``
    on: a query's horizon, :attr:`Query.since_day`) and the rows still in its write-ahead log (a
    temporary table of ``con``); each summary table is the behaviour summary of its type on the
    days of :func:`summarised_days` that hold its hours, and ``events_unsummarised`` the events of
    every other day and the WAL."""
    from siyu.events import services as events_services

    days = summarised_days(brand_id, since_day, raw_days)
    tables: list[tuple[str, str]] = []
    if with_events:
        tables.append(("events", events_services.relation(con, brand_id, since_day=since_day).sql_query()))
    rest = events_services.relation(con, brand_id, since_day=since_day, skip_days=set(days))
    tables.append(("events_unsummarised", rest.sql_query()))
    for table in summaries:
        found = summary_files(days, table)
        body = _duck_select(_listed(found), summary.COLUMNS) if found else _duck_empty(summary.COLUMNS)
        tables.append((table.table, body))
    for name in facts:
        columns = lake.FACT_COLUMNS[name]
        found = lake.fact_files(name, brand_id)
        tables.append((name, _duck_select(_listed(found), columns) if found else _duck_empty(columns)))
    return tables


def with_tables(tables: Sequence[tuple[str, str]], sql: str) -> str:
    """``sql`` reading ``tables`` as common table expressions of its own: bound once, with the
    query (a view is bound when created and again when read), and never materialised (each read
    is planned with its filters, as a view's is)."""
    named = ", ".join(f"{name} AS NOT MATERIALIZED ({body})" for name, body in tables)
    stripped = sql.lstrip()
    if stripped[:5].upper() == "WITH ":
        return f"WITH {named}, {stripped[5:]}"
    return f"WITH {named} {sql}"


def empty_summaries(con: duckdb.DuckDBPyConnection, summaries: Sequence[Summarised]) -> None:
    """The summary tables of a query as empty views (a reader that has every event elsewhere)."""
    for table in summaries:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table.table} AS {_duck_empty(summary.COLUMNS)}")


_instance: duckdb.DuckDBPyConnection | None = None
_instance_lock = threading.Lock()


def duck() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's DuckDB instance (a new instance costs ~10–50 ms and forgets the
    Parquet metadata it read). Temporary views and tables are the cursor's alone: close it after use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = duckdb.connect(config={"threads": settings_threads()})
            _instance.execute("SET parquet_metadata_cache = true")  # the lake's files never change in place
        return _instance.cursor()


class DuckDBEngine:
    name = "duckdb"

    def rows(
        self,
        brand_id: int,
        sql: str,
        params: dict[str, Any],
        *,
        since_day: str | None = None,
        raw_days: frozenset[str] | None = None,
        summaries: Sequence[Summarised] = (),
    ) -> list[tuple[Any, ...]]:
        con = duck()
        try:
            reads_events = _READS_EVENTS.search(sql) is not None
            facts = [name for name in TABLES if re.search(rf"\b{name}\b", sql)]  # the facts it names
            tables = duckdb_tables(con, brand_id, since_day, raw_days, summaries, with_events=reads_events, facts=facts)
            return con.execute(with_tables(tables, sql), params).fetchall()
        finally:
            con.close()


def settings_threads() -> int:
    return int(getattr(settings, "SIYU_ANALYTICS_THREADS", 0) or 2)


_SPARK_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "BOOLEAN": "BOOLEAN",
}


def _spark_schema(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{c}` {_SPARK_TYPES[t]}" for c, t in columns)


class SparkEngine:
    """Spark SQL in local mode. One session per process, created on first use."""

    name = "spark"
    _session: Any = None
    _lock = threading.Lock()

    @classmethod
    def session(cls) -> Any:
        with cls._lock:
            if cls._session is None:
                from pyspark.sql import SparkSession

                cls._session = (
                    SparkSession.builder.master("local[1]")
                    .appName("siyu-segments")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.sql.shuffle.partitions", "1")
                    .config("spark.sql.adaptive.enabled", "true")
                    .config("spark.driver.memory", "1g")
                    .config("spark.jars.ivy", str(lake.root() / ".ivy"))
                    .getOrCreate()
                )
                cls._session.sparkContext.setLogLevel("ERROR")
            return cls._session

    def _frame(self, spark: Any, files: list[str], columns: Sequence[tuple[str, str]]) -> Any:
        schema = _spark_schema(columns)
        if not files:
            return spark.createDataFrame([], schema)
        names = [c for c, _ in columns]
        return spark.read.schema(schema).parquet(*files).select(*names)

    def rows(
        self,
        brand_id: int,
        sql: str,
        params: dict[str, Any],
        *,
        since_day: str | None = None,
        raw_days: frozenset[str] | None = None,
        summaries: Sequence[Summarised] = (),
    ) -> list[tuple[Any, ...]]:
        spark = self.session()
        files = [p for p in lake.event_files(brand_id) if since_day is None or _day(p) >= since_day]
        days = summarised_days(brand_id, since_day, raw_days)
        with self._lock:  # the temp views are the session's: one brand's query at a time
            self._frame(spark, [str(p) for p in files], lake.EVENT_COLUMNS).createOrReplaceTempView("events")
            rest = [str(p) for p in files if _day(p) not in days]
            self._frame(spark, rest, lake.EVENT_COLUMNS).createOrReplaceTempView("events_unsummarised")
            for table in summaries:
                found = [str(p) for p in summary_files(days, table)]
                self._frame(spark, found, summary.COLUMNS).createOrReplaceTempView(table.table)
            for name in TABLES:
                facts = [str(p) for p in lake.fact_files(name, brand_id)]
                self._frame(spark, facts, lake.FACT_COLUMNS[name]).createOrReplaceTempView(name)
            return [tuple(r) for r in spark.sql(sql, args=params or None).collect()]


def _day(part: Path) -> str:
    return part.parent.name.removeprefix("day=")


def engine(name: str | None = None) -> Engine:
    chosen = name or settings.SIYU_ANALYTICS_ENGINE
    if chosen == "duckdb":
        return DuckDBEngine()
    if chosen == "spark":
        return SparkEngine()
    raise ValueError(f"SIYU_ANALYTICS_ENGINE must be duckdb or spark, not {chosen!r}")


def member_ids(brand_id: int, query: Query, eng: Engine | None = None) -> list[int]:
    """The members of a compiled query, in id order."""
    eng = eng or engine(query.dialect)
    return [
        int(r[0])
        for r in eng.rows(
            brand_id,
            f"SELECT customer_id FROM ({query.sql}) m ORDER BY customer_id",
            query.params,
            since_day=query.since_day,
            raw_days=query.raw_days,
            summaries=query.summaries,
        )
    ]


def count(brand_id: int, query: Query, eng: Engine | None = None) -> int:
    eng = eng or engine(query.dialect)
    sql = f"SELECT COUNT(*) FROM ({query.sql}) m"
    found = eng.rows(
        brand_id, sql, query.params, since_day=query.since_day, raw_days=query.raw_days, summaries=query.summaries
    )
    return int(found[0][0])
