"""Step ``customers``: the brand's customers with about eighteen months of history, streamed in
batches through :func:`siyu.members.services.bulk_add_customers`.

Rows are generated lazily, one at a time, so memory stays flat however many are asked for
(``--members 5000000``). Each customer belongs to a store (bigger cities and busier stores get
more) and to one of its active guides. Join date, last purchase, number of orders and money spent
agree with each other, and the lifecycle stage follows from how recently she bought.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.codes import PhoneNumbering
from siyu.demo.generator import LOCAL, Context, DemoError, Step, register
from siyu.demo.people import chinese_name
from siyu.demo.places import CITIES
from siyu.demo.products import STYLES
from siyu.members.services import Lifecycle, NewCustomer

HISTORY_DAYS = 540  # customers joined over the last eighteen months
NEW_DAYS = 30  # joined within a month: new
ACTIVE_DAYS = 90  # bought within three months: active
DORMANT_DAYS = 180  # bought within six months: dormant; longer ago: churned

# yuan thresholds of spending → tier, highest first (in fen)
TIERS = ((1_000_000, "platinum"), (500_000, "gold"), (200_000, "silver"))

SOURCES = (
    ("store_code", 30),
    ("guide_code", 25),
    ("wecom", 15),
    ("pos", 10),
    ("mini_program", 10),
    ("share_link", 5),
    ("campaign", 3),
    ("product_code", 2),
)
_SOURCE_NAMES = tuple(s for s, _w in SOURCES)
_SOURCE_CUM = tuple(sum(w for _s, w in SOURCES[: i + 1]) for i in range(len(SOURCES)))
DISCOUNTS = (100, 100, 100, 100, 90, 80, 70)  # percent of the tag price paid


def lifecycle_of(joined_at: dt.datetime, last_purchase_at: dt.datetime | None, as_of: dt.datetime) -> str:
    """The lifecycle stage from recency: new (joined within 30 days, or within 90 without buying
    yet), active (bought within 90 days), dormant (within 180), churned (longer ago)."""
    if as_of - joined_at <= dt.timedelta(days=NEW_DAYS):
        return Lifecycle.NEW
    if last_purchase_at is None:
        idle = as_of - joined_at
        if idle <= dt.timedelta(days=ACTIVE_DAYS):
            return Lifecycle.NEW
    else:
        idle = as_of - last_purchase_at
    if idle <= dt.timedelta(days=ACTIVE_DAYS):
        return Lifecycle.ACTIVE
    if idle <= dt.timedelta(days=DORMANT_DAYS):
        return Lifecycle.DORMANT
    return Lifecycle.CHURNED


def tier_of(total_spent_fen: int) -> str:
    for threshold, tier in TIERS:
        if total_spent_fen >= threshold:
            return tier
    return "regular"


@dataclass(frozen=True)
class Outlet:
    """A store customers join, with its active guides."""

    store_id: int
    weight: int
    opened_at: dt.datetime | None
    guide_ids: tuple[int, ...]


def demo_customer(store_id: int, guide_id: int, as_of: dt.datetime) -> NewCustomer:
    """张小雨, the demo customer: a regular of the flagship store, bound to guide A."""
    return NewCustomer(
        phone=P.CUSTOMER_PHONE,
        name=P.CUSTOMER_NAME,
        store_id=store_id,
        guide_id=guide_id,
        joined_at=as_of - dt.timedelta(days=420, hours=8, minutes=30),
        gender="f",
        birthday=dt.date(1996, 4, 12),
        source="guide_code",
        tier=tier_of(428_600),
        lifecycle=Lifecycle.ACTIVE,
        last_purchase_at=as_of - dt.timedelta(days=12, hours=5),
        orders_count=6,
        total_spent_fen=428_600,
    )


def customer_rows(
    seed: int, count: int, as_of: dt.datetime, outlets: Sequence[Outlet], prices: Sequence[int]
) -> Iterator[NewCustomer]:
    """``count`` generated customers, one at a time (the demo customer is not among them)."""
    if not outlets:
        return
    rng = random.Random(f"{seed}:customers")
    phone_of = PhoneNumbering(seed)
    cum: list[int] = []
    total = 0
    for o in outlets:
        total += o.weight
        cum.append(total)
    window_start = as_of - dt.timedelta(days=HISTORY_DAYS)
    rand = rng.random
    n_prices, n_discounts = len(prices), len(DISCOUNTS)
    for i in range(count):
        outlet = outlets[bisect.bisect_right(cum, rng.random() * total)]
        start = max(window_start, outlet.opened_at) if outlet.opened_at else window_start
        span = (as_of - start).total_seconds()
        joined = start + dt.timedelta(seconds=int(span * rng.random() ** 0.75))  # more joined lately
        orders = 0 if rng.random() < 0.22 else 1 + min(int(rng.expovariate(0.45)), 29)
        last: dt.datetime | None = None
        spent = 0
        if orders:
            if orders == 1 and rng.random() < 0.5:  # joined at the till
                last = joined + dt.timedelta(minutes=rng.randrange(1, 20))
            else:
                after = (as_of - joined).total_seconds() * rng.random() ** (1.0 / orders)
                last = joined + dt.timedelta(seconds=int(after))
            if last >= as_of:
                last = as_of - dt.timedelta(minutes=1)
            for _order in range(orders):
                items = 1 if rand() < 0.6 else (2 if rand() < 0.7 else 3)
                for _item in range(items):
                    spent += prices[int(rand() * n_prices)] * DISCOUNTS[int(rand() * n_discounts)] // 100
        gender = "m" if rng.random() < 0.55 else "f"
        birthday = None
        if rng.random() < 0.75:
            birthday = dt.date(as_of.year - rng.randint(16, 55), 1, 1) + dt.timedelta(days=rng.randrange(365))
        yield NewCustomer(
            phone=phone_of(i),
            name=chinese_name(rng, gender),
            store_id=outlet.store_id,
            guide_id=rng.choice(outlet.guide_ids) if outlet.guide_ids else None,
            joined_at=joined,
            gender=gender,
            birthday=birthday,
            source=_SOURCE_NAMES[bisect.bisect_left(_SOURCE_CUM, rng.random() * _SOURCE_CUM[-1])],
            tier=tier_of(spent),
            lifecycle=lifecycle_of(joined, last, as_of),
            last_purchase_at=last,
            orders_count=orders,
            total_spent_fen=spent,
        )


def outlets_of(ctx: Context) -> list[Outlet]:
    """The brand's open stores with their weight (city size × footfall) and active guides."""
    from siyu.demo.seed_org import plan_org
    from siyu.org import services as org

    planned = {s.code: s for s in plan_org(ctx.config.seed, ctx.as_of).stores}
    city_weight = {c.name: c.weight for c in CITIES}
    by_store: dict[int, list[int]] = {}
    for g in org.guides(ctx.brand_id):
        if g.store_id is not None:
            by_store.setdefault(g.store_id, []).append(g.id)
    outlets = []
    for s in org.stores(ctx.brand_id, open_only=True):
        plan = planned.get(s.code)
        opened = dt.datetime.combine(plan.opened_on, dt.time(10, 0), tzinfo=LOCAL) if plan else None
        outlets.append(
            Outlet(
                store_id=s.id,
                weight=city_weight.get(s.city, 5) * (plan.weight if plan else 10),
                opened_at=opened,
                guide_ids=tuple(by_store.get(s.id, ())),
            )
        )
    return outlets


def customers_exist(ctx: Context) -> bool:
    from siyu.members import services as members

    return members.count_customers(ctx.brand_id) >= ctx.config.members


def write_customers(ctx: Context) -> None:
    from siyu.catalog import services as catalog
    from siyu.members import services as members
    from siyu.org import services as org

    outlets = outlets_of(ctx)
    flagship = next(s for s in org.stores(ctx.brand_id) if s.code == P.FLAGSHIP_STORE_CODE)
    guide_a = org.staff_id_by_login(ctx.brand_id, P.GUIDE_A.username)
    if guide_a is None:
        raise DemoError(
            _("The demo brand has no guide %(username)s; start over with --fresh.") % {"username": P.GUIDE_A.username}
        )
    prices = [p.price_fen for p in catalog.price_list(ctx.brand_id)] or [s.price_fen for s in STYLES]

    def rows() -> Iterator[NewCustomer]:
        yield demo_customer(flagship.id, guide_a, ctx.as_of)
        yield from customer_rows(ctx.config.seed, ctx.config.members - 1, ctx.as_of, outlets, prices)

    ctx.reporter.begin(_("Customers"), total=ctx.config.members)
    for n in members.bulk_add_customers(ctx.brand_id, rows(), batch_size=BATCH_SIZE):
        ctx.reporter.advance(n)
    ctx.reporter.end()
    ctx.facts["customers"] = members.count_customers(ctx.brand_id)


BATCH_SIZE = 2000

STEP = Step("customers", gettext_noop("Customers"), run=write_customers, done=customers_exist)

# The customers' identities, bindings, codes, tags, tiers, merges and transfers: the next step.
from siyu.demo import seed_assets  # noqa: E402

register(seed_assets.STEP, after="customers")
