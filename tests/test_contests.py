"""PK contests (ADR 0019): scoring rules that resist gaming, refunds, idempotency, rewards at a
daily target exactly once, the lifecycle and the frozen settlement."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.contests import rules, scoring
from siyu.contests import services as contests
from siyu.contests.models import Contest, ContestResult, ContestScore
from siyu.platform import clock

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 12, 7)
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=TZ)
_n = 0


def ev(type_: str, guide: Any, customer: int | None, *, at: dt.datetime = NOON, **extra: Any) -> dict[str, Any]:
    """An event as the lake hands it to listeners."""
    global _n
    _n += 1
    props = extra.pop("properties", None)
    return {
        "event_id": extra.pop("event_id", f"e{_n}"),
        "type": type_,
        "at": int(at.timestamp() * 1_000_000),
        "received_at": int(at.timestamp() * 1_000_000),
        "customer_id": customer,
        "store_id": None,
        "guide_id": getattr(guide, "pk", guide),
        "content_id": extra.pop("content_id", None),
        "product_id": None,
        "sku_id": None,
        "amount_fen": extra.pop("amount_fen", None),
        "quantity": None,
        "properties": orjson.dumps(props).decode() if props is not None else None,
    }


def running(
    world: Any, scope_of: Any, metric: str, *, kind: str = "individual", targets: tuple[Any, ...] = (), **kw: Any
) -> Contest:
    hq = scope_of(world.staff["hq_operator"])
    with clock.frozen(NOON - dt.timedelta(days=1)):
        c = contests.create_contest(
            hq,
            contests.ContestIn(
                name="双十二 PK",
                metric=metric,
                starts_on=DAY - dt.timedelta(days=1),
                ends_on=DAY + dt.timedelta(days=6),
                kind=kind,
                team_by=kw.pop("team_by", ""),
                targets=targets,
                **kw,
            ),
        )
        return contests.start_contest(hq, c.pk)


def score(world: Any, c: Contest, events: list[dict[str, Any]]) -> int:
    return scoring.score_events(world.brand.pk, events, [Contest.objects.get(pk=c.pk)])


def points(c: Contest, guide: Any) -> int:
    return sum(ContestScore.objects.filter(contest=c, guide_id=guide.pk).values_list("points", flat=True))


# --- rules ------------------------------------------------------------------------------------------
def test_ranks_share_places_on_equal_points() -> None:
    assert [r for r, _k, _p in rules.ranked([("a", 5), ("b", 9), ("c", 5), ("d", 1)])] == [1, 2, 2, 4]


def test_a_target_is_crossed_once_on_the_way_up() -> None:
    assert rules.crossed([3, 5, 10], 2, 5) == [3, 5]
    assert rules.crossed([3, 5, 10], 5, 6) == []
    assert rules.crossed([3], 4, 2) == []


def test_the_day_is_the_brands_local_day() -> None:
    late = dt.datetime(2026, 12, 7, 23, 30, tzinfo=TZ)  # 15:30 UTC
    e = ev("share", 1, 2, at=late)
    found = rules.point_of("forwards", e, TZ)
    assert isinstance(found, rules.Point) and found.day == dt.date(2026, 12, 7)


# --- scoring: anti-gaming, refunds, idempotency --------------------------------------------------------
def test_forwards_count_one_point_per_customer_per_day(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "forwards")
    chen = world.staff["guide_a"]
    a, b, _ = world.customers["chen.guide"]
    score(world, c, [ev("share", chen, a), ev("share", chen, a), ev("share", chen, b)])
    score(world, c, [ev("share", chen, a, at=NOON + dt.timedelta(hours=3))])  # same day again: nothing
    assert points(c, chen) == 2
    score(world, c, [ev("share", chen, a, at=NOON + dt.timedelta(days=1))])  # the next day counts
    assert points(c, chen) == 3


def test_a_fan_counts_once_per_contest_whether_added_or_bound(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "new_fans")
    chen = world.staff["guide_a"]
    a, b, d = world.customers["chen.guide"]
    score(world, c, [ev("add_friend", chen, a), ev("add_friend", chen, a, at=NOON + dt.timedelta(days=2))])
    score(
        world,
        c,
        [
            ev("custom:bind", chen, a, properties={"source": "guide_code"}),  # bound too: no second point
            ev("custom:bind", chen, b, properties={"source": "wecom"}),
            ev("custom:bind", chen, d, properties={"source": "transfer"}),  # handed over: not a new fan
        ],
    )
    assert points(c, chen) == 2


def test_replaying_the_same_event_scores_once(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "sales_fen")
    chen = world.staff["guide_a"]
    order = ev("order", chen, world.customers["chen.guide"][0], amount_fen=29_900, properties={"order": "N1"})
    assert score(world, c, [order]) == 1
    assert score(world, c, [order, dict(order, event_id="resent-with-a-new-id")]) == 0  # same order
    assert points(c, chen) == 29_900


def test_a_refund_reverses_what_its_order_scored_on_the_orders_day(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "sales_fen")
    chen = world.staff["guide_a"]
    cust = world.customers["chen.guide"][1]
    score(world, c, [ev("order", chen, cust, amount_fen=50_000, properties={"order": "N2"})])
    later = NOON + dt.timedelta(days=2)
    refund = ev("refund", None, cust, at=later, amount_fen=20_000, properties={"order": "N2"})
    score(world, c, [refund, refund])
    assert points(c, chen) == 30_000
    # refunding more than is left never takes the order below zero
    score(world, c, [ev("refund", None, cust, at=later, amount_fen=90_000, properties={"order": "N2"})])
    assert points(c, chen) == 0
    assert set(ContestScore.objects.filter(contest=c).values_list("day", flat=True)) == {DAY}


def test_staff_buying_or_befriending_themselves_scores_nothing(world: Any, scope_of: Any) -> None:
    from siyu.members import services as members

    chen = world.staff["guide_a"]
    rows = [
        members.NewCustomer(phone=chen.phone, name="陈静", store_id=world.flagship.pk, guide_id=chen.pk, joined_at=NOON)
    ]
    list(members.bulk_add_customers(world.brand.pk, rows))
    scoring.forget_staff_customers()
    self_id = next(iter(members.customer_ids_by_phones(world.brand.pk, [chen.phone])[0]))
    sales = running(world, scope_of, "sales_fen")
    score(world, sales, [ev("order", chen, self_id, amount_fen=99_900, properties={"order": "SELF"})])
    assert points(sales, chen) == 0


def test_conversions_need_a_share_or_a_code(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "conversions")
    chen = world.staff["guide_a"]
    a, b, _ = world.customers["chen.guide"]
    score(
        world,
        c,
        [
            ev("order", chen, a, amount_fen=100, properties={"order": "C1"}),  # walked in: not a conversion
            ev("order", chen, b, amount_fen=100, content_id="poster-12", properties={"order": "C2"}),
            ev("order", chen, b, amount_fen=100, content_id="poster-12", properties={"order": "C3"}),  # same day
        ],
    )
    assert points(c, chen) == 1


def test_guides_outside_the_contest_and_days_outside_it_score_nothing(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "forwards", region_ids=(world.south.pk,))
    he = world.south_guide
    chen = world.staff["guide_a"]
    score(world, c, [ev("share", chen, world.customers["chen.guide"][0])])  # East: not in it
    score(world, c, [ev("share", he, world.customers["he.guide"][0], at=NOON + dt.timedelta(days=30))])
    assert ContestScore.objects.filter(contest=c).count() == 0
    score(world, c, [ev("share", he, world.customers["he.guide"][0])])
    assert points(c, he) == 1


def test_finished_tasks_score_once_each(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "tasks_done")
    chen = world.staff["guide_a"]
    with clock.frozen(NOON):
        for assignment in (11, 12, 12):
            scoring.on_guide_done(world.brand.pk, chen.pk, "task.done", assignment)
    assert points(c, chen) == 2


# --- lifecycle ----------------------------------------------------------------------------------------
def test_lifecycle_moves_only_forward(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    with clock.frozen(NOON):
        c = contests.create_contest(
            hq, contests.ContestIn(name="周赛", metric="forwards", starts_on=DAY, ends_on=DAY + dt.timedelta(days=6))
        )
        with pytest.raises(ValidationError):
            contests.settle_contest(hq, c.pk)  # a draft cannot be settled
        contests.start_contest(hq, c.pk)
        with pytest.raises(ValidationError):
            contests.start_contest(hq, c.pk)  # nor started twice
        with pytest.raises(ValidationError):
            contests.update_contest(
                hq, c.pk, contests.ContestIn(name="改", metric="sales_fen", starts_on=DAY, ends_on=DAY)
            )  # the rules of a running contest stay
        with pytest.raises(ValidationError):
            contests.delete_draft(hq, c.pk)
        contests.settle_contest(hq, c.pk)
        with pytest.raises(ValidationError):
            contests.settle_contest(hq, c.pk)
    assert Contest.objects.get(pk=c.pk).metric == "forwards"


def test_only_hq_designs_and_a_guide_cannot_start(world: Any, scope_of: Any) -> None:
    design = contests.ContestIn(name="x", metric="forwards", starts_on=DAY, ends_on=DAY)
    for key in ("guide_a", "store_manager", "region_manager"):
        with pytest.raises(PermissionDenied):
            contests.create_contest(scope_of(world.staff[key]), design)


def test_bad_designs_are_refused_with_every_problem(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    with pytest.raises(ValidationError) as err:
        contests.create_contest(
            hq,
            contests.ContestIn(
                name="",
                metric="likes",
                starts_on=DAY,
                ends_on=DAY - dt.timedelta(days=1),
                targets=(contests.TargetIn(0, 10),),
            ),
        )
    assert {"name", "metric", "ends_on", "targets"} <= set(err.value.message_dict)
    assert not Contest.objects.exists()


def test_custom_groups_need_two_and_a_guide_in_one_only(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    chen, liu = world.staff["guide_a"], world.staff["guide_b"]
    with pytest.raises(ValidationError):
        contests.create_contest(
            hq,
            contests.ContestIn(
                name="g",
                metric="forwards",
                starts_on=DAY,
                ends_on=DAY,
                kind="team",
                team_by="custom",
                teams=(contests.TeamIn("A", (chen.pk,)), contests.TeamIn("B", (chen.pk, liu.pk))),
            ),
        )


def test_settlement_freezes_the_results(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "forwards", kind="team", team_by="region")
    hq = scope_of(world.staff["hq_operator"])
    chen, sun, he = world.staff["guide_a"], world.other_guide, world.south_guide
    score(
        world,
        c,
        [
            ev("share", chen, world.customers["chen.guide"][0]),
            ev("share", chen, world.customers["chen.guide"][1]),
            ev("share", sun, world.customers["sun.guide"][0]),
            ev("share", he, world.customers["he.guide"][0]),
        ],
    )
    with clock.frozen(NOON):
        contests.settle_contest(hq, c.pk)
    frozen = {(r.subject, r.label): (r.rank, r.points) for r in ContestResult.objects.filter(contest=c)}
    assert frozen[("t", "华东分公司")] == (1, 3)
    assert frozen[("t", "华南分公司")] == (2, 1)
    assert frozen[("g", "陈静")] == (1, 2)
    # later events do not move a settled contest
    assert score(world, c, [ev("share", he, world.customers["he.guide"][1])]) == 0
    assert {(r.subject, r.label): (r.rank, r.points) for r in ContestResult.objects.filter(contest=c)} == frozen
    board = contests.board(hq, c.pk)
    assert board.frozen and board.teams[0].label == "华东分公司"


def test_team_by_store_and_custom_groups_freeze_their_rosters(world: Any, scope_of: Any) -> None:
    c = running(world, scope_of, "forwards", kind="team", team_by="store", region_ids=(world.east.pk,))
    assert sorted(t.name for t in c.teams.all()) == ["五角场店", "南京西路旗舰店"]
    chen, liu = world.staff["guide_a"], world.staff["guide_b"]
    g = running(
        world,
        scope_of,
        "forwards",
        kind="team",
        team_by="custom",
        teams=(contests.TeamIn("先锋队", (chen.pk,)), contests.TeamIn("猛虎队", (liu.pk, world.south_guide.pk))),
    )
    assert {e.guide_id: e.team.name for e in g.entrants.select_related("team")} == {
        chen.pk: "先锋队",
        liu.pk: "猛虎队",
        world.south_guide.pk: "猛虎队",
    }
