"""Step ``catalog``: the product range (categories, styles, colours × sizes → SKUs) through
:mod:`siyu.catalog.services`. Tag prices are integer fen."""

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
        products.append(
            ProductPlan(style.category, code, style.name, style.role, style.price_fen, launched, tuple(skus))
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
        catalog.create_product(
            ctx.scope,
            category_id=categories[p.category],
            code=p.code,
            name=p.name,
            role=p.role,
            price_fen=p.price_fen,
            launched_on=p.launched_on,
            skus=[catalog.NewSku(code=s.code, color=s.color, size=s.size, barcode=s.barcode) for s in p.skus],
        )
        skus += len(p.skus)
        ctx.reporter.advance()
    ctx.reporter.end()
    ctx.facts.update(categories=len(categories), products=len(plan), skus=skus)


STEP = Step("catalog", gettext_noop("Product range"), run=write_catalog, done=catalog_exists)
