"""Authorisation matrix of the identity slice: codes, scans, transfers, merges (pages and API).

Writes build their target inside the call's savepoint (a fresh transfer, a fresh merge), so every
persona meets the same world."""

from __future__ import annotations

import itertools
from typing import Any

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, EVERYONE, HQ, WORKBENCH, Rule, World

_serial = itertools.count(1)


def _hq(w: World) -> Any:
    from siyu.org import services as org

    return org.hq_scope(w.brand.pk, "matrix setup")


def _store_code(w: World, store: Any) -> Any:
    from siyu.members import codes

    return codes.create_code(_hq(w), kind="store", store=store.pk)


def _guide_code(w: World) -> Any:
    from siyu.members import codes

    return codes.codes_of_staff(w.brand.pk, w.staff["guide_a"].pk)[0]


def _waiting(w: World, guide_key: str, to: Any) -> Any:
    from siyu.members import transfers

    return transfers.start_transfer(_hq(w), [w.customers[guide_key][0]], to.pk).transfers[0]


def _merge(w: World) -> Any:
    from siyu.members import identity

    a, b = w.customers["chen.guide"][1:3]
    return identity.merge_customers(_hq(w), a, b, reason="matrix")


def code_pk(store: str) -> Any:
    return lambda w: {"pk": _store_code(w, getattr(w, store)).pk}


def code_id(store: str) -> Any:
    return lambda w: {"code_id": _store_code(w, getattr(w, store)).pk}


OUT_CODE = {"region_manager": code_pk("gz1"), "store_manager": code_pk("sh2")}
OUT_CODE_API = {"region_manager": code_id("gz1"), "store_manager": code_id("sh2")}


def png(kwargs: Any) -> Any:
    return lambda w: {**kwargs(w), "fmt": "png"}


def nothing(w: World) -> dict[str, Any]:
    return {}


def scan_token(w: World) -> dict[str, Any]:
    return {"token": _store_code(w, w.flagship).token}


def transfer_pk(w: World) -> dict[str, Any]:
    return {"pk": _waiting(w, "liu.guide", w.staff["guide_a"]).pk}


OUT_TRANSFER = {
    "region_manager": lambda w: {"pk": _waiting(w, "he.guide", w.other_guide).pk},
    "store_manager": lambda w: {"pk": _waiting(w, "sun.guide", w.south_guide).pk},
}


def transfer_id(w: World) -> dict[str, Any]:
    return {"transfer_id": _waiting(w, "liu.guide", w.staff["guide_a"]).pk}


OUT_TRANSFER_API = {
    "region_manager": lambda w: {"transfer_id": _waiting(w, "he.guide", w.other_guide).pk},
    "store_manager": lambda w: {"transfer_id": _waiting(w, "sun.guide", w.south_guide).pk},
}


def _fresh_key(prefix: str) -> str:
    return f"{prefix}-{next(_serial):05d}"


RULES: dict[tuple[str, str], Rule] = {
    # --- The scan landing: customer-facing, public ---------------------------------------------
    ("scan", "GET"): Rule(EVERYONE, public=True, kwargs=scan_token),
    ("scan", "POST"): Rule(EVERYONE, public=True, kwargs=scan_token, data=lambda w: {"phone": "", "wecom": "on"}),
    # --- Codes: managers within reach, HQ every kind ---------------------------------------------
    ("hq:code_list", "GET"): Rule(CONSOLE, query="kind=store"),
    ("hq:code_create", "GET"): Rule(CONSOLE),
    ("hq:code_create", "POST"): Rule(CONSOLE, data=lambda w: {"kind": "store", "store": w.flagship.pk}, ok=302),
    ("hq:code_detail", "GET"): Rule(CONSOLE, kwargs=code_pk("flagship"), out_of_scope=OUT_CODE),
    ("hq:code_image", "GET"): Rule(
        CONSOLE, kwargs=png(code_pk("flagship")), out_of_scope={k: png(v) for k, v in OUT_CODE.items()}
    ),
    ("hq:code_deactivate", "POST"): Rule(
        CONSOLE, kwargs=code_pk("flagship"), data=nothing, ok=302, out_of_scope=OUT_CODE
    ),
    ("guide:my_codes", "GET"): Rule(WORKBENCH),
    ("guide:my_code_image", "GET"): Rule(
        WORKBENCH,
        kwargs=lambda w: {"pk": _guide_code(w).pk, "fmt": "svg"},
        out_of_scope={k: png(code_pk("sh2")) for k in ("guide_a", "store_manager")},
    ),
    # --- Transfers: whoever may bind, within reach ---------------------------------------------
    ("hq:transfer_list", "GET"): Rule(CONSOLE, query="status=waiting"),
    ("hq:transfer_create", "GET"): Rule(CONSOLE, query="from_guide=0"),
    ("hq:transfer_create", "POST"): Rule(
        CONSOLE,
        data=lambda w: {
            "from_guide": w.staff["guide_b"].pk,
            "customers": [w.customers["liu.guide"][0]],
            "to_guide": w.staff["guide_a"].pk,
        },
        ok=302,
    ),
    ("hq:transfer_refuse", "POST"): Rule(CONSOLE, kwargs=transfer_pk, data=nothing, ok=302, out_of_scope=OUT_TRANSFER),
    # --- Merges: HQ -------------------------------------------------------------------------------
    ("hq:merge_list", "GET"): Rule(HQ),
    ("hq:merge_create", "GET"): Rule(HQ),
    ("hq:merge_create", "POST"): Rule(
        HQ,
        data=lambda w: {
            "survivor": w.customers["chen.guide"][0],
            "absorbed": w.customers["chen.guide"][1],
            "reason": "matrix",
        },
        ok=302,
    ),
    ("hq:merge_undo", "POST"): Rule(HQ, kwargs=lambda w: {"pk": _merge(w).pk}, data=nothing, ok=302),
    # --- API ------------------------------------------------------------------------------------
    ("api:customer_resolve", "POST"): Rule(
        EVERYONE,
        data=lambda w: {"identities": [{"kind": "unionid", "key": _fresh_key("u-matrix")}], "store_code": "SH001"},
        token_perm=Perm.MEMBERS_REGISTER,
    ),
    ("api:touch_create", "POST"): Rule(
        EVERYONE,
        data=lambda w: {
            "token": _store_code(w, w.flagship).token,
            "identities": [{"kind": "openid", "key": _fresh_key("o-matrix"), "app_id": "mp"}],
        },
        ok=201,
        token_perm=Perm.MEMBERS_REGISTER,
    ),
    ("api:code_list", "GET"): Rule(CONSOLE, token_perm=Perm.MEMBERS_CODES),
    ("api:code_create", "POST"): Rule(
        CONSOLE, data=lambda w: {"kind": "store", "store_id": w.flagship.pk}, ok=201, token_perm=Perm.MEMBERS_CODES
    ),
    ("api:code_detail", "GET"): Rule(
        CONSOLE, kwargs=code_id("flagship"), out_of_scope=OUT_CODE_API, token_perm=Perm.MEMBERS_CODES
    ),
    ("api:code_image_png", "GET"): Rule(
        CONSOLE, kwargs=code_id("flagship"), out_of_scope=OUT_CODE_API, token_perm=Perm.MEMBERS_CODES
    ),
    ("api:code_image_svg", "GET"): Rule(
        CONSOLE, kwargs=code_id("flagship"), out_of_scope=OUT_CODE_API, token_perm=Perm.MEMBERS_CODES
    ),
    ("api:transfer_create", "POST"): Rule(
        CONSOLE,
        data=lambda w: {"customer_ids": [w.customers["liu.guide"][0]], "to_guide_id": w.staff["guide_a"].pk},
        ok=201,
        token_perm=Perm.MEMBERS_BIND,
    ),
    ("api:transfer_list", "GET"): Rule(CONSOLE, query="status=waiting", token_perm=Perm.MEMBERS_BIND),
    ("api:transfer_refuse", "POST"): Rule(
        CONSOLE,
        kwargs=transfer_id,
        data=nothing,
        out_of_scope=OUT_TRANSFER_API,
        token_perm=Perm.MEMBERS_BIND,
    ),
    ("api:customer_merge", "POST"): Rule(
        HQ,
        data=lambda w: {
            "survivor_id": w.customers["chen.guide"][0],
            "absorbed_id": w.customers["chen.guide"][1],
            "reason": "matrix",
        },
        ok=201,
        token_perm=Perm.MEMBERS_MERGE,
    ),
    ("api:merge_undo", "POST"): Rule(
        HQ, kwargs=lambda w: {"merge_id": _merge(w).pk}, data=nothing, token_perm=Perm.MEMBERS_MERGE
    ),
    ("api:customer_identities", "GET"): Rule(
        EVERYONE,
        kwargs=lambda w: {"customer_id": w.customers["chen.guide"][0]},
        out_of_scope={
            "region_manager": lambda w: {"customer_id": w.customers["he.guide"][0]},
            "store_manager": lambda w: {"customer_id": w.customers["sun.guide"][0]},
            "guide_a": lambda w: {"customer_id": w.customers["liu.guide"][0]},
        },
        token_perm=Perm.MEMBERS_VIEW,
    ),
    ("api:customer_assign_guide", "PUT"): Rule(
        CONSOLE,
        kwargs=lambda w: {"customer_id": w.customers["liu.guide"][0]},
        data=lambda w: {"guide_id": w.staff["guide_a"].pk},
        out_of_scope={
            "region_manager": lambda w: {"customer_id": w.customers["he.guide"][0]},
            "store_manager": lambda w: {"customer_id": w.customers["sun.guide"][0]},
        },
        token_perm=Perm.MEMBERS_BIND,
    ),
}
