"""The events domain's jobs: compaction every minute, retention nightly, erasure from the lake."""

from __future__ import annotations

from siyu.events import compaction, lake, services
from siyu.platform.jobs import crontab, job, periodic


@periodic(crontab(minute="*"))
def compact_lake() -> int:
    """Move the WAL into Parquet (``siyu events compact`` does the same by hand)."""
    return compaction.compact().events


@periodic(crontab(minute="17", hour="3"))
def apply_retention() -> int:
    """Drop every brand's day partitions older than its retention."""
    return sum(services.apply_retention(brand_id) for brand_id in lake.brands())


@job()
def erase_from_lake_job(brand_id: int, customer_ids: list[int]) -> int:
    return services.erase_from_lake(brand_id, customer_ids)
