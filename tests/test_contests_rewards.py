"""Rewards at daily targets (paid once, the moment a target is reached), the live board through
the leaderboards, and the exactly-once pay under concurrency on PostgreSQL (ADR 0019)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from siyu.contests import services as contests
from siyu.contests.models import ContestReward
from siyu.platform import clock
from tests.test_contests import NOON, ev, running, score


# --- rewards (need the coin ledger) ---------------------------------------------------------------------
def test_a_daily_target_pays_once_the_moment_it_is_reached(world: Any, scope_of: Any) -> None:
    from siyu.incentives import services as incentives

    c = running(world, scope_of, "forwards", targets=(contests.TargetIn(2, 20), contests.TargetIn(3, 50)))
    chen = world.staff["guide_a"]
    a, b, d = world.customers["chen.guide"]
    score(world, c, [ev("share", chen, a)])
    assert incentives.balance(world.brand.pk, chen.pk) == 0
    score(world, c, [ev("share", chen, b)])
    assert incentives.balance(world.brand.pk, chen.pk) == 20  # the moment she reaches 2
    score(world, c, [ev("share", chen, b), ev("share", chen, a)])  # capped: no more points, no more coins
    assert incentives.balance(world.brand.pk, chen.pk) == 20
    score(world, c, [ev("share", chen, d)])
    assert incentives.balance(world.brand.pk, chen.pk) == 70
    # the next day starts again from zero
    score(
        world,
        c,
        [ev("share", chen, a, at=NOON + dt.timedelta(days=1)), ev("share", chen, b, at=NOON + dt.timedelta(days=1))],
    )
    assert incentives.balance(world.brand.pk, chen.pk) == 90
    assert ContestReward.objects.filter(contest=c).count() == 3


def test_a_team_target_pays_every_member(world: Any, scope_of: Any) -> None:
    from siyu.incentives import services as incentives

    c = running(
        world,
        scope_of,
        "forwards",
        kind="team",
        team_by="store",
        region_ids=(world.east.pk,),
        targets=(contests.TargetIn(3, 10, level="team"),),
    )
    chen, liu = world.staff["guide_a"], world.staff["guide_b"]
    score(world, c, [ev("share", chen, x) for x in world.customers["chen.guide"][:2]])
    assert incentives.balance(world.brand.pk, liu.pk) == 0
    score(world, c, [ev("share", liu, world.customers["liu.guide"][0])])
    assert incentives.balance(world.brand.pk, chen.pk) == 10
    assert incentives.balance(world.brand.pk, liu.pk) == 10
    assert incentives.balance(world.brand.pk, world.other_guide.pk) == 0  # another store's team


def test_the_live_board_and_my_rank(world: Any, scope_of: Any, django_capture_on_commit_callbacks: Any) -> None:
    c = running(world, scope_of, "forwards", targets=(contests.TargetIn(5, 10),))
    chen, liu = world.staff["guide_a"], world.staff["guide_b"]
    with django_capture_on_commit_callbacks(execute=True):  # the leaderboards hear after the commit
        score(world, c, [ev("share", chen, x) for x in world.customers["chen.guide"]])
        score(world, c, [ev("share", liu, world.customers["liu.guide"][0])])
    with clock.frozen(NOON):
        board = contests.board(scope_of(world.staff["hq_operator"]), c.pk)
        assert [(r.rank, r.label, r.points) for r in board.guides[:2]] == [(1, "陈静", 3), (2, "刘洋", 1)]
        mine = contests.my_contests(scope_of(liu))
    assert len(mine) == 1
    assert (mine[0].rank, mine[0].points, mine[0].gap, mine[0].today, mine[0].next_target) == (2, 1, 2, 1, 5)


# --- PostgreSQL: concurrent scorers, one reward; settlement against scorers in flight ------------------
def _customers(world: Any, guide: Any, n: int) -> list[int]:
    from siyu.members import services as members

    rows = [
        members.NewCustomer(
            phone=f"1390{guide.pk % 1000:03d}{i:04d}",
            name=f"并发{i}",
            store_id=guide.store_id,
            guide_id=guide.pk,
            joined_at=NOON,
        )
        for i in range(n)
    ]
    list(members.bulk_add_customers(world.brand.pk, rows))
    return list(members.customer_ids_by_phones(world.brand.pk, [r.phone for r in rows])[0])


def _race(n: int, work: Any) -> list[BaseException]:
    import threading

    from django.db import connection

    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scores_pay_each_target_exactly_once_on_postgresql(world: Any, scope_of: Any) -> None:
    from django.db import connection

    from siyu.contests.models import ContestScore, ContestTally
    from siyu.incentives import services as incentives

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    c = running(world, scope_of, "forwards", targets=(contests.TargetIn(3, 10), contests.TargetIn(8, 25)))
    chen = world.staff["guide_a"]
    people = _customers(world, chen, 10)
    same = ev("share", chen, people[0], event_id="the-same-event")
    errors = _race(10, lambda i: score(world, c, [ev("share", chen, people[i]), same]))
    assert not errors, errors
    assert ContestScore.objects.filter(contest=c).count() == 10  # the repeated event once
    assert ContestTally.objects.get(contest=c, subject="g", subject_id=chen.pk).points == 10
    assert ContestReward.objects.filter(contest=c).count() == 2
    assert incentives.balance(world.brand.pk, chen.pk) == 35
    assert incentives.check_ledger(world.brand.pk) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_nothing_scores_after_the_settlement_snapshot_on_postgresql(world: Any, scope_of: Any) -> None:
    from django.db import connection

    from siyu.contests.models import ContestResult, ContestScore

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    c = running(world, scope_of, "forwards")
    chen = world.staff["guide_a"]
    people = _customers(world, chen, 30)
    hq = scope_of(world.staff["hq_operator"])

    def work(i: int) -> None:
        if i == 5:
            with clock.frozen(NOON):
                contests.settle_contest(hq, c.pk)
        else:
            for p in people[i * 3 : i * 3 + 3]:
                score(world, c, [ev("share", chen, p)])

    errors = _race(10, work)
    assert not errors, errors
    frozen = ContestResult.objects.get(contest=c, subject="g", subject_id=chen.pk).points
    assert frozen == ContestScore.objects.filter(contest=c).count()  # every score is in the snapshot
