"""REST endpoints of the profile slice: tag groups and tags, tags on customers (one or in bulk),
notes and follow-ups, consent, the lifecycle and tier policies, and a customer's data export and
erasure (PIPL). Every call goes through :mod:`siyu.members.profile` / :mod:`siyu.members.rights`.

Module note: no ``from __future__ import annotations`` (django-ninja reads the annotations)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from siyu.members import profile, rights
from siyu.members.models import Channel, Note
from siyu.org.services import Perm
from siyu.platform.api import Input, answers, created, current_scope, fields_named, requires

router = Router()
TAGS = ["customer profile"]


class TagOut(Schema):
    id: int
    name: str
    color: str


class TagGroupOut(Schema):
    id: int
    name: str
    exclusive: bool
    guides_may_tag: bool
    tags: list[TagOut]


class TagGroupIn(Input):
    name: str = Field(max_length=40)
    exclusive: bool = False
    guides_may_tag: bool = True


class TagIn(Input):
    group_id: int
    name: str = Field(max_length=40)
    color: str = Field("#4f6bed", pattern=r"^#[0-9a-fA-F]{6}$")


class ChangedOut(Schema):
    changed: bool


class BulkTagIn(Input):
    tag_id: int
    customer_ids: list[int] = Field(min_length=1, max_length=10_000)
    remove: bool = False


class BulkOut(Schema):
    changed: int = Field(description="How many customers gained (or lost) the tag.")


class NoteIn(Input):
    text: str = Field(max_length=profile.NOTE_MAX)
    due_on: dt.date | None = Field(None, description="A due date makes the note a follow-up.")


class NoteOut(Schema):
    id: int
    kind: str
    text: str
    due_on: dt.date | None
    done_at: dt.datetime | None
    at: dt.datetime


class ConsentIn(Input):
    channel: Channel
    granted: bool
    source: str = Field(max_length=40, description="Where she gave it, e.g. 'POS' or 'in store'.")
    at: dt.datetime | None = None


class ConsentOut(Schema):
    channel: str
    granted: bool | None = Field(description="`null`: never asked.")
    source: str
    at: dt.datetime | None


class LifecyclePolicyIO(Schema):
    new_days: int = Field(ge=1)
    dormant_days: int = Field(ge=1)
    churned_days: int = Field(ge=1)


class TierPolicyIO(Schema):
    window_days: int = Field(ge=1)
    downgrade: str = Field(description="never, immediate or grace")
    grace_days: int = Field(ge=0)


class TierLevelOut(Schema):
    code: str
    name: str
    rank: int
    min_spend_fen: int


class PoliciesOut(Schema):
    lifecycle: LifecyclePolicyIO
    tiers: TierPolicyIO
    levels: list[TierLevelOut]


class PoliciesIn(Input):
    lifecycle: LifecyclePolicyIO | None = None
    tiers: TierPolicyIO | None = None


class EraseIn(Input):
    reason: str = Field(max_length=200, description="How and when she asked; no personal data.")


class ErasedOut(Schema):
    erased: bool = Field(description="`false`: she had already been erased (nothing changed).")


def _group_out(g: Any) -> dict[str, Any]:
    return {
        "id": g.pk,
        "name": g.name,
        "exclusive": g.exclusive,
        "guides_may_tag": g.guides_may_tag,
        "tags": [{"id": t.pk, "name": t.name, "color": t.color} for t in g.tags.all()],
    }


@router.get(
    "/tag-groups",
    response=answers(list[TagGroupOut]),
    summary="List tag groups and their tags",
    tags=TAGS,
)
@requires(Perm.MEMBERS_VIEW)
def tag_group_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_group_out(g) for g in profile.tag_groups(current_scope(request))]


@router.post(
    "/tag-groups",
    response=answers(TagGroupOut, 201),
    summary="Create a tag group",
    tags=TAGS,
)
@requires(Perm.MEMBERS_POLICY)
def tag_group_create(request: HttpRequest, payload: TagGroupIn) -> Any:
    group = profile.create_tag_group(current_scope(request), **payload.dict())
    return created(_group_out(group))


@router.post(
    "/tags",
    response=answers(TagOut, 201),
    summary="Create a tag in a group",
    tags=TAGS,
)
@requires(Perm.MEMBERS_POLICY)
def tag_create(request: HttpRequest, payload: TagIn) -> Any:
    data = payload.dict()
    with fields_named({"group": "group_id"}):
        tag = profile.create_tag(current_scope(request), group=data.pop("group_id"), **data)
    return created({"id": tag.pk, "name": tag.name, "color": tag.color})


@router.post(
    "/customers/{customer_id}/tags/{tag_id}",
    response=answers(ChangedOut),
    summary="Tag a customer",
    description="Idempotent; in a group of one tag at a time the tag replaces the group's other tag.",
    tags=TAGS,
)
@requires(Perm.MEMBERS_EDIT)
def customer_tag_add(request: HttpRequest, customer_id: int, tag_id: int) -> dict[str, bool]:
    with fields_named({"tag": "tag_id"}):
        return {"changed": profile.add_tag(current_scope(request), customer_id, tag_id)}


@router.delete(
    "/customers/{customer_id}/tags/{tag_id}",
    response=answers(ChangedOut),
    summary="Take a tag off a customer",
    tags=TAGS,
)
@requires(Perm.MEMBERS_EDIT)
def customer_tag_remove(request: HttpRequest, customer_id: int, tag_id: int) -> dict[str, bool]:
    with fields_named({"tag": "tag_id"}):
        return {"changed": profile.remove_tag(current_scope(request), customer_id, tag_id)}


@router.post(
    "/customers/tags/bulk",
    response=answers(BulkOut),
    summary="Tag (or untag) many customers",
    description="Every customer must be within the caller's reach, or nothing changes (422).",
    tags=TAGS,
)
@requires(Perm.MEMBERS_EDIT)
def customer_tag_bulk(request: HttpRequest, payload: BulkTagIn) -> dict[str, int]:
    with fields_named({"tag": "tag_id", "customers": "customer_ids"}):
        n = profile.bulk_tag(current_scope(request), payload.tag_id, payload.customer_ids, remove=payload.remove)
    return {"changed": n}


def _note_out(n: profile.NoteRow) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "text": n.text, "due_on": n.due_on, "done_at": n.done_at, "at": n.at}


@router.get(
    "/customers/{customer_id}/notes",
    response=answers(list[NoteOut]),
    summary="A customer's notes and follow-ups",
    tags=TAGS,
)
@requires(Perm.MEMBERS_VIEW)
def customer_notes(request: HttpRequest, customer_id: int) -> list[dict[str, Any]]:
    scope = current_scope(request)
    customer = profile.customer_in_reach(scope, customer_id)
    return [_note_out(n) for n in profile.notes_of(scope, [customer.pk])]


@router.post(
    "/customers/{customer_id}/notes",
    response=answers(NoteOut, 201),
    summary="Add a note (or a follow-up, with a due date)",
    tags=TAGS,
)
@requires(Perm.MEMBERS_EDIT)
def customer_note_add(request: HttpRequest, customer_id: int, payload: NoteIn) -> Any:
    kind = Note.Kind.FOLLOW_UP if payload.due_on else Note.Kind.NOTE
    note = profile.add_note(current_scope(request), customer_id, text=payload.text, kind=kind, due_on=payload.due_on)
    return created(_note_out(profile.note_row(note)))


@router.get(
    "/customers/{customer_id}/consent",
    response=answers(list[ConsentOut]),
    summary="The consent in force per channel",
    tags=TAGS,
)
@requires(Perm.MEMBERS_VIEW)
def customer_consent(request: HttpRequest, customer_id: int) -> list[profile.ConsentState]:
    customer = profile.customer_in_reach(current_scope(request), customer_id)
    return profile.consent_state(customer.pk)


@router.post(
    "/customers/{customer_id}/consent",
    response=answers(ConsentOut, 201),
    summary="Record a consent or its withdrawal",
    description="Append-only: the history per channel is kept; the latest is in force.",
    tags=TAGS,
)
@requires(Perm.MEMBERS_EDIT)
def customer_consent_record(request: HttpRequest, customer_id: int, payload: ConsentIn) -> Any:
    c = profile.record_consent(
        current_scope(request), customer_id, payload.channel.value, payload.granted, payload.source, payload.at
    )
    return created({"channel": c.channel, "granted": c.granted, "source": c.source, "at": c.at})


def _policies(brand_id: int) -> dict[str, Any]:
    lp, tp = profile.lifecycle_policy(brand_id), profile.tier_policy(brand_id)
    return {
        "lifecycle": {f: getattr(lp, f) for f in profile.LIFECYCLE_FIELDS},
        "tiers": {f: getattr(tp, f) for f in profile.TIER_POLICY_FIELDS},
        "levels": [
            {"code": lv.code, "name": lv.name, "rank": lv.rank, "min_spend_fen": lv.min_spend_fen}
            for lv in profile.tier_levels(brand_id)
        ],
    }


@router.get(
    "/member-policies",
    response=answers(PoliciesOut),
    summary="Lifecycle thresholds, tier policy and tier levels",
    tags=TAGS,
)
@requires(Perm.MEMBERS_POLICY)
def member_policies(request: HttpRequest) -> dict[str, Any]:
    return _policies(current_scope(request).brand_id)


@router.put(
    "/member-policies",
    response=answers(PoliciesOut),
    summary="Set the lifecycle thresholds and the tier policy",
    tags=TAGS,
)
@requires(Perm.MEMBERS_POLICY)
def member_policies_update(request: HttpRequest, payload: PoliciesIn) -> dict[str, Any]:
    scope = current_scope(request)
    from django.db import transaction

    with transaction.atomic():
        if payload.lifecycle is not None:
            profile.set_lifecycle_policy(scope, **payload.lifecycle.dict())
        if payload.tiers is not None:
            profile.set_tier_policy(scope, **payload.tiers.dict())
    return _policies(scope.brand_id)


@router.get(
    "/customers/{customer_id}/data",
    response=answers(dict[str, Any]),
    summary="Everything about a customer, decrypted (PIPL access request)",
    tags=TAGS,
)
@requires(Perm.MEMBERS_PRIVACY)
def customer_data(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    return rights.export_customer_data(current_scope(request), customer_id)


@router.post(
    "/customers/{customer_id}/erase",
    response=answers(ErasedOut),
    summary="Erase a customer (PIPL), with every record merged with her",
    description="Irreversible; personal data is removed everywhere, history included. Idempotent.",
    tags=TAGS,
)
@requires(Perm.MEMBERS_PRIVACY)
def customer_erase(request: HttpRequest, customer_id: int, payload: EraseIn) -> dict[str, bool]:
    return {"erased": rights.erase_customer(current_scope(request), customer_id, payload.reason)}
