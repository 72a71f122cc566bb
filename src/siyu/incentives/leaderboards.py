"""Live leaderboards (ADR 0018): running totals per (brand, metric, period, level, subject).

:func:`record` adds a key's points once (``ScorePoint`` is the idempotency record) to the guide, her
store and her region, for the day, the ISO week and the month containing ``at`` (in the brand's
time zone, ``TIME_ZONE``), and to a named ``board`` (a contest) when given. Each total is one
``INSERT … ON CONFLICT DO UPDATE SET score = score + excluded.score`` (SQLite and PostgreSQL alike),
in the caller's transaction: a read after the commit sees it.

:func:`rank` is 1 + the number of higher totals (ties share a place). On a whole-brand guide board
that number is summed from the kept score bands (``ScoreBand``, ADR 0018's amendment: at most 255
rows a tier, whatever the board's size), which :func:`record` moves in the same transaction as the
totals; on a board within a region or store, or of stores or regions, it is counted on the index.
The neighbours and the gap to the next place are index seeks. :func:`top` reads the first places.
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

# The kept rank structure of whole-brand guide boards (``ScoreBand``, ADR 0018's amendment).
BAND_OFFSET = 2**62  # u = score + BAND_OFFSET is never negative for a score above -2**62
BAND_BITS = 8
TIERS = 6  # 0 … 5: tier t groups u by u >> 8t; the top tier is open-ended
MAX_TOTAL = 2**62 - 1

_BAND_KEY = "brand_id = %s AND metric = %s AND period = %s"
_BAND_UPSERT = (
    "INSERT INTO incentives_scoreband (brand_id, metric, period, tier, band, guides) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (brand_id, metric, period, tier, band) DO UPDATE SET"
    " guides = incentives_scoreband.guides + excluded.guides"
)
_BAND_PRUNE = (
    "DELETE FROM incentives_scoreband WHERE brand_id = %s AND metric = %s AND period = %s AND tier = %s"
    " AND band = %s AND guides = 0"
)


def bands_of(score: int) -> list[int]:
    """The band of ``score`` in each tier (tier 0 first)."""
    u = score + BAND_OFFSET
    return [u >> (BAND_BITS * t) for t in range(TIERS)]


def _band_moves(old: int | None, new: int) -> list[tuple[int, int, int]]:
    """(tier, band, +1/-1) that move a guide from ``old`` (``None``: not on the board yet) to ``new``."""
    moves: list[tuple[int, int, int]] = []
    olds = bands_of(old) if old is not None else [None] * TIERS
    for tier, (ob, nb) in enumerate(zip(olds, bands_of(new), strict=True)):
        if ob == nb:
            continue
        if ob is not None:
            moves.append((tier, ob, -1))
        moves.append((tier, nb, 1))
    return moves


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
    periods = sorted(periods)
    # One order for every writer (region, store, guide; period; then the bands in order): concurrent
    # scorers never wait in a circle.
    for period in periods:
        if region_id is not None:
            rows.append((brand_id, metric, period, "region", region_id, None, region_id, points, stamp))
    for period in periods:
        if store_id is not None:
            rows.append((brand_id, metric, period, "store", store_id, store_id, region_id, points, stamp))
    marks = ", ".join(["%s"] * len(periods))
    with connection.cursor() as cursor:
        if rows:
            cursor.executemany(_UPSERT, rows)
        # The guide's own totals: which rows are new (not on their board before), then the change,
        # whose RETURNING value minus ``points`` is exactly the total before it (the row is locked).
        values = ", ".join(["(%s, %s, %s, 'guide', %s, %s, %s, 0, %s)"] * len(periods))
        cursor.execute(
            "INSERT INTO incentives_score (brand_id, metric, period, level, subject_id, store_id, region_id, score,"
            f" updated_at) VALUES {values} ON CONFLICT (brand_id, metric, period, level, subject_id) DO NOTHING"
            " RETURNING period",
            [v for p in periods for v in (brand_id, metric, p, guide_id, store_id, region_id, stamp)],
        )
        new_rows = {p for (p,) in cursor.fetchall()}
        cursor.execute(
            "UPDATE incentives_score SET score = score + %s, store_id = %s, region_id = %s, updated_at = %s"
            " WHERE brand_id = %s AND metric = %s AND level = 'guide' AND subject_id = %s"
            f" AND period IN ({marks}) RETURNING period, score",
            [points, store_id, region_id, stamp, brand_id, metric, guide_id, *periods],
        )
        totals = dict(cursor.fetchall())
        moves: dict[tuple[str, int, int], int] = {}
        for period, total in totals.items():
            if abs(total) > MAX_TOTAL:
                raise LeaderboardError("a total out of range")
            old = None if period in new_rows else total - points
            for tier, band, d in _band_moves(old, total):
                moves[(period, tier, band)] = moves.get((period, tier, band), 0) + d
        changed = sorted((k, d) for k, d in moves.items() if d)
        if changed:
            cursor.executemany(_BAND_UPSERT, [(brand_id, metric, p, t, b, d) for (p, t, b), d in changed])
            gone = [(brand_id, metric, p, t, b) for (p, t, b), d in changed if d < 0]
            if gone:
                cursor.executemany(_BAND_PRUNE, gone)


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
    if level not in LEVELS:
        raise LeaderboardError(f"unknown level {level!r}")
    where = "brand_id = %s AND metric = %s AND period = %s AND level = %s"
    args: list[Any] = [brand_id, metric, period_key(period, board=board), level]
    for column, value in (("region_id", region_id), ("store_id", store_id)):
        if value is not None:
            where += f" AND {column} = %s"
            args.append(value)
    rows = f"SELECT subject_id, score FROM incentives_score WHERE {where}"
    banded = level == "guide" and region_id is None and store_id is None
    with connection.cursor() as cursor:
        cursor.execute(f"{rows} AND subject_id = %s", [*args, subject_id])
        found = cursor.fetchone()
        mine = int(found[1]) if found else 0
        # Everything else in one statement (on a loaded machine each statement waits for the
        # database's turn). Index seeks only, never a sort of a group of ties however large (a day's
        # board of new fans): the nearest higher places in index order, those tied with me, then
        # each next lower score's first subjects; on a whole-brand guide board each row carries how
        # many share its score (its tier-0 band), and the bands give how many stand above me.
        parts: list[str] = []
        params: list[Any] = []
        ties_sql, ties_params = "NULL", []
        if banded:
            ties_sql = (
                f"(SELECT guides FROM incentives_scoreband WHERE {_BAND_KEY} AND tier = 0 AND band = x.score + %s)"
            )
            ties_params = [*args[:3], BAND_OFFSET]

        def part(tag: str, sql: str, values: list[Any]) -> None:
            parts.append(f"SELECT '{tag}', x.subject_id, x.score, {ties_sql} FROM ({sql}) AS x")
            params.extend([*ties_params, *values])

        if neighbours > 0:
            part("a", f"{rows} AND score > %s ORDER BY score, subject_id LIMIT %s", [*args, mine, neighbours])
            part(
                "b0",
                f"{rows} AND score = %s AND subject_id <> %s ORDER BY subject_id LIMIT %s",
                [*args, mine, subject_id, neighbours],
            )
            lower, lower_params = "%s", [mine]
            for k in range(1, neighbours + 1):
                lower = f"(SELECT MAX(score) FROM incentives_score WHERE {where} AND score < {lower})"
                lower_params = [*args, *lower_params]
                part(
                    f"b{k}",
                    f"{rows} AND score = {lower} ORDER BY subject_id LIMIT %s",
                    [*args, *lower_params, neighbours],
                )
        if banded:
            parts.append(
                f"SELECT 'm', NULL, NULL, guides FROM incentives_scoreband WHERE {_BAND_KEY} AND tier = 0 AND band = %s"
            )
            params.extend([*args[:3], mine + BAND_OFFSET])
            above_sql, above_params = _above_sql(args[:3], mine)
            parts.append(f"SELECT 'n', NULL, NULL, COALESCE(SUM(guides), 0) FROM ({above_sql}) AS above")
            params.extend(above_params)
        got: list[tuple[Any, ...]] = []
        if parts:
            cursor.execute(" UNION ALL ".join(parts), params)
            got = cursor.fetchall()
    above_rows = sorted(((int(sid), int(sc)) for tag, sid, sc, _t in got if tag == "a"), key=lambda r: (r[1], r[0]))
    below_rows: list[tuple[int, int]] = []
    for k in range(neighbours + 1):
        below_rows += sorted((int(sid), int(sc)) for tag, sid, sc, _t in got if tag == f"b{k}")
    below_rows = below_rows[:neighbours]
    shown = sorted({mine, *(sc for _s, sc in above_rows), *(sc for _s, sc in below_rows)})
    if banded:
        ties = {int(sc): int(t) for tag, _sid, sc, t in got if tag[0] in "ab" and t is not None}
        ties[mine] = next((int(t) for tag, _s, _sc, t in got if tag == "m"), 0)
        ahead = next(int(t) for tag, _s, _sc, t in got if tag == "n")
    else:
        ahead, ties = _counted(_board(brand_id, metric, period, level, board, region_id, store_id), mine, shown)
    my_rank = ahead + 1

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


def _counted(qs: QuerySet[Score], mine: int, shown: list[int]) -> tuple[int, dict[int, int]]:
    """How many stand above ``mine`` and how many share each score ``shown``, counted in one pass over
    the index from the lowest score shown upwards (boards within a store or region, store and region
    boards: a few thousand subjects at most)."""
    counts = {"ahead": Count("pk", filter=Q(score__gt=mine))}
    counts.update({f"t{i}": Count("pk", filter=Q(score=sc)) for i, sc in enumerate(shown)})
    got = qs.filter(score__gte=shown[0]).aggregate(**counts)
    return int(got["ahead"]), {sc: int(got[f"t{i}"]) for i, sc in enumerate(shown)}


def _above_sql(keys: list[Any], mine: int) -> tuple[str, list[Any]]:
    """The bands (``ScoreBand``) above ``mine`` on a whole-brand guide board: in each tier the bands
    after its own within the same band of the tier above (at most 255 rows), and in the top tier
    every band after its own; one ``UNION ALL`` of six index range reads."""
    mb = bands_of(mine)
    selects: list[str] = []
    params: list[Any] = []
    for tier in range(TIERS):
        upper = "AND band < %s" if tier + 1 < TIERS else ""
        selects.append(f"SELECT guides FROM incentives_scoreband WHERE {_BAND_KEY} AND tier = %s AND band > %s {upper}")
        params += [*keys, tier, mb[tier]]
        if tier + 1 < TIERS:
            params.append((mb[tier + 1] + 1) << BAND_BITS)
    return " UNION ALL ".join(selects), params


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


def _band_sql(tier: int) -> str:
    """The bands of one tier as the guide totals of ``incentives_score`` give them (the ``%s`` is the brand)."""
    return (
        f"SELECT brand_id, metric, period, {tier} AS tier, (score + {BAND_OFFSET}) >> {BAND_BITS * tier} AS band,"
        " COUNT(*) AS guides FROM incentives_score WHERE brand_id = %s AND level = 'guide'"
        f" GROUP BY brand_id, metric, period, (score + {BAND_OFFSET}) >> {BAND_BITS * tier}"
    )


def rebuild_bands(brand_id: int) -> int:
    """Write a brand's bands afresh from its guide totals (after totals were written in bulk, as the
    leaderboard benchmark does, or to repair drift). Returns how many band rows there are now."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM incentives_scoreband WHERE brand_id = %s", [brand_id])
        written = 0
        for tier in range(TIERS):
            cursor.execute(
                "INSERT INTO incentives_scoreband (brand_id, metric, period, tier, band, guides) " + _band_sql(tier),
                [brand_id],
            )
            written += cursor.rowcount
    return written


def band_drift(brand_id: int) -> int:
    """How many of a brand's kept bands differ from the bands its guide totals give (0 when in step)."""
    expected = " UNION ALL ".join(_band_sql(t) for t in range(TIERS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM (SELECT metric, period, tier, band, guides FROM ({expected}) AS e"
            " EXCEPT SELECT metric, period, tier, band, guides FROM incentives_scoreband WHERE brand_id = %s) AS m)"
            " + (SELECT COUNT(*) FROM (SELECT metric, period, tier, band, guides FROM incentives_scoreband"
            f" WHERE brand_id = %s EXCEPT SELECT metric, period, tier, band, guides FROM ({expected}) AS e2) AS x)",
            [*([brand_id] * TIERS), brand_id, brand_id, *([brand_id] * TIERS)],
        )
        return int(cursor.fetchone()[0])
