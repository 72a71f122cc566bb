"""Jobs of segments: the scheduled materialisation (every 5 minutes looks for segments due) and
the nightly facts refresh of every brand with segments."""

from __future__ import annotations

from siyu.platform.jobs import crontab, job, periodic


@periodic(crontab(minute="*/5"))
def materialise_due_segments() -> dict[int, int]:
    from siyu.segments.services import materialise_due

    return materialise_due()


@job()
def materialise_segment(brand_id: int, segment_id: int) -> int:
    """On demand, in the background (the HQ page's button on a large brand)."""
    from siyu.segments.services import materialise

    return materialise(brand_id, segment_id).size


@periodic(crontab(minute="*"))
def sweep_expired_windows() -> dict[int, int]:
    """Every minute: customers whose events left a live segment's rolling window are evaluated
    again (ADR 0016); event-triggered changes need no job, the ingesting process applies them."""
    from siyu.segments.fresh import sweep

    return sweep()
