"""Who may use the routes of the customer's side of orders: the mall's cart, checkout, payment,
orders and sharing pages (public: they need a customer, known by the scan cookie, and answer a
visitor without one with a page that says so) and the orders API (by permission); see
``model.py``."""

from __future__ import annotations

from typing import Any

from siyu.org.services import Perm
from tests.access.model import EVERYONE, Rule, World

PLACE = frozenset({"hq_admin"})  # orders.place: HQ admin and systems with a token


def _sku(w: World) -> int:
    """A SKU with stock in SH001, SH002 and GZ001 (made once per savepoint)."""
    from siyu.catalog import services as catalog
    from siyu.inventory import services as stock
    from siyu.org import services as org

    found = catalog.sku_prices(w.brand.pk, catalog.sku_ids_by_code(w.brand.pk, ["MX-1"]).values())
    if found:
        return next(iter(found))
    hq = org.hq_scope(w.brand.pk, "matrix")
    cat = catalog.create_category(hq, code="MX", name="Matrix")
    product = catalog.create_product(
        hq, category_id=cat.pk, code="MX", name="Matrix", price_fen=100, skus=[catalog.NewSku("MX-1", "黑", "M")]
    )
    sku = int(product.skus.get().pk)
    stock.receive(hq, w.flagship.pk, {sku: 50}, key="matrix-1")
    stock.receive(hq, w.sh2.pk, {sku: 50}, key="matrix-2")
    stock.receive(hq, w.gz1.pk, {sku: 50}, key="matrix-3")
    return sku


def _order(w: World, guide: str, store: Any) -> str:
    """An order of a customer of ``guide``, picked up at ``store`` (which fulfils it)."""
    from siyu.orders import services as orders

    sku = _sku(w)
    return orders.place_order(
        w.brand.pk,
        int(w.customers[guide][0]),
        store_id=store.pk,
        lines=[orders.NewLine(sku, 1)],
        mode="pickup",
        pickup_store_id=store.pk,
    ).number


def order_of(guide: str, store: str) -> Any:
    return lambda w: {"number": _order(w, guide, getattr(w, store))}


def customer_of(guide: str) -> Any:
    return lambda w: {"customer_id": w.customers[guide][0]}


def store(w: World) -> dict[str, Any]:
    return {"store_code": "SH001"}


def own_order(w: World) -> dict[str, Any]:
    return {"store_code": "SH001", "number": "2611230000000"}  # staff have no customer: "come in first"


def product(w: World) -> dict[str, Any]:
    return {"store_code": "SH001", "product_code": "MX"}


def _place_body(w: World) -> dict[str, Any]:
    return {
        "customer_id": w.customers["chen.guide"][0],
        "store": "SH001",
        "lines": [{"sku_id": _sku(w), "quantity": 1}],
        "mode": "pickup",
        "pickup_store": "SH001",
    }


OUT_ORDER = {
    "guide_a": order_of("sun.guide", "sh2"),
    "store_manager": order_of("sun.guide", "sh2"),
    "region_manager": order_of("he.guide", "gz1"),
}
OUT_CUSTOMER = {
    "guide_a": customer_of("sun.guide"),
    "store_manager": customer_of("sun.guide"),
    "region_manager": customer_of("he.guide"),
}

RULES: dict[tuple[str, str], Rule] = {
    # The mall (orders/views_mall.py): public pages of the customer's own cart and orders
    ("mall_cart", "GET"): Rule(EVERYONE, public=True, kwargs=store),
    ("mall_cart", "POST"): Rule(EVERYONE, public=True, kwargs=store, data=lambda w: {"sku": _sku(w), "quantity": 2}),
    # a visitor not known yet becomes a customer from her visitor openid, then sees her cart
    ("mall_cart_add", "POST"): Rule(
        EVERYONE, public=True, kwargs=store, data=lambda w: {"sku": _sku(w), "quantity": 1}, ok=302
    ),
    ("mall_checkout", "GET"): Rule(EVERYONE, public=True, kwargs=store),
    ("mall_checkout", "POST"): Rule(EVERYONE, public=True, kwargs=store, data=lambda w: {"mode": "pickup"}),
    ("mall_orders", "GET"): Rule(EVERYONE, public=True, kwargs=store),
    ("mall_order", "GET"): Rule(EVERYONE, public=True, kwargs=own_order),
    ("mall_order", "POST"): Rule(EVERYONE, public=True, kwargs=own_order, data=lambda w: {"action": "cancel"}),
    ("mall_pay", "GET"): Rule(EVERYONE, public=True, kwargs=own_order),
    ("mall_pay", "POST"): Rule(EVERYONE, public=True, kwargs=own_order, data=lambda w: {"outcome": "pay", "key": "k"}),
    ("mall_reorder", "POST"): Rule(EVERYONE, public=True, kwargs=own_order, data=lambda w: {}),
    ("mall_share", "GET"): Rule(EVERYONE, public=True, kwargs=product),
    # API (orders/api.py)
    ("api:order_place", "POST"): Rule(PLACE, data=_place_body, ok=201, token_perm=Perm.ORDERS_PLACE),
    ("api:order_pay", "POST"): Rule(
        PLACE,
        kwargs=order_of("chen.guide", "flagship"),
        data=lambda w: {"key": "matrix-pay"},
        token_perm=Perm.ORDERS_PLACE,
    ),
    ("api:order_get", "GET"): Rule(
        EVERYONE, kwargs=order_of("chen.guide", "flagship"), token_perm=Perm.ORDERS_VIEW, out_of_scope=OUT_ORDER
    ),
    ("api:customer_order_list", "GET"): Rule(
        EVERYONE, kwargs=customer_of("chen.guide"), token_perm=Perm.ORDERS_VIEW, out_of_scope=OUT_CUSTOMER
    ),
}
