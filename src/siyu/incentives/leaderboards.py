"""Live leaderboards (ADR 0018): running totals per (brand, metric, period, level, subject).

:func:`record` adds a key's points once (``ScorePoint`` is the idempotency record) to the guide, her
store and her region, for the day, the ISO week and the month containing ``at`` (in the brand's
time zone, ``TIME_ZONE``), and to a named ``board`` (a contest) when given. Each total is one
``INSERT … ON CONFLICT DO UPDATE SET score = score + excluded.score`` (SQLite and PostgreSQL alike),
in the caller's transaction: a read after the commit sees it.

:func:`rank` is 1 + the number of higher totals (ties share a place), counted on the index
``(brand, metric, period, level, score)``; the neighbours and the gap to the next place are index
seeks. :func:`top` reads the first places the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from siyu.incentives.models import Score, ScorePoint
from siyu.org import services as org
from siyu.platform import clock

LEVELS = ("guide", "store", "region")
PERIOD_KINDS = ("day", "week", "month", "board")
MAX_POINTS = 10**12

Period = tuple[str, dt.date | None]


class LeaderboardError(ValueError):
    """A leaderboard call with arguments that name no board (unknown period kind or level)."""


@dataclass(frozen=True)
class Place:
    place: int
    subject_id: int
    score: int


@dataclass(frozen=True)
class RankView:
    """Where a subject stands: ``rank`` (1 = first; ties share it), ``score``, ``gap`` (points to
    reach the next place; ``None`` when first), ``above`` (the places just ahead, best first, so
    the nearest is last) and ``below`` (the places just behind, nearest first)."""

    rank: int
    score: int
    gap: int | None
    above: list[Place] = field(default_factory=list)
    below: list[Place] = field(default_factory=list)


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date() if timezone.is_aware(at) else at.date()


def period_key(period: Period, *, board: str | None = None) -> str:
    """The stored name of a period: ``("day", d)`` → ``d:2026-12-07``, ``("week", d)`` →
    ``w:<that week's Monday>``, ``("month", d)`` → ``m:2026-12``, a board → ``b:<board>``."""
    if board:
        return f"b:{board}"
    kind, day = period
    if kind == "board":
        raise LeaderboardError("a board period needs board=")
    if kind not in PERIOD_KINDS or day is None:
        raise LeaderboardError(f"unknown period {period!r}")
    if kind == "day":
        return f"d:{day.isoformat()}"
    if kind == "week":
        return f"w:{(day - dt.timedelta(days=day.weekday())).isoformat()}"
    return f"m:{day:%Y-%m}"


def periods_of(at: dt.datetime, board: str | None = None) -> list[str]:
    day = local_day(at)
    keys = [period_key(("day", day)), period_key(("week", day)), period_key(("month", day))]
    if board:
        keys.append(period_key(("board", None), board=board))
    return keys


def _where_guide(brand_id: int, guide_id: int) -> tuple[int | None, int | None]:
    info = org.staff_info(brand_id, guide_id)
    if info is None:
        raise LeaderboardError(f"no member of staff {guide_id} in brand {brand_id}")
    region_id = info.region_id
    if info.store_id is not None and region_id is None:
        store = org.store_info(brand_id, info.store_id)
        region_id = store.region_id if store else None
    return info.store_id, region_id


_UPSERT = (
    "INSERT INTO incentives_score (brand_id, metric, period, level, subject_id, store_id, region_id, score, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (brand_id, metric, period, level, subject_id) DO UPDATE SET"
    " score = incentives_score.score + excluded.score, store_id = excluded.store_id,"
    " region_id = excluded.region_id, updated_at = excluded.updated_at"
)


def record(
    brand_id: int,
    metric: str,
    guide_id: int,
    points: int,
    *,
    key: str,
    at: dt.datetime,
    store_id: int | None = None,
    region_id: int | None = None,
    board: str | None = None,
) -> bool:
    """Add ``points`` (may be negative: a refund) to the guide on ``metric`` for the day, week and
    month of ``at`` and to ``board`` when given; her store's and region's totals follow. Returns
    ``False`` when ``key`` was recorded before (nothing changes). Runs in the caller's transaction."""
    if not metric or len(metric) > 40:
        raise LeaderboardError("a metric is a name of 1 to 40 characters")
    if not key or len(key) > 160:
        raise LeaderboardError("a key is 1 to 160 characters")
    if abs(points) > MAX_POINTS:
        raise LeaderboardError("points out of range")
    if store_id is None and region_id is None:
        store_id, region_id = _where_guide(brand_id, guide_id)
    elif store_id is not None and region_id is None:
        store = org.store_info(brand_id, store_id)
        region_id = store.region_id if store else None
    now = clock.now()
    try:
        with transaction.atomic():
            ScorePoint.objects.create(
                brand_id=brand_id, key=key, metric=metric, guide_id=guide_id, points=points, at=at
            )
            if points:
                _add(brand_id, metric, periods_of(at, board), guide_id, store_id, region_id, points, now)
    except IntegrityError:
        if ScorePoint.objects.filter(brand_id=brand_id, key=key).exists():
            return False
        raise
    return True


def _add(
    brand_id: int,
    metric: str,
    periods: Sequence[str],
    guide_id: int,
    store_id: int | None,
    region_id: int | None,
    points: int,
    now: dt.datetime,
) -> None:
    stamp = connection.ops.adapt_datetimefield_value(now)
    rows: list[tuple[Any, ...]] = []
    # One order for every writer (region, store, guide; period): concurrent scorers never wait in a circle.
    for period in sorted(periods):
        if region_id is not None:
            rows.append((brand_id, metric, period, "region", region_id, None, region_id, points, stamp))
    for period in sorted(periods):
        if store_id is not None:
            rows.append((brand_id, metric, period, "store", store_id, store_id, region_id, points, stamp))
    for period in sorted(periods):
        rows.append((brand_id, metric, period, "guide", guide_id, store_id, region_id, points, stamp))
    with connection.cursor() as cursor:
        cursor.executemany(_UPSERT, rows)


def _board(
    brand_id: int,
    metric: str,
    period: Period,
    level: str,
    board: str | None,
    region_id: int | None,
    store_id: int | None,
) -> QuerySet[Score]:
    if level not in LEVELS:
        raise LeaderboardError(f"unknown level {level!r}")
    qs = Score.objects.filter(brand_id=brand_id, metric=metric, period=period_key(period, board=board), level=level)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    return qs


def rank(
    brand_id: int,
    metric: str,
    period: Period,
    subject_id: int,
    *,
    board: str | None = None,
    neighbours: int = 2,
    level: str = "guide",
    region_id: int | None = None,
    store_id: int | None = None,
) -> RankView:
    """Where ``subject_id`` (a guide, or a store/region with ``level``) stands on a board, within a
    region or a store when given. A subject with no score stands at 0, after every positive one."""
    qs = _board(brand_id, metric, period, level, board, region_id, store_id)
    mine = qs.filter(subject_id=subject_id).values_list("score", flat=True).first() or 0
    above_rows = list(
        qs.filter(score__gt=mine).order_by("score", "subject_id").values_list("subject_id", "score")[:neighbours]
    )
    below_rows = list(
        qs.filter(score__lte=mine)
        .exclude(subject_id=subject_id)
        .order_by("-score", "subject_id")
        .values_list("subject_id", "score")[:neighbours]
    )
    # One pass over the index from the lowest score shown upwards: how many are ahead of me, and how
    # many share each score shown (ties).
    shown = sorted({mine, *(sc for _s, sc in above_rows), *(sc for _s, sc in below_rows)})
    counts = {"ahead": Count("pk", filter=Q(score__gt=mine))}
    counts.update({f"t{i}": Count("pk", filter=Q(score=sc)) for i, sc in enumerate(shown)})
    got = qs.filter(score__gte=shown[0]).aggregate(**counts)
    ahead = int(got["ahead"])
    my_rank = ahead + 1
    ties = {sc: int(got[f"t{i}"]) for i, sc in enumerate(shown)}

    def tie(score: int) -> int:
        return ties[score]

    # place(s) = 1 + count(score > s); nothing lies between consecutive distinct scores, so each
    # neighbour's count follows from the previous one and the number sharing its score.
    above: list[Place] = []
    higher, prev = ahead, None
    for sid, score in above_rows:  # ascending: nearest first
        if score != prev:
            higher, prev = higher - tie(score), score
        above.append(Place(higher + 1, sid, score))
    below: list[Place] = []
    higher, prev = ahead, mine
    for sid, score in below_rows:  # descending: nearest first
        if score != prev:
            higher, prev = higher + tie(prev), score
        below.append(Place(higher + 1, sid, score))
    gap = above_rows[0][1] - mine if above_rows else None
    return RankView(rank=my_rank, score=mine, gap=gap, above=above[::-1], below=below)


def top(
    brand_id: int,
    metric: str,
    period: Period,
    *,
    level: str = "guide",
    board: str | None = None,
    limit: int = 20,
    offset: int = 0,
    region_id: int | None = None,
    store_id: int | None = None,
) -> list[Place]:
    """The ``limit`` places from the ``offset``-th on (ties share a place, the next place skips:
    1, 2, 2, 4). A page that does not start at the top counts the scores above its first one."""
    qs = _board(brand_id, metric, period, level, board, region_id, store_id)
    offset = max(0, offset)
    ordered = qs.order_by("-score", "subject_id").values_list("subject_id", "score")
    rows = list(ordered[offset : offset + max(0, min(limit, 1000))])
    out: list[Place] = []
    for i, (sid, score) in enumerate(rows):
        if out and out[-1].score == score:
            place = out[-1].place
        elif not out and offset:
            place = 1 + qs.filter(score__gt=score).count()
        else:
            place = offset + i + 1
        out.append(Place(place, sid, score))
    return out


def size(
    brand_id: int,
    metric: str,
    period: Period,
    *,
    level: str = "guide",
    board: str | None = None,
    region_id: int | None = None,
    store_id: int | None = None,
) -> int:
    """How many subjects stand on a board."""
    return _board(brand_id, metric, period, level, board, region_id, store_id).count()
