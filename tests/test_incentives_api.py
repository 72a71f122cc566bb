"""The REST API of incentives (``/api/v1/incentives/…``): coins, the reward mall, leaderboards and
benchmarks, through the services. Every refused call answers ``detail`` (and ``errors`` per field
for bad input) and changes nothing; a retried request with the same key pays once; a guide reaches
only herself, a store manager her store, a token what its permission and store allow. On
PostgreSQL, racing redemptions pay and hold exactly once."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.incentives import benchmarks
from siyu.incentives import services as incentives
from siyu.incentives.models import CoinEntry, Gift, GiftMovement, Redemption
from siyu.org import services as org
from siyu.org.models import Staff
from siyu.org.rules import Perm
from siyu.platform import clock
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def _client(world: Any, persona: str) -> Client:
    return world.login(Client(), persona)


def _token(world: Any, perms: list[str], store: Any = None) -> Client:
    issuer = Staff.objects.get(pk=world.staff["hq_admin"].pk).scope
    _, secret = org.issue_token(issuer, name="incentives test", perms=perms, store=store)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _post(client: Client, url: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _ids(world: Any) -> tuple[int, int]:
    return world.brand.pk, world.staff["guide_a"].pk


def _pay(world: Any, persona: str, coins: int, key: str = "seed") -> None:
    incentives.award(
        world.brand.pk, world.staff[persona].pk, coins, key=f"{key}:{persona}", reason="t", source_type="t"
    )


def _gift(world: Any, *, cost: int = 30, stock: int = 5, name: str = "保温杯") -> int:
    hq = org.hq_scope(world.brand.pk, "test")
    gift = incentives.save_gift(hq, name=name, cost=cost)
    if stock:
        incentives.restock(hq, gift.id, stock, key=f"stock:{name}")
    return gift.id


def _errors(answer: Any) -> dict[str, str]:
    body = answer.json()
    assert body["detail"]
    return {e["field"]: e["message"] for e in body.get("errors") or []}


# --- coins -----------------------------------------------------------------------------------------
def test_a_guide_reads_her_balance_and_ledger_page_by_page(world: Any) -> None:
    b, g = _ids(world)
    for i in range(3):
        incentives.award(b, g, 10 + i, key=f"task:{i}", reason=f"task {i}", source_type="task")
    guide = _client(world, "guide_a")
    first = guide.get(reverse("api:coins_mine") + "?limit=2").json()
    assert first["balance"] == 33 and first["count"] == 3 and first["guide_id"] == g
    assert [e["delta"] for e in first["items"]] == [12, 11]
    rest = guide.get(reverse("api:coins_mine") + "?limit=2&offset=2").json()
    assert [e["delta"] for e in rest["items"]] == [10] and rest["items"][0]["kind"] == "earn"
    bad = guide.get(reverse("api:coins_mine") + "?limit=0")
    assert bad.status_code == 422 and "limit" in _errors(bad)


def test_coins_of_a_guide_stay_within_reach(world: Any) -> None:
    b, g = _ids(world)
    incentives.award(b, g, 7, key="k", reason="x", source_type="t")
    url = lambda staff: reverse("api:coins_of_guide", kwargs={"guide_id": staff.pk})  # noqa: E731
    guide_a, guide_b = world.staff["guide_a"], world.staff["guide_b"]
    assert _client(world, "store_manager").get(url(guide_a)).json()["balance"] == 7
    assert _client(world, "region_manager").get(url(guide_a)).json()["balance"] == 7
    assert _client(world, "guide_a").get(url(guide_a)).json()["balance"] == 7  # herself
    assert _client(world, "guide_a").get(url(guide_b)).status_code == 404  # never another guide's
    assert _client(world, "store_manager").get(url(world.other_guide)).status_code == 404  # SH002
    assert _client(world, "region_manager").get(url(world.south_guide)).status_code == 404  # South
    assert _client(world, "hq_operator").get(url(world.rival_guide)).status_code == 404  # another brand
    store_token = _token(world, [Perm.INCENTIVES_VIEW], store=world.flagship)
    assert store_token.get(url(guide_a)).json()["balance"] == 7
    assert store_token.get(url(world.other_guide)).status_code == 404
    assert _token(world, [Perm.ORG_VIEW]).get(url(guide_a)).status_code == 403


def test_hq_grants_once_per_key_and_a_deduction_never_overdraws(world: Any) -> None:
    b, g = _ids(world)
    hq = _client(world, "hq_operator")
    url = reverse("api:coins_adjust", kwargs={"guide_id": g})
    first = _post(hq, url, {"coins": 50, "reason": "门店之星", "key": "grant-1"})
    assert first.status_code == 201 and first.json()["kind"] == "adjust" and first.json()["balance_after"] == 50
    again = _post(hq, url, {"coins": 50, "reason": "门店之星", "key": "grant-1"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and not again.json()["created"]
    assert incentives.balance(b, g) == 50
    assert AuditEntry.objects.filter(action="coins.adjust").count() == 1

    entries = CoinEntry.objects.count()
    other = _post(hq, url, {"coins": 60, "reason": "门店之星", "key": "grant-1"})  # the key means one change
    assert other.status_code == 422 and "key" in _errors(other)
    overdraw = _post(hq, url, {"coins": -51, "reason": "扣回", "key": "deduct-1"})
    assert overdraw.status_code == 422 and "coins" in _errors(overdraw)
    for bad in ({"coins": 0, "reason": "x", "key": "z"}, {"coins": 5, "reason": "", "key": "z"}, {"coins": 5}):
        answer = _post(hq, url, bad)
        assert answer.status_code == 422 and _errors(answer)
    assert _post(hq, url, {"coins": 5, "reason": "x", "key": "z", "extra": 1}).status_code == 422
    assert CoinEntry.objects.count() == entries and incentives.balance(b, g) == 50

    deducted = _post(hq, url, {"coins": -20, "reason": "扣回", "key": "deduct-2"})
    assert deducted.status_code == 201 and incentives.balance(b, g) == 30
    rival = reverse("api:coins_adjust", kwargs={"guide_id": world.rival_guide.pk})
    assert _post(hq, rival, {"coins": 5, "reason": "x", "key": "r"}).status_code == 404
    assert _post(_client(world, "store_manager"), url, {"coins": 5, "reason": "x", "key": "m"}).status_code == 403
    assert incentives.check_ledger(b) == []


def test_hq_reverses_an_entry_once(world: Any) -> None:
    b, g = _ids(world)
    paid = incentives.award(b, g, 20, key="k1", reason="x", source_type="t")
    hq = _client(world, "hq_admin")
    url = reverse("api:coins_reverse", kwargs={"entry_id": paid.id})
    first = _post(hq, url, {"reason": "paid by mistake"})
    assert first.status_code == 201 and first.json()["delta"] == -20 and first.json()["reverses_id"] == paid.id
    assert _post(hq, url, {"reason": "again"}).status_code == 200
    undo = reverse("api:coins_reverse", kwargs={"entry_id": first.json()["id"]})
    assert _post(hq, undo, {"reason": "undo"}).status_code == 422
    assert _post(hq, reverse("api:coins_reverse", kwargs={"entry_id": 999999}), {"reason": "x"}).status_code == 404
    assert incentives.balance(b, g) == 0


# --- the reward mall -------------------------------------------------------------------------------
def test_the_mall_shows_her_balance_and_what_she_can_redeem(world: Any) -> None:
    cheap, dear = _gift(world, cost=10, name="钥匙扣"), _gift(world, cost=500, name="跑鞋")
    empty = _gift(world, cost=5, stock=0, name="贴纸")
    _pay(world, "guide_a", 20)
    body = _client(world, "guide_a").get(reverse("api:mall")).json()
    assert body["balance"] == 20 and body["count"] == 3
    assert {g["id"]: g["can_redeem"] for g in body["items"]} == {empty: False, cheap: True, dear: False}


def test_hq_manages_gifts_and_their_stock_ledger(world: Any) -> None:
    hq = _client(world, "hq_operator")
    made = _post(hq, reverse("api:gift_create"), {"name": "保温杯", "cost": 30, "description": "500 ml"})
    assert made.status_code == 201 and made.json()["stock"] == 0
    gift_id = made.json()["id"]
    dup = _post(hq, reverse("api:gift_create"), {"name": "保温杯", "cost": 40})
    assert dup.status_code == 422 and "name" in _errors(dup)
    assert _post(hq, reverse("api:gift_create"), {"name": "x", "cost": 0}).status_code == 422
    assert Gift.objects.count() == 1

    url = reverse("api:gift_update", kwargs={"gift_id": gift_id})
    changed = _post(hq, url, {"name": "保温杯 Pro", "cost": 35, "active": False}, method="put")
    assert changed.json()["cost"] == 35 and not changed.json()["active"]
    assert hq.get(reverse("api:gift_detail", kwargs={"gift_id": gift_id})).json()["name"] == "保温杯 Pro"
    assert (
        _post(hq, reverse("api:gift_update", kwargs={"gift_id": 99999}), {"name": "x", "cost": 1}, "put").status_code
        == 404
    )

    restock = reverse("api:gift_restock", kwargs={"gift_id": gift_id})
    first = _post(hq, restock, {"quantity": 10, "key": "po-1", "note": "采购"})
    assert first.json() == {"applied": True, "gift": {**changed.json(), "stock": 10}}
    assert _post(hq, restock, {"quantity": 10, "key": "po-1"}).json()["applied"] is False
    assert _post(hq, restock, {"quantity": 9, "key": "po-1"}).status_code == 422  # the key means one change
    too_many = _post(hq, restock, {"quantity": -11, "key": "write-off"})
    assert too_many.status_code == 422 and "quantity" in _errors(too_many)
    assert Gift.objects.get(pk=gift_id).stock == 10 and GiftMovement.objects.count() == 1
    moves = hq.get(reverse("api:gift_movements", kwargs={"gift_id": gift_id})).json()
    assert moves["count"] == 1 and moves["items"][0]["delta"] == 10 and moves["items"][0]["note"] == "采购"
    listed = hq.get(reverse("api:gift_list")).json()
    assert [g["id"] for g in listed["items"]] == [gift_id]
    assert hq.get(reverse("api:gift_list") + "?offered_only=true").json()["count"] == 0
    assert _client(world, "store_manager").get(reverse("api:gift_list")).status_code == 403


def test_a_redemption_is_paid_once_per_key_and_refused_cleanly(world: Any) -> None:
    b, g = _ids(world)
    gift = _gift(world, cost=30, stock=2)
    _pay(world, "guide_a", 70)
    guide = _client(world, "guide_a")
    url = reverse("api:redemption_create")
    first = _post(guide, url, {"gift_id": gift, "key": "tap-1"})
    assert first.status_code == 201 and first.json()["status"] == "pending" and first.json()["coins"] == 30
    again = _post(guide, url, {"gift_id": gift, "key": "tap-1"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and not again.json()["created"]
    assert incentives.balance(b, g) == 40 and Gift.objects.get(pk=gift).stock == 1
    assert _post(guide, url, {"gift_id": gift, "key": "tap-1", "quantity": 2}).status_code == 422  # key reused

    state = (Redemption.objects.count(), CoinEntry.objects.count(), incentives.balance(b, g))
    poor = _post(guide, url, {"gift_id": gift, "key": "tap-2", "quantity": 2})  # 60 coins, 1 unit
    assert poor.status_code == 422 and _errors(poor)
    _pay(world, "guide_a", 100, key="more")
    state = (Redemption.objects.count(), CoinEntry.objects.count(), incentives.balance(b, g))
    sold_out = _post(guide, url, {"gift_id": gift, "key": "tap-3", "quantity": 2})
    assert sold_out.status_code == 422 and "quantity" in _errors(sold_out)
    no_gift = _post(guide, url, {"gift_id": 99999, "key": "tap-4"})
    assert no_gift.status_code == 422 and "gift_id" in _errors(no_gift)
    assert _post(guide, url, {"gift_id": gift, "key": ""}).status_code == 422
    assert (Redemption.objects.count(), CoinEntry.objects.count(), incentives.balance(b, g)) == state
    assert Gift.objects.get(pk=gift).stock == 1

    # A second guide's key is her own: the same words redeem for her, not replay guide A's.
    _pay(world, "guide_b", 30)
    other = _post(_client(world, "guide_b"), url, {"gift_id": gift, "key": "tap-1"})
    assert other.status_code == 201 and other.json()["guide_id"] == world.staff["guide_b"].pk
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []


def test_poor_redemption_changes_nothing(world: Any) -> None:
    b, g = _ids(world)
    gift = _gift(world, cost=30, stock=5)
    _pay(world, "guide_a", 29)
    answer = _post(_client(world, "guide_a"), reverse("api:redemption_create"), {"gift_id": gift, "key": "k"})
    assert answer.status_code == 422 and "coins" in _errors(answer)
    assert Redemption.objects.count() == 0 and incentives.balance(b, g) == 29
    assert Gift.objects.get(pk=gift).stock == 5 and GiftMovement.objects.count() == 1


def test_hq_rejects_once_approves_ships_and_delivery_is_recorded(world: Any) -> None:
    b, g = _ids(world)
    gift = _gift(world, cost=30, stock=3)
    _pay(world, "guide_a", 90)
    guide, hq = _client(world, "guide_a"), _client(world, "hq_operator")
    reds = [_post(guide, reverse("api:redemption_create"), {"gift_id": gift, "key": f"r{i}"}).json() for i in range(3)]
    assert incentives.balance(b, g) == 0

    decide = lambda r: reverse("api:redemption_decide", kwargs={"redemption_id": r["id"]})  # noqa: E731
    rejected = _post(hq, decide(reds[0]), {"approve": False, "note": "缺货"})
    assert rejected.json()["status"] == "rejected" and incentives.balance(b, g) == 30
    twice = _post(hq, decide(reds[0]), {"approve": False})
    assert twice.status_code == 422 and incentives.balance(b, g) == 30  # refunded once
    assert Gift.objects.get(pk=gift).stock == 1

    assert _post(hq, decide(reds[1]), {"approve": True}).json()["status"] == "approved"
    ship = reverse("api:redemption_ship", kwargs={"redemption_id": reds[1]["id"]})
    assert _post(hq, ship, {"tracking": "SF123"}).json()["tracking"] == "SF123"
    assert _post(hq, ship, {}).status_code == 422  # shipped already
    received = reverse("api:redemption_received", kwargs={"redemption_id": reds[1]["id"]})
    assert _post(_client(world, "guide_b"), received, {}).status_code == 404  # not hers
    assert _post(guide, received, {}).json()["status"] == "received"

    _post(hq, decide(reds[2]), {"approve": True})
    delivered = reverse("api:redemption_delivered", kwargs={"redemption_id": reds[2]["id"]})
    assert _post(hq, delivered, {}).status_code == 422  # not shipped yet
    _post(hq, reverse("api:redemption_ship", kwargs={"redemption_id": reds[2]["id"]}), {})
    assert _post(hq, delivered, {}).json()["status"] == "received"
    assert _post(guide, decide(reds[2]), {"approve": True}).status_code == 403
    assert (
        _post(hq, reverse("api:redemption_decide", kwargs={"redemption_id": 99999}), {"approve": True}).status_code
        == 404
    )
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []


def test_redemption_lists_stay_within_reach(world: Any) -> None:
    gift = _gift(world, cost=10, stock=10)
    for persona in ("guide_a", "guide_b"):
        _pay(world, persona, 10)
    incentives.award(world.brand.pk, world.other_guide.pk, 10, key="o", reason="x", source_type="t")
    for persona in ("guide_a", "guide_b"):
        _post(_client(world, persona), reverse("api:redemption_create"), {"gift_id": gift, "key": "k"})
    incentives.redeem(world.brand.pk, world.other_guide.pk, gift, key="other")

    def names(client: Client, query: str = "") -> list[str]:
        return sorted(r["guide_name"] for r in client.get(reverse("api:redemption_list") + query).json()["items"])

    assert names(_client(world, "hq_operator")) == sorted(["陈静", "刘洋", "孙丽"])
    assert names(_client(world, "region_manager")) == sorted(["陈静", "刘洋", "孙丽"])  # all East
    assert names(_client(world, "store_manager")) == sorted(["陈静", "刘洋"])
    assert names(_client(world, "guide_a")) == ["陈静"]
    assert names(_client(world, "hq_operator"), "?status=approved") == []
    assert _client(world, "hq_operator").get(reverse("api:redemption_list") + "?status=lost").status_code == 422
    mine = _client(world, "guide_b").get(reverse("api:redemption_mine")).json()
    assert mine["count"] == 1 and mine["items"][0]["guide_name"] == "刘洋"
    assert names(_token(world, [Perm.INCENTIVES_VIEW], store=world.sh2)) == ["孙丽"]


# --- leaderboards ----------------------------------------------------------------------------------
def _score(world: Any, staff: Any, points: int, metric: str = "new_fans") -> None:
    incentives.record(world.brand.pk, metric, staff.pk, points, key=f"{metric}:{staff.pk}:{points}", at=clock.now())


def test_boards_by_level_paged_within_reach(world: Any) -> None:
    a, b_ = world.staff["guide_a"], world.staff["guide_b"]
    for staff, points in ((a, 5), (b_, 9), (world.other_guide, 5), (world.south_guide, 12)):
        _score(world, staff, points)
    url = reverse("api:leaderboard") + "?metric=new_fans&period=week"
    hq = _client(world, "hq_operator")
    board = hq.get(url).json()
    assert board["count"] == 4 and board["level"] == "guide" and board["period"] == "week"
    assert [(p["place"], p["name"], p["score"]) for p in board["items"]] == [
        (1, "何敏", 12),
        (2, "刘洋", 9),
        (3, "陈静", 5),
        (3, "孙丽", 5),
    ]
    page = hq.get(url + "&limit=1&offset=3").json()
    assert [(p["place"], p["score"]) for p in page["items"]] == [(3, 5)] and page["offset"] == 3
    stores = hq.get(url + "&level=store").json()
    assert [(p["name"], p["score"]) for p in stores["items"]] == [
        (world.flagship.name, 14),
        (world.gz1.name, 12),
        (world.sh2.name, 5),
    ]
    assert hq.get(url + "&level=region").json()["count"] == 2
    region = _client(world, "region_manager")
    assert region.get(url).json()["count"] == 3  # East only
    refused = region.get(url + "&level=region")
    assert refused.status_code == 422 and "level" in _errors(refused)
    assert [p["name"] for p in _client(world, "store_manager").get(url).json()["items"]] == ["刘洋", "陈静"]
    assert _client(world, "guide_a").get(url).json()["count"] == 2  # her store's board
    assert hq.get(url.replace("new_fans", "likes")).status_code == 422
    assert hq.get(url + "&day=not-a-day").status_code == 422
    yesterday = (clock.now() - dt.timedelta(days=8)).date().isoformat()
    assert hq.get(url + f"&day={yesterday}").json()["count"] == 0


def test_a_contest_board_needs_a_contest_within_reach(world: Any) -> None:
    hq = _client(world, "hq_operator")
    url = reverse("api:leaderboard") + "?period=contest"
    missing = hq.get(url)
    assert missing.status_code == 422 and "contest_id" in _errors(missing)
    assert hq.get(url + "&contest_id=99999").status_code == 404


def test_my_rank_neighbours_and_gap(world: Any) -> None:
    a, b_ = world.staff["guide_a"], world.staff["guide_b"]
    for staff, points in ((a, 5), (b_, 9), (world.other_guide, 3), (world.south_guide, 12)):
        _score(world, staff, points, metric="forwards")
    guide = _client(world, "guide_a")
    me = guide.get(reverse("api:leaderboard_mine") + "?metric=forwards&period=day&neighbours=1&top=2").json()
    assert (me["rank"], me["score"], me["gap"], me["count"]) == (3, 5, 4, 4)
    assert [p["name"] for p in me["above"]] == ["刘洋"] and [p["name"] for p in me["below"]] == ["孙丽"]
    assert [p["place"] for p in me["top"]] == [1, 2]
    first = _client(world, "guide_b").get(reverse("api:leaderboard_mine") + "?metric=forwards").json()
    assert first["rank"] == 2 and first["gap"] == 3
    assert guide.get(reverse("api:leaderboard_mine") + "?neighbours=99").status_code == 422
    assert _client(world, "hq_operator").get(reverse("api:leaderboard_mine")).status_code == 403


# --- benchmarks ------------------------------------------------------------------------------------
def _picked(world: Any) -> int:
    hq = org.hq_scope(world.brand.pk, "test")
    at = clock.now() - dt.timedelta(days=1)
    incentives.record(world.brand.pk, "new_fans", world.staff["guide_a"].pk, 6, key="fans-a", at=at)
    incentives.record(world.brand.pk, "sales_fen", world.staff["guide_b"].pk, 9900, key="sales-b", at=at)
    benchmarks.save_rule(hq, title="拉新之星", metric="new_fans", how_many=1, award_coins=20)
    benchmarks.save_rule(hq, title="销冠", metric="sales_fen", how_many=1)
    assert benchmarks.pick(world.brand.pk, benchmarks.yesterday()) == 2
    return benchmarks.mine(world.brand.pk, world.staff["guide_a"].pk)[0].id


def test_the_wall_by_day_and_metric_and_her_write_up_with_a_video(world: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    pick = _picked(world)
    wall = _client(world, "store_manager").get(reverse("api:benchmark_wall")).json()
    assert wall["day"] == benchmarks.yesterday().isoformat() and len(wall["items"]) == 2
    fans = _client(world, "hq_operator").get(reverse("api:benchmark_wall") + "?metric=new_fans").json()
    assert [(e["guide_name"], e["coins"]) for e in fans["items"]] == [("陈静", 20)]
    assert _client(world, "hq_operator").get(reverse("api:benchmark_wall") + "?day=2020-01-01").json()["items"] == []
    assert incentives.balance(world.brand.pk, world.staff["guide_a"].pk) == 20

    guide = _client(world, "guide_a")
    url = reverse("api:benchmark_write_up", kwargs={"benchmark_id": pick})
    video = SimpleUploadedFile("clip.mp4", MP4_HEAD, content_type="video/mp4")
    wrote = guide.post(url, {"notes": "先加微信再推荐", "video": video})
    assert wrote.status_code == 200 and wrote.json()["notes"] == "先加微信再推荐"
    assert wrote.json()["video_url"].startswith(settings.MEDIA_URL + "benchmarks/")
    bad = guide.post(url, {"notes": "换个视频", "video": SimpleUploadedFile("x.mp4", b"not a video at all")})
    assert bad.status_code == 422 and "video" in _errors(bad)
    too_long = guide.post(url, {"notes": "长" * 2001})
    assert too_long.status_code == 422 and "notes" in _errors(too_long)
    mine = guide.get(reverse("api:benchmark_mine")).json()
    assert mine[0]["notes"] == "先加微信再推荐" and mine[0]["video_url"] == wrote.json()["video_url"]
    assert _client(world, "guide_b").post(url, {"notes": "不是我的"}).status_code == 404


def test_hq_benchmark_rules_crud_and_pick(world: Any) -> None:
    hq = _client(world, "hq_operator")
    made = _post(hq, reverse("api:rule_create"), {"title": "销冠", "metric": "sales_fen", "award_coins": 50})
    assert made.status_code == 201 and made.json()["scope"] == "brand" and made.json()["how_many"] == 3
    rule_id = made.json()["id"]
    dup = _post(hq, reverse("api:rule_create"), {"title": "销冠", "metric": "new_fans"})
    assert dup.status_code == 422 and "title" in _errors(dup)
    assert _post(hq, reverse("api:rule_create"), {"title": "x", "metric": "likes"}).status_code == 422
    assert _post(hq, reverse("api:rule_create"), {"title": "x", "metric": "new_fans", "how_many": 0}).status_code == 422
    assert len(hq.get(reverse("api:rule_list")).json()) == 1

    detail = reverse("api:rule_detail", kwargs={"rule_id": rule_id})
    changed = _post(hq, detail, {"title": "销冠", "metric": "sales_fen", "scope": "region", "how_many": 1}, "put")
    assert changed.json()["scope"] == "region" and hq.get(detail).json()["how_many"] == 1
    incentives.record(
        world.brand.pk, "sales_fen", world.staff["guide_a"].pk, 100, key="s", at=clock.now() - dt.timedelta(days=1)
    )
    picked = _post(hq, reverse("api:benchmark_pick"), {})
    assert picked.json() == {"day": benchmarks.yesterday().isoformat(), "picked": 1}
    assert _post(hq, reverse("api:benchmark_pick"), {}).json()["picked"] == 0  # once per rule and day
    in_use = hq.delete(detail)
    assert in_use.status_code == 422 and hq.get(detail).status_code == 200
    spare = _post(hq, reverse("api:rule_create"), {"title": "拉新", "metric": "new_fans"}).json()["id"]
    assert hq.delete(reverse("api:rule_delete", kwargs={"rule_id": spare})).json() == {"deleted": True}
    assert hq.get(reverse("api:rule_detail", kwargs={"rule_id": spare})).status_code == 404
    assert _client(world, "region_manager").get(reverse("api:rule_list")).status_code == 403


def test_the_openapi_schema_lists_the_incentives_operations(world: Any) -> None:
    schema = Client().get(reverse("api:openapi-json")).json()
    perms = {
        spec["operationId"]: spec["x-siyu-permission"]
        for path, methods in schema["paths"].items()
        if path.startswith("/api/v1/incentives")
        for spec in methods.values()
    }
    assert perms["coins_adjust"] == Perm.INCENTIVES_MANAGE and perms["coins_mine"] == Perm.GUIDE_WORKBENCH
    assert perms["leaderboard"] == Perm.INCENTIVES_VIEW and len(perms) >= 28


# --- PostgreSQL: racing redemptions ----------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_redemptions_pay_and_hold_exactly_once_on_postgresql(world: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    b, g = _ids(world)
    gift = _gift(world, cost=30, stock=10)
    _pay(world, "guide_a", 50)
    url = reverse("api:redemption_create")
    answers: list[int] = []
    errors: list[BaseException] = []

    def race(keys: list[str]) -> None:
        barrier = threading.Barrier(len(keys))

        def one(key: str) -> None:
            try:
                client = _client(world, "guide_a")
                barrier.wait()
                answers.append(_post(client, url, {"gift_id": gift, "key": key}).status_code)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors

    race(["same", "same"])  # one tap sent twice at once
    assert sorted(answers) == [200, 201]
    assert Redemption.objects.filter(brand_id=b).count() == 1 and incentives.balance(b, g) == 20
    _pay(world, "guide_a", 20, key="more")  # 40: enough for one more, not two
    answers.clear()
    race(["left", "right"])
    assert sorted(answers) == [201, 422]
    assert Redemption.objects.filter(brand_id=b).count() == 2 and incentives.balance(b, g) == 10
    assert Gift.objects.get(pk=gift).stock == 8
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []
