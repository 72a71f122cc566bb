"""Step ``catalog``: the product range (categories, styles, colours × sizes → SKUs) through
:mod:`siyu.catalog.services`, each product with a description and a picture the catalog draws (its
silhouette in its first colour, with its name), and a few store prices HQ set over the brand price:
traffic-drawing styles cheaper in Shanghai, member-benefit styles cheaper in the East region, one
flagship-only price. Prices are integer fen; everything follows from ``--seed``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo.codes import ean13
from siyu.demo.generator import Context, Step
from siyu.demo.products import CATEGORIES, COLOURS, SIZES, STYLES

GS1_PREFIX = "6937"  # a company prefix under GS1 China (690–699)


@dataclass(frozen=True)
class SkuPlan:
    code: str
    color: str
    size: str
    barcode: str


@dataclass(frozen=True)
class ProductPlan:
    category: str
    code: str
    name: str
    role: str
    price_fen: int
    launched_on: dt.date
    skus: tuple[SkuPlan, ...]
    description: str = ""


# What each category is for, and one line per role; a description is one of each plus a care line.
_USE = {
    "RUN": ("轻量回弹中底，适合日常慢跑与城市路跑。", "稳定支撑，长距离也不累脚。"),
    "BASK": ("包裹性强，急停变向更稳。", "耐磨外底，室内外场地都能打。"),
    "TRAIN": ("宽楦设计，力量与跳跃训练都合适。", "柔软舒适，健身房和日常通勤两相宜。"),
    "TEE": ("速干面料，出汗后也不黏身。", "亲肤透气，一年四季都能穿。"),
    "HOOD": ("柔软抓绒，保暖又不厚重。", "宽松版型，叠穿更有型。"),
    "JKT": ("防风防泼水，早晚温差也从容。", "轻便可收纳，出行随身带。"),
    "PANT": ("弹力面料，运动不受束缚。", "版型利落，运动与休闲都好搭。"),
    "SOCK": ("加厚毛圈底，缓震防滑。", "透气网眼，久穿不闷。"),
    "BAG": ("多隔层收纳，运动装备分区放。", "减压肩带，背负更轻松。"),
}
_ROLE_LINE = {
    "traffic": "门店引流款，到店即享专属价。",
    "regular": "经典常青款，多色可选。",
    "member": "会员专享款，会员购买更优惠。",
    "fission": "分享给好友一起买，邀请越多越划算。",
}


def describe(rng: random.Random, category: str, name: str, role: str) -> str:
    use = rng.choice(_USE.get(category, ("舒适耐穿，日常运动好选择。",)))
    return f"{name}：{use}{_ROLE_LINE.get(role, '')}\n洗护：冷水手洗，避免暴晒。"


def plan_catalog(seed: int, as_of: dt.datetime) -> list[ProductPlan]:
    """Every style with its colours (two to four, drawn from the seed) and sizes."""
    rng = random.Random(f"{seed}:catalog")
    today = as_of.date()
    serial = 0
    per_category: dict[str, int] = {}
    products = []
    for style in STYLES:
        per_category[style.category] = n = per_category.get(style.category, 0) + 1
        code = f"{style.category}-{n:02d}"
        colours = sorted(rng.sample(COLOURS, rng.randint(2, 4)))
        skus = []
        for colour_code, colour_name in colours:
            for size in SIZES[style.sizes]:
                serial += 1
                skus.append(
                    SkuPlan(
                        code=f"{code}-{colour_code}-{size}",
                        color=colour_name,
                        size=size,
                        barcode=ean13(f"{GS1_PREFIX}{serial:08d}"),
                    )
                )
        launched = today - dt.timedelta(days=rng.randrange(30, 3 * 365))
        description = describe(rng, style.category, style.name, style.role)
        products.append(
            ProductPlan(
                style.category, code, style.name, style.role, style.price_fen, launched, tuple(skus), description
            )
        )
    return products


def catalog_exists(ctx: Context) -> bool:
    from siyu.catalog import services as catalog

    return catalog.count_products(ctx.brand_id) > 0


@transaction.atomic
def write_catalog(ctx: Context) -> None:
    from siyu.catalog import services as catalog

    plan = plan_catalog(ctx.config.seed, ctx.as_of)
    ctx.reporter.begin(_("Product range"), total=len(plan))
    categories = {code: catalog.create_category(ctx.scope, code=code, name=name).pk for code, name in CATEGORIES}
    skus = 0
    for p in plan:
        product = catalog.create_product(
            ctx.scope,
            category_id=categories[p.category],
            code=p.code,
            name=p.name,
            role=p.role,
            price_fen=p.price_fen,
            launched_on=p.launched_on,
            description=p.description,
            skus=[catalog.NewSku(code=s.code, color=s.color, size=s.size, barcode=s.barcode) for s in p.skus],
        )
        catalog.add_drawn_image(ctx.scope, product.pk)
        skus += len(p.skus)
        ctx.reporter.advance()
    ctx.reporter.end()
    prices = write_store_prices(ctx, plan)
    ctx.facts.update(categories=len(categories), products=len(plan), skus=skus, store_prices=prices)


def off(price_fen: int, percent: int) -> int:
    """``percent`` off, rounded down to a price ending in 9 yuan (¥399 at 10 % off: ¥359.10 → ¥349)."""
    cut = price_fen * (100 - percent) // 100
    return max(100, (cut // 1000) * 1000 - 100 if cut >= 1000 else cut)


def write_store_prices(ctx: Context, plan: list[ProductPlan]) -> int:
    """A few prices HQ set over the brand price: traffic-drawing styles 10 % off in Shanghai,
    member-benefit styles 5 % off in the East region, and one running shoe cheaper at the flagship."""
    from siyu.catalog import services as catalog
    from siyu.demo import personas
    from siyu.org import services as org

    ids = {p.code: p.product_id for p in catalog.price_list(ctx.brand_id, active_only=False)}
    stores = org.stores(ctx.brand_id)
    east = org.region_ids(ctx.brand_id).get(personas.EAST_REGION_CODE)
    flagship = next((s.id for s in stores if s.code == personas.FLAGSHIP_STORE_CODE), None)
    cities = {s.city for s in stores}
    n = 0
    for p in plan:
        if p.role == "traffic" and "上海" in cities:
            n += catalog.set_store_prices(
                ctx.scope, product_id=ids[p.code], city="上海", price_fen=off(p.price_fen, 10)
            )
        elif p.role == "member" and east is not None:
            n += catalog.set_store_prices(
                ctx.scope, product_id=ids[p.code], region_id=east, price_fen=off(p.price_fen, 5)
            )
    runner = next((p for p in plan if p.category == "RUN" and p.role == "regular"), None)
    if runner is not None and flagship is not None:
        sku = catalog.product_detail(ctx.brand_id, runner.code)
        if sku is not None and sku.skus:
            n += catalog.set_store_prices(
                ctx.scope, sku_id=sku.skus[0].id, store_id=flagship, price_fen=off(runner.price_fen, 15)
            )
    return n


STEP = Step("catalog", gettext_noop("Product range"), run=write_catalog, done=catalog_exists)
