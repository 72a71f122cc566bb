"""Who may use the stores' order screens (guide workbench) and the HQ order pages (see
``tests/access/model.py``). Fulfilling (``orders.fulfil``): the store manager and the guides;
cancelling and deciding returns (``orders.manage``): HQ and the region and store managers; reading
(``orders.view``): every console viewer, within her reach."""

from __future__ import annotations

from typing import Any

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, HQ, Rule, World

MANAGERS = frozenset({"hq_admin", "hq_operator", "region_manager", "store_manager"})
STORE_MANAGER = frozenset({"store_manager"})
FULFILLERS = frozenset({"store_manager", "guide_a"})


def _sku(w: World) -> int:
    from siyu.catalog import services as catalog
    from siyu.inventory import services as stock
    from siyu.org import services as org

    found = catalog.sku_ids_by_code(w.brand.pk, ["MX-1"])
    if found:
        return found["MX-1"]
    hq = org.hq_scope(w.brand.pk, "matrix setup")
    cat = catalog.create_category(hq, code="MX", name="矩阵")
    product = catalog.create_product(
        hq, category_id=cat.pk, code="MX", name="矩阵鞋", price_fen=10000, skus=[catalog.NewSku("MX-1", "白", "40")]
    )
    sku = int(product.skus.get().pk)
    for store in (w.flagship, w.gz1):
        stock.receive(hq, store.pk, {sku: 50}, key=f"matrix-{store.pk}")
    return sku


def _order(w: World, store: Any, *, paid: bool = True, returned: bool = False) -> Any:
    from siyu.orders import services as orders

    guide = "chen.guide" if store == w.flagship else "he.guide"
    info = orders.place_order(
        w.brand.pk,
        int(w.customers[guide][0]),
        store_id=store.pk,
        lines=[orders.NewLine(_sku(w), 1)],
        mode="pickup",
        pickup_store_id=store.pk,
    )
    if paid:
        info = orders.pay(w.brand.pk, info.number, key=f"pay-{info.number}")
    if returned:
        from siyu.org import services as org

        hq = org.hq_scope(w.brand.pk, "matrix setup")
        fid = info.fulfilments[0].id
        orders.pack(hq, fid)
        orders.set_out_for_pickup(hq, fid)
        code = orders.order_info(w.brand.pk, info.number).fulfilments[0].pickup_code
        orders.hand_over(hq, fid, pickup_code=code)
        info = orders.request_return(w.brand.pk, info.customer_id, info.number, reason="矩阵退货")
    return info


def parcel(w: World) -> dict[str, Any]:
    return {"pk": _order(w, w.flagship).fulfilments[0].id}


def gz_parcel(w: World) -> dict[str, Any]:
    return {"pk": _order(w, w.gz1).fulfilments[0].id}


def number(w: World) -> dict[str, Any]:
    return {"number": _order(w, w.flagship).number}


def unpaid_number(w: World) -> dict[str, Any]:
    return {"number": _order(w, w.flagship, paid=False).number}


def returned_number(w: World) -> dict[str, Any]:
    return {"number": _order(w, w.flagship, returned=True).number}


def gz_number(w: World) -> dict[str, Any]:
    return {"number": _order(w, w.gz1).number}


OUT_ORDER = {"region_manager": gz_number, "store_manager": gz_number}

RULES: dict[tuple[str, str], Rule] = {
    ("guide:store_orders", "GET"): Rule(FULFILLERS),
    ("guide:parcel_detail", "GET"): Rule(FULFILLERS, kwargs=parcel, out_of_scope={"guide_a": gz_parcel}),
    ("guide:parcel_action", "POST"): Rule(
        FULFILLERS, kwargs=parcel, data=lambda w: {"action": "pack"}, ok=302, out_of_scope={"guide_a": gz_parcel}
    ),
    ("guide:return_decide", "POST"): Rule(
        STORE_MANAGER, kwargs=returned_number, data=lambda w: {"decision": "accept"}, ok=302
    ),
    ("hq:order_list", "GET"): Rule(CONSOLE),
    ("hq:order_export", "GET"): Rule(CONSOLE),
    ("hq:order_detail", "GET"): Rule(CONSOLE, kwargs=number, out_of_scope=OUT_ORDER),
    ("hq:order_cancel", "POST"): Rule(
        MANAGERS, kwargs=unpaid_number, data=lambda w: {"reason": "矩阵"}, ok=302, out_of_scope=OUT_ORDER
    ),
    ("hq:order_return", "POST"): Rule(
        MANAGERS, kwargs=returned_number, data=lambda w: {"decision": "accept"}, ok=302, out_of_scope=OUT_ORDER
    ),
}


def _pos_order(w: World) -> dict[str, Any]:
    _sku(w)
    return {
        "store_code": "SH001",
        "document": "MATRIX-1",
        "phone": "13900007777",
        "at": "2026-11-23T14:05:00+08:00",
        "lines": [{"sku_code": "MX-1", "quantity": 1, "unit_price_fen": 9900}],
    }


def _pos_file(w: World) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    _sku(w)
    text = "store_code,document,time,phone,sku_code,quantity,price\nSH001,M-1,2026-11-23 10:00,13900007777,MX-1,1,99\n"
    return {"file": SimpleUploadedFile("pos.csv", text.encode())}


RULES.update(
    {
        ("hq:pos_import", "GET"): Rule(HQ),
        ("hq:pos_import", "POST"): Rule(HQ, data=_pos_file),
        ("api:pos_order_create", "POST"): Rule(HQ, data=_pos_order, ok=201, token_perm=Perm.ORDERS_IMPORT),
    }
)
