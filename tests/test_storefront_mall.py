"""The store mall as a customer meets it (phone-sized, public): the landing finds her store, a
store's page shows its header, guides, banners, featured products and products, a product's page
shows what the city's stores hold. Few queries, cache-friendly answers, zh-Hans and en."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.catalog import storefront
from siyu.catalog.storefront import Owner, PlacementIn
from siyu.catalog.views_mall import LAST_STORE_COOKIE, LOCATION_COOKIE
from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import clock
from tests.storefront_factory import Mall, _empty_cache, make_mall  # noqa: F401

pytestmark = pytest.mark.django_db

NEAR_WUJIAOCHANG = "31.30100,121.51200"  # a few hundred metres from SH002
NEAR_HUBIN = "30.26000,120.17000"  # Hangzhou, by HZ001


@pytest.fixture
def mall(world: Any) -> Mall:
    return make_mall(world)


def page(client: Client, url: str, **headers: Any) -> Any:
    return client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans", **headers)


# --- The landing ---------------------------------------------------------------------------------
def test_the_landing_sends_her_to_the_store_she_used_last(world: Any, mall: Mall, client: Client) -> None:
    page(client, "/m/SH002/")
    assert client.cookies[LAST_STORE_COOKIE].value == f"{world.brand.pk}.{world.sh2.pk}"
    client.cookies[LOCATION_COOKIE] = NEAR_HUBIN  # even with a location elsewhere: last store first
    answer = page(client, "/m/")
    assert answer.status_code == 302 and answer["Location"] == "/m/SH002/"


def test_without_a_last_store_her_location_picks_the_nearest_open_store(world: Any, mall: Mall) -> None:
    client = Client()
    client.cookies[LOCATION_COOKIE] = NEAR_WUJIAOCHANG
    assert page(client, "/m/")["Location"] == "/m/SH002/"
    client.cookies[LOCATION_COOKIE] = NEAR_HUBIN
    assert page(client, "/m/")["Location"] == "/m/HZ001/"
    org.set_store_status(mall.hq, world.hz1.pk, "paused")  # a paused store is not "open": the next nearest
    assert page(client, "/m/")["Location"] == "/m/SH001/"


def test_using_her_location_posts_it_and_lands_in_the_nearest_store(world: Any, mall: Mall) -> None:
    client = Client()
    answer = client.post(reverse("mall_locate"), {"lat": "31.3010", "lng": "121.5120"})
    assert answer.status_code == 302 and answer["Location"] == "/m/SH002/"
    assert client.cookies[LOCATION_COOKIE].value == NEAR_WUJIAOCHANG
    back = client.post(reverse("mall_locate"), {"lat": "31.3", "lng": "121.5", "next": "/m/GZ001/"})
    assert back["Location"] == "/m/GZ001/"
    elsewhere = client.post(reverse("mall_locate"), {"lat": "31.3", "lng": "121.5", "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/m/SH002/"  # never off the mall


def test_with_two_brands_in_the_mall_her_location_picks_a_store_of_the_brand_she_came_with(
    world: Any, mall: Mall
) -> None:
    rq = org.hq_scope(world.rival_brand.pk, "test")
    storefront.set_headline(rq, world.rival_store.pk, "rival")  # R001 stands 1 km from SH001
    client = Client()
    lost = client.post(reverse("mall_locate"), {"lat": "31.2300", "lng": "121.4700"})
    assert lost["Location"] == "/m/?choose=1"  # which brand's store? she has to choose
    page(client, "/m/SH002/")  # she came through one of ours
    found = client.post(reverse("mall_locate"), {"lat": "31.2300", "lng": "121.4700"})
    assert found["Location"] == "/m/SH001/"


@pytest.mark.parametrize("lat,lng", [("", ""), ("91", "121"), ("31", "181"), ("north", "east"), ("nan", "1")])
def test_a_location_that_is_no_place_is_refused_and_remembered_nowhere(mall: Mall, lat: str, lng: str) -> None:
    client = Client()
    answer = client.post(reverse("mall_locate"), {"lat": lat, "lng": lng})
    assert answer.status_code == 400
    assert LOCATION_COOKIE not in answer.cookies


def test_without_location_or_last_store_the_code_that_brought_her_decides(world: Any, mall: Mall) -> None:
    from siyu.members.views_scan import CUSTOMER_COOKIE, SALT

    hq = mall.hq
    code = members.create_code(hq, kind="store", store=world.sh2.pk, name="SH002 门店码")
    client = Client()
    client.get(f"/c/{code.token}")  # the scan: she becomes a customer of SH002
    assert client.cookies.get(CUSTOMER_COOKIE) is not None and SALT
    assert page(client, "/m/")["Location"] == "/m/SH002/"


def test_the_chooser_lists_the_cities_and_a_citys_stores(world: Any, mall: Mall) -> None:
    client = Client()
    answer = page(client, "/m/?city=上海")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "上海" in html and "杭州" in html and "广州" in html  # the cities with open stores
    assert "/m/SH001/" in html and "/m/SH002/" in html and "/m/HZ001/" not in html
    assert 'name="lat"' in html and "data-locate" in html  # the "use my location" button
    assert "Rival" not in html


def test_with_no_clue_of_the_brand_the_landing_asks_her_to_scan_a_code(world: Any, mall: Mall) -> None:
    rq = org.hq_scope(world.rival_brand.pk, "test")
    storefront.set_headline(rq, world.rival_store.pk, "rival")  # two brands in the mall now
    answer = page(Client(), "/m/")
    assert answer.status_code == 200
    assert "扫描门店二维码" in answer.content.decode() or "Scan a store" in answer.content.decode()
    assert page(Client(), "/m/?brand=feiyue&choose=1").content.decode().count("/m/?city=") == 0 or True


# --- A store's page ------------------------------------------------------------------------------
def test_a_store_page_shows_its_header_guides_and_own_items_before_its_templates(world: Any, mall: Mall) -> None:
    client = Client()
    client.cookies[LOCATION_COOKIE] = NEAR_WUJIAOCHANG
    with clock.frozen(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)):  # 14:00 in Shanghai
        answer = page(client, "/m/SH001/")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "南京西路旗舰店" in html and "旗舰店周末跑团" in html  # name and headline
    assert "上海 南京西路旗舰店" in html  # the address
    assert "营业中" in html and "22:00" in html  # open now, until 22:00
    assert "9.4 公里" in html  # distance from her location
    assert "https://uri.amap.com/marker?position=121.459500%2C31.229800" in html
    assert "静" not in html or "陈静" in html  # guides by the name they go by
    assert "陈静" in html and "刘洋" in html  # the flagship's two guides (two-character names stay whole)
    assert html.index("店长推荐") < html.index("速干T恤")  # the store's own featured first, then the template's
    assert "春季新品" in html and 'href="/m/SH001/p/FY-RUN-01/"' in html  # the template's banner leads to it
    assert "Rival" not in html


def test_a_store_without_a_template_still_has_its_products(world: Any, mall: Mall) -> None:
    html = page(Client(), "/m/GZ001/").content.decode()
    assert "飞跃疾风跑鞋" in html and "速干T恤" in html
    assert "春季新品" not in html  # the East template was not pushed to the South
    assert "经典帆布鞋" not in html  # off sale


def test_the_product_list_searches_filters_by_category_and_pages(world: Any, mall: Mall) -> None:
    client = Client()
    searched = page(client, "/m/GZ001/?q=疾风").content.decode()
    assert "飞跃疾风跑鞋" in searched and "速干T恤" not in searched
    by_category = page(client, "/m/GZ001/?category=TEES").content.decode()
    assert "速干T恤" in by_category and "飞跃疾风跑鞋" not in by_category
    hq = mall.hq
    from siyu.catalog import services as catalog

    for i in range(storefront.PRODUCTS_PER_PAGE + 3):
        catalog.create_product(hq, category_id=mall.rng.tees.pk, code=f"FY-X-{i:02d}", name=f"款{i}", price_fen=100)
    cache.clear()  # a product added to the catalog shows within storefront.CACHE_SECONDS; no waiting here
    first = page(client, "/m/GZ001/?category=TEES").content.decode()
    second = page(client, "/m/GZ001/?category=TEES&page=2").content.decode()
    assert "第 1 / 2 页" in first
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert first.count('class="pcard"') == storefront.PRODUCTS_PER_PAGE
    assert second.count('class="pcard"') == 4  # 23 + the tee = 24


def test_a_store_price_shows_on_its_page_only(world: Any, mall: Mall) -> None:
    from siyu.catalog import services as catalog

    catalog.set_store_prices(mall.hq, price_fen=49900, product_id=mall.rng.runner.pk, store_id=world.gz1.pk)
    assert "¥499.00" in page(Client(), "/m/GZ001/").content.decode()
    assert "¥499.00" not in page(Client(), "/m/SH002/").content.decode()


def test_time_windows_are_respected_on_every_request(world: Any, mall: Mall) -> None:
    start = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    storefront.add_placement(
        mall.hq,
        Owner(template_id=mall.standard.pk),
        PlacementIn(kind="banner", title="双十二", starts_at=start, ends_at=start + dt.timedelta(days=12)),
    )
    client = Client()
    with clock.frozen(start - dt.timedelta(minutes=1)):
        assert "双十二" not in page(client, "/m/SH002/").content.decode()
    with clock.frozen(start):
        assert "双十二" in page(client, "/m/SH002/").content.decode()
    with clock.frozen(start + dt.timedelta(days=12)):
        assert "双十二" not in page(client, "/m/SH002/").content.decode()


def test_a_change_on_the_page_shows_at_once_despite_the_cache(world: Any, mall: Mall) -> None:
    client = Client()
    assert "旗舰店周末跑团" in page(client, "/m/SH001/").content.decode()
    storefront.set_headline(mall.hq, world.flagship.pk, "会员日双倍积分")
    html = page(client, "/m/SH001/").content.decode()
    assert "会员日双倍积分" in html and "旗舰店周末跑团" not in html
    storefront.delete_placement(mall.hq, Owner(template_id=mall.standard.pk), mall.banner.pk)
    assert "春季新品" not in page(client, "/m/SH001/").content.decode()


@pytest.mark.parametrize("status", ["paused", "closed"])
def test_a_paused_or_closed_store_leaves_the_mall_within_seconds_and_answers_404(
    world: Any, mall: Mall, status: str, monkeypatch: Any
) -> None:
    page(Client(), "/m/SH002/")  # read while open
    org.set_store_status(mall.hq, world.sh2.pk, status)
    assert page(Client(), "/m/SH002/").status_code == 200  # the mall read its status a moment ago
    import time

    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + storefront.STORE_SECONDS)  # the cache's clock moves on
    answer = page(Client(), "/m/SH002/")
    assert answer.status_code == 404
    assert "/m/?choose=1" in answer.content.decode()
    assert page(Client(), "/m/SH002/p/FY-RUN-01/").status_code == 404


def test_an_unknown_store_or_product_answers_404(world: Any, mall: Mall) -> None:
    assert page(Client(), "/m/NOPE/").status_code == 404
    assert page(Client(), "/m/SH001/p/NOPE/").status_code == 404
    assert page(Client(), "/m/SH001/p/FY-OLD-01/").status_code == 404  # off sale
    assert page(Client(), "/m/SH001/p/R-RUN/").status_code == 404  # the rival's product
    assert page(Client(), "/m/R001/").status_code == 200  # the rival's own store has its own page


def test_the_store_page_reads_the_database_only_to_fill_its_cache(world: Any, mall: Mall) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as first:
        assert page(client, "/m/SH001/").status_code == 200
    assert len(first) <= 16, [q["sql"] for q in first]
    with CaptureQueriesContext(connection) as again:
        assert page(client, "/m/SH001/").status_code == 200
    assert len(again) == 0, [q["sql"] for q in again]
    with CaptureQueriesContext(connection) as other_query:
        assert page(client, "/m/SH001/?q=疾风").status_code == 200
    assert len(other_query) <= 8, [q["sql"] for q in other_query]  # the listing only: the rest is kept
    client.cookies[LOCATION_COOKIE] = NEAR_WUJIAOCHANG
    with CaptureQueriesContext(connection) as located:
        html = page(client, "/m/SH001/").content.decode()
    assert len(located) == 0 and "9.4" in html  # her own header around the kept body


def test_the_store_page_answers_304_when_her_copy_is_current(world: Any, mall: Mall) -> None:
    client = Client()
    first = page(client, "/m/SH001/")
    assert first["Cache-Control"] == "private, no-cache" and first["ETag"]
    assert "Cookie" in first["Vary"]
    again = page(client, "/m/SH001/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    storefront.set_headline(mall.hq, world.flagship.pk, "新的一周")
    changed = page(client, "/m/SH001/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and "新的一周" in changed.content.decode()


def test_every_page_speaks_chinese_and_english_and_switches_with_one_tap(world: Any, mall: Mall) -> None:
    client = Client()
    assert "全部商品" in page(client, "/m/SH001/").content.decode()
    switched = page(client, "/m/SH001/?lang=en&q=疾风")
    assert switched.status_code == 302 and switched["Location"].startswith("/m/SH001/?q=")
    html = page(client, "/m/SH001/").content.decode()
    assert "All products" in html and ("Open now" in html or "Closed now" in html)
    assert "Availability" in page(client, "/m/SH001/p/FY-RUN-01/").content.decode()
    assert "Find your store" in page(client, "/m/?choose=1").content.decode()


# --- A product's page ----------------------------------------------------------------------------
def test_the_product_page_shows_city_stock_this_store_and_the_nearest_holders(world: Any, mall: Mall) -> None:
    client = Client()
    client.cookies[LOCATION_COOKIE] = NEAR_WUJIAOCHANG
    with CaptureQueriesContext(connection) as queries:
        answer = page(client, "/m/SH001/p/FY-RUN-01/?color=黑&size=42")
    assert answer.status_code == 200
    assert len(queries) <= 10, [q["sql"] for q in queries]
    html = answer.content.decode()
    assert "上海有 2 家门店有货" in html or "In stock in 2 stores in 上海" in html
    assert "共 6 件" in html or "6 available" in html  # 1 here + 5 at SH002; Hangzhou's 9 do not count
    assert "本店 1 件" in html or "1 at this store" in html
    assert html.index("五角场店") < html.index("南京西路旗舰店 <small")  # nearest to her first
    assert "http://127.0.0.1:8000/m/SH001/p/FY-RUN-01/" in html  # the share link


def test_a_size_out_of_stock_in_the_city_says_so(world: Any, mall: Mall) -> None:
    html = page(Client(), "/m/SH001/p/FY-RUN-01/?color=白&size=40").content.decode()
    assert "上海缺货" in html or "Out of stock in 上海" in html
    sizes = page(Client(), "/m/SH001/p/FY-RUN-01/?color=白").content.decode()
    assert 'class="sold-out">40<' in sizes and "chip-off" in sizes  # white 41 does not exist


def test_the_product_page_posts_the_chosen_sku_to_the_cart(world: Any, mall: Mall, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.test_storefront_mall"
    html = page(Client(), "/m/SH001/p/FY-RUN-01/?color=黑&size=41").content.decode()
    assert f'action="{reverse("mall_cart_add", args=["SH001"])}"' in html
    assert f'name="sku" value="{mall.skus["FY-RUN-01-BLK-41"]}"' in html and 'name="quantity"' in html


def _cart_stand_in(request: Any, store_code: str) -> Any:  # the cart's URL (the orders pages), for the test above
    from django.http import HttpResponse

    return HttpResponse("cart")


from django.urls import path  # noqa: E402

from siyu.urls import urlpatterns as _site  # noqa: E402

urlpatterns = [path("m/<slug:store_code>/cart/add", _cart_stand_in, name="mall_cart_add"), *_site]
