"""Live leaderboards: record is idempotent and feeds guide, store and region totals for day, week,
month and a board; rank counts higher scores (ties share), gives the gap and the neighbours; the
events listener scores orders, bindings and shares as they arrive."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from siyu.incentives import live
from siyu.incentives import services as incentives
from siyu.platform import hooks

AT = timezone.make_aware(dt.datetime(2026, 12, 9, 15, 0))  # a Wednesday
DAY = AT.date()


def test_record_is_idempotent_and_rolls_up_to_store_region_week_month(world: Any) -> None:
    b, a = world.brand.pk, world.staff["guide_a"].pk
    lb = incentives.leaderboards
    assert lb.record(b, "sales_fen", a, 500, key="o1", at=AT)
    assert not lb.record(b, "sales_fen", a, 500, key="o1", at=AT)
    lb.record(b, "sales_fen", world.staff["guide_b"].pk, 300, key="o2", at=AT)
    lb.record(b, "sales_fen", world.other_guide.pk, 900, key="o3", at=AT)
    monday = DAY - dt.timedelta(days=2)
    for period in (("day", DAY), ("week", monday + dt.timedelta(days=6)), ("month", DAY.replace(day=1))):
        assert [(p.place, p.subject_id, p.score) for p in lb.top(b, "sales_fen", period)] == [
            (1, world.other_guide.pk, 900),
            (2, a, 500),
            (3, world.staff["guide_b"].pk, 300),
        ]
    stores = lb.top(b, "sales_fen", ("day", DAY), level="store")
    assert [(p.subject_id, p.score) for p in stores] == [(world.flagship.pk, 800), (world.sh2.pk, 900)][::-1]
    assert [(p.subject_id, p.score) for p in lb.top(b, "sales_fen", ("day", DAY), level="region")] == [
        (world.east.pk, 1700)
    ]
    assert lb.top(b, "sales_fen", ("day", DAY + dt.timedelta(days=1))) == []
    assert lb.top(b, "sales_fen", ("month", DAY.replace(month=11))) == []
    # within one store
    assert [p.subject_id for p in lb.top(b, "sales_fen", ("day", DAY), store_id=world.flagship.pk)] == [
        a,
        world.staff["guide_b"].pk,
    ]


def test_rank_gap_ties_and_neighbours(world: Any) -> None:
    b = world.brand.pk
    g = [world.staff["guide_a"].pk, world.staff["guide_b"].pk, world.other_guide.pk, world.south_guide.pk]
    scores = {g[0]: 50, g[1]: 80, g[2]: 80, g[3]: 20}
    for gid, s in scores.items():
        incentives.record(b, "new_fans", gid, s, key=f"k{gid}", at=AT)
    view = incentives.rank(b, "new_fans", ("week", DAY), g[0])
    assert (view.rank, view.score, view.gap) == (3, 50, 30)
    assert [(p.place, p.score) for p in view.above] == [(1, 80), (1, 80)]
    assert [(p.place, p.subject_id) for p in view.below] == [(4, g[3])]
    tied = incentives.rank(b, "new_fans", ("week", DAY), g[1])
    assert (tied.rank, tied.gap) == (1, None) and [(p.place, p.subject_id) for p in tied.below] == [
        (1, g[2]),
        (3, g[0]),
    ]
    nobody = incentives.rank(b, "new_fans", ("week", DAY), world.staff["store_manager"].pk)
    assert (nobody.rank, nobody.score, nobody.gap) == (5, 0, 20)
    last = incentives.rank(b, "new_fans", ("week", DAY), g[3], neighbours=1)
    assert (last.rank, [p.place for p in last.above], last.below) == (4, [3], [])
    assert incentives.leaderboards.size(b, "new_fans", ("week", DAY)) == 4


def test_a_board_and_a_region_board(world: Any) -> None:
    b = world.brand.pk
    incentives.record(b, "pk", world.staff["guide_a"].pk, 3, key="c1", at=AT, board="contest:7")
    incentives.record(b, "pk", world.south_guide.pk, 5, key="c2", at=AT, board="contest:7")
    board = incentives.top(b, "pk", ("board", None), board="contest:7")
    assert [p.subject_id for p in board] == [world.south_guide.pk, world.staff["guide_a"].pk]
    east = incentives.rank(
        b, "pk", ("board", None), world.staff["guide_a"].pk, board="contest:7", region_id=world.east.pk
    )
    assert east.rank == 1
    with pytest.raises(incentives.LeaderboardError):
        incentives.top(b, "pk", ("board", None))
    with pytest.raises(incentives.LeaderboardError):
        incentives.top(b, "pk", ("day", DAY), level="planet")


def test_events_listener_scores_orders_bindings_and_shares_once(world: Any) -> None:
    b, a = world.brand.pk, world.staff["guide_a"].pk
    micros = int(AT.timestamp() * 1_000_000)

    def ev(i: int, kind: str, **kw: Any) -> dict[str, Any]:
        base = {"event_id": f"e{i}", "type": kind, "at": micros, "received_at": micros, "customer_id": 1}
        base.update({"guide_id": a, "amount_fen": None, "content_id": None, "properties": None})
        base.update(kw)
        return base

    batch = [
        ev(1, "order", amount_fen=10000),
        ev(2, "order", amount_fen=5000, properties=json.dumps({"code": "SHARE1"})),
        ev(3, "refund", amount_fen=2000),
        ev(4, "custom:bind", properties=json.dumps({"source": "wecom"})),
        ev(8, "custom:bind", properties=json.dumps({"source": "transfer"})),
        ev(9, "add_friend"),
        ev(5, "share", content_id="c-9"),
        ev(6, "view"),
        ev(7, "order", amount_fen=999, guide_id=None),
    ]
    assert live.on_events in hooks._events_listeners
    hooks.events_recorded(b, batch)
    hooks.events_recorded(b, batch)  # a repeat counts nothing more
    day = ("day", DAY)
    got = {m: incentives.rank(b, m, day, a).score for m in live_metrics()}
    assert got == {"sales_fen": 13000, "conversions": 1, "share_sales_fen": 5000, "new_fans": 1, "forwards": 1}


def live_metrics() -> list[str]:
    return ["sales_fen", "conversions", "share_sales_fen", "new_fans", "forwards"]


def test_an_order_event_emitted_through_the_lake_reaches_the_board(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from siyu.events import services as events
    from siyu.platform import clock

    b, a = world.brand.pk, world.staff["guide_a"].pk
    customer = world.customers["chen.guide"][0]
    now = clock.now()
    day = incentives.leaderboards.local_day(now)
    for _twice in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            events.emit(
                b, [events.EventIn("order:x1:paid", "order", now, customer, world.flagship.pk, a, amount_fen=1234)]
            )
    assert incentives.rank(b, "sales_fen", ("day", day), a).score == 1234
    assert incentives.rank(b, "sales_fen", ("month", day), world.flagship.pk, level="store").score == 1234
