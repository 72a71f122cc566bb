"""The kept rank structure of whole-brand guide boards (``ScoreBand``, ADR 0018's amendment): after
any sequence of scorings — new guides, refunds below zero, ties, totals crossing every tier, repeats
— the bands equal the ones the totals give, and ``rank`` (read from the bands) equals a reference
ranking computed in Python: place, score, gap, neighbours at the top, in the middle and at the
bottom; periods split at the local day, ISO week and month boundaries."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.utils import timezone

from siyu.incentives import leaderboards as lb
from siyu.incentives.models import ScoreBand

AT = timezone.make_aware(dt.datetime(2026, 12, 9, 15, 0))  # a Wednesday
WEEK = ("week", AT.date())
SYNTHETIC = 50_000_000


def reference(totals: dict[int, int], subject: int, neighbours: int) -> tuple[Any, ...]:
    """Place = 1 + the number of higher totals; neighbours in the order ``rank`` promises."""
    mine = totals.get(subject, 0)

    def place(score: int) -> int:
        return 1 + sum(1 for s in totals.values() if s > score)

    above = sorted(((s, g) for g, s in totals.items() if s > mine))[:neighbours]
    below = sorted(((-s, g) for g, s in totals.items() if s <= mine and g != subject))[:neighbours]
    return (
        place(mine),
        mine,
        (above[0][0] - mine) if above else None,
        [(place(s), g, s) for s, g in above][::-1],
        [(place(-s), g, -s) for s, g in below],
    )


def seen(view: lb.RankView) -> tuple[Any, ...]:
    return (
        view.rank,
        view.score,
        view.gap,
        [(p.place, p.subject_id, p.score) for p in view.above],
        [(p.place, p.subject_id, p.score) for p in view.below],
    )


def score(brand: int, store: int, region: int, guide: int, points: int, key: str, at: dt.datetime = AT) -> bool:
    return lb.record(brand, "sales_fen", guide, points, key=key, at=at, store_id=store, region_id=region)


def test_random_scorings_keep_the_bands_exact_and_ranks_match_a_reference(world: Any) -> None:
    b, store, region = world.brand.pk, world.flagship.pk, world.east.pk
    rng = random.Random(18)
    guides = [SYNTHETIC + i for i in range(40)]
    totals: dict[int, int] = {}
    # Small points make ties; large ones cross tiers 1–5 (256, 65,536, … 2**40); refunds go below zero.
    sizes = [3, 7, 300, 70_000, 20_000_000, 2**39 + 12_345]
    for i in range(400):
        g = rng.choice(guides)
        points = rng.choice(sizes) * rng.choice([1, 1, 1, -1])
        assert score(b, store, region, g, points, f"k{i}")
        totals[g] = totals.get(g, 0) + points
        if i % 7 == 0:  # a repeat changes nothing
            assert not score(b, store, region, g, points, f"k{i}")
    assert lb.band_drift(b) == 0
    assert sorted(totals.values()) == sorted(s for _g, s in _board(b))
    for g in [*guides, SYNTHETIC + 999]:  # SYNTHETIC + 999 never scored: at 0
        for n in (0, 1, 2, 3):
            assert seen(lb.rank(b, "sales_fen", WEEK, g, neighbours=n)) == reference(totals, g, n), (g, n)
    # The bands written afresh from the totals are the ones kept step by step.
    kept = sorted(ScoreBand.objects.filter(brand_id=b).values_list("metric", "period", "tier", "band", "guides"))
    assert lb.rebuild_bands(b) == len(kept)
    assert (
        sorted(ScoreBand.objects.filter(brand_id=b).values_list("metric", "period", "tier", "band", "guides")) == kept
    )
    assert not ScoreBand.objects.filter(guides__lte=0).exists()  # emptied bands are deleted


def _board(b: int) -> list[tuple[int, int]]:
    return [(p.subject_id, p.score) for p in lb.top(b, "sales_fen", WEEK, limit=1000)]


def test_ties_gap_and_neighbours_at_the_top_and_the_bottom(world: Any) -> None:
    b, store, region = world.brand.pk, world.flagship.pk, world.east.pk
    g = [SYNTHETIC + i for i in range(6)]
    for gid, points in zip(g, [900, 900, 500, 500, 500, 100], strict=True):
        score(b, store, region, gid, points, f"t{gid}")
    first = lb.rank(b, "sales_fen", WEEK, g[0])
    assert (first.rank, first.gap, first.above) == (1, None, [])
    assert [(p.place, p.subject_id) for p in first.below] == [(1, g[1]), (3, g[2])]
    middle = lb.rank(b, "sales_fen", WEEK, g[3])
    assert (middle.rank, middle.gap) == (3, 400)
    assert [(p.place, p.subject_id) for p in middle.above] == [(1, g[1]), (1, g[0])]  # best first
    assert [(p.place, p.subject_id) for p in middle.below] == [(3, g[2]), (3, g[4])]  # nearest first
    last = lb.rank(b, "sales_fen", WEEK, g[5])
    assert (last.rank, last.gap, last.below) == (6, 400, [])
    assert [(p.place, p.score) for p in last.above] == [(3, 500), (3, 500)]
    # A tie broken by one more point: the gap to the next place is that point.
    score(b, store, region, g[4], 1, "one more")
    assert seen(lb.rank(b, "sales_fen", WEEK, g[2], neighbours=1)) == (4, 500, 1, [(3, g[4], 501)], [(4, g[3], 500)])
    assert lb.band_drift(b) == 0


def test_periods_split_at_the_local_day_week_and_month_boundaries(world: Any) -> None:
    b, store, region = world.brand.pk, world.flagship.pk, world.east.pk
    a, c = SYNTHETIC + 1, SYNTHETIC + 2
    sunday_late = timezone.make_aware(dt.datetime(2026, 11, 29, 23, 59, 59))  # last second of a week and a month
    monday = timezone.make_aware(dt.datetime(2026, 11, 30, 0, 0))  # next week, still November
    december = timezone.make_aware(dt.datetime(2026, 12, 1, 0, 0))
    score(b, store, region, a, 100, "sun", sunday_late)
    score(b, store, region, c, 70, "mon", monday)
    score(b, store, region, c, 50, "dec", december)

    def place(period: lb.Period, guide: int) -> tuple[int, int]:
        view = lb.rank(b, "sales_fen", period, guide)
        return view.rank, view.score

    assert place(("day", sunday_late.date()), a) == (1, 100)
    assert place(("day", monday.date()), a) == (2, 0)
    assert place(("week", sunday_late.date()), c) == (2, 0)
    assert place(("week", monday.date()), c) == (1, 120)
    assert place(("week", december.date()), a) == (2, 0)
    assert place(("month", sunday_late.date()), c) == (2, 70)
    assert place(("month", december.date()), c) == (1, 50)
    assert lb.size(b, "sales_fen", ("week", monday.date())) == 1
    assert lb.band_drift(b) == 0


def test_boards_within_a_region_or_store_count_the_same_places(world: Any) -> None:
    b = world.brand.pk
    rng = random.Random(7)
    totals: dict[int, int] = {}
    for i in range(60):
        g = SYNTHETIC + rng.randrange(12)
        points = rng.choice([5, 5, 40, 1000])
        score(b, world.flagship.pk, world.east.pk, g, points, f"r{i}")
        totals[g] = totals.get(g, 0) + points
    for g in totals:
        whole = lb.rank(b, "sales_fen", WEEK, g)  # from the bands
        within = lb.rank(b, "sales_fen", WEEK, g, region_id=world.east.pk)  # counted on the index
        assert seen(whole) == seen(within) == reference(totals, g, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scorers_keep_the_bands_exact_on_postgresql(world: Any) -> None:
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    b, store, region = world.brand.pk, world.flagship.pk, world.east.pk
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            barrier.wait()
            rng = random.Random(i)
            for j in range(25):  # four guides shared by every thread: new rows and updates race
                with transaction.atomic():
                    score(b, store, region, SYNTHETIC + rng.randrange(4), rng.choice([3, 300, -70_000]), f"c{i}:{j}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert lb.band_drift(b) == 0
    totals = dict(_board(b))
    for g in totals:
        assert seen(lb.rank(b, "sales_fen", WEEK, g)) == reference(totals, g, 2)
