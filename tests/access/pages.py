"""Who may open every HTML page, and how to call it (see ``tests/access/model.py``).

Keyed by ``(url_name, method)``. ``roles`` get ``ok``; other signed-in personas get 403, or 404 for
an object of the brand outside their reach (``out_of_scope``); anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from typing import Any

from siyu.demo.personas import DEMO_PASSWORD
from tests.access.model import CONSOLE, EVERYONE, HQ, WORKBENCH, Rule, World

ADMIN = frozenset({"hq_admin"})
STORE_EDITORS = frozenset({"hq_admin", "hq_operator", "region_manager"})  # org.manage_store
STAFF_MANAGERS = frozenset({"hq_admin", "region_manager", "store_manager"})  # org.manage_staff
MOVERS = frozenset({"hq_admin", "region_manager"})  # reach more than one store


# --- URL arguments from the world ------------------------------------------------------------
def east(w: World) -> dict[str, Any]:
    return {"pk": w.east.pk}


def franchisee(w: World) -> dict[str, Any]:
    return {"pk": w.franchisee.pk}


def flagship(w: World) -> dict[str, Any]:
    return {"pk": w.flagship.pk}


def gz1(w: World) -> dict[str, Any]:
    return {"pk": w.gz1.pk}


def sh2(w: World) -> dict[str, Any]:
    return {"pk": w.sh2.pk}


def guide_b(w: World) -> dict[str, Any]:
    return {"pk": w.staff["guide_b"].pk}


def south_guide(w: World) -> dict[str, Any]:
    return {"pk": w.south_guide.pk}


def sh2_guide(w: World) -> dict[str, Any]:
    return {"pk": w.other_guide.pk}


def guide_a_customer(w: World) -> dict[str, Any]:
    return {"pk": w.customers["chen.guide"][0]}


def guide_b_customer(w: World) -> dict[str, Any]:
    return {"pk": w.customers["liu.guide"][0]}


def sh2_customer(w: World) -> dict[str, Any]:
    return {"pk": w.customers["sun.guide"][0]}


def a_token(w: World) -> dict[str, Any]:
    from siyu.org import services

    token, _secret = services.issue_token(w.staff["hq_admin"].scope, name="POS test", perms=["org.view"])
    return {"pk": token.pk}


# --- Valid form bodies -----------------------------------------------------------------------
def store_data(w: World) -> dict[str, Any]:
    return {
        "code": "SH099",
        "name": "静安寺店",
        "region": w.east.pk,
        "franchisee": w.direct.pk,
        "city": "上海",
        "district": "静安区",
        "address": "南京西路1618号",
        "latitude": "31.223000",
        "longitude": "121.445000",
        "opening_hours": "10:00-22:00",
        "phone": "021-62888888",
        "opened_on": "",
        "status": "open",
    }


def flagship_data(w: World) -> dict[str, Any]:
    data = store_data(w)
    data.update(code="SH001", name="南京西路旗舰店（新）")
    return data


def new_guide(w: World) -> dict[str, Any]:
    return {
        "name": "吴静",
        "username": "wu.guide",
        "phone": "13911112222",
        "role": "guide",
        "store": w.flagship.pk,
        "password": "wu-guide-2026",
    }


def guide_b_data(w: World) -> dict[str, Any]:
    return {"name": "刘洋洋", "username": "liu.guide", "phone": "13900000006"}


def to_sh2(w: World) -> dict[str, Any]:
    return {"store": w.sh2.pk}


def new_password(w: World) -> dict[str, Any]:
    return {"password": "fresh-pass-2026", "confirm": "fresh-pass-2026"}


def own_password(w: World) -> dict[str, Any]:
    return {"old_password": DEMO_PASSWORD, "new_password": "mine-2026-new", "confirm": "mine-2026-new"}


def nothing(w: World) -> dict[str, Any]:
    return {}


OUT_STORE = {"region_manager": gz1, "store_manager": sh2}
OUT_STAFF = {"region_manager": south_guide, "store_manager": sh2_guide}

RULES: dict[tuple[str, str], Rule] = {
    # Shared pages
    ("root", "GET"): Rule(EVERYONE, public=True, ok=302),
    ("set_language", "POST"): Rule(
        EVERYONE, public=True, data=lambda w: {"language": "en", "next": "/hq/login/"}, ok=302
    ),
    ("healthz", "GET"): Rule(EVERYONE, public=True),
    ("hq:login", "GET"): Rule(EVERYONE, public=True),
    ("hq:login", "POST"): Rule(
        EVERYONE, public=True, data=lambda w: {"username": "admin", "password": DEMO_PASSWORD}, ok=302
    ),
    ("hq:logout", "POST"): Rule(EVERYONE, data=nothing, ok=302),
    ("guide:login", "GET"): Rule(EVERYONE, public=True),
    ("guide:login", "POST"): Rule(
        EVERYONE, public=True, data=lambda w: {"username": "chen.guide", "password": DEMO_PASSWORD}, ok=302
    ),
    ("guide:logout", "POST"): Rule(EVERYONE, data=nothing, ok=302),
    # HQ console: overview, regions, franchisees
    ("hq:home", "GET"): Rule(CONSOLE),
    ("hq:region_list", "GET"): Rule(CONSOLE),
    ("hq:region_create", "GET"): Rule(HQ),
    ("hq:region_create", "POST"): Rule(
        HQ, data=lambda w: {"code": "NORTH", "name": "华北分公司", "status": "active"}, ok=302
    ),
    ("hq:region_edit", "GET"): Rule(HQ, kwargs=east),
    ("hq:region_edit", "POST"): Rule(
        HQ, kwargs=east, data=lambda w: {"code": "EAST", "name": "华东区", "status": "active"}, ok=302
    ),
    ("hq:franchisee_list", "GET"): Rule(CONSOLE),
    ("hq:franchisee_create", "GET"): Rule(HQ),
    ("hq:franchisee_create", "POST"): Rule(
        HQ,
        data=lambda w: {"code": "F-NJ", "name": "南京动力商贸有限公司", "kind": "dealer", "status": "active"},
        ok=302,
    ),
    ("hq:franchisee_edit", "GET"): Rule(HQ, kwargs=franchisee),
    ("hq:franchisee_edit", "POST"): Rule(
        HQ,
        kwargs=franchisee,
        data=lambda w: {"code": "F-HZ", "name": "杭州跑者商贸有限公司", "kind": "franchisee", "status": "active"},
        ok=302,
    ),
    # Stores
    ("hq:store_list", "GET"): Rule(CONSOLE),
    ("hq:store_cities", "GET"): Rule(CONSOLE),
    ("hq:store_map", "GET"): Rule(CONSOLE),
    ("hq:store_export", "GET"): Rule(CONSOLE),
    ("hq:store_create", "GET"): Rule(HQ),
    ("hq:store_create", "POST"): Rule(HQ, data=store_data, ok=302),
    ("hq:store_detail", "GET"): Rule(CONSOLE, kwargs=flagship, out_of_scope=OUT_STORE),
    ("hq:store_edit", "GET"): Rule(STORE_EDITORS, kwargs=flagship, out_of_scope={"region_manager": gz1}),
    ("hq:store_edit", "POST"): Rule(
        STORE_EDITORS, kwargs=flagship, data=flagship_data, ok=302, out_of_scope={"region_manager": gz1}
    ),
    ("hq:store_status", "POST"): Rule(
        STORE_EDITORS,
        kwargs=flagship,
        data=lambda w: {"status": "paused"},
        ok=302,
        out_of_scope={"region_manager": gz1},
    ),
    # Staff
    ("hq:staff_list", "GET"): Rule(CONSOLE),
    ("hq:staff_create", "GET"): Rule(STAFF_MANAGERS),
    ("hq:staff_create", "POST"): Rule(STAFF_MANAGERS, data=new_guide, ok=302),
    ("hq:staff_detail", "GET"): Rule(CONSOLE, kwargs=guide_b, out_of_scope=OUT_STAFF),
    ("hq:staff_edit", "GET"): Rule(STAFF_MANAGERS, kwargs=guide_b, out_of_scope=OUT_STAFF),
    ("hq:staff_edit", "POST"): Rule(STAFF_MANAGERS, kwargs=guide_b, data=guide_b_data, ok=302, out_of_scope=OUT_STAFF),
    ("hq:staff_move", "GET"): Rule(MOVERS, kwargs=guide_b, out_of_scope={"region_manager": south_guide}),
    ("hq:staff_move", "POST"): Rule(
        MOVERS, kwargs=guide_b, data=to_sh2, ok=302, out_of_scope={"region_manager": south_guide}
    ),
    ("hq:staff_leave", "POST"): Rule(STAFF_MANAGERS, kwargs=guide_b, data=nothing, ok=302, out_of_scope=OUT_STAFF),
    ("hq:staff_password", "GET"): Rule(STAFF_MANAGERS, kwargs=guide_b, out_of_scope=OUT_STAFF),
    ("hq:staff_password", "POST"): Rule(
        STAFF_MANAGERS, kwargs=guide_b, data=new_password, ok=302, out_of_scope=OUT_STAFF
    ),
    # Audit log and API tokens: HQ admin only
    ("hq:audit_list", "GET"): Rule(ADMIN),
    ("hq:token_list", "GET"): Rule(ADMIN),
    ("hq:token_create", "GET"): Rule(ADMIN),
    ("hq:token_create", "POST"): Rule(ADMIN, data=lambda w: {"name": "POS 上海", "perms": ["org.view"]}, ok=200),
    ("hq:token_revoke", "POST"): Rule(ADMIN, kwargs=a_token, data=nothing, ok=302),
    # Customers (HQ console, masked)
    ("hq:customer_list", "GET"): Rule(CONSOLE),
    ("hq:customer_export", "GET"): Rule(CONSOLE),
    # Guide workbench
    ("guide:home", "GET"): Rule(WORKBENCH),
    ("guide:store", "GET"): Rule(WORKBENCH),
    ("guide:profile", "GET"): Rule(WORKBENCH),
    ("guide:password", "GET"): Rule(WORKBENCH),
    ("guide:password", "POST"): Rule(WORKBENCH, data=own_password, ok=302),
    ("guide:customer_list", "GET"): Rule(WORKBENCH),
    ("guide:customer_detail", "GET"): Rule(
        WORKBENCH,
        kwargs=guide_a_customer,
        out_of_scope={"guide_a": guide_b_customer, "store_manager": sh2_customer},
    ),
}
