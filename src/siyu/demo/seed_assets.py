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
    ctx.reporter.advance()
    ctx.reporter.end()


ATTACH_CHUNK = 5000


def first_assets(ctx: Context) -> None:
    from siyu.members import services as members
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:assets")
    scope = ctx.scope
    ctx.reporter.begin(_("Customer assets"), total=7)

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
