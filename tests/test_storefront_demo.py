"""The demo brand's store pages: every store that is not closed has a page, three HQ templates are
pushed by region, a few stores add their own items, and a second run adds nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.test import Client, override_settings

from siyu.catalog import storefront
from siyu.catalog.models import PageTemplate, Placement, StorePage
from siyu.demo import generator
from siyu.demo import personas as P
from siyu.demo.generator import Config
from siyu.org import services as org
from siyu.platform.models import AuditEntry
from tests.storefront_factory import _empty_cache  # noqa: F401

pytestmark = pytest.mark.django_db

AS_OF = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
def test_the_demo_brand_has_a_page_per_store_with_templates_pushed_by_region() -> None:
    steps = {"org", "catalog", "store_pages"}
    summary = generator.run(Config(members=1, as_of=AS_OF), only=steps)
    assert "store_pages" in summary.ran
    brand = summary.brand_id
    stores = org.stores(brand)
    followed = dict(StorePage.objects.filter(brand_id=brand).values_list("store_id", "template__name"))
    assert {s.id for s in stores if s.status != "closed"} <= set(followed)
    assert set(PageTemplate.objects.filter(brand_id=brand).values_list("name", flat=True)) == {
        "标准店",
        "旗舰店",
        "奥莱店",
    }
    regions = {pk: code for code, pk in org.region_ids(brand).items()}
    by_region: dict[str, Counter[str]] = {}
    for s in stores:
        if s.id in followed:
            by_region.setdefault(regions[s.region_id], Counter())[followed[s.id]] += 1
    assert set(by_region["EAST"]) == {"旗舰店"} and set(by_region["NORTHWEST"]) == {"奥莱店"}
    assert set(by_region["SOUTH"]) == {"标准店"}
    assert AuditEntry.objects.filter(brand_id=brand, action="store_page.push").count() >= len(followed)
    flagship = next(s for s in stores if s.code == P.FLAGSHIP_STORE_CODE)
    own = Placement.objects.filter(page__store_id=flagship.id)
    assert own.filter(kind="banner").exists() and own.filter(kind="featured").exists()
    assert StorePage.objects.filter(brand_id=brand).exclude(headline="").count() == 7
    shown = storefront.face(flagship)
    assert shown.featured[0].own and shown.featured[0].title == "店长推荐"
    assert "双十二 全场满减" not in [b.title for b in shown.banners]  # the coming event is not shown yet
    html = Client().get(f"/m/{flagship.code}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert flagship.name in html and "店长推荐" in html

    again = generator.run(Config(members=1, as_of=AS_OF), only=steps)
    assert "store_pages" in again.skipped
    assert PageTemplate.objects.filter(brand_id=brand).count() == 3
