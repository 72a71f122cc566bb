"""Jobs of incentives: the daily benchmark picks (registered at start by ``siyu.platform.apps``)."""

from siyu.platform.jobs import crontab, periodic


@periodic(crontab(hour="0", minute="20"))
def pick_benchmarks() -> dict[int, int]:
    """Every night after midnight: yesterday's benchmarks of every brand (idempotent)."""
    from siyu.incentives.benchmarks import pick_all

    return pick_all()
