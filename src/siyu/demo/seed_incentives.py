"""The demo's incentives (a step of ``siyu demo``, after the orders): leaderboards filled from the
demo's paid orders and the bindings its guides earned, gifts in the reward mall with redemptions in
every state, coins with a history, benchmark rules and yesterday's benchmarks with method notes
(no video: the wall shows only real uploads)."""

from __future__ import annotations

import datetime as dt
import random

from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo import seed_orders as _orders  # noqa: F401  (the orders step registers first: this one follows it)
from siyu.demo.generator import Context, Step, register
from siyu.incentives import benchmarks, services
from siyu.incentives.services import leaderboards

GIFTS = [
    ("运动水壶", "750 ml，不含双酚 A", 300, 40),
    ("速干运动毛巾", "门店同款", 150, 80),
    ("跑步腰包", "可放手机和钥匙", 500, 20),
    ("品牌联名跑鞋", "限量款，可选尺码", 3000, 3),
    ("带薪休假半天", "与店长约定日期", 2000, 10),
]
NOTES = [
    "每天开店前给老顾客发一条穿搭推荐，附上新品试穿视频；顾客到店先问运动习惯，再推荐鞋款。",
    "朋友圈固定晚 8 点发跑团活动照片，分享链接里带上自己的导购码，周末约顾客一起晨跑。",
    "新顾客扫码后当天就备注尺码和喜好，三天内回访一次，送一次免费洗鞋服务。",
]


def done(ctx: Context) -> bool:
    return bool(services.gifts(ctx.brand_id, offered_only=False))


def run(ctx: Context) -> None:
    from siyu.members import services as members
    from siyu.orders import services as orders
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:incentives")
    b, hq = ctx.brand_id, ctx.scope
    where = {g.id: (g.store_id, g.region_id) for g in org.guides(b, active_only=False)}
    region_of = {s.id: s.region_id for s in org.stores(b)}
    scored = 0
    # Paid orders: the same keys as the live listener (a later event of the order scores nothing more).
    paid = orders.visible_orders(hq).filter(guide__isnull=False, paid_at__isnull=False)
    for oid, guide_id, total, code_id, paid_at in paid.values_list("id", "guide_id", "total_fen", "code_id", "paid_at"):
        store_id = where.get(guide_id, (None, None))[0]
        region_id = region_of.get(store_id or 0)
        metrics = [("sales_fen", total)] + ([("conversions", 1), ("share_sales_fen", total)] if code_id else [])
        for metric, points in metrics:
            scored += leaderboards.record(
                b,
                metric,
                guide_id,
                points,
                key=f"ev:order:{oid}:paid:{metric}",
                at=paid_at or ctx.as_of,
                store_id=store_id,
                region_id=region_id,
            )
    # Customers a guide won herself (her code, WeCom, a first purchase) in the last five weeks: new fans.
    since = ctx.as_of - dt.timedelta(days=35)
    for chunk in members.customer_facts(b):
        for c in chunk:
            if (
                c.guide_id
                and c.guide_id in where
                and c.joined_at >= since
                and c.source in ("guide_code", "wecom", "store_code")
            ):
                store_id = where[c.guide_id][0]
                scored += leaderboards.record(
                    b,
                    "new_fans",
                    c.guide_id,
                    1,
                    key=f"demo:fan:{c.id}",
                    at=c.joined_at,
                    store_id=store_id,
                    region_id=region_of.get(store_id or 0),
                )
    # The reward mall.
    gifts = []
    for name, desc, cost, stock in GIFTS:
        g = services.save_gift(hq, name=name, description=desc, cost=cost)
        services.restock(hq, g.id, stock, key=f"demo:{name}")
        gifts.append(g)
    # Coins: tasks and contest rewards over the last two weeks for the guides of the persona's store
    # and a sample of the others.
    persona_ids = [
        i for i in (org.staff_id_by_login(b, P.GUIDE_A.username), org.staff_id_by_login(b, P.GUIDE_B.username)) if i
    ]
    everyone = [g.id for g in org.guides(b)]  # those still with the brand
    sample = persona_ids + rng.sample(everyone, min(60, len(everyone)))
    entries = 0
    for gid in dict.fromkeys(sample):
        for n in range(rng.randint(3, 8)):
            day = (ctx.as_of - dt.timedelta(days=rng.randint(1, 14))).date()
            kind, coins = rng.choice(
                [("任务完成：朋友圈转发新品", 20), ("任务完成：新增 5 位粉丝", 50), ("PK 赛达标奖励", 100)]
            )
            services.award(
                b, gid, coins, key=f"demo:coins:{gid}:{n}", reason=f"{kind}（{day:%m-%d}）", source_type="demo"
            )
            entries += 1
    # Redemptions in every state (the persona guide first).
    a = persona_ids[0] if persona_ids else sample[0]
    services.award(b, a, 6000, key="demo:coins:bonus", reason="季度销冠奖励", source_type="demo")
    states = ["pending", "approved", "shipped", "received", "rejected"]
    for i, state in enumerate(states):
        red = services.redeem(b, a, gifts[i % 3].id, key=f"demo:red:{i}")
        if state in ("approved", "shipped", "received"):
            services.decide(hq, red.id, approve=True)
        if state in ("shipped", "received"):
            services.ship(hq, red.id, tracking=f"SF10{i:08d}")
        if state == "received":
            services.confirm_received(b, a, red.id)
        if state == "rejected":
            services.decide(hq, red.id, approve=False, note="该礼品本季已停发")
    for i, gid in enumerate(sample[2:8]):
        if services.balance(b, gid) >= gifts[1].cost:
            services.redeem(b, gid, gifts[1].id, key=f"demo:red:other:{i}")
    # Benchmark rules and yesterday's picks with their notes.
    benchmarks.save_rule(hq, title="销冠", metric="sales_fen", how_many=3, minimum=1, award_coins=100)
    benchmarks.save_rule(hq, title="推荐之星", metric="share_sales_fen", how_many=3, minimum=1, award_coins=80)
    benchmarks.save_rule(hq, title="拉新之星", metric="new_fans", scope_kind="region", how_many=1, award_coins=50)
    # Yesterday's benchmarks (or the latest day of the last two weeks with sales, on a quiet history).
    picked, yesterday = 0, ctx.as_of.date() - dt.timedelta(days=1)
    for back in range(1, 15):
        yesterday = ctx.as_of.date() - dt.timedelta(days=back)
        picked = benchmarks.pick(b, yesterday)
        if picked:
            break
    for i, e in enumerate(benchmarks.wall(b, day=yesterday)[:6]):
        benchmarks.write_up(b, e.guide_id, e.id, notes=NOTES[i % len(NOTES)])
    ctx.facts.update(scores=scored, coin_entries=entries, benchmarks=picked)
    assert services.check_ledger(b) == [] and services.check_gift_ledger(b) == []


register(
    Step("incentives", gettext_noop("Coins, reward mall, leaderboards, benchmarks"), run=run, done=done), after="orders"
)
