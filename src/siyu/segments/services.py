"""Use-cases of segments (人群): definitions (versioned, audited), evaluation (count, sample,
overlap) on the analytics engine, materialisation (on demand and on a schedule) and what other
domains call to target an audience: :func:`members_of`, :func:`is_member`, :func:`entered_since`
and :func:`members_of_guide`.

Every evaluation reads the lake: the events as they are and the facts snapshot of the brand
(``siyu.segments.facts``); a count says which snapshot it used and when that was taken."""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import clock
from siyu.platform.audit import record_by, snapshot
from siyu.platform.tenancy import Scope, get_scoped, restrict
from siyu.platform.validation import full_clean
from siyu.segments import dsl, engine, facts
from siyu.segments import fresh as fresh_updates
from siyu.segments.compile import Query, compile_definition, compile_definitions
from siyu.segments.models import Segment, SegmentChange, SegmentMember, SegmentRun, SegmentVersion

VIEW = "segments.view"
MANAGE = "segments.manage"
SAMPLE_MAX = 50
CHUNK = 5000
FIELDS = ("name", "description", "shared_with_guides", "schedule_minutes", "archived")

InvalidDefinition = dsl.InvalidDefinition
refresh_facts = facts.refresh_facts
facts_version = facts.facts_version


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


# --- definitions ----------------------------------------------------------------------------------
def known(brand_id: int, self_id: int | None = None) -> dsl.Known:
    """What the brand has, for validating a definition against it."""
    stores = org.stores(brand_id)
    return dsl.Known(
        tags=set(members.tag_labels(brand_id)),
        stores={s.id for s in stores},
        regions=set(org.region_ids(brand_id).values()),
        guides={g.id for g in org.guides(brand_id, active_only=False)},
        segments={s.pk: s.definition for s in Segment.objects.filter(brand_id=brand_id)},
        self_id=self_id,
    )


def _resolve_phones(brand_id: int, definition: Any) -> Any:
    """An uploaded list of phone numbers becomes the ids of their customers before it is stored
    (no phone number is kept in a definition); numbers that match nobody are an error."""
    if not isinstance(definition, dict) or not isinstance(definition.get("root"), dict):
        return definition
    definition = copy.deepcopy(definition)
    problems: list[tuple[str, str]] = []

    def visit(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "list" and "phones" in node:
            phones = node.pop("phones")
            if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
                problems.append((f"{path}.phones", "must be a list of phone numbers"))
                return
            ids, unknown = members.customer_ids_by_phones(brand_id, phones)
            if unknown:
                shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
                problems.append((f"{path}.phones", f"{len(unknown)} numbers match no customer: {shown}"))
            node["customers"] = sorted(set(node.get("customers") or []) | ids)
        for i, child in enumerate(node.get("children") or []):
            visit(child, f"{path}.children.{i}")
        if "child" in node:
            visit(node["child"], f"{path}.child")

    visit(definition["root"], "root")
    if problems:
        raise InvalidDefinition(problems)
    return definition


def checked(brand_id: int, definition: Any, self_id: int | None = None) -> dict[str, Any]:
    """A definition ready to store or run: phones turned into customers, validated against the brand."""
    return dsl.check(_resolve_phones(brand_id, definition), known(brand_id, self_id))


def segments(scope: Scope, *, include_archived: bool = False) -> list[Segment]:
    _require(scope, VIEW)
    qs = restrict(Segment, scope)
    return list(qs if include_archived else qs.filter(archived=False))


def segment_of(scope: Scope, segment_id: int) -> Segment:
    _require(scope, VIEW)
    return get_scoped(Segment, scope, pk=segment_id)


def create_segment(scope: Scope, *, name: str, definition: Any, **data: Any) -> Segment:
    _require(scope, MANAGE)
    now = clock.now()
    with transaction.atomic():
        seg = Segment(brand_id=scope.brand_id, name=(name or "").strip(), created_at=now, updated_at=now)
        for key in FIELDS:
            if key in data and key != "name":
                setattr(seg, key, data[key])
        seg.definition = checked(scope.brand_id, definition)
        full_clean(seg)
        seg.save()
        SegmentVersion.objects.create(
            segment=seg, number=1, definition=seg.definition, created_at=now, created_by=scope.label or "system"
        )
        record_by(scope, "segments.create", seg, after=snapshot(seg, (*FIELDS, "version", "definition")))
    return seg


def update_segment(scope: Scope, segment_id: int, *, definition: Any = None, **data: Any) -> Segment:
    """Edit a segment; a changed definition becomes a new version (the old ones are kept)."""
    _require(scope, MANAGE)
    with transaction.atomic():
        seg = get_scoped(Segment.objects.select_for_update(), scope, pk=segment_id)
        before = snapshot(seg, (*FIELDS, "version", "definition"))
        for key in FIELDS:
            if key in data:
                setattr(seg, key, data[key].strip() if isinstance(data[key], str) else data[key])
        now = clock.now()
        if definition is not None:
            fresh = checked(scope.brand_id, definition, self_id=seg.pk)
            if fresh != seg.definition:
                seg.version += 1
                seg.definition = fresh
                SegmentVersion.objects.create(
                    segment=seg,
                    number=seg.version,
                    definition=fresh,
                    created_at=now,
                    created_by=scope.label or "system",
                )
        seg.updated_at = now
        full_clean(seg)
        seg.save()
        record_by(scope, "segments.update", seg, before=before, after=snapshot(seg, (*FIELDS, "version", "definition")))
    fresh_updates.forget_live()
    return seg


def versions(scope: Scope, segment_id: int) -> list[SegmentVersion]:
    return list(segment_of(scope, segment_id).versions.all())


# --- evaluation ----------------------------------------------------------------------------------
def _resolver(brand_id: int) -> Any:
    defs = {s.pk: s.definition for s in Segment.objects.filter(brand_id=brand_id)}

    def resolve(segment_id: int) -> dict[str, Any]:
        return defs[segment_id]

    return resolve


def compiled(brand_id: int, definition: dict[str, Any], *, dialect: str | None = None) -> Query:
    return compile_definition(
        definition,
        dialect=dialect or settings.SIYU_ANALYTICS_ENGINE,
        now=clock.now(),
        tz=settings.TIME_ZONE,
        resolve=_resolver(brand_id),
    )


@dataclass(frozen=True)
class Count:
    size: int
    facts_version: int  # 0: no facts snapshot yet
    facts_at: dt.datetime | None
    ms: int


def _fresh(brand_id: int) -> tuple[int, dt.datetime | None]:
    v = facts.facts_version(brand_id)
    return (v.version, v.refreshed_at) if v else (0, None)


def count_definition(scope: Scope, definition: Any) -> Count:
    """The live count of a definition being edited (validated first)."""
    _require(scope, VIEW)
    started = time.perf_counter()
    size = engine.count(scope.brand_id, compiled(scope.brand_id, checked(scope.brand_id, definition)))
    version, at = _fresh(scope.brand_id)
    return Count(size, version, at, int((time.perf_counter() - started) * 1000))


def count(scope: Scope, segment_id: int) -> Count:
    seg = segment_of(scope, segment_id)
    return count_definition(scope, seg.definition)


def evaluate(brand_id: int, definition: dict[str, Any]) -> list[int]:
    """The member ids of a (valid) definition now, in id order."""
    return engine.member_ids(brand_id, compiled(brand_id, definition))


def sample(scope: Scope, segment_id: int, n: int = 10) -> list[members.CustomerRow]:
    """A few members as the viewer may see them (masked per ADR 0005), spread over the audience by
    the stable hash rather than the oldest ids."""
    seg = segment_of(scope, segment_id)
    n = max(1, min(int(n), SAMPLE_MAX))
    query = compiled(scope.brand_id, seg.definition)
    sql = (
        f"SELECT customer_id FROM ({query.sql}) m "
        f"ORDER BY (customer_id * 2654435761) % 4294967296, customer_id LIMIT {n * 2}"
    )
    rows = []
    for (customer_id,) in engine.engine(query.dialect).rows(
        scope.brand_id, sql, query.params, since_day=query.since_day, raw_days=query.raw_days, summaries=query.summaries
    ):
        try:
            rows.append(members.customer_row(scope, int(customer_id)))
        except Http404:  # erased or merged since the facts snapshot, or outside the viewer's reach
            continue
        if len(rows) == n:
            break
    return rows


@dataclass(frozen=True)
class Overlap:
    a: int
    b: int
    both: int

    @property
    def only_a(self) -> int:
        return self.a - self.both

    @property
    def only_b(self) -> int:
        return self.b - self.both


def overlap(scope: Scope, a_id: int, b_id: int) -> Overlap:
    """How many customers are in each of two segments and in both, in one query."""
    a, b = segment_of(scope, a_id), segment_of(scope, b_id)
    (sa, sb), params, summaries = compile_definitions(
        [a.definition, b.definition],
        dialect=settings.SIYU_ANALYTICS_ENGINE,
        now=clock.now(),
        tz=settings.TIME_ZONE,
        resolve=_resolver(scope.brand_id),
    )
    sql = (
        f"SELECT (SELECT COUNT(*) FROM ({sa}) x), (SELECT COUNT(*) FROM ({sb}) y), "
        f"(SELECT COUNT(*) FROM ({sa}) z WHERE z.customer_id IN (SELECT customer_id FROM ({sb}) w))"
    )
    ((na, nb, both),) = engine.engine().rows(scope.brand_id, sql, params, summaries=summaries)
    return Overlap(int(na), int(nb), int(both))


# --- materialisation -------------------------------------------------------------------------------
def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def materialise(brand_id: int, segment_id: int, *, trigger: str = "demand") -> SegmentRun:
    """Evaluate a segment and store its audience: who entered and who left since the last run, the
    size and the time it took. Idempotent: a second run with nothing changed enters and drops nobody."""
    seg = Segment.objects.get(pk=segment_id, brand_id=brand_id)
    started = time.perf_counter()
    version, _ = _fresh(brand_id)
    with transaction.atomic():
        # evaluated under the audience's lock, so an event-triggered update (ADR 0016) is never
        # overwritten by an answer computed before it
        seg = Segment.objects.select_for_update().get(pk=seg.pk)
        now = clock.now()
        fresh = set(evaluate(brand_id, seg.definition))
        current = set(SegmentMember.objects.filter(segment=seg).values_list("customer_id", flat=True))
        entered, left = sorted(fresh - current), sorted(current - fresh)
        for chunk in _chunks(left):
            SegmentMember.objects.filter(segment=seg, customer_id__in=chunk).delete()
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=seg, customer_id=c, since=now) for c in entered], batch_size=CHUNK
        )
        run = SegmentRun.objects.create(
            segment=seg,
            version=seg.version,
            at=now,
            size=len(fresh),
            entered=len(entered),
            left=len(left),
            duration_ms=int((time.perf_counter() - started) * 1000),
            engine=settings.SIYU_ANALYTICS_ENGINE,
            facts_version=version,
            trigger=trigger,
        )
        SegmentChange.objects.bulk_create(
            [SegmentChange(run=run, customer_id=c, entered=True) for c in entered]
            + [SegmentChange(run=run, customer_id=c, entered=False) for c in left],
            batch_size=CHUNK,
        )
        Segment.objects.filter(pk=seg.pk).update(size=len(fresh), materialised_at=now, fresh_at=now, swept_at=now)
    fresh_updates.forget_live()
    return run


def materialise_now(scope: Scope, segment_id: int, *, refresh: bool = True) -> SegmentRun:
    """HQ's "materialise now": the facts refreshed first (unless told not to), then the audience."""
    _require(scope, MANAGE)
    seg = get_scoped(Segment, scope, pk=segment_id)
    if refresh:
        facts.refresh_facts(scope.brand_id)
    run = materialise(scope.brand_id, seg.pk)
    record_by(scope, "segments.materialise", seg, after={"size": run.size, "entered": run.entered, "left": run.left})
    return run


def due_segments(now: dt.datetime | None = None) -> list[Segment]:
    """Segments on a schedule whose last run is at least their interval old."""
    now = now or clock.now()
    due = []
    for seg in Segment.objects.filter(archived=False, schedule_minutes__gt=0).order_by("brand_id", "id"):
        if seg.materialised_at is None or seg.materialised_at <= now - dt.timedelta(minutes=seg.schedule_minutes):
            due.append(seg)
    return due


def materialise_due() -> dict[int, int]:
    """The scheduled pass: for each brand with a segment due, refresh its facts once, then
    materialise the due segments. Returns the size of each."""
    done: dict[int, int] = {}
    refreshed: set[int] = set()
    for seg in due_segments():
        if seg.brand_id not in refreshed:
            facts.refresh_facts(seg.brand_id)
            refreshed.add(seg.brand_id)
        done[seg.pk] = materialise(seg.brand_id, seg.pk, trigger="schedule").size
    return done


def history(scope: Scope, segment_id: int, limit: int = 60) -> list[SegmentRun]:
    """The last full runs of a segment (on demand or scheduled; not the event-triggered updates of
    a few customers), oldest first (the size-history chart)."""
    seg = segment_of(scope, segment_id)
    runs = SegmentRun.objects.filter(segment=seg, trigger__in=("demand", "schedule"))
    return list(reversed(runs.order_by("-at", "-id")[:limit]))


def changes(scope: Scope, run_id: int, *, entered: bool, limit: int = 200) -> list[int]:
    _require(scope, VIEW)
    run = SegmentRun.objects.select_related("segment").get(pk=run_id, segment__brand_id=scope.brand_id)
    return list(
        run.changes.filter(entered=entered).order_by("customer_id").values_list("customer_id", flat=True)[:limit]
    )


# --- what other domains call ---------------------------------------------------------------------------
def _segment(brand_id: int, segment_id: int) -> Segment:
    try:
        return Segment.objects.get(pk=segment_id, brand_id=brand_id)
    except Segment.DoesNotExist:
        raise LookupError(f"no segment {segment_id} in brand {brand_id}") from None


def members_of(brand_id: int, segment_id: int) -> list[int]:
    """The customer ids of a segment's audience at its last materialisation, in id order."""
    seg = _segment(brand_id, segment_id)
    return list(SegmentMember.objects.filter(segment=seg).order_by("customer_id").values_list("customer_id", flat=True))


def is_member(brand_id: int, segment_id: int, customer_id: int) -> bool:
    seg = _segment(brand_id, segment_id)
    return SegmentMember.objects.filter(segment=seg, customer_id=customer_id).exists()


def entered_since(brand_id: int, segment_id: int, at: dt.datetime) -> list[int]:
    """Who is in the audience and entered it at or after ``at`` (a journey's trigger)."""
    seg = _segment(brand_id, segment_id)
    return list(
        SegmentMember.objects.filter(segment=seg, since__gte=at)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )


def members_of_guide(brand_id: int, segment_id: int, guide_id: int) -> list[int]:
    """The audience limited to the customers bound to one guide now."""
    seg = _segment(brand_id, segment_id)
    mine = members.customer_ids_of_guide(brand_id, guide_id)
    audience = SegmentMember.objects.filter(segment=seg).values_list("customer_id", flat=True)
    return sorted(mine.intersection(audience))


@dataclass(frozen=True)
class SharedAudience:
    segment_id: int
    name: str
    description: str
    materialised_at: dt.datetime | None
    customer_ids: list[int]


def shared_with_me(scope: Scope) -> list[SharedAudience]:
    """For a guide's workbench: the audiences HQ shares with guides, each limited to her customers."""
    if scope.staff_id is None:
        raise PermissionDenied("guide.workbench")
    out = []
    for seg in Segment.objects.filter(brand_id=scope.brand_id, shared_with_guides=True, archived=False):
        ids = members_of_guide(scope.brand_id, seg.pk, scope.staff_id)
        out.append(SharedAudience(seg.pk, seg.name, seg.description, seg.materialised_at, ids))
    return out


def validation_error(exc: InvalidDefinition) -> ValidationError:
    """The problems of a definition as a form/API error on ``definition``."""
    return ValidationError(
        {"definition": [f"{path}: {message}" if path else message for path, message in exc.problems]}
    )
