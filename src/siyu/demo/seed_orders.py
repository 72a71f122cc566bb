"""Step ``orders``: stock in every store and orders in every state, all through the services, so
the stock ledger balances (``inventory.services.check_ledger`` is empty after it).

Stock: each store receives its opening delivery of every SKU (``inventory.services.receive``, one
receipt per store): most SKUs 3–12 units, some thin (1–2) and some out (none received) in a store.
Orders: a few hundred, placed by the stores' customers from their store's page
(``orders.services.place_order``, delivered to an address near the store or picked up there), then
moved along the state machine by the stores' verbs: awaiting payment, with the store (to pick),
packed, shipped, ready for pickup, completed, cancelled, return requested and returned. The
flagship SH001 gets a batch of its own (the persona ``chen.guide`` has parcels to work on), and each
store records a few offline POS sales (``orders.services.record_pos_order``). Everything follows
from ``--seed``; the orders' times lie in the last days before ``as_of``, the unpaid ones at the
time of seeding (so they wait for payment when the demo opens)."""

from __future__ import annotations

import datetime as dt
import random

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.generator import Context, Step, register
from siyu.platform import clock

# The states an order of the demo ends in, and how many of each (per 100 mall orders).
MIX = (
    ("created", 6),
    ("allocated", 14),
    ("packed", 10),
    ("shipped", 12),
    ("ready", 8),
    ("completed", 28),
    ("cancelled", 8),
    ("return_requested", 6),
    ("returned", 8),
)
MALL_ORDERS = 160
FLAGSHIP_ORDERS = 20  # of them, at SH001 for the guide persona's store
POS_PER_STORE = 1


def orders_exist(ctx: Context) -> bool:
    from siyu.orders import services as orders

    return orders.visible_orders(ctx.scope).exists()


def _opening_stock(ctx: Context, rng: random.Random, stores: list, sku_ids: list[int]) -> int:
    from siyu.inventory import services as stock

    ctx.reporter.begin(_("Opening stock"), total=len(stores))
    units = 0
    for store in stores:
        lines: dict[int, int] = {}
        for sku in sku_ids:
            roll = rng.random()
            if roll < 0.04:
                continue  # out in this store
            lines[sku] = rng.randint(1, 2) if roll < 0.12 else rng.randint(3, 12)
        stock.receive(ctx.scope, store.id, lines, key=f"demo-opening:{store.code}", reference="DEMO-OPENING")
        units += sum(lines.values())
        ctx.reporter.advance()
    ctx.reporter.end()
    return units


def _advance_to(ctx: Context, number: str, target: str, rng: random.Random) -> None:
    """Move a freshly paid order along the stores' verbs to ``target``."""
    from siyu.orders import services as orders

    info = orders.order_info(ctx.brand_id, number)
    assert info is not None
    if target == "cancelled":
        orders.cancel_by_staff(ctx.scope, number, reason=_("Out of stock at the store"))
        return
    if target == "allocated":
        return
    pickup = info.mode == "pickup"
    for f in info.fulfilments:
        orders.pack(ctx.scope, f.id)
        if target == "packed":
            continue
        if pickup:
            orders.set_out_for_pickup(ctx.scope, f.id)
        else:
            orders.ship(
                ctx.scope,
                f.id,
                carrier=rng.choice(("顺丰速运", "京东物流", "中通快递")),
                tracking_no=f"SF{rng.randrange(10**11, 10**12)}",
            )
        if target in ("shipped", "ready"):
            continue
        if pickup:
            code = next(x.pickup_code for x in orders.order_info(ctx.brand_id, number).fulfilments if x.id == f.id)  # type: ignore[union-attr]
            orders.hand_over(ctx.scope, f.id, pickup_code=code)
        else:
            orders.mark_delivered(ctx.scope, f.id)
    if target in ("return_requested", "returned"):
        orders.request_return(
            ctx.brand_id, info.customer_id, number, reason=rng.choice(("尺码不合适", "颜色与图片不符", "不想要了"))
        )
    if target == "returned":
        orders.decide_return(ctx.scope, number, accept=True, note=_("Goods received in good condition"))


def seed_orders(ctx: Context) -> None:
    from siyu.catalog import services as catalog
    from siyu.demo import seed_catalog
    from siyu.members import services as members
    from siyu.orders import services as orders
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:orders")
    stores = sorted(org.stores(ctx.brand_id, open_only=True), key=lambda s: s.code)
    plan = seed_catalog.plan_catalog(ctx.config.seed, ctx.as_of)
    by_code = catalog.sku_ids_by_code(ctx.brand_id, [s.code for p in plan for s in p.skus])
    sku_ids = sorted(by_code.values())
    units = _opening_stock(ctx, rng, stores, sku_ids)

    flagship = next(s for s in stores if s.code == P.FLAGSHIP_STORE_CODE)
    chen = org.staff_id_by_login(ctx.brand_id, P.GUIDE_A.username)
    # Buyers: active customers who bought before and had joined by the first order's time — a refund
    # never leaves a customer with a last purchase and no orders, nobody buys before she joined, and
    # a purchase keeps her active (her store is where she orders).
    first_day = ctx.as_of - dt.timedelta(days=6)
    eligible = members.visible_customers(ctx.scope).filter(
        orders_count__gt=0, lifecycle=members.Lifecycle.ACTIVE, joined_at__lt=first_day
    )
    buyers = list(eligible.order_by("pk").values_list("pk", "store_id", "guide_id"))
    chens = [b for b in buyers if b[2] == chen] or [b for b in buyers if b[1] == flagship.id]
    by_store = {s.id: s for s in stores}
    buyers = [b for b in buyers if b[1] in by_store]
    states = [state for state, n in MIX for _i in range(n * MALL_ORDERS // 100)]
    rng.shuffle(states)
    ctx.reporter.begin(_("Orders"), total=len(states) + len(stores) * POS_PER_STORE)
    placed = 0
    for i, target in enumerate(states):
        pool = chens if i < FLAGSHIP_ORDERS and chens else buyers
        if not pool:
            break
        customer_id, store_id, _guide = rng.choice(pool)
        store = by_store[store_id]
        when = ctx.as_of - dt.timedelta(days=rng.uniform(0.2, 6))
        pickup = target == "ready" or (target in ("completed", "packed") and rng.random() < 0.3)
        lines = [orders.NewLine(sku, rng.randint(1, 2)) for sku in rng.sample(sku_ids, rng.choice((1, 1, 2, 3)))]
        delivery = None
        if not pickup:
            delivery = orders.Delivery(
                recipient=rng.choice(("王芳", "李娜", "张伟", "刘洋", "陈静", "杨帆")),
                phone=f"139{rng.randrange(10**8):08d}",
                city=store.city,
                address=f"{store.district or store.city}{rng.randint(1, 999)}号",
                latitude=float(store.latitude) + rng.uniform(-0.03, 0.03),
                longitude=float(store.longitude) + rng.uniform(-0.03, 0.03),
            )
        frozen = clock.frozen(when) if target != "created" else clock.frozen(clock.now())
        with frozen:
            try:
                info = orders.place_order(
                    ctx.brand_id,
                    customer_id,
                    store_id=store.id,
                    lines=lines,
                    mode="pickup" if pickup else "delivery",
                    delivery=delivery,
                    pickup_store_id=store.id if pickup else None,
                    client_key=f"demo-{ctx.config.seed}-{i}",
                    actor="demo",
                )
            except orders.OutOfStock:
                continue  # the store (or city) ran out: the shopper moves on
            if target != "created":
                orders.pay(ctx.brand_id, info.number, key=f"demo-pay-{info.number}", actor="demo")
                _advance_to(ctx, info.number, target, rng)
        placed += 1
        ctx.reporter.advance()
    pos = 0
    for store in stores:
        when = ctx.as_of - dt.timedelta(days=rng.uniform(0.5, 5))
        ids = [b[0] for b in buyers if b[1] == store.id][:20]
        held = [s for s, n in zip(sku_ids, orders_stock(ctx, store.id, sku_ids), strict=True) if n > 0]
        for k in range(POS_PER_STORE):
            if not ids or not held:
                break
            sku = rng.choice(held)
            with clock.frozen(when):
                orders.record_pos_order(
                    ctx.scope,
                    store_id=store.id,
                    document=f"POS-{store.code}-{k + 1:04d}",
                    customer_id=rng.choice(ids),
                    lines=[
                        orders.PosLine(
                            sku, 1, catalog.sku_prices(ctx.brand_id, [sku], store_id=store.id)[sku].price_fen
                        )
                    ],
                    at=clock.now(),
                )
            pos += 1
            ctx.reporter.advance()
    ctx.reporter.end()
    members.recompute_brand(ctx.brand_id, now=ctx.as_of)  # the purchases move lifecycles and tiers on
    ctx.facts.update(stock_units=units, orders=placed, pos_orders=pos)


def orders_stock(ctx: Context, store_id: int, sku_ids: list[int]) -> list[int]:
    from siyu.inventory import services as stock

    have = stock.store_stock(ctx.brand_id, store_id, sku_ids)
    return [have.get(s, 0) for s in sku_ids]


STEP = Step("orders", gettext_noop("Stock and orders"), run=seed_orders, done=orders_exist)
register(STEP, after="customers")
