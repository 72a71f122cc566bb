"""A small mall for the store-page tests: the catalog range of ``catalog_factory``, stock in the
Shanghai stores, a "Standard" template pushed to the East region with a banner and a featured
product, and the flagship's own headline and featured product."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache

from siyu.catalog import storefront
from siyu.catalog.storefront import Owner, PlacementIn, Selection
from siyu.inventory import services as inventory
from siyu.org import services as org
from tests.catalog_factory import Range, make_range


@dataclass
class Mall:
    rng: Range
    hq: Any
    standard: Any  # the template pushed to the East region
    banner: Any  # the template's banner, leading to the runner
    featured_tee: Any  # the template's featured product
    own_runner: Any  # the flagship's own featured product
    skus: dict[str, int]  # SKU code -> id


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    """The mall caches pages for storefront.CACHE_SECONDS; every test starts without."""
    cache.clear()
    yield
    cache.clear()


def make_mall(world: Any) -> Mall:
    rng = make_range(world)
    hq = org.hq_scope(world.brand.pk, "test")
    skus = {s.code: s.pk for p in (rng.runner, rng.tee) for s in p.skus.all()}
    # Shanghai: the flagship holds black 41 and 42; SH002 (9 km away) holds black 42 and white 42.
    inventory.receive(hq, world.flagship.pk, {skus["FY-RUN-01-BLK-41"]: 3, skus["FY-RUN-01-BLK-42"]: 1}, key="t-r1")
    inventory.receive(hq, world.sh2.pk, {skus["FY-RUN-01-BLK-42"]: 5, skus["FY-RUN-01-WHT-42"]: 2}, key="t-r2")
    inventory.receive(hq, world.hz1.pk, {skus["FY-RUN-01-BLK-42"]: 9}, key="t-r3")  # Hangzhou: another city
    standard = storefront.create_template(hq, name="Standard")
    banner = storefront.add_placement(
        hq,
        Owner(template_id=standard.pk),
        PlacementIn(kind="banner", title="春季新品", subtitle="疾风系列上市", product_id=rng.runner.pk),
    )
    featured_tee = storefront.add_placement(
        hq, Owner(template_id=standard.pk), PlacementIn(kind="featured", product_id=rng.tee.pk)
    )
    storefront.push_template(hq, standard.pk, Selection(region_ids=(world.east.pk,)))
    storefront.set_headline(hq, world.flagship.pk, "旗舰店周末跑团")
    own_runner = storefront.add_placement(
        hq,
        Owner(store_id=world.flagship.pk),
        PlacementIn(kind="featured", product_id=rng.runner.pk, title="店长推荐"),
    )
    cache.clear()
    return Mall(rng, hq, standard, banner, featured_tee, own_runner, skus)
