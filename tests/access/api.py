"""Authorisation matrix declarations for the REST API (``/api/v1/``), keyed by (URL name, method).

URL names are the operations' ``url_name`` in the ``api`` namespace (``api:store_list``); each
operation id in the OpenAPI schema is the same name. Several operations may share one path (list
and create); the method tells them apart.

Writes build a fresh target or a fresh code on every call (see ``_fresh``) so that a rule can be
replayed for every persona in one database and still succeed.
"""

from __future__ import annotations

import itertools
from typing import Any

from siyu.org.rules import Perm
from tests.access.model import EVERYONE, HQ, Rule

_serial = itertools.count(1)


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial):05d}"


def _new_guide(world: Any, store: Any) -> Any:
    """A guide nobody has touched yet, posted to ``store``."""
    from siyu.org import services

    return services.create_staff(
        services.hq_scope(world.brand.pk, "matrix setup"),
        username=_fresh("matrix.guide."),
        name="矩阵导购",
        role="guide",
        store=store,
        password="matrix-pass-1",
    )


def _product(world: Any) -> Any:
    """The brand's matrix product (made through the catalog services on first use)."""
    from siyu.catalog import services as catalog
    from siyu.catalog.models import Product
    from siyu.org.services import hq_scope

    found = Product.objects.filter(brand=world.brand, code="MX-TEE").first()
    if found is not None:
        return found
    hq = hq_scope(world.brand.pk, "matrix setup")
    category = catalog.create_category(hq, code="MX", name="矩阵品类")
    return catalog.create_product(
        hq,
        category_id=category.pk,
        code="MX-TEE",
        name="矩阵速干T恤",
        price_fen=12900,
        skus=[catalog.NewSku(code="MX-TEE-BLK-M", color="黑", size="M")],
    )


def _store_body(world: Any) -> dict[str, Any]:
    return {
        "region_id": world.east.pk,
        "franchisee_id": world.direct.pk,
        "code": _fresh("MX"),
        "name": "矩阵测试店",
        "city": "上海",
        "address": "上海市静安区南京西路 1 号",
        "latitude": "31.230000",
        "longitude": "121.470000",
    }


ORG_MANAGERS = frozenset({"hq_admin", "hq_operator", "region_manager"})  # hold org.manage_store
STAFF_MANAGERS = frozenset({"hq_admin", "region_manager", "store_manager"})  # hold org.manage_staff
# Franchisees are brand-level knowledge a guide does not see (no rows in her reach).
FRANCHISEE_VIEWERS = frozenset({"hq_admin", "hq_operator", "region_manager", "store_manager"})

RULES: dict[tuple[str, str], Rule] = {
    # --- The contract itself: public ---------------------------------------------------------
    ("api:openapi-json", "GET"): Rule(roles=EVERYONE, public=True),
    ("api:openapi-view", "GET"): Rule(roles=EVERYONE, public=True),
    # django-ninja's root: only there so the API's base path reverses; it answers 404 to all.
    ("api:api-root", "GET"): Rule(roles=EVERYONE, public=True, ok=404),
    # --- Who am I ----------------------------------------------------------------------------
    ("api:me", "GET"): Rule(roles=EVERYONE),
    # --- Regions -----------------------------------------------------------------------------
    ("api:region_list", "GET"): Rule(roles=EVERYONE, token_perm=Perm.ORG_VIEW),
    ("api:region_create", "POST"): Rule(
        roles=HQ,
        data=lambda w: {"code": _fresh("RX"), "name": "矩阵大区"},
        ok=201,
        token_perm=Perm.ORG_STRUCTURE,
    ),
    ("api:region_detail", "GET"): Rule(
        roles=EVERYONE,
        kwargs=lambda w: {"region_id": w.east.pk},
        out_of_scope={
            "region_manager": lambda w: {"region_id": w.south.pk},
            "store_manager": lambda w: {"region_id": w.south.pk},
            "guide_a": lambda w: {"region_id": w.south.pk},
        },
        token_perm=Perm.ORG_VIEW,
    ),
    ("api:region_update", "PATCH"): Rule(
        roles=HQ,
        kwargs=lambda w: {"region_id": w.east.pk},
        data=lambda w: {"name": "华东分公司"},
        token_perm=Perm.ORG_STRUCTURE,
    ),
    # --- Franchisees -------------------------------------------------------------------------
    ("api:franchisee_list", "GET"): Rule(roles=EVERYONE, token_perm=Perm.ORG_VIEW),
    ("api:franchisee_create", "POST"): Rule(
        roles=HQ,
        data=lambda w: {"code": _fresh("FX"), "name": "矩阵商贸有限公司", "kind": "dealer"},
        ok=201,
        token_perm=Perm.ORG_STRUCTURE,
    ),
    ("api:franchisee_detail", "GET"): Rule(
        roles=FRANCHISEE_VIEWERS,
        kwargs=lambda w: {"franchisee_id": w.direct.pk},
        out_of_scope={
            "store_manager": lambda w: {"franchisee_id": w.franchisee.pk},  # owns HZ001 only
            "guide_a": lambda w: {"franchisee_id": w.direct.pk},
        },
        token_perm=Perm.ORG_VIEW,
    ),
    ("api:franchisee_update", "PATCH"): Rule(
        roles=HQ,
        kwargs=lambda w: {"franchisee_id": w.franchisee.pk},
        data=lambda w: {"contact_name": "王经理"},
        token_perm=Perm.ORG_STRUCTURE,
    ),
    # --- Stores ------------------------------------------------------------------------------
    ("api:store_list", "GET"): Rule(roles=EVERYONE, query="q=上海&status=open", token_perm=Perm.ORG_VIEW),
    ("api:store_create", "POST"): Rule(roles=HQ, data=_store_body, ok=201, token_perm=Perm.ORG_STRUCTURE),
    ("api:store_detail", "GET"): Rule(
        roles=EVERYONE,
        kwargs=lambda w: {"store_id": w.flagship.pk},
        out_of_scope={
            "region_manager": lambda w: {"store_id": w.gz1.pk},
            "store_manager": lambda w: {"store_id": w.sh2.pk},
            "guide_a": lambda w: {"store_id": w.sh2.pk},
        },
        token_perm=Perm.ORG_VIEW,
    ),
    ("api:store_update", "PATCH"): Rule(
        roles=ORG_MANAGERS,
        kwargs=lambda w: {"store_id": w.flagship.pk},
        data=lambda w: {"opening_hours": "10:00-22:00", "phone": "021-62888888"},
        out_of_scope={"region_manager": lambda w: {"store_id": w.gz1.pk}},
        token_perm=Perm.ORG_STORE,
    ),
    ("api:store_set_status", "POST"): Rule(
        roles=ORG_MANAGERS,
        kwargs=lambda w: {"store_id": w.flagship.pk},
        data=lambda w: {"status": "open"},
        out_of_scope={"region_manager": lambda w: {"store_id": w.gz1.pk}},
        token_perm=Perm.ORG_STORE,
    ),
    # --- Staff -------------------------------------------------------------------------------
    ("api:staff_list", "GET"): Rule(roles=EVERYONE, query="role=guide&employment=active", token_perm=Perm.ORG_VIEW),
    ("api:staff_create", "POST"): Rule(
        roles=STAFF_MANAGERS,
        data=lambda w: {
            "username": _fresh("matrix.new."),
            "name": "新导购",
            "role": "guide",
            "store_id": w.flagship.pk,
            "password": "matrix-pass-1",
        },
        ok=201,
        token_perm=Perm.ORG_STAFF,
    ),
    ("api:staff_detail", "GET"): Rule(
        roles=EVERYONE,
        kwargs=lambda w: {"staff_id": w.staff["guide_a"].pk},  # a guide sees herself
        out_of_scope={
            "region_manager": lambda w: {"staff_id": w.south_guide.pk},
            "store_manager": lambda w: {"staff_id": w.other_guide.pk},
            "guide_a": lambda w: {"staff_id": w.staff["guide_b"].pk},
        },
        token_perm=Perm.ORG_VIEW,
    ),
    ("api:staff_update", "PATCH"): Rule(
        roles=STAFF_MANAGERS,
        kwargs=lambda w: {"staff_id": w.staff["guide_b"].pk},
        data=lambda w: {"name": "刘洋"},
        out_of_scope={
            "region_manager": lambda w: {"staff_id": w.south_guide.pk},
            "store_manager": lambda w: {"staff_id": w.other_guide.pk},
        },
        token_perm=Perm.ORG_STAFF,
    ),
    # A store manager reaches one store only: she can move nobody, and a guide of another store
    # is outside her reach (404). A fresh guide of SH002 moves to the flagship on every call.
    ("api:staff_move", "POST"): Rule(
        roles=frozenset({"hq_admin", "region_manager"}),
        kwargs=lambda w: {"staff_id": _new_guide(w, w.sh2).pk},
        data=lambda w: {"store_id": w.flagship.pk},
        out_of_scope={
            "store_manager": lambda w: {"staff_id": _new_guide(w, w.sh2).pk},
            "region_manager": lambda w: {"staff_id": w.south_guide.pk},
        },
        token_perm=Perm.ORG_STAFF,
    ),
    ("api:staff_leave", "POST"): Rule(
        roles=STAFF_MANAGERS,
        kwargs=lambda w: {"staff_id": _new_guide(w, w.flagship).pk},
        data=lambda w: {},
        out_of_scope={
            "region_manager": lambda w: {"staff_id": w.south_guide.pk},
            "store_manager": lambda w: {"staff_id": w.other_guide.pk},
        },
        token_perm=Perm.ORG_STAFF,
    ),
    # --- Audit log: HQ admin only (no token may be granted it) ----------------------------------
    ("api:audit_list", "GET"): Rule(
        roles=frozenset({"hq_admin"}), query="object_type=store", token_perm=Perm.AUDIT_VIEW
    ),
    # --- Customers ---------------------------------------------------------------------------
    ("api:customer_list", "GET"): Rule(roles=EVERYONE, query="lifecycle=new", token_perm=Perm.MEMBERS_VIEW),
    ("api:customer_detail", "GET"): Rule(
        roles=EVERYONE,
        kwargs=lambda w: {"customer_id": w.customers["chen.guide"][0]},  # guide A's own customer
        out_of_scope={
            "region_manager": lambda w: {"customer_id": w.customers["he.guide"][0]},
            "store_manager": lambda w: {"customer_id": w.customers["sun.guide"][0]},
            "guide_a": lambda w: {"customer_id": w.customers["liu.guide"][0]},
        },
        token_perm=Perm.MEMBERS_VIEW,
    ),
    # --- Catalog (brand-wide, read-only) --------------------------------------------------------
    ("api:product_list", "GET"): Rule(roles=EVERYONE, token_perm=Perm.CATALOG_VIEW),
    ("api:product_detail", "GET"): Rule(
        roles=EVERYONE, kwargs=lambda w: {"product_id": _product(w).pk}, token_perm=Perm.CATALOG_VIEW
    ),
}
