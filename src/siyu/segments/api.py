"""REST endpoints of segments: definitions (list, create, read, edit: a changed definition is a
new version), the live count of a definition, a segment's count, its materialised members (paged),
the overlap of two segments and materialising now. Every call goes through
:mod:`siyu.segments.services`.

Module note: no ``from __future__ import annotations`` (django-ninja reads the annotations)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.org.services import Perm
from siyu.platform.api import Input, PageQuery, answers, created, current_scope, page_of, requires
from siyu.segments import services

router = Router()
TAGS = ["segments"]


class SegmentIn(Input):
    name: str = Field(max_length=80)
    description: str = Field("", max_length=300)
    definition: dict[str, Any] = Field(description='`{"version": 1, "root": ...}` (docs/segments-dsl.md)')
    shared_with_guides: bool = False
    schedule_minutes: int = Field(0, ge=0, le=100_000)


class SegmentPatch(Input):
    name: str | None = Field(None, max_length=80)
    description: str | None = Field(None, max_length=300)
    definition: dict[str, Any] | None = None
    shared_with_guides: bool | None = None
    schedule_minutes: int | None = Field(None, ge=0, le=100_000)
    archived: bool | None = None


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    version: int
    definition: dict[str, Any]
    shared_with_guides: bool
    schedule_minutes: int
    archived: bool
    size: int = Field(description="Members at the last materialisation.")
    materialised_at: dt.datetime | None


class DefinitionIn(Input):
    definition: dict[str, Any]


class CountOut(Schema):
    size: int
    facts_version: int = Field(description="The facts snapshot counted against (0: none yet).")
    facts_at: dt.datetime | None
    ms: int


class MemberOut(Schema):
    customer_id: int


class OverlapOut(Schema):
    a: int
    b: int
    both: int
    only_a: int
    only_b: int


class RunOut(Schema):
    id: int
    at: dt.datetime
    version: int
    size: int
    entered: int
    left: int
    duration_ms: int


def _out(seg: Any) -> dict[str, Any]:
    return {f: getattr(seg, f) for f in SegmentOut.model_fields} | {"id": seg.pk}


def _checked(call: Any) -> Any:
    try:
        return call()
    except services.InvalidDefinition as exc:
        raise services.validation_error(exc) from None


@router.get("/segments", response=answers(list[SegmentOut]), summary="List segments", tags=TAGS)
@requires(Perm.SEGMENTS_VIEW)
def segment_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(s) for s in services.segments(current_scope(request))]


@router.post("/segments", response=answers(SegmentOut, 201), summary="Define a segment", tags=TAGS)
@requires(Perm.SEGMENTS_MANAGE)
def segment_create(request: HttpRequest, payload: SegmentIn) -> Any:
    data = payload.dict()
    seg = _checked(lambda: services.create_segment(current_scope(request), **data))
    return created(_out(seg))


@router.get("/segments/{segment_id}", response=answers(SegmentOut), summary="Read a segment", tags=TAGS)
@requires(Perm.SEGMENTS_VIEW)
def segment_detail(request: HttpRequest, segment_id: int) -> dict[str, Any]:
    return _out(services.segment_of(current_scope(request), segment_id))


@router.patch(
    "/segments/{segment_id}",
    response=answers(SegmentOut),
    summary="Edit a segment (a changed definition is a new version)",
    tags=TAGS,
)
@requires(Perm.SEGMENTS_MANAGE)
def segment_update(request: HttpRequest, segment_id: int, payload: SegmentPatch) -> dict[str, Any]:
    data = {k: v for k, v in payload.dict().items() if v is not None}
    return _out(_checked(lambda: services.update_segment(current_scope(request), segment_id, **data)))


@router.post("/segment-count", response=answers(CountOut), summary="Count a definition (live, not saved)", tags=TAGS)
@requires(Perm.SEGMENTS_VIEW)
def segment_count_definition(request: HttpRequest, payload: DefinitionIn) -> Any:
    return _checked(lambda: services.count_definition(current_scope(request), payload.definition))


@router.get("/segments/{segment_id}/count", response=answers(CountOut), summary="Count a segment now", tags=TAGS)
@requires(Perm.SEGMENTS_VIEW)
def segment_count(request: HttpRequest, segment_id: int) -> Any:
    return services.count(current_scope(request), segment_id)


@router.get(
    "/segments/{segment_id}/members",
    response=answers(page_of(MemberOut)),
    summary="The materialised members of a segment, paged",
    tags=TAGS,
)
@requires(Perm.SEGMENTS_VIEW)
def segment_members(request: HttpRequest, segment_id: int, page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    seg = services.segment_of(scope, segment_id)
    ids = services.members_of(scope.brand_id, seg.pk)
    chunk = ids[page.offset : page.offset + page.limit]
    return {"count": len(ids), "limit": page.limit, "offset": page.offset, "items": [{"customer_id": c} for c in chunk]}


@router.get(
    "/segments/{segment_id}/overlap/{other_id}",
    response=answers(OverlapOut),
    summary="How many customers two segments share",
    tags=TAGS,
)
@requires(Perm.SEGMENTS_VIEW)
def segment_overlap(request: HttpRequest, segment_id: int, other_id: int) -> dict[str, Any]:
    o = services.overlap(current_scope(request), segment_id, other_id)
    return {"a": o.a, "b": o.b, "both": o.both, "only_a": o.only_a, "only_b": o.only_b}


@router.post(
    "/segments/{segment_id}/materialise",
    response=answers(RunOut),
    summary="Materialise a segment now (facts refreshed first)",
    tags=TAGS,
)
@requires(Perm.SEGMENTS_MANAGE)
def segment_materialise(request: HttpRequest, segment_id: int) -> Any:
    run = services.materialise_now(current_scope(request), segment_id)
    return {"id": run.pk, **{f: getattr(run, f) for f in RunOut.model_fields if f != "id"}}
