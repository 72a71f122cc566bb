"""Where the analytics files live and how an engine sees them.

``SIYU_HOME/lake/events/brand_id=<id>/day=<YYYY-MM-DD>/*.parquet`` holds the behaviour events
(written by ``siyu.events``); ``SIYU_HOME/lake/facts/<name>/brand_id=<id>/*.parquet`` the OLTP facts
exported by :mod:`siyu.segments.facts`. Each table has a fixed schema (below) so that a brand with
no file yet still reads as an empty table of the right columns on every engine."""

from __future__ import annotations

from pathlib import Path

from siyu.events import services as events_services

EVENT_COLUMNS: tuple[tuple[str, str], ...] = events_services.LAKE_COLUMNS  # the events domain's contract

FACT_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("customer_id", "BIGINT"),
        ("store_id", "BIGINT"),
        ("region_id", "BIGINT"),
        ("city", "VARCHAR"),
        ("guide_id", "BIGINT"),
        ("tier", "VARCHAR"),
        ("lifecycle", "VARCHAR"),
        ("source", "VARCHAR"),
        ("joined_at", "TIMESTAMP"),
        ("birth_month", "INTEGER"),
        ("birth_day", "INTEGER"),
        ("rfm_r", "INTEGER"),
        ("rfm_f", "INTEGER"),
        ("rfm_m", "INTEGER"),
        ("orders_count", "BIGINT"),
        ("total_spent_fen", "BIGINT"),
        ("last_purchase_at", "TIMESTAMP"),
    ),
    "customer_tags": (("customer_id", "BIGINT"), ("tag_id", "BIGINT")),
    "consents": (("customer_id", "BIGINT"), ("channel", "VARCHAR"), ("granted", "BOOLEAN"), ("at", "TIMESTAMP")),
}


# How the facts snapshot is written (ADR 0020): Parquet v2 (delta-encoded ids: half the decoding
# of v1), customers clustered by region and store and tags by tag, so the commonest conditions on
# the facts (a region's or a store's customers, a tag) read only the row groups that can match.
FACT_WRITE_OPTIONS = "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2, ROW_GROUP_SIZE 65536"
FACT_ORDER: dict[str, str] = {
    "customers": "region_id, store_id, customer_id",
    "customer_tags": "tag_id, customer_id",
    "consents": "customer_id, channel",
}


def fact_copy(name: str, select_sql: str, target: Path | str) -> str:
    """The ``COPY`` statement writing ``select_sql``'s rows as the facts file of ``name``."""
    quoted = str(target).replace("'", "''")
    return f"COPY (SELECT * FROM ({select_sql}) f ORDER BY {FACT_ORDER[name]}) TO '{quoted}' ({FACT_WRITE_OPTIONS})"


def root() -> Path:
    """The events' lake (one place for both: ``SIYU_LAKE`` or ``SIYU_HOME/lake``)."""
    return events_services.lake_root()


def events_dir(brand_id: int) -> Path:
    """The brand's events directory: where the events app keeps them (its root may be ``SIYU_LAKE``)."""
    return events_services.events_dir(brand_id)


def facts_dir(name: str, brand_id: int) -> Path:
    if name not in FACT_COLUMNS:
        raise ValueError(f"unknown facts table {name!r}")
    return root() / "facts" / name / f"brand_id={int(brand_id)}"


def event_files(brand_id: int) -> list[Path]:
    return sorted(events_dir(brand_id).glob("day=*/*.parquet"))


def fact_files(name: str, brand_id: int) -> list[Path]:
    return sorted(facts_dir(name, brand_id).glob("*.parquet"))
