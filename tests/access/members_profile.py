"""Who may use the routes of the profile slice (tags, notes, consent, policies, the customer 360,
privacy rights, the guide's customer pages and the store mall's "me" page); see ``model.py``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from siyu.org.services import Perm
from tests.access.model import CONSOLE, HQ, WORKBENCH, Rule, World

ADMIN = frozenset({"hq_admin"})  # members.privacy
EVERYONE_API = frozenset({"hq_admin", "hq_operator", "region_manager", "store_manager", "guide_a"})


def _hq(w: World) -> Any:
    return w.staff["hq_admin"].scope


def a_tag(w: World) -> int:
    from siyu.members import profile
    from siyu.members.models import Tag

    found = Tag.objects.filter(brand=w.brand, name="Matrix").first()
    if found is not None:
        return found.pk
    group = profile.create_tag_group(_hq(w), name="Matrix group")
    return profile.create_tag(_hq(w), group=group, name="Matrix").pk


def a_level(w: World) -> dict[str, Any]:
    from siyu.members import profile

    return {"pk": profile.create_tier_level(_hq(w), code="m-gold", name="Gold", rank=9, min_spend_fen=100).pk}


def a_group(w: World) -> dict[str, Any]:
    from siyu.members.models import Tag

    return {"pk": Tag.objects.get(pk=a_tag(w)).group_id}


def a_tag_kwargs(w: World) -> dict[str, Any]:
    return {"pk": a_tag(w)}


def customer(guide: str) -> Any:
    return lambda w: {"pk": w.customers[guide][0]}


def follow_up(guide: str) -> Any:
    def make(w: World) -> dict[str, Any]:
        from siyu.members import profile

        cid = w.customers[guide][0]
        note = profile.add_note(_hq(w), cid, text="call", kind="follow_up", due_on=dt.date(2026, 1, 1))
        return {"pk": cid, "note_id": note.pk}

    return make


def note_only(guide: str) -> Any:
    return lambda w: {"note_id": follow_up(guide)(w)["note_id"]}


def api_customer(guide: str) -> Any:
    return lambda w: {"customer_id": w.customers[guide][0]}


OUT_HQ = {"region_manager": customer("he.guide"), "store_manager": customer("sun.guide")}
OUT_HQ_NOTE = {"region_manager": follow_up("he.guide"), "store_manager": follow_up("sun.guide")}
OUT_GUIDE = {"guide_a": customer("liu.guide"), "store_manager": customer("sun.guide")}
OUT_API = {
    "region_manager": api_customer("he.guide"),
    "store_manager": api_customer("sun.guide"),
    "guide_a": api_customer("liu.guide"),
}
CHEN = customer("chen.guide")


def api_tagging(guide: str) -> Any:
    return lambda w: {"customer_id": w.customers[guide][0], "tag_id": a_tag(w)}


OUT_API_TAG = {
    "region_manager": api_tagging("he.guide"),
    "store_manager": api_tagging("sun.guide"),
    "guide_a": api_tagging("liu.guide"),
}


def tag_post(w: World) -> dict[str, Any]:
    return {"tag": a_tag(w), "action": "add"}


def lifecycle_data(w: World) -> dict[str, Any]:
    return {"new_days": 20, "dormant_days": 60, "churned_days": 200}


def level_data(w: World) -> dict[str, Any]:
    return {"code": "platinum", "name": "Platinum", "rank": 5, "min_spend": "10000"}


RULES: dict[tuple[str, str], Rule] = {
    # HQ console: list actions and the customer 360
    ("hq:customer_bulk_tag", "POST"): Rule(CONSOLE, data=tag_post, ok=302),
    ("hq:customer_detail", "GET"): Rule(CONSOLE, kwargs=CHEN, out_of_scope=OUT_HQ),
    ("hq:customer_tag", "POST"): Rule(CONSOLE, kwargs=CHEN, data=tag_post, ok=302, out_of_scope=OUT_HQ),
    ("hq:customer_note", "POST"): Rule(
        CONSOLE, kwargs=CHEN, data=lambda w: {"text": "likes trail"}, ok=302, out_of_scope=OUT_HQ
    ),
    ("hq:customer_follow_up_done", "POST"): Rule(
        CONSOLE, kwargs=follow_up("chen.guide"), data=lambda w: {}, ok=302, out_of_scope=OUT_HQ_NOTE
    ),
    ("hq:customer_consent", "POST"): Rule(
        CONSOLE,
        kwargs=CHEN,
        data=lambda w: {"channel": "sms", "granted": "1", "source": "in store"},
        ok=302,
        out_of_scope=OUT_HQ,
    ),
    ("hq:customer_data_export", "GET"): Rule(ADMIN, kwargs=CHEN),
    ("hq:customer_erase", "GET"): Rule(ADMIN, kwargs=CHEN),
    ("hq:customer_erase", "POST"): Rule(
        ADMIN, kwargs=CHEN, data=lambda w: {"reason": "asked in store", "confirm": "on"}, ok=302
    ),
    # HQ settings (members.policy)
    ("hq:member_settings", "GET"): Rule(HQ),
    ("hq:lifecycle_settings", "POST"): Rule(HQ, data=lifecycle_data, ok=302),
    ("hq:tier_policy_settings", "POST"): Rule(
        HQ, data=lambda w: {"window_days": 365, "downgrade": "grace", "grace_days": 30}, ok=302
    ),
    ("hq:binding_settings", "POST"): Rule(
        HQ,
        data=lambda w: {"conflict": "first_come", "protection_days": 30, "add_secondary": "on", "receiver_limit": 500},
        ok=302,
    ),
    ("hq:tier_level_create", "POST"): Rule(HQ, data=level_data, ok=302),
    ("hq:tier_level_edit", "GET"): Rule(HQ, kwargs=a_level),
    ("hq:tier_level_edit", "POST"): Rule(
        HQ, kwargs=a_level, data=lambda w: {"name": "Gold+", "rank": 9, "min_spend": "1.00"}, ok=302
    ),
    ("hq:member_recompute", "POST"): Rule(HQ, data=lambda w: {}, ok=302),
    ("hq:tag_settings", "GET"): Rule(HQ),
    ("hq:tag_settings", "POST"): Rule(HQ, data=lambda w: {"name": "Hobbies", "guides_may_tag": "on"}, ok=302),
    ("hq:tag_group_edit", "GET"): Rule(HQ, kwargs=a_group),
    ("hq:tag_group_edit", "POST"): Rule(
        HQ, kwargs=a_group, data=lambda w: {"form": "tag", "name": "Yoga", "color": "#112233"}, ok=302
    ),
    ("hq:tag_delete", "POST"): Rule(HQ, kwargs=a_tag_kwargs, data=lambda w: {}, ok=302),
    # Guide workbench
    ("guide:customer_tag", "POST"): Rule(WORKBENCH, kwargs=CHEN, data=tag_post, ok=302, out_of_scope=OUT_GUIDE),
    ("guide:customer_note", "POST"): Rule(
        WORKBENCH, kwargs=CHEN, data=lambda w: {"text": "call back"}, ok=302, out_of_scope=OUT_GUIDE
    ),
    ("guide:follow_ups", "GET"): Rule(WORKBENCH),
    ("guide:follow_up_done", "POST"): Rule(
        WORKBENCH,
        kwargs=note_only("chen.guide"),
        data=lambda w: {},
        ok=302,
        out_of_scope={"guide_a": note_only("liu.guide"), "store_manager": note_only("sun.guide")},
    ),
    # Store mall: the customer's own page (public; without the scan session it asks her to scan)
    ("mall_me", "GET"): Rule(EVERYONE_API, public=True, kwargs=lambda w: {"store_code": "SH001"}),
    ("mall_me", "POST"): Rule(
        EVERYONE_API, public=True, kwargs=lambda w: {"store_code": "SH001"}, data=lambda w: {"channel": "sms"}
    ),
    ("mall_my_data", "GET"): Rule(EVERYONE_API, public=True, kwargs=lambda w: {"store_code": "SH001"}, ok=302),
    ("mall_erase", "GET"): Rule(EVERYONE_API, public=True, kwargs=lambda w: {"store_code": "SH001"}, ok=302),
    ("mall_erase", "POST"): Rule(
        EVERYONE_API, public=True, kwargs=lambda w: {"store_code": "SH001"}, data=lambda w: {}, ok=302
    ),
    # API (api_profile.py)
    ("api:tag_group_list", "GET"): Rule(EVERYONE_API, token_perm=Perm.MEMBERS_VIEW),
    ("api:tag_group_create", "POST"): Rule(
        HQ, data=lambda w: {"name": "API group"}, ok=201, token_perm=Perm.MEMBERS_POLICY
    ),
    ("api:tag_create", "POST"): Rule(
        HQ,
        data=lambda w: {"group_id": a_group(w)["pk"], "name": "API tag"},
        ok=201,
        token_perm=Perm.MEMBERS_POLICY,
    ),
    ("api:customer_tag_add", "POST"): Rule(
        EVERYONE_API,
        kwargs=api_tagging("chen.guide"),
        token_perm=Perm.MEMBERS_EDIT,
        out_of_scope=OUT_API_TAG,
    ),
    ("api:customer_tag_remove", "DELETE"): Rule(
        EVERYONE_API,
        kwargs=api_tagging("chen.guide"),
        token_perm=Perm.MEMBERS_EDIT,
        out_of_scope=OUT_API_TAG,
    ),
    ("api:customer_tag_bulk", "POST"): Rule(
        frozenset({"hq_admin", "hq_operator", "store_manager", "region_manager", "guide_a"}),
        data=lambda w: {"tag_id": a_tag(w), "customer_ids": [w.customers["chen.guide"][0]]},
        token_perm=Perm.MEMBERS_EDIT,
    ),
    ("api:customer_notes", "GET"): Rule(
        EVERYONE_API, kwargs=api_customer("chen.guide"), token_perm=Perm.MEMBERS_VIEW, out_of_scope=OUT_API
    ),
    ("api:customer_note_add", "POST"): Rule(
        EVERYONE_API,
        kwargs=api_customer("chen.guide"),
        data=lambda w: {"text": "from the POS"},
        ok=201,
        token_perm=Perm.MEMBERS_EDIT,
        out_of_scope=OUT_API,
    ),
    ("api:customer_consent", "GET"): Rule(
        EVERYONE_API, kwargs=api_customer("chen.guide"), token_perm=Perm.MEMBERS_VIEW, out_of_scope=OUT_API
    ),
    ("api:customer_consent_record", "POST"): Rule(
        EVERYONE_API,
        kwargs=api_customer("chen.guide"),
        data=lambda w: {"channel": "sms", "granted": True, "source": "POS"},
        ok=201,
        token_perm=Perm.MEMBERS_EDIT,
        out_of_scope=OUT_API,
    ),
    ("api:member_policies", "GET"): Rule(HQ, token_perm=Perm.MEMBERS_POLICY),
    ("api:member_policies_update", "PUT"): Rule(
        HQ,
        data=lambda w: {
            "lifecycle": {"new_days": 30, "dormant_days": 90, "churned_days": 180},
            "tiers": {"window_days": 365, "downgrade": "grace", "grace_days": 30},
        },
        token_perm=Perm.MEMBERS_POLICY,
    ),
    ("api:customer_data", "GET"): Rule(ADMIN, kwargs=api_customer("chen.guide"), token_perm=Perm.MEMBERS_PRIVACY),
    ("api:customer_erase", "POST"): Rule(
        ADMIN,
        kwargs=api_customer("chen.guide"),
        data=lambda w: {"reason": "asked by e-mail"},
        token_perm=Perm.MEMBERS_PRIVACY,
    ),
}
