"""Run a compiled segment query on the configured engine (``SIYU_ANALYTICS_ENGINE``).

Both engines expose the same four tables for one brand — ``events``, ``customers``,
``customer_tags``, ``consents`` — read from the lake's Parquet files with the fixed schemas of
:mod:`siyu.segments.lake` (an empty table of the right columns when a brand has no file yet), so
one compiled query means the same on each. DuckDB runs embedded, one in-memory connection per
evaluation. Spark runs in local mode (one session per process, no UI, no downloads); it needs the
``[spark]`` extra and Java 17."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import duckdb
from django.conf import settings

from siyu.segments import lake
from siyu.segments.compile import Query

TABLES = ("customers", "customer_tags", "consents")


class Engine(Protocol):
    name: str

    def rows(
        self, brand_id: int, sql: str, params: dict[str, Any], *, since_day: str | None = None
    ) -> list[tuple[Any, ...]]: ...


def _duck_empty(columns: Sequence[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns) + " WHERE FALSE"


def _duck_select(files: str, columns: Sequence[tuple[str, str]]) -> str:
    cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns)
    return f"SELECT {cols} FROM read_parquet('{files}', hive_partitioning = false)"


def duckdb_views(con: duckdb.DuckDBPyConnection, brand_id: int, since_day: str | None = None) -> None:
    """Create the four tables of a brand as views on ``con``. The events come from the events
    domain's reader: the compacted Parquet files (of the days from ``since_day`` on: a query's
    horizon, :attr:`Query.since_day`) and the rows still in its write-ahead log."""
    from siyu.events import services as events_services

    events_services.relation(con, brand_id, since_day=since_day).create_view("events", replace=True)
    for name in TABLES:
        columns = lake.FACT_COLUMNS[name]
        if lake.fact_files(name, brand_id):
            body = _duck_select(str(lake.facts_dir(name, brand_id) / "*.parquet"), columns)
        else:
            body = _duck_empty(columns)
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")


class DuckDBEngine:
    name = "duckdb"

    def rows(
        self, brand_id: int, sql: str, params: dict[str, Any], *, since_day: str | None = None
    ) -> list[tuple[Any, ...]]:
        con = duckdb.connect(config={"threads": settings_threads()})
        try:
            duckdb_views(con, brand_id, since_day)
            return con.execute(sql, params).fetchall()
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
        self, brand_id: int, sql: str, params: dict[str, Any], *, since_day: str | None = None
    ) -> list[tuple[Any, ...]]:
        spark = self.session()
        files = [
            str(p)
            for p in lake.event_files(brand_id)
            if since_day is None or p.parent.name.removeprefix("day=") >= since_day
        ]
        with self._lock:  # the temp views are the session's: one brand's query at a time
            self._frame(spark, files, lake.EVENT_COLUMNS).createOrReplaceTempView("events")
            for name in TABLES:
                files = [str(p) for p in lake.fact_files(name, brand_id)]
                self._frame(spark, files, lake.FACT_COLUMNS[name]).createOrReplaceTempView(name)
            return [tuple(r) for r in spark.sql(sql, args=params or None).collect()]


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
        )
    ]


def count(brand_id: int, query: Query, eng: Engine | None = None) -> int:
    eng = eng or engine(query.dialect)
    sql = f"SELECT COUNT(*) FROM ({query.sql}) m"
    return int(eng.rows(brand_id, sql, query.params, since_day=query.since_day)[0][0])
