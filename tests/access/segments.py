"""Who may use the segment API (see ``tests/access/model.py``): HQ reads (``segments.view``) and
defines and materialises (``segments.manage``) segments; no other role, and a token only reads."""

from __future__ import annotations

from typing import Any

from siyu.org.rules import Perm
from tests.access.model import HQ, Rule, World

DEFINITION = {"version": 1, "root": {"type": "attribute", "field": "lifecycle", "in": ["new"]}}


def _segment(w: World) -> int:
    from siyu.org import services as org
    from siyu.segments import services as segments

    found = [s for s in segments.segments(org.hq_scope(w.brand.pk)) if s.name == "matrix"]
    if found:
        return found[0].pk
    return segments.create_segment(org.hq_scope(w.brand.pk), name="matrix", definition=DEFINITION).pk


def _one(w: World) -> dict[str, Any]:
    return {"segment_id": _segment(w)}


def _two(w: World) -> dict[str, Any]:
    return {"segment_id": _segment(w), "other_id": _segment(w)}


RULES: dict[tuple[str, str], Rule] = {
    ("api:segment_list", "GET"): Rule(HQ, token_perm=Perm.SEGMENTS_VIEW),
    ("api:segment_create", "POST"): Rule(
        HQ, data=lambda w: {"name": "新客", "definition": DEFINITION}, ok=201, token_perm=Perm.SEGMENTS_MANAGE
    ),
    ("api:segment_detail", "GET"): Rule(HQ, kwargs=_one, token_perm=Perm.SEGMENTS_VIEW),
    ("api:segment_update", "PATCH"): Rule(
        HQ, kwargs=_one, data=lambda w: {"description": "改"}, token_perm=Perm.SEGMENTS_MANAGE
    ),
    ("api:segment_count_definition", "POST"): Rule(
        HQ, data=lambda w: {"definition": DEFINITION}, token_perm=Perm.SEGMENTS_VIEW
    ),
    ("api:segment_count", "GET"): Rule(HQ, kwargs=_one, token_perm=Perm.SEGMENTS_VIEW),
    ("api:segment_members", "GET"): Rule(HQ, kwargs=_one, token_perm=Perm.SEGMENTS_VIEW),
    ("api:segment_overlap", "GET"): Rule(HQ, kwargs=_two, token_perm=Perm.SEGMENTS_VIEW),
    ("api:segment_materialise", "POST"): Rule(HQ, kwargs=_one, data=lambda w: {}, token_perm=Perm.SEGMENTS_MANAGE),
}


# --- the HQ pages (/hq/segments/) and the guide's shared audiences --------------------------------
WORKBENCH = frozenset({"store_manager", "guide_a"})


def _pk(w: World) -> dict[str, Any]:
    return {"pk": _segment(w)}


def _run(w: World) -> dict[str, Any]:
    from siyu.org import services as org
    from siyu.segments import services as segments

    pk = _segment(w)
    return {"pk": pk, "run_id": segments.materialise_now(org.hq_scope(w.brand.pk), pk, refresh=False).pk}


def _shared(w: World) -> dict[str, Any]:
    from siyu.org import services as org
    from siyu.segments import services as segments

    found = [s for s in segments.segments(org.hq_scope(w.brand.pk)) if s.name == "matrix shared"]
    if found:
        return {"pk": found[0].pk}
    seg = segments.create_segment(
        org.hq_scope(w.brand.pk), name="matrix shared", definition=DEFINITION, shared_with_guides=True
    )
    return {"pk": seg.pk}


def _form(w: World) -> dict[str, Any]:
    import json

    return {"name": "matrix page", "definition": json.dumps(DEFINITION), "schedule_minutes": "0"}


RULES.update(
    {
        ("hq:segment_list", "GET"): Rule(HQ),
        ("hq:segment_create", "GET"): Rule(HQ),
        ("hq:segment_create", "POST"): Rule(HQ, data=_form, ok=302),
        ("hq:segment_count", "POST"): Rule(HQ, data=lambda w: _form(w)),
        ("hq:segment_overlap", "GET"): Rule(HQ),
        ("hq:segment_detail", "GET"): Rule(HQ, kwargs=_pk),
        ("hq:segment_edit", "GET"): Rule(HQ, kwargs=_pk),
        ("hq:segment_edit", "POST"): Rule(HQ, kwargs=_pk, data=_form, ok=302),
        ("hq:segment_materialise", "POST"): Rule(HQ, kwargs=_pk, ok=302),
        ("hq:segment_run", "GET"): Rule(HQ, kwargs=_run),
        ("guide:customer_audiences", "GET"): Rule(WORKBENCH),
        ("guide:customer_audience", "GET"): Rule(
            WORKBENCH, kwargs=_shared, out_of_scope={"guide_a": _pk, "store_manager": _pk}
        ),
    }
)
