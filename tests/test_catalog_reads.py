"""What the mall reads from the catalog: search, product cards priced at a store, the product page.

Prices are at one store: the store's own price (set by HQ) wins over the brand price per SKU, so a
card shows the range of what the product's SKUs cost there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from siyu.catalog import rules
from siyu.catalog import services as catalog
from tests.catalog_factory import Range, make_range, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def rng(world: Any, media: Path) -> Range:
    return make_range(world)


def codes(results: catalog.ProductResults) -> list[str]:
    return [c.code for c in results.cards]


# --- search ------------------------------------------------------------------------------------
def test_search_finds_by_chinese_name_style_code_sku_code_and_barcode(world: Any, rng: Range) -> None:
    b = world.brand.pk
    assert codes(catalog.search_products(b, "疾风")) == ["FY-RUN-01"]
    assert codes(catalog.search_products(b, "跑鞋")) == ["FY-RUN-01"]
    assert codes(catalog.search_products(b, "fy-tee")) == ["FY-TEE-01"]  # Latin letters ignore case
    assert codes(catalog.search_products(b, "TEE-01-BLK-XL")) == ["FY-TEE-01"]  # a SKU code
    assert codes(catalog.search_products(b, "6900000000035")) == ["FY-RUN-01"]  # a barcode
    assert codes(catalog.search_products(b, "疾风 WHT")) == ["FY-RUN-01"]  # every word must match
    assert codes(catalog.search_products(b, "疾风 TEE")) == []
    assert catalog.search_products(b, "100%").total == 0  # % is a character, not a wildcard


def test_search_leaves_out_other_brands_and_products_off_sale(world: Any, rng: Range) -> None:
    b = world.brand.pk
    assert codes(catalog.search_products(b, "")) == ["FY-RUN-01", "FY-TEE-01"]
    assert codes(catalog.search_products(b, "帆布")) == []  # FY-OLD-01 is off sale
    assert codes(catalog.search_products(b, "Rival")) == []
    assert codes(catalog.search_products(world.rival_brand.pk, "疾风")) == ["R-RUN"]


def test_search_filters_by_category_and_role_and_pages(world: Any, rng: Range) -> None:
    b = world.brand.pk
    assert codes(catalog.search_products(b, None, category="TEES")) == ["FY-TEE-01"]
    assert codes(catalog.search_products(b, None, role="traffic")) == ["FY-RUN-01"]
    assert codes(catalog.search_products(b, None, category="TEES", role="traffic")) == []
    first = catalog.search_products(b, None, limit=1)
    second = catalog.search_products(b, None, limit=1, offset=1)
    assert (first.total, second.total) == (2, 2)
    assert len(first.cards) == len(second.cards) == 1
    assert {first.cards[0].code, second.cards[0].code} == {"FY-RUN-01", "FY-TEE-01"}
    assert catalog.search_products(b, None, limit=1, offset=5).cards == []


# --- cards -------------------------------------------------------------------------------------
def test_a_card_shows_the_brand_price_where_the_store_has_none(world: Any, rng: Range) -> None:
    [card] = catalog.product_cards(world.brand.pk, [rng.runner.pk], store_id=world.flagship.pk)
    assert (card.code, card.name, card.role, card.category_code) == ("FY-RUN-01", "飞跃疾风跑鞋", "traffic", "SHOES")
    assert (card.price_fen, card.min_price_fen, card.max_price_fen, card.one_price) == (59900, 59900, 59900, True)
    assert card.image_url == "" and card.on_sale


def test_a_card_at_a_store_shows_the_range_of_its_own_prices(world: Any, rng: Range) -> None:
    black_41 = rng.runner.skus.get(code="FY-RUN-01-BLK-41")
    catalog.set_store_prices(rng.hq, sku_id=black_41.pk, store_id=world.flagship.pk, price_fen=49900)
    at_flagship = catalog.product_card(world.brand.pk, rng.runner.pk, store_id=world.flagship.pk)
    elsewhere = catalog.product_card(world.brand.pk, rng.runner.pk, store_id=world.sh2.pk)
    brand_wide = catalog.product_card(world.brand.pk, rng.runner.pk)
    assert at_flagship is not None and elsewhere is not None and brand_wide is not None
    assert (at_flagship.min_price_fen, at_flagship.max_price_fen) == (49900, 59900)
    assert (elsewhere.min_price_fen, elsewhere.max_price_fen) == (59900, 59900)
    assert (brand_wide.min_price_fen, brand_wide.max_price_fen) == (59900, 59900)
    # every SKU priced by the store: the brand price no longer shows
    catalog.set_store_prices(rng.hq, product_id=rng.runner.pk, store_id=world.flagship.pk, price_fen=55900)
    catalog.set_store_prices(rng.hq, sku_id=black_41.pk, store_id=world.flagship.pk, price_fen=45900)
    card = catalog.product_card(world.brand.pk, rng.runner.pk, store_id=world.flagship.pk)
    assert card is not None and (card.min_price_fen, card.max_price_fen) == (45900, 55900)


def test_cards_keep_the_order_asked_and_leave_out_other_brands(world: Any, rng: Range) -> None:
    ids = [rng.tee.pk, rng.rival.pk, rng.runner.pk, 999_999, rng.tee.pk]
    cards = catalog.product_cards(world.brand.pk, ids)
    assert [c.code for c in cards] == ["FY-TEE-01", "FY-RUN-01"]
    assert catalog.product_card(world.brand.pk, rng.rival.pk) is None


def test_the_main_picture_is_the_first_by_position(world: Any, rng: Range) -> None:
    first = catalog.add_image(rng.hq, rng.runner.pk, data=png(rgb=(0, 0, 0)), alt="黑色侧面")
    second = catalog.add_image(rng.hq, rng.runner.pk, data=png(rgb=(255, 255, 255)))
    card = catalog.product_card(world.brand.pk, rng.runner.pk)
    assert card is not None and card.image_url == f"/media/{first.image.name}"
    catalog.reorder_images(rng.hq, rng.runner.pk, [second.pk, first.pk])
    card = catalog.product_card(world.brand.pk, rng.runner.pk)
    assert card is not None and card.image_url == f"/media/{second.image.name}"


def test_cards_take_a_fixed_number_of_queries(world: Any, rng: Range) -> None:
    catalog.add_image(rng.hq, rng.runner.pk, data=png())
    catalog.set_store_prices(rng.hq, product_id=rng.tee.pk, store_id=world.flagship.pk, price_fen=9900)
    ids = [rng.runner.pk, rng.tee.pk, rng.old.pk]
    with CaptureQueriesContext(connection) as few:
        catalog.product_cards(world.brand.pk, ids[:1], store_id=world.flagship.pk)
    with CaptureQueriesContext(connection) as many:
        catalog.product_cards(world.brand.pk, ids, store_id=world.flagship.pk)
    assert len(few) == len(many) == 4


# --- product page ------------------------------------------------------------------------------
def test_the_product_page_has_skus_colours_sizes_prices_and_pictures(world: Any, rng: Range) -> None:
    white_42 = rng.runner.skus.get(code="FY-RUN-01-WHT-42")
    catalog.set_store_prices(rng.hq, sku_id=white_42.pk, store_id=world.sh2.pk, price_fen=52900)
    picture = catalog.add_image(rng.hq, rng.runner.pk, data=png())
    detail = catalog.product_detail(world.brand.pk, "FY-RUN-01", world.sh2.pk)
    assert detail is not None
    assert detail.card.id == rng.runner.pk and detail.description == "轻量缓震，日常慢跑。"
    assert detail.colors == ["黑", "白"] and detail.sizes == ["40", "41", "42"]
    assert [(s.code, s.price_fen, s.store_price) for s in detail.skus] == [
        ("FY-RUN-01-BLK-41", 59900, False),
        ("FY-RUN-01-BLK-42", 59900, False),
        ("FY-RUN-01-WHT-40", 59900, False),
        ("FY-RUN-01-WHT-42", 52900, True),
    ]
    assert (detail.card.min_price_fen, detail.card.max_price_fen) == (52900, 59900)
    assert detail.sku("白", "42") == detail.skus[3] and detail.sku("白", "41") is None
    url = f"/media/{picture.image.name}"
    assert [(i.id, i.url, i.alt) for i in detail.images] == [(picture.pk, url, "飞跃疾风跑鞋")]
    assert detail.card.image_url == detail.images[0].url
    # by id too; the brand price at a store without prices of its own
    by_id = catalog.product_detail(world.brand.pk, rng.runner.pk, world.flagship.pk)
    assert by_id is not None and {s.price_fen for s in by_id.skus} == {59900}


def test_the_product_page_sorts_letter_sizes_and_tells_off_sale(world: Any, rng: Range) -> None:
    tee = catalog.product_detail(world.brand.pk, "FY-TEE-01")
    assert tee is not None and tee.sizes == ["S", "M", "L", "XL"]
    old = catalog.product_detail(world.brand.pk, "FY-OLD-01")
    assert old is not None and not old.card.on_sale


def test_no_product_page_for_another_brand_or_an_unknown_code(world: Any, rng: Range) -> None:
    assert catalog.product_detail(world.brand.pk, "R-RUN") is None
    assert catalog.product_detail(world.brand.pk, rng.rival.pk) is None
    assert catalog.product_detail(world.brand.pk, "NOPE") is None


# --- the pure rules ----------------------------------------------------------------------------
def test_sizes_sort_numbers_by_value_then_letters_then_the_rest_as_they_came() -> None:
    assert rules.ordered_sizes(["42", "40.5", "39", "42"]) == ["39", "40.5", "42"]
    assert rules.ordered_sizes(["XXL", "M", "均码", "xs", "L"]) == ["xs", "M", "L", "XXL", "均码"]


def test_price_range_counts_the_brand_price_while_a_sku_has_no_store_price() -> None:
    assert rules.price_range(100, 0, []) == (100, 100)
    assert rules.price_range(100, 2, [80]) == (80, 100)
    assert rules.price_range(100, 2, [80, 120]) == (80, 120)


def test_search_words_split_on_either_space() -> None:
    assert rules.search_terms("  跑鞋\u3000黑  41 ") == ["跑鞋", "黑", "41"]
    assert rules.search_terms(None) == [] and rules.search_terms("   ") == []
