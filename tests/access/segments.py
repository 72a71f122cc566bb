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
