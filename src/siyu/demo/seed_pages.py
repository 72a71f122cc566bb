"""Step ``store_pages`` (after ``catalog``): the demo brand's store pages in the mall (千店千面).

Three HQ templates — 标准店 (Standard), 旗舰店 (Flagship) and 奥莱店 (Outlet) — each with banners
(one of them in a time window: a coming event, shown from its start) and featured products chosen
by product role; the Standard template is pushed to every store that is not closed, then Flagship
to the East region's stores and Outlet to the North-West's (pushes by region, as HQ does them).
A few stores add their own headline, banner and featured product on top: the flagship SH001 (the
store manager persona's store) always, and stores drawn from the seed. Everything goes through
:mod:`siyu.catalog.storefront` with the brand's HQ scope, so the audit log shows each push.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.generator import Context, Step, register

# name, banners (title, subtitle, leads to a product of this role or ""), role of its featured products
TEMPLATES = (
    (
        "标准店",
        (("新品上市", "疾风系列 轻快每一步", "regular"), ("会员日 每月 8 号", "积分翻倍 门店同享", "")),
        "traffic",
    ),
    (
        "旗舰店",
        (("旗舰店专享", "竞速装备 到店试穿", "member"), ("城市跑团", "每周六早 7 点 旗舰店集合", "")),
        "member",
    ),
    ("奥莱店", (("奥莱特惠", "经典款 限时折扣", "traffic"), ("清仓专区", "断码好价 先到先得", "")), "traffic"),
)
PUSHED_BY_REGION = (("旗舰店", "EAST"), ("奥莱店", "NORTHWEST"))
FEATURED = 4  # products featured by each template
OWN_PAGES = 6  # stores besides the flagship with their own headline and items
HEADLINES = ("本周末跑团集合，欢迎加入", "新店开业 会员专享礼", "到店试穿送运动袜", "周三会员日 积分翻倍")


def pages_exist(ctx: Context) -> bool:
    from siyu.catalog import storefront

    return bool(storefront.templates(ctx.scope))


@transaction.atomic
def write_pages(ctx: Context) -> None:
    from siyu.catalog import services as catalog
    from siyu.catalog import storefront
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:store_pages")
    scope = ctx.scope
    products = catalog.price_list(ctx.brand_id)
    by_role: dict[str, list[catalog.PriceInfo]] = {}
    for p in products:
        by_role.setdefault(p.role, []).append(p)
    stores = org.stores(ctx.brand_id)
    ctx.reporter.begin(_("Store pages"), total=len(TEMPLATES) + len(PUSHED_BY_REGION) + 1 + OWN_PAGES + 1)
    made: dict[str, int] = {}
    event = ctx.as_of + dt.timedelta(days=14)  # a coming event: its banner shows from its start
    for name, banners, role in TEMPLATES:
        template = storefront.create_template(scope, name=name)
        made[name] = template.pk
        owner = storefront.Owner(template_id=template.pk)
        for title, subtitle, leads_to in banners:
            product = rng.choice(by_role.get(leads_to) or products).product_id if leads_to else None
            storefront.add_placement(
                scope, owner, storefront.PlacementIn(kind="banner", title=title, subtitle=subtitle, product_id=product)
            )
        if name == "标准店":
            storefront.add_placement(
                scope,
                owner,
                storefront.PlacementIn(
                    kind="banner",
                    title="双十二 全场满减",
                    subtitle="满 500 减 80",
                    starts_at=event,
                    ends_at=event + dt.timedelta(days=3),
                ),
            )
        choice = by_role.get(role) or products
        for p in rng.sample(choice, min(FEATURED, len(choice))):
            storefront.add_placement(scope, owner, storefront.PlacementIn(kind="featured", product_id=p.product_id))
        ctx.reporter.advance()
    storefront.push_template(scope, made["标准店"], storefront.Selection(every=True))
    ctx.reporter.advance()
    regions = org.region_ids(ctx.brand_id)
    for name, region in PUSHED_BY_REGION:
        storefront.push_template(scope, made[name], storefront.Selection(region_ids=(regions[region],)))
        ctx.reporter.advance()
    open_stores = [s for s in stores if s.status == "open"]
    own = [s for s in open_stores if s.code == P.FLAGSHIP_STORE_CODE]
    own += rng.sample([s for s in open_stores if s.code != P.FLAGSHIP_STORE_CODE], OWN_PAGES)
    for store in own:
        storefront.set_headline(scope, store.id, rng.choice(HEADLINES))
        page = storefront.Owner(store_id=store.id)
        storefront.add_placement(
            scope,
            page,
            storefront.PlacementIn(kind="banner", title=f"{store.name} 店长推荐", subtitle="到店出示会员码享 9 折"),
        )
        pick = rng.choice(products)
        storefront.add_placement(
            scope, page, storefront.PlacementIn(kind="featured", product_id=pick.product_id, title="店长推荐")
        )
        ctx.reporter.advance()
    ctx.reporter.end()
    ctx.facts.update(page_templates=len(made), store_pages_own=len(own))


STEP = Step("store_pages", gettext_noop("Store pages"), run=write_pages, done=pages_exist)
register(STEP, after="catalog")
