"""Who may use the routes of the store pages (see ``model.py``): the public mall (landing, store
page, product page, the location form and the mini-program's reads), HQ's page templates and
pushes (``catalog.manage``), and each store's own page (``catalog.store_page``, within reach)."""

from __future__ import annotations

from typing import Any

from siyu.org.services import Perm
from tests.access.model import CONSOLE, EVERYONE, HQ, Rule, World

STORE_PAGE = CONSOLE  # hq_admin, hq_operator, region_manager, store_manager hold catalog.store_page


def _hq(w: World) -> Any:
    from siyu.org.services import hq_scope

    return hq_scope(w.brand.pk, "matrix setup")


def _product(w: World) -> Any:
    from tests.access.api import _product as product

    return product(w)


def _template(w: World) -> int:
    from siyu.catalog import storefront

    found = next((t for t in storefront.templates(_hq(w)) if t.name == "Matrix"), None)
    return found.id if found is not None else storefront.create_template(_hq(w), name="Matrix").pk


def template(w: World) -> dict[str, Any]:
    return {"pk": _template(w)}


def template_placement(w: World) -> dict[str, Any]:
    from siyu.catalog import storefront

    pk = _template(w)
    item = storefront.add_placement(
        _hq(w), storefront.Owner(template_id=pk), storefront.PlacementIn(kind="banner", title="矩阵横幅")
    )
    return {"pk": pk, "placement_id": item.pk}


def store(name: str) -> Any:
    return lambda w: {"pk": getattr(w, name).pk}


def store_placement(name: str) -> Any:
    def make(w: World) -> dict[str, Any]:
        from siyu.catalog import storefront

        pk = getattr(w, name).pk
        item = storefront.add_placement(
            _hq(w), storefront.Owner(store_id=pk), storefront.PlacementIn(kind="banner", title="门店横幅")
        )
        return {"pk": pk, "placement_id": item.pk}

    return make


FLAGSHIP = store("flagship")
# Out of reach: the region manager (East) does not reach GZ001; the store manager (SH001) not SH002.
OUT = {"region_manager": store("gz1"), "store_manager": store("sh2")}
OUT_ITEM = {"region_manager": store_placement("gz1"), "store_manager": store_placement("sh2")}
BANNER = {"kind": "banner", "title": "周末跑团"}


def mall_product(w: World) -> dict[str, Any]:
    return {"store_code": w.flagship.code, "product_code": _product(w).code}


def mall_store(w: World) -> dict[str, Any]:
    return {"store_code": w.flagship.code}


RULES: dict[tuple[str, str], Rule] = {
    # --- The mall: public, phone-sized ----------------------------------------------------------
    ("mall_landing", "GET"): Rule(EVERYONE, public=True),
    ("mall_locate", "GET"): Rule(EVERYONE, public=True),
    ("mall_locate", "POST"): Rule(
        EVERYONE, public=True, data=lambda w: {"lat": "31.2304", "lng": "121.4737", "next": "/m/SH001/"}, ok=302
    ),
    ("mall_store", "GET"): Rule(EVERYONE, public=True, kwargs=mall_store),
    ("mall_product", "GET"): Rule(EVERYONE, public=True, kwargs=mall_product),
    ("api:mall_store_page", "GET"): Rule(EVERYONE, public=True, kwargs=mall_store),
    ("api:mall_store_products", "GET"): Rule(EVERYONE, public=True, kwargs=mall_store, query="q=矩阵"),
    # --- Store pages: every store in reach -------------------------------------------------------
    ("hq:store_page_list", "GET"): Rule(STORE_PAGE),
    ("hq:store_page_edit", "GET"): Rule(STORE_PAGE, kwargs=FLAGSHIP, out_of_scope=OUT),
    ("hq:store_page_edit", "POST"): Rule(
        STORE_PAGE, kwargs=FLAGSHIP, data=lambda w: {"headline": "会员日"}, ok=302, out_of_scope=OUT
    ),
    ("hq:store_page_placement_add", "POST"): Rule(
        STORE_PAGE, kwargs=FLAGSHIP, data=lambda w: BANNER, ok=302, out_of_scope=OUT
    ),
    ("hq:store_page_placement", "GET"): Rule(STORE_PAGE, kwargs=store_placement("flagship"), out_of_scope=OUT_ITEM),
    ("hq:store_page_placement", "POST"): Rule(
        STORE_PAGE, kwargs=store_placement("flagship"), data=lambda w: BANNER, ok=302, out_of_scope=OUT_ITEM
    ),
    ("hq:store_page_placement_act", "POST"): Rule(
        STORE_PAGE,
        kwargs=store_placement("flagship"),
        data=lambda w: {"action": "delete"},
        ok=302,
        out_of_scope=OUT_ITEM,
    ),
    # --- Page templates and pushes: HQ ---------------------------------------------------------
    ("hq:page_template_list", "GET"): Rule(HQ),
    ("hq:page_template_list", "POST"): Rule(HQ, data=lambda w: {"name": "Outlet"}, ok=302),
    ("hq:page_template_detail", "GET"): Rule(HQ, kwargs=template),
    ("hq:page_template_detail", "POST"): Rule(HQ, kwargs=template, data=lambda w: {"name": "Matrix 2"}, ok=302),
    ("hq:page_template_delete", "POST"): Rule(HQ, kwargs=template, data=lambda w: {}, ok=302),
    ("hq:page_template_placement_add", "POST"): Rule(HQ, kwargs=template, data=lambda w: BANNER, ok=302),
    ("hq:page_template_placement", "GET"): Rule(HQ, kwargs=template_placement),
    ("hq:page_template_placement", "POST"): Rule(HQ, kwargs=template_placement, data=lambda w: BANNER, ok=302),
    ("hq:page_template_placement_act", "POST"): Rule(
        HQ, kwargs=template_placement, data=lambda w: {"action": "down"}, ok=302
    ),
    ("hq:page_template_push", "GET"): Rule(HQ, kwargs=template, query=""),
    ("hq:page_template_push", "POST"): Rule(HQ, kwargs=template, data=lambda w: {"every": "on"}, ok=302),
    ("api:store_page_push", "POST"): Rule(
        HQ,
        data=lambda w: {"template_id": _template(w), "every": True, "dry_run": False},
        token_perm=Perm.CATALOG_MANAGE,
    ),
}
