"""Who may use the incentives pages (see ``tests/access/model.py``): a guide (and a store manager,
who also holds the workbench) her own coins, the mall, her rank and the wall; every console viewer
the leaderboards and the redemptions of her reach; HQ (``incentives.manage``) the gifts, the
decisions on redemptions and the benchmark rules."""

from __future__ import annotations

from typing import Any

from tests.access.model import CONSOLE, HQ, WORKBENCH, Rule, World


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
