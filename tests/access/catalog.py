"""Who may use the HQ catalog pages, the catalog API and the media route (see
``tests/access/model.py``).

Reading the catalog: every viewer of the console with ``catalog.view`` (HQ, the region manager,
the store manager); the API's reads: every member of staff and tokens with ``catalog.view``.
Changing it: HQ only (``catalog.manage``, a brand-level scope): the HQ admin and the HQ operator,
and brand-wide tokens granted ``catalog.manage``. Pictures under ``MEDIA_ROOT``: anyone.
"""

from __future__ import annotations

import itertools
from typing import Any

from siyu.org.rules import Perm
from tests.access.api import _product
from tests.access.model import CONSOLE, EVERYONE, HQ, ROLES, Rule, World
from tests.catalog_factory import png

_serial = itertools.count(1)


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial):05d}"


def _hq(w: World) -> Any:
    from siyu.org import services

    return services.hq_scope(w.brand.pk, "matrix setup")


def product_pk(w: World) -> dict[str, Any]:
    return {"pk": _product(w).pk}


def product_id(w: World) -> dict[str, Any]:
    return {"product_id": _product(w).pk}


def sku_pk(w: World) -> dict[str, Any]:
    return {"pk": _product(w).skus.get().pk}


def category_pk(w: World) -> dict[str, Any]:
    return {"pk": _product(w).category_id}


def image_pk(w: World) -> dict[str, Any]:
    from siyu.catalog import services

    return {"pk": services.add_image(_hq(w), _product(w).pk, data=png()).pk}


def media_name(w: World) -> dict[str, Any]:
    from siyu.catalog import services

    return {"name": services.add_image(_hq(w), _product(w).pk, data=png()).image.name}


def _upload(name: str, data: bytes, content_type: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def _product_form(w: World) -> dict[str, Any]:
    return {
        "category": _product(w).category_id,
        "code": _fresh("MX-NEW-"),
        "name": "矩阵新品",
        "role": "regular",
        "price": "99.00",
        "active": "on",
    }


def _edit_form(w: World) -> dict[str, Any]:
    p = _product(w)
    return {"category": p.category_id, "code": p.code, "name": "矩阵速干T恤 二代", "role": p.role, "price": "139"}


PRODUCTS_CSV = "style_code,name,category,price,sku_code,color,size\nMX-TEE,矩阵速干T恤,MX,129,MX-TEE-BLK-M,黑,M\n"


def _checked_run(w: World) -> Any:
    from siyu.catalog import importer

    scope = _hq(w)
    stored, _sha = importer.store_upload(scope, [PRODUCTS_CSV.encode()], "matrix.csv")
    return importer.run_import(scope, stored, kind="products", file_name="matrix.csv", dry_run=True)


def run_pk(w: World) -> dict[str, Any]:
    _product(w)
    return {"pk": _checked_run(w).run_id}


RULES: dict[tuple[str, str], Rule] = {
    # --- HQ pages: read by the console, written by HQ ----------------------------------------
    ("hq:product_list", "GET"): Rule(CONSOLE, query="q=MX&on_sale=yes"),
    ("hq:product_export_csv", "GET"): Rule(CONSOLE),
    ("hq:product_export_xlsx", "GET"): Rule(CONSOLE),
    ("hq:product_detail", "GET"): Rule(CONSOLE, kwargs=product_pk),
    ("hq:product_create", "GET"): Rule(HQ),
    ("hq:product_create", "POST"): Rule(HQ, data=_product_form, ok=302),
    ("hq:product_edit", "GET"): Rule(HQ, kwargs=product_pk),
    ("hq:product_edit", "POST"): Rule(HQ, kwargs=product_pk, data=_edit_form, ok=302),
    ("hq:sku_create", "POST"): Rule(
        HQ, kwargs=product_pk, data=lambda w: {"code": _fresh("MX-TEE-RED-"), "color": "红", "size": "L"}, ok=302
    ),
    ("hq:sku_edit", "GET"): Rule(HQ, kwargs=sku_pk),
    ("hq:sku_edit", "POST"): Rule(
        HQ,
        kwargs=sku_pk,
        data=lambda w: {"code": "MX-TEE-BLK-M", "color": "黑", "size": "M", "barcode": "6900"},
        ok=302,
    ),
    ("hq:image_add", "POST"): Rule(
        HQ, kwargs=product_pk, data=lambda w: {"image": _upload("mx.png", png(), "image/png")}, ok=302
    ),
    ("hq:image_move", "POST"): Rule(HQ, kwargs=image_pk, data=lambda w: {"direction": "up"}, ok=302),
    ("hq:image_delete", "POST"): Rule(HQ, kwargs=image_pk, data=lambda w: {}, ok=302),
    ("hq:price_set", "POST"): Rule(
        HQ, kwargs=product_pk, data=lambda w: {"store": w.flagship.pk, "price": "119"}, ok=302
    ),
    ("hq:price_clear", "POST"): Rule(HQ, kwargs=product_pk, data=lambda w: {"clear-city": "上海"}, ok=302),
    ("hq:category_list", "GET"): Rule(CONSOLE),
    ("hq:category_list", "POST"): Rule(HQ, data=lambda w: {"code": _fresh("MXC"), "name": "矩阵新品类"}, ok=302),
    ("hq:category_edit", "GET"): Rule(HQ, kwargs=category_pk),
    ("hq:category_edit", "POST"): Rule(HQ, kwargs=category_pk, data=lambda w: {"code": "MX", "name": "矩阵"}, ok=302),
    ("hq:catalog_import_list", "GET"): Rule(HQ),
    ("hq:catalog_import_list", "POST"): Rule(
        HQ,
        data=lambda w: {"kind": "products", "file": _upload("mx.csv", PRODUCTS_CSV.encode(), "text/csv")},
        ok=302,
    ),
    ("hq:catalog_import_detail", "GET"): Rule(HQ, kwargs=run_pk),
    ("hq:catalog_import_confirm", "POST"): Rule(HQ, kwargs=run_pk, data=lambda w: {}, ok=302),
    # --- Pictures: served to anyone (the mall shows them before sign-in) ----------------------
    ("media", "GET"): Rule(frozenset(ROLES), public=True, kwargs=media_name),
    # --- API ----------------------------------------------------------------------------------
    ("api:product_search", "GET"): Rule(EVERYONE, query="q=MX", token_perm=Perm.CATALOG_VIEW),
    ("api:category_list", "GET"): Rule(EVERYONE, token_perm=Perm.CATALOG_VIEW),
    ("api:category_create", "POST"): Rule(
        HQ, data=lambda w: {"code": _fresh("MXA"), "name": "矩阵接口品类"}, ok=201, token_perm=Perm.CATALOG_MANAGE
    ),
    ("api:product_create", "POST"): Rule(
        HQ,
        data=lambda w: {
            "category": _product(w).category.code,
            "code": _fresh("MX-API-"),
            "name": "矩阵接口新品",
            "price_fen": 9900,
            "skus": [{"code": _fresh("MX-API-SKU-"), "color": "白", "size": "L"}],
        },
        ok=201,
        token_perm=Perm.CATALOG_MANAGE,
    ),
    ("api:product_update", "PATCH"): Rule(
        HQ, kwargs=product_id, data=lambda w: {"price_fen": 13900}, token_perm=Perm.CATALOG_MANAGE
    ),
    # The matrix sends JSON; the upload is multipart, so an allowed caller hears 422 ("send the
    # picture as the multipart field 'file'"). tests/test_catalog_api.py uploads for real.
    ("api:image_upload", "POST"): Rule(HQ, kwargs=product_id, ok=422, token_perm=Perm.CATALOG_MANAGE),
    ("api:store_price_set", "POST"): Rule(
        HQ,
        data=lambda w: {"product_id": _product(w).pk, "store_id": w.flagship.pk, "price_fen": 11900},
        token_perm=Perm.CATALOG_MANAGE,
    ),
}
