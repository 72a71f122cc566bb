"""Pure rules of the customer domain: lifecycle stage, RFM scores and member tiers. No I/O.

The recompute services in :mod:`siyu.members.profile` run the same rules as SQL over a whole brand;
``tests/test_members_profile_rules.py`` checks that both give the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

NEW = "new"
ACTIVE = "active"
DORMANT = "dormant"
CHURNED = "churned"
RECALLED = "recalled"
LAPSED = frozenset({DORMANT, CHURNED})


@dataclass(frozen=True)
class LifecycleThresholds:
    """Days, as set by HQ in ``LifecyclePolicy``: ``new_days < dormant_days < churned_days``."""

    new_days: int = 30
    dormant_days: int = 90
    churned_days: int = 180


def thresholds_problems(t: LifecycleThresholds) -> dict[str, str]:
    """Field -> what is wrong (English; callers translate their own messages)."""
    problems: dict[str, str] = {}
    if t.new_days < 1:
        problems["new_days"] = "at least 1"
    if t.dormant_days <= t.new_days:
        problems["dormant_days"] = "more than new_days"
    if t.churned_days <= t.dormant_days:
        problems["churned_days"] = "more than dormant_days"
    return problems


def lifecycle_stage(
    *,
    now: dt.datetime,
    joined_at: dt.datetime,
    last_purchase_at: dt.datetime | None,
    previous: str,
    previous_since: dt.datetime | None,
    t: LifecycleThresholds,
) -> str:
    """The stage of one customer at ``now``.

    * The *reference* is her last purchase, or the day she joined if she never bought.
    * **churned**: the reference is ``churned_days`` or more ago; **dormant**: ``dormant_days`` or more.
    * Otherwise (she is *fresh*):
      * **new**: she never bought, or she joined less than ``new_days`` ago;
      * **recalled**: she bought again while dormant or churned — she stays recalled for
        ``new_days`` after the stage began (``previous_since``), then counts as active;
      * **active**: everyone else (bought within ``dormant_days``).
    """
    reference = last_purchase_at or joined_at
    idle = now - reference
    if idle >= dt.timedelta(days=t.churned_days):
        return CHURNED
    if idle >= dt.timedelta(days=t.dormant_days):
        return DORMANT
    if last_purchase_at is None or now - joined_at < dt.timedelta(days=t.new_days):
        return NEW
    if previous in LAPSED:
        return RECALLED
    if previous == RECALLED and previous_since is not None and now - previous_since < dt.timedelta(days=t.new_days):
        return RECALLED
    return ACTIVE


# --- RFM -----------------------------------------------------------------------------------------
def quintile_cuts(sorted_values: Sequence[int | float]) -> list[int | float]:
    """The four cut points of brand-wide quintiles: the values at 20 %, 40 %, 60 % and 80 % of the
    sorted list (the element at index ``n * k // 5``). Empty list -> no cuts."""
    n = len(sorted_values)
    if n == 0:
        return []
    return [sorted_values[min(n - 1, n * k // 5)] for k in (1, 2, 3, 4)]


def quintile_score(value: int | float, cuts: Sequence[int | float]) -> int:
    """1 + how many cut points ``value`` is strictly above: 1 (lowest fifth) to 5 (top fifth).
    Ties go down, so equal values always share a score."""
    return 1 + sum(1 for c in cuts if value > c)


def rfm_scores(
    *,
    last_purchase_at: dt.datetime | None,
    orders_count: int,
    total_spent_fen: int,
    r_cuts: Sequence[float],
    f_cuts: Sequence[int],
    m_cuts: Sequence[int],
) -> tuple[int, int, int]:
    """(R, F, M), each 1–5; a customer who never bought scores (0, 0, 0): not ranked.
    R ranks the last purchase time (more recent is higher), given as a POSIX timestamp."""
    if last_purchase_at is None or orders_count <= 0:
        return (0, 0, 0)
    return (
        quintile_score(last_purchase_at.timestamp(), r_cuts),
        quintile_score(orders_count, f_cuts),
        quintile_score(total_spent_fen, m_cuts),
    )


# --- Tiers ---------------------------------------------------------------------------------------
NEVER = "never"
IMMEDIATE = "immediate"
GRACE = "grace"


@dataclass(frozen=True)
class Level:
    code: str
    rank: int
    min_spend_fen: int


def earned_rank(spend_fen: int, levels: Sequence[Level]) -> int:
    """The highest rank whose minimum the spend reaches; -1 if none (below every level)."""
    ranks = [lv.rank for lv in levels if spend_fen >= lv.min_spend_fen]
    return max(ranks, default=-1)


def next_rank(*, current: int, earned: int, earned_with_grace: int, downgrade: str) -> int:
    """The tier rank a customer should hold.

    * Up: as soon as the spend in the window earns a higher tier (``earned > current``).
    * Down, per the brand's policy: ``never`` keeps the tier; ``immediate`` falls to what the
      window earns; ``grace`` falls to what the window *extended by the grace days* earns — so she
      is downgraded ``grace_days`` after her spend in the window fell below the tier's minimum.
    """
    if earned > current:
        return earned
    if downgrade == NEVER:
        return current
    target = earned if downgrade == IMMEDIATE else earned_with_grace
    return min(current, target)
