"""Jobs of segments: the scheduled materialisation (every 5 minutes looks for segments due), the
sweep of expired rolling windows and the behaviour summary of closed days (every minute)."""

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


@periodic(crontab(minute="*"))
def summarise_closed_days() -> dict[int, int]:
    """Every minute: summarise the closed days of the event lake that have no current behaviour
    summary (ADR 0020) — after midnight, after a late event or a file import into an old day, after
    an erasure; queries read those days' events meanwhile."""
    from siyu.segments.summary import refresh_all

    return refresh_all()
