"""Step ``customer_assets``: what HQ and the guides know about the demo brand's customers.

Runs after ``customers``. Through the member services: a store code for every open store, a guide
code for every active guide and a few campaign codes; tag groups and tags with many customers tagged;
tier levels matching the tiers customers already hold; lifecycle stages recomputed by the brand's
thresholds. In bulk (:func:`siyu.members.services.bulk_attach`): every customer's verified phone
identity, a unionid for most, a mini-program openid for many, a POS card for some, and her first
binding from her source (store code, guide code, WeCom, first purchase) with the code she scanned.
Then a handful of manual merges, in-service transfers (done, waiting and one refused) and one guide
who leaves so that her customers are inherited by the guides of her store.

Deterministic: every draw comes from ``random.Random(f"{seed}:assets")``.

**Top-up.** ``siyu demo --members N`` on a brand that already has its assets adds customers (step
``customers``); this step then gives exactly those customers what the first ones got — their
verified phone identity, a unionid, openid or POS card by the same odds, the first binding with the
code they scanned, the tags of the same rules — and recomputes lifecycle and tiers. Its draws
come from ``random.Random(f"{seed}:assets:top-up:{first new id}")``, so no unionid repeats. The
step is done when no customer lacks her phone identity (``members.without_phone_identity``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Mod
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.generator import Context, Step

TAG_GROUPS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("运动偏好", False, ("跑步", "篮球", "户外", "健身", "瑜伽", "足球")),
    ("消费特征", True, ("高价值", "价格敏感", "新品尝鲜")),
    ("服务跟进", False, ("生日关怀", "待回访", "VIP 客户")),
)
TIERS = (("regular", "普通会员", 0), ("silver", "银卡会员", 200_000), ("gold", "金卡会员", 500_000))
TOP_TIER = ("platinum", "铂金会员", 1_000_000)
CAMPAIGNS = ("618 年中大促", "新品首发", "会员日")
MINI_APP = "wx-feiyue-mall"
# the customer's source -> how she was bound to her guide, and by which code
BINDING_OF_SOURCE = {
    "store_code": ("store_code", "store"),
    "guide_code": ("guide_code", "guide"),
    "wecom": ("wecom", None),
    "pos": ("first_purchase", None),
    "mini_program": ("store_code", "store"),
    "share_link": ("guide_code", "guide"),
    "campaign": ("store_code", "campaign"),
    "product_code": ("first_purchase", None),
}


def assets_exist(ctx: Context) -> bool:
    from siyu.members import services as members

    return members.has_identities(ctx.brand_id) and not members.without_phone_identity(ctx.brand_id).exists()


def write_assets(ctx: Context) -> None:
    from siyu.members import services as members

    if members.has_identities(ctx.brand_id):
        top_up_assets(ctx)
    else:
        first_assets(ctx)


@dataclass(frozen=True)
class Codes:
    """The codes customers scanned: a store's, a guide's, the campaigns'."""

    store: dict[int, int]
    guide: dict[int, int]
    campaign: list[int]


def attach_and_bind(ctx: Context, rng: random.Random, customers: QuerySet[Any], codes: Codes) -> int:
    """The customers' identities (a verified phone; a unionid for ~65%, a mini-program openid for
    ~45%, a POS card for ~25%) and each one's first binding from her source, in bulk, by id."""
    from siyu.members import services as members

    def attachments() -> Iterator[members.Attach]:
        rows = customers.order_by("pk")
        fields = ("pk", "phone_hash", "store_id", "guide_id", "source", "joined_at")
        for pk, phone_hash, store_id, guide_id, source, joined_at in rows.values_list(*fields).iterator(5000):
            binding, by = BINDING_OF_SOURCE.get(source, ("hq", None))
            code = {
                "store": codes.store.get(store_id),
                "guide": codes.guide.get(guide_id),
                "campaign": codes.campaign[pk % len(codes.campaign)] if codes.campaign else None,
            }.get(by or "")
            r = rng.random()
            yield members.Attach(
                customer_id=pk,
                phone_hash=phone_hash,
                at=joined_at,
                guide_id=guide_id,
                store_id=store_id,
                binding_source=binding if (guide_id or store_id) else "",
                code_id=code,
                unionid=f"oFY{rng.getrandbits(120):030x}"[:28] if r < 0.65 else "",
                openid=f"oMP{rng.getrandbits(120):030x}"[:28] if r < 0.45 else "",
                openid_app=MINI_APP if r < 0.45 else "",
                pos_card=f"FY{pk:010d}" if rng.random() < 0.25 else "",
            )

    return members.bulk_attach(ctx.brand_id, attachments(), actor_label=ctx.scope.label)


def tag_by_rules(ctx: Context, tags: dict[str, int], customers: QuerySet[Any]) -> None:
    """The tags HQ gives in bulk (filtered lists): by spending, by lifecycle, interests by id."""
    from siyu.members import services as members

    scope = ctx.scope
    members.bulk_tag(scope, tags["高价值"], customers.filter(total_spent_fen__gte=500_000))
    members.bulk_tag(scope, tags["价格敏感"], customers.filter(total_spent_fen__gt=0, total_spent_fen__lt=50_000))
    members.bulk_tag(scope, tags["待回访"], customers.filter(lifecycle="dormant"))
    by_tenth = customers.alias(tenth=Mod("id", 10))
    for i, name in enumerate(("跑步", "篮球", "户外", "健身", "瑜伽", "足球")):  # ~20% each, overlapping
        members.bulk_tag(scope, tags[name], by_tenth.filter(tenth__in=[i, (i + 3) % 10]))


@dataclass(frozen=True)
class Touchpoints:
    """The codes the demo's touches came through (read back from the database)."""

    store: dict[int, int]  # store id -> its store code
    guide: dict[int, int]  # guide id -> her guide code
    campaign: list[tuple[int, str]]  # (code, campaign)
    product: list[tuple[int, str, str]]  # (code, SKU code, serial): one code per item
    share: list[tuple[int, int | None, int | None, int]]  # (share link, the referrer's store, her guide, she)


def touchpoints(ctx: Context) -> Touchpoints:
    from siyu.members import services as members

    found = Touchpoints({}, {}, [], [], [])
    codes = members.visible_codes(ctx.scope).filter(active=True).order_by("pk")
    fields = ("pk", "kind", "store_id", "guide_id", "campaign", "sku_code", "serial")
    for pk, kind, store_id, guide_id, campaign, sku_code, serial in codes.values_list(*fields):
        if kind == "store" and store_id is not None:
            found.store.setdefault(store_id, pk)
        elif kind == "guide" and guide_id is not None:
            found.guide.setdefault(guide_id, pk)
        elif kind == "campaign":
            found.campaign.append((pk, campaign))
        elif kind == "product":
            found.product.append((pk, sku_code, serial))
    shares = codes.filter(kind="share").values_list("pk", "shared_by__store_id", "shared_by__guide_id", "shared_by_id")
    found.share.extend(shares)
    return found


def product_and_share_codes(ctx: Context, rng: random.Random, customers: QuerySet[Any]) -> int:
    """One code per item for a few SKUs of the range (tags on the goods), and the share links of a
    few hundred customers with a guide (the referrers of the share visits)."""
    from siyu.demo.seed_catalog import plan_catalog
    from siyu.members import services as members

    plan = plan_catalog(ctx.config.seed, ctx.as_of)
    skus = [sku.code for product in plan[:: max(1, len(plan) // PRODUCT_CODE_SKUS)] for sku in product.skus[:1]]
    made = 0
    for sku_code in skus[:PRODUCT_CODE_SKUS]:
        made += len(members.create_product_codes(ctx.scope, sku_code=sku_code, count=PRODUCT_CODES_PER_SKU))
    bound = list(customers.exclude(guide_id=None).order_by("pk").values_list("pk", flat=True))
    for pk in sorted(rng.sample(bound, min(SHARERS, len(bound)))):
        members.share_link(members.visible_customers(ctx.scope).get(pk=pk))
        made += 1
    return made


PRODUCT_CODE_SKUS = 6
PRODUCT_CODES_PER_SKU = 40
SHARERS = 300
# the touch that brought a customer, by her source: (touch kind, which code)
FIRST_TOUCH = {
    "store_code": ("scan", "store"),
    "mini_program": ("scan", "store"),
    "guide_code": ("scan", "guide"),
    "campaign": ("scan", "campaign"),
    "share_link": ("share_visit", "share"),
    "product_code": ("scan", "product"),
    "wecom": ("wecom_add", None),
    "pos": ("pos", None),
    "import": ("import", None),
}
# later touches: (weight, touch kind, which code)
LATER_TOUCHES = (
    (30, "scan", "campaign"),
    (20, "share_visit", "share"),
    (20, "scan", "product"),
    (15, "scan", "store"),
    (15, "pos", None),
)
LATER_COUNTS, LATER_CUMULATIVE = (0, 1, 2, 3, 4), (30, 60, 80, 92, 100)


def write_touches(ctx: Context, rng: random.Random, customers: QuerySet[Any], points: Touchpoints) -> int:
    """Every customer's touches (ADR 0007's history of where she came from): the one that brought her
    at her joining, by her source; up to four later ones (campaign and product codes scanned, share
    links opened, visits at the till) between her joining and the end of the history; and a purchase
    at the till at her last purchase. In bulk; each code's scan count follows."""
    from siyu.members import services as members

    as_of = ctx.as_of
    kinds = [(kind, by) for _w, kind, by in LATER_TOUCHES]
    cumulative = list(accumulate(w for w, _kind, _by in LATER_TOUCHES))

    def touch(pk: int, kind: str, by: str | None, at: dt.datetime, store: int | None, guide: int | None) -> Any:
        code: int | None = None
        campaign = ""
        props: dict[str, Any] = {}
        if by == "store":
            code = points.store.get(store or 0)
        elif by == "guide":
            code = points.guide.get(guide or 0)
        elif by == "campaign" and points.campaign:
            code, campaign = points.campaign[rng.randrange(len(points.campaign))]
        elif by == "product" and points.product:
            code, sku_code, serial = points.product[rng.randrange(len(points.product))]
            props = {"sku_code": sku_code, "serial": serial}
        elif by == "share" and points.share:
            code, store, guide, referrer = points.share[rng.randrange(len(points.share))]
            props = {"referrer": referrer}  # as a scan of the link records it
        if by is not None and code is None:  # no such code (a store without one): a plain visit
            kind = "pos" if by == "store" else kind
        return members.NewTouch(pk, kind, at, code, store, guide, campaign, props)

    def touches() -> Iterator[Any]:
        fields = ("pk", "store_id", "guide_id", "source", "joined_at", "orders_count", "total_spent_fen")
        rows = customers.order_by("pk").values_list(*fields, "last_purchase_at")
        for pk, store, guide, source, joined, orders, spent, last in rows.iterator(5000):
            kind, by = FIRST_TOUCH.get(source, ("register", None))
            yield touch(pk, kind, by, joined, store, None if by == "store" else guide)
            span = max((as_of - joined).total_seconds(), 0.0)
            later = sorted(
                joined + dt.timedelta(seconds=rng.random() * span)
                for _ in range(rng.choices(LATER_COUNTS, cum_weights=LATER_CUMULATIVE)[0])
            )
            for at in later:
                kind, by = rng.choices(kinds, cum_weights=cumulative)[0]
                yield touch(pk, kind, by, at, store, guide if kind == "pos" else None)
            if orders and last is not None:
                yield members.NewTouch(pk, "pos", last, None, store, guide, "", {"amount_fen": spent // orders})

    return members.bulk_add_touches(ctx.brand_id, touches())


def top_up_assets(ctx: Context) -> None:
    """The customers added since the first run get what the first ones got (see the module)."""
    from siyu.members import services as members

    scope = ctx.scope
    new_ids = list(members.without_phone_identity(ctx.brand_id).order_by("pk").values_list("pk", flat=True))
    if not new_ids:
        return
    ctx.reporter.begin(_("Customer assets"), total=3)
    codes = Codes(store={}, guide={}, campaign=[])
    found = members.visible_codes(scope).filter(active=True).order_by("pk")
    for pk, kind, store_id, guide_id in found.values_list("pk", "kind", "store_id", "guide_id"):
        if kind == "store" and store_id is not None:
            codes.store.setdefault(store_id, pk)
        elif kind == "guide" and guide_id is not None:
            codes.guide.setdefault(guide_id, pk)
        elif kind == "campaign":
            codes.campaign.append(pk)
    rng = random.Random(f"{ctx.config.seed}:assets:top-up:{new_ids[0]}")
    members.recompute_brand(ctx.brand_id, now=ctx.as_of)
    ctx.reporter.advance()
    tags = {t.name: t.pk for t in members.usable_tags(scope)}
    if all(name in tags for _group, _exclusive, names in TAG_GROUPS for name in names):
        lacking = members.without_phone_identity(ctx.brand_id).values("pk")
        tag_by_rules(ctx, tags, members.visible_customers(scope).filter(pk__in=lacking))
    ctx.reporter.advance()
    written = 0
    for start in range(0, len(new_ids), ATTACH_CHUNK):
        chunk = new_ids[start : start + ATTACH_CHUNK]
        written += attach_and_bind(ctx, rng, members.visible_customers(scope).filter(pk__in=chunk), codes)
    ctx.facts["identities_and_bindings"] = written
    touch_rng = random.Random(f"{ctx.config.seed}:touches:top-up:{new_ids[0]}")
    new = members.visible_customers(scope).filter(pk__gte=new_ids[0], pk__lte=new_ids[-1])  # added together
    ctx.facts["touches"] = write_touches(ctx, touch_rng, new, touchpoints(ctx))
    ctx.reporter.advance()
    ctx.reporter.end()


ATTACH_CHUNK = 5000


def first_assets(ctx: Context) -> None:
    from siyu.members import services as members
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:assets")
    scope = ctx.scope
    ctx.reporter.begin(_("Customer assets"), total=8)

    # 1. tags and tiers (HQ policy)
    tags: dict[str, int] = {}
    for group_name, exclusive, names in TAG_GROUPS:
        group = members.create_tag_group(scope, name=group_name, exclusive=exclusive)
        for name in names:
            tags[name] = members.create_tag(scope, group=group, name=name).pk
    for rank, (code, name, min_spend) in enumerate((*TIERS, TOP_TIER), start=1):
        members.create_tier_level(scope, code=code, name=name, rank=rank, min_spend_fen=min_spend)
    ctx.reporter.advance()

    # 2. codes: every open store, every active guide, a few campaigns
    store_codes: dict[int, int] = {}
    guide_codes: dict[int, int] = {}
    for store in org.stores(ctx.brand_id, open_only=True):
        store_codes[store.id] = members.create_code(scope, kind="store", store=store.id).pk
    for guide in org.guides(ctx.brand_id):
        if guide.store_id is not None:
            guide_codes[guide.id] = members.create_code(scope, kind="guide", guide=guide.id).pk
    campaign_codes = [members.create_code(scope, kind="campaign", campaign=c).pk for c in CAMPAIGNS]
    ctx.facts["codes"] = len(store_codes) + len(guide_codes) + len(campaign_codes)
    ctx.reporter.advance()

    # 3. identities and first bindings of every customer, in bulk
    codes = Codes(store=store_codes, guide=guide_codes, campaign=campaign_codes)
    everyone = members.visible_customers(scope)
    ctx.facts["identities_and_bindings"] = attach_and_bind(ctx, rng, everyone, codes)
    ctx.reporter.advance()

    # 3b. product codes (一物一码), share links, and every customer's touches (own draws: those above stay)
    touch_rng = random.Random(f"{ctx.config.seed}:touches")
    ctx.facts["codes"] += product_and_share_codes(ctx, touch_rng, everyone)
    ctx.facts["touches"] = write_touches(ctx, touch_rng, everyone, touchpoints(ctx))
    ctx.reporter.advance()

    # 4. tags on many customers (filtered lists, as HQ tags in bulk)
    tag_by_rules(ctx, tags, everyone)
    ctx.reporter.advance()

    # 5. lifecycle and RFM by the brand's thresholds, as of the end of the history
    members.recompute_brand(ctx.brand_id, now=ctx.as_of)
    ctx.reporter.advance()

    # 6. merges: pairs of records HQ found to be one person (not the personas' customers)
    guide_a = org.staff_id_by_login(ctx.brand_id, P.GUIDE_A.username)
    stores = [s for s in org.stores(ctx.brand_id, open_only=True) if s.code != P.FLAGSHIP_STORE_CODE]
    merged = 0
    for store in rng.sample(stores, 5):
        pair = list(everyone.filter(store_id=store.id).exclude(guide_id=guide_a).order_by("pk")[:2])
        if len(pair) == 2:
            members.merge_customers(scope, pair[0].pk, pair[1].pk, reason="同一人：会员卡与小程序账号各建了一条档案")
            merged += 1
    ctx.facts["merges"] = merged

    ctx.reporter.advance()

    # 7. transfers between guides of one store; one guide leaves and her customers are inherited
    by_store: dict[int, list[int]] = {}
    for g in org.guides(ctx.brand_id):
        if g.store_id is not None and g.id != guide_a:
            by_store.setdefault(g.store_id, []).append(g.id)
    busy = {s.id for s in stores if len(by_store.get(s.id, [])) >= 3}
    load = members.count_by_guide(scope)
    candidates = sorted(((load.get(g, 0), g, store_id) for store_id in busy for g in by_store[store_id]), reverse=True)
    if candidates:
        _n, giver, store_id = candidates[0]
        taker = next(g for g in by_store[store_id] if g != giver)
        theirs = list(
            members.live_customers(everyone.filter(guide_id=giver)).order_by("pk").values_list("pk", flat=True)
        )
        first, second = theirs[: min(20, len(theirs) // 2)], theirs[min(20, len(theirs) // 2) :][:10]
        if first:
            members.start_transfer(scope, first, taker, at=ctx.as_of - dt.timedelta(days=3))
            members.complete_due_transfers(at=ctx.as_of - dt.timedelta(hours=12))
        if second:
            waiting = members.start_transfer(scope, second, taker, at=ctx.as_of - dt.timedelta(hours=2))
            if waiting.transfers:
                members.refuse_transfer(scope, waiting.transfers[0].pk, at=ctx.as_of - dt.timedelta(hours=1))
        others = [c for c in candidates if c[2] != store_id and c[0] > 0 and len(by_store[c[2]]) >= 5]
        if others:  # the busiest guide of another store leaves: her customers are inherited
            _n, leaver, _store = others[0]
            org.mark_staff_left(scope, leaver, left_on=(ctx.as_of - dt.timedelta(days=1)).date())
    ctx.facts["transfers"] = members.count_transfers(ctx.brand_id)
    ctx.reporter.advance()
    ctx.reporter.end()


STEP = Step("customer_assets", gettext_noop("Customer assets"), run=write_assets, done=assets_exist)
