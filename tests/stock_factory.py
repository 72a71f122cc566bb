"""One running shoe in two sizes (R100-40, R100-41, ¥399) made through the catalog services, for the
stock, store-order and POS tests."""

from __future__ import annotations

from typing import Any

from siyu.catalog import services as catalog
from siyu.org import services as org


def running_shoe(world: Any) -> tuple[Any, dict[str, int]]:
    """The brand's HQ scope and the shoe's SKU ids by code."""
    hq = org.hq_scope(world.brand.pk, "test setup")
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    product = catalog.create_product(
        hq,
        category_id=cat.pk,
        code="R100",
        name="飞跃跑鞋",
        price_fen=39900,
        skus=[catalog.NewSku(code=f"R100-{s}", color="白", size=s) for s in ("40", "41")],
    )
    return hq, dict(product.skus.values_list("code", "pk"))
