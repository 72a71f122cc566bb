"""Who may use the incentives pages (see ``tests/access/model.py``): a guide (and a store manager,
who also holds the workbench) her own coins, the mall, her rank and the wall; every console viewer
the leaderboards and the redemptions of her reach; HQ (``incentives.manage``) the gifts, the
decisions on redemptions and the benchmark rules.

The API: a guide acts for herself (``guide.workbench``); every role reads coins, redemptions,
boards and the wall within her reach (``incentives.view``: a guide herself, a store manager her
store, a region manager her region); HQ changes (``incentives.manage``)."""

from __future__ import annotations

import itertools
from typing import Any

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, EVERYONE, HQ, WORKBENCH, Rule, World


def _pending(w: World) -> dict[str, Any]:
    from siyu.incentives import services as incentives
    from siyu.org import services as org

    hq = org.hq_scope(w.brand.pk, "matrix")
    gift = incentives.save_gift(hq, name="matrix-gift", cost=10)
    incentives.restock(hq, gift.id, 5, key="matrix")
    g = w.staff["guide_a"].pk
    incentives.award(w.brand.pk, g, 10, key="matrix-seed", reason="matrix", source_type="test")
    red = incentives.redeem(w.brand.pk, g, gift.id, key="matrix-red")
    return {"pk": red.id}


RULES: dict[tuple[str, str], Rule] = {
    ("guide:incentives_coins", "GET"): Rule(WORKBENCH),
    ("guide:incentives_mall", "GET"): Rule(WORKBENCH),
    ("guide:incentives_redeem_confirm", "GET"): Rule(WORKBENCH, kwargs=lambda w: {"pk": _gift(w)}),
    ("guide:incentives_redeem", "POST"): Rule(WORKBENCH, data=lambda w: {"gift": 0, "key": "m"}, ok=302),
    ("guide:incentives_received", "POST"): Rule(WORKBENCH, kwargs=lambda w: {"pk": 1}, data=lambda w: {}, ok=302),
    ("guide:incentives_rank", "GET"): Rule(WORKBENCH),
    ("guide:incentives_wall", "GET"): Rule(WORKBENCH),
    ("guide:incentives_write_up", "POST"): Rule(
        WORKBENCH, kwargs=lambda w: {"pk": 1}, data=lambda w: {"notes": "x"}, ok=302
    ),
    ("hq:incentives_leaderboards", "GET"): Rule(CONSOLE),
    ("hq:incentives_gifts", "GET"): Rule(HQ),
    ("hq:incentives_gifts", "POST"): Rule(HQ, data=lambda w: {"name": "matrix", "cost": 5}, ok=302),
    ("hq:incentives_redemptions", "GET"): Rule(CONSOLE),
    ("hq:incentives_redemption_action", "POST"): Rule(
        HQ, kwargs=_pending, data=lambda w: {"action": "approve"}, ok=302
    ),
    ("hq:incentives_benchmarks", "GET"): Rule(HQ),
    ("hq:incentives_benchmarks", "POST"): Rule(
        HQ, data=lambda w: {"title": "matrix", "metric": "sales_fen", "how_many": 3}, ok=302
    ),
}


# --- the REST API (siyu/incentives/api.py) ------------------------------------------------------------
# Every write below runs in a savepoint the matrix rolls back, so each builder makes what it needs.


def _hq(w: World) -> Any:
    from siyu.org import services as org

    return org.hq_scope(w.brand.pk, "matrix")


def _gift(w: World) -> int:
    from siyu.incentives import services as incentives
    from siyu.incentives.models import Gift

    found = Gift.objects.filter(brand_id=w.brand.pk, name="matrix-api-gift").first()
    if found is not None:
        return found.pk
    gift = incentives.save_gift(_hq(w), name="matrix-api-gift", cost=10)
    incentives.restock(_hq(w), gift.id, 50, key="matrix-api")
    return gift.id


def gift_api(w: World) -> dict[str, Any]:
    return {"gift_id": _gift(w)}


def _redemption(w: World, status: str) -> int:
    from siyu.incentives import services as incentives

    g = w.staff["guide_a"].pk
    incentives.award(w.brand.pk, g, 10, key=f"matrix-api-{status}", reason="matrix", source_type="test")
    red = incentives.redeem(w.brand.pk, g, _gift(w), key=f"matrix-api-{status}")
    if status in ("approved", "shipped"):
        incentives.decide(_hq(w), red.id, approve=True)
    if status == "shipped":
        incentives.ship(_hq(w), red.id)
    return red.id


def pending_api(w: World) -> dict[str, Any]:
    return {"redemption_id": _redemption(w, "pending")}


def approved_api(w: World) -> dict[str, Any]:
    return {"redemption_id": _redemption(w, "approved")}


def shipped_api(w: World) -> dict[str, Any]:
    return {"redemption_id": _redemption(w, "shipped")}


def _redeem_body(w: World) -> dict[str, Any]:
    """A gift in stock, and coins for both workbench personas to pay for it."""
    from siyu.incentives import services as incentives

    for persona in ("guide_a", "store_manager"):
        g = w.staff[persona].pk
        incentives.award(w.brand.pk, g, 10, key=f"matrix-api-seed-{persona}", reason="matrix", source_type="test")
    return {"gift_id": _gift(w), "key": _fresh("redeem-")}


def guide(key: str) -> Any:
    def kwargs(w: World) -> dict[str, Any]:
        staff = w.staff[key] if key in w.staff else getattr(w, key)
        return {"guide_id": staff.pk}

    return kwargs


def entry_api(w: World) -> dict[str, Any]:
    from siyu.incentives import services as incentives

    g = w.staff["guide_a"].pk
    entry = incentives.award(w.brand.pk, g, 5, key=_fresh("matrix-entry-"), reason="matrix", source_type="test")
    return {"entry_id": entry.id}


def _rule(w: World, title: str) -> int:
    from siyu.incentives import benchmarks

    found = [r.id for r in benchmarks.rules(w.brand.pk) if r.title == title]
    return found[0] if found else benchmarks.save_rule(_hq(w), title=title, metric="new_fans", how_many=1).id


def rule_api(w: World) -> dict[str, Any]:
    return {"rule_id": _rule(w, "matrix rule")}


def fresh_rule_api(w: World) -> dict[str, Any]:
    return {"rule_id": _rule(w, _fresh("matrix rule "))}


def benchmark_api(w: World) -> dict[str, Any]:
    """A benchmark pick of guide A's (yesterday's most new fans)."""
    import datetime as dt

    from siyu.incentives import benchmarks
    from siyu.incentives import services as incentives
    from siyu.platform import clock

    g = w.staff["guide_a"].pk
    mine = benchmarks.mine(w.brand.pk, g)
    if not mine:
        at = clock.now() - dt.timedelta(days=1)
        incentives.record(w.brand.pk, "new_fans", g, 3, key="matrix-api-fans", at=at)
        _rule(w, "matrix rule")
        benchmarks.pick(w.brand.pk, benchmarks.yesterday())
        mine = benchmarks.mine(w.brand.pk, g)
    return {"benchmark_id": mine[0].id}


def _rule_body(w: World) -> dict[str, Any]:
    return {"title": _fresh("API 标杆 "), "metric": "sales_fen", "how_many": 3, "award_coins": 20}


_serial = itertools.count(1)


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial):05d}"


GUIDE_A = frozenset({"guide_a"})
# A guide reaches herself, a store manager her store, a region manager her region.
OTHERS_COINS = {
    "guide_a": guide("guide_b"),
    "store_manager": guide("other_guide"),
    "region_manager": guide("south_guide"),
}

RULES.update(
    {
        # coins
        ("api:coins_mine", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
        ("api:coins_of_guide", "GET"): Rule(
            EVERYONE, kwargs=guide("guide_a"), out_of_scope=OTHERS_COINS, token_perm=Perm.INCENTIVES_VIEW
        ),
        ("api:coins_adjust", "POST"): Rule(
            HQ,
            kwargs=guide("guide_a"),
            data=lambda w: {"coins": 5, "reason": "matrix", "key": _fresh("adjust-")},
            ok=201,
            token_perm=Perm.INCENTIVES_MANAGE,
        ),
        ("api:coins_reverse", "POST"): Rule(
            HQ, kwargs=entry_api, data=lambda w: {"reason": "matrix"}, ok=201, token_perm=Perm.INCENTIVES_MANAGE
        ),
        # the reward mall
        ("api:mall", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
        ("api:gift_list", "GET"): Rule(HQ, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:gift_create", "POST"): Rule(
            HQ, data=lambda w: {"name": _fresh("API 礼品 "), "cost": 30}, ok=201, token_perm=Perm.INCENTIVES_MANAGE
        ),
        ("api:gift_detail", "GET"): Rule(HQ, kwargs=gift_api, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:gift_update", "PUT"): Rule(
            HQ,
            kwargs=gift_api,
            data=lambda w: {"name": "matrix-api-gift", "cost": 12},
            token_perm=Perm.INCENTIVES_MANAGE,
        ),
        ("api:gift_restock", "POST"): Rule(
            HQ,
            kwargs=gift_api,
            data=lambda w: {"quantity": 3, "key": _fresh("restock-")},
            token_perm=Perm.INCENTIVES_MANAGE,
        ),
        ("api:gift_movements", "GET"): Rule(HQ, kwargs=gift_api, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:redemption_create", "POST"): Rule(WORKBENCH, data=_redeem_body, ok=201, token_perm=Perm.GUIDE_WORKBENCH),
        ("api:redemption_mine", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
        ("api:redemption_received", "POST"): Rule(
            GUIDE_A, kwargs=shipped_api, out_of_scope={"store_manager": shipped_api}, token_perm=Perm.GUIDE_WORKBENCH
        ),
        ("api:redemption_list", "GET"): Rule(EVERYONE, query="status=pending", token_perm=Perm.INCENTIVES_VIEW),
        ("api:redemption_decide", "POST"): Rule(
            HQ, kwargs=pending_api, data=lambda w: {"approve": False}, token_perm=Perm.INCENTIVES_MANAGE
        ),
        ("api:redemption_ship", "POST"): Rule(
            HQ, kwargs=approved_api, data=lambda w: {"tracking": "SF1"}, token_perm=Perm.INCENTIVES_MANAGE
        ),
        ("api:redemption_delivered", "POST"): Rule(HQ, kwargs=shipped_api, token_perm=Perm.INCENTIVES_MANAGE),
        # leaderboards
        ("api:leaderboard", "GET"): Rule(
            EVERYONE, query="metric=new_fans&period=week", token_perm=Perm.INCENTIVES_VIEW
        ),
        ("api:leaderboard_mine", "GET"): Rule(WORKBENCH, query="period=month", token_perm=Perm.GUIDE_WORKBENCH),
        # benchmarks
        ("api:benchmark_wall", "GET"): Rule(EVERYONE, token_perm=Perm.INCENTIVES_VIEW),
        ("api:benchmark_mine", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
        # The matrix sends JSON: no form fields, so the notes are emptied (the upload is tested in
        # tests/test_incentives_api.py). Only the picked guide may write; the store manager's
        # workbench reaches no benchmark of hers (404).
        ("api:benchmark_write_up", "POST"): Rule(
            GUIDE_A,
            kwargs=benchmark_api,
            out_of_scope={"store_manager": benchmark_api},
            token_perm=Perm.GUIDE_WORKBENCH,
        ),
        ("api:benchmark_pick", "POST"): Rule(HQ, data=lambda w: {}, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:rule_list", "GET"): Rule(HQ, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:rule_create", "POST"): Rule(HQ, data=_rule_body, ok=201, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:rule_detail", "GET"): Rule(HQ, kwargs=rule_api, token_perm=Perm.INCENTIVES_MANAGE),
        ("api:rule_update", "PUT"): Rule(
            HQ,
            kwargs=rule_api,
            data=lambda w: {"title": "matrix rule", "metric": "new_fans", "how_many": 2},
            token_perm=Perm.INCENTIVES_MANAGE,
        ),
        ("api:rule_delete", "DELETE"): Rule(HQ, kwargs=fresh_rule_api, token_perm=Perm.INCENTIVES_MANAGE),
    }
)
