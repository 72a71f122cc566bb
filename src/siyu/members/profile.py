"""Knowing the customer: tags, notes and follow-ups, consent, lifecycle stage, RFM scores and tiers.

Every verb takes the viewer's :class:`~siyu.platform.tenancy.Scope`, checks the permission
(``PermissionDenied``), reaches customers only through the scope (an out-of-reach customer is a
404), validates (``ValidationError`` per field, nothing changed) and writes in one transaction,
with an audit entry where HQ would want the change traced.

The brand-wide recomputes (:func:`recompute_lifecycle`, :func:`recompute_rfm`,
:func:`recompute_tiers`) run the pure rules of :mod:`siyu.members.rules` as set-based SQL, in id
ranges of ``CHUNK`` customers, each range in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BigIntegerField, Case, F, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Least
from django.utils.translation import gettext as _

from siyu.members import rules
from siyu.members.models import (
    BindingPolicy,
    Channel,
    Consent,
    Customer,
    CustomerTag,
    Lifecycle,
    LifecyclePolicy,
    Note,
    Tag,
    TagGroup,
    TierChange,
    TierLevel,
    TierPolicy,
)
from siyu.org.services import Perm
from siyu.platform import audit, clock, privacy, validation
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

CHUNK = 200_000  # customers per recompute transaction (an id range)
NOTE_MAX = 2000
BASE_TIER = "regular"  # what a customer holds below every tier level (the model's default)


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


def customers_in_reach(scope: Scope) -> QuerySet[Customer]:
    """The viewer's customers (scoped, erased ones left out): :func:`services.visible_customers`."""
    from siyu.members.services import visible_customers  # the facade imports this module

    return visible_customers(scope)


def customer_in_reach(scope: Scope, customer_id: int, *, lock: bool = False) -> Customer:
    qs = customers_in_reach(scope)
    if lock:
        qs = qs.select_for_update(of=("self",))
    return get_scoped(qs, scope, pk=customer_id)


# --- Finding customers ------------------------------------------------------------------------
def _name_hash(name: str) -> str:
    from siyu.members.services import name_hash

    return name_hash(name)


def search(qs: QuerySet[Customer], text: str) -> QuerySet[Customer]:
    """A full mobile number (by its keyed hash), else an exact full name (by ``name_hash``)."""
    text = text.strip()
    if not text:
        return qs
    try:
        # the exclude lets SQLite use the partial unique index on (brand, phone_hash) (ADR 0008)
        return qs.filter(phone_hash=privacy.lookup_hash(privacy.normalize_phone(text))).exclude(phone_hash="")
    except ValueError:
        return qs.filter(name_hash=_name_hash(text))


def filter_customers(qs: QuerySet[Customer], f: dict[str, Any]) -> QuerySet[Customer]:
    """Narrow an already scoped list by the cleaned filters (pages and API share this)."""
    if f.get("store"):
        qs = qs.filter(store_id=f["store"])
    if f.get("guide"):
        qs = qs.filter(guide_id=f["guide"])
    if f.get("lifecycle"):
        qs = qs.filter(lifecycle=f["lifecycle"])
    if f.get("tier"):
        qs = qs.filter(tier=f["tier"])
    if f.get("source"):
        qs = qs.filter(source=f["source"])
    if f.get("tag"):
        qs = qs.filter(tag_links__tag_id=f["tag"])
    if f.get("joined_from"):
        qs = qs.filter(joined_at__date__gte=f["joined_from"])
    if f.get("joined_to"):
        qs = qs.filter(joined_at__date__lte=f["joined_to"])
    if f.get("phone"):
        qs = search(qs, f["phone"])
    if f.get("q"):
        qs = search(qs, f["q"])
    return qs


# --- Tag groups and tags (HQ) ------------------------------------------------------------------
GROUP_FIELDS = ("name", "exclusive", "guides_may_tag")
TAG_FIELDS = ("group", "name", "color")


def _apply(instance: Any, data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in sorted(unknown)})
    for name, value in data.items():
        setattr(instance, name, value.strip() if isinstance(value, str) else value)


@transaction.atomic
def create_tag_group(scope: Scope, **data: Any) -> TagGroup:
    _require(scope, Perm.MEMBERS_POLICY)
    group = TagGroup(brand_id=scope.brand_id)
    _apply(group, data, GROUP_FIELDS)
    validation.full_clean(group)
    group.save()
    audit.record_by(scope, "tag_group.create", group, after=audit.snapshot(group, GROUP_FIELDS))
    return group


@transaction.atomic
def update_tag_group(scope: Scope, group_id: int, **data: Any) -> TagGroup:
    _require(scope, Perm.MEMBERS_POLICY)
    group = get_scoped(TagGroup.objects.select_for_update(), scope, pk=group_id)
    before = audit.snapshot(group, GROUP_FIELDS)
    _apply(group, data, GROUP_FIELDS)
    validation.full_clean(group)
    if group.exclusive and not before["exclusive"]:
        doubled = (
            CustomerTag.objects.filter(tag__group=group).values("customer_id").annotate(n=Max("id")).count()
            != CustomerTag.objects.filter(tag__group=group).count()
        )
        if doubled:
            raise ValidationError(
                {"exclusive": _("Some customers hold more than one tag of this group; remove them first.")}
            )
    group.save()
    audit.record_by(scope, "tag_group.update", group, before=before, after=audit.snapshot(group, GROUP_FIELDS))
    return group


def _group_ref(scope: Scope, value: Any) -> TagGroup:
    pk = value.pk if isinstance(value, TagGroup) else value
    try:
        return restrict(TagGroup, scope).get(pk=pk)
    except (TagGroup.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationError({"group": _("Choose a tag group of the brand.")}) from exc


@transaction.atomic
def create_tag(scope: Scope, **data: Any) -> Tag:
    _require(scope, Perm.MEMBERS_POLICY)
    if "group" in data:
        data["group"] = _group_ref(scope, data["group"])
    tag = Tag(brand_id=scope.brand_id)
    _apply(tag, data, TAG_FIELDS)
    validation.full_clean(tag)
    tag.save()
    audit.record_by(scope, "tag.create", tag, after=audit.snapshot(tag, TAG_FIELDS))
    return tag


@transaction.atomic
def update_tag(scope: Scope, tag_id: int, **data: Any) -> Tag:
    _require(scope, Perm.MEMBERS_POLICY)
    tag = get_scoped(Tag.objects.select_for_update(), scope, pk=tag_id)
    if "group" in data:
        raise ValidationError({"group": _("A tag stays in its group; create a new tag instead.")})
    before = audit.snapshot(tag, TAG_FIELDS)
    _apply(tag, data, TAG_FIELDS)
    validation.full_clean(tag)
    tag.save()
    audit.record_by(scope, "tag.update", tag, before=before, after=audit.snapshot(tag, TAG_FIELDS))
    return tag


@transaction.atomic
def delete_tag(scope: Scope, tag_id: int) -> int:
    """Delete a tag and take it off every customer; returns how many customers lost it."""
    _require(scope, Perm.MEMBERS_POLICY)
    tag = get_scoped(Tag.objects.select_for_update(), scope, pk=tag_id)
    removed, _detail = CustomerTag.objects.filter(tag=tag).delete()
    audit.record_by(scope, "tag.delete", tag, before=audit.snapshot(tag, TAG_FIELDS), after={"customers": removed})
    tag.delete()
    return removed


def tag_groups(scope: Scope) -> list[TagGroup]:
    """The brand's tag groups with their tags (two queries); a guide gets only those she may use."""
    qs = restrict(TagGroup, scope).prefetch_related("tags")
    if scope.level is Level.SELF:
        qs = qs.filter(guides_may_tag=True)
    return list(qs)


def usable_tags(scope: Scope) -> QuerySet[Tag]:
    qs = restrict(Tag, scope).select_related("group")
    if scope.level is Level.SELF:
        qs = qs.filter(group__guides_may_tag=True)
    return qs


def _usable_tag(scope: Scope, tag_id: Any) -> Tag:
    try:
        return usable_tags(scope).get(pk=tag_id)
    except (Tag.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationError({"tag": _("Choose a tag you may use.")}) from exc


# --- Tags on customers --------------------------------------------------------------------------
def _link(customer_ids: Iterable[int], tag: Tag, scope: Scope, source: str) -> int:
    """Put ``tag`` on the customers (already in reach); in an exclusive group the tag replaces the
    group's other tags. Returns how many customers gained the tag."""
    ids = list(customer_ids)
    if not ids:
        return 0
    if tag.group.exclusive:
        CustomerTag.objects.filter(customer_id__in=ids, tag__group_id=tag.group_id).exclude(tag=tag).delete()
    have = set(CustomerTag.objects.filter(customer_id__in=ids, tag=tag).values_list("customer_id", flat=True))
    now = clock.now()
    rows = [
        CustomerTag(
            brand_id=scope.brand_id, customer_id=pk, tag=tag, added_by_label=scope.label[:120], source=source, at=now
        )
        for pk in ids
        if pk not in have
    ]
    CustomerTag.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


@transaction.atomic
def add_tag(scope: Scope, customer_id: int, tag_id: int) -> bool:
    """Tag one customer in reach; ``True`` if she did not hold it yet (idempotent)."""
    _require(scope, Perm.MEMBERS_EDIT)
    tag = _usable_tag(scope, tag_id)
    customer = customer_in_reach(scope, customer_id, lock=True)
    return _link([customer.pk], tag, scope, "manual") == 1


@transaction.atomic
def remove_tag(scope: Scope, customer_id: int, tag_id: int) -> bool:
    """Take a tag off one customer in reach; ``True`` if she held it (idempotent)."""
    _require(scope, Perm.MEMBERS_EDIT)
    tag = _usable_tag(scope, tag_id)
    customer = customer_in_reach(scope, customer_id, lock=True)
    removed, _detail = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    return removed > 0


BULK_CHUNK = 5000


@transaction.atomic
def bulk_tag(scope: Scope, tag_id: int, customers: Iterable[int] | QuerySet[Customer], *, remove: bool = False) -> int:
    """Add (or remove) a tag on many customers: a list of ids (every one must be in reach, or
    nothing changes) or a filtered list (a queryset, intersected with the reach). One transaction;
    returns how many customers changed; audited once."""
    _require(scope, Perm.MEMBERS_EDIT)
    tag = _usable_tag(scope, tag_id)
    reach = customers_in_reach(scope)
    if isinstance(customers, QuerySet):
        targets = reach.filter(pk__in=customers.order_by().values_list("pk", flat=True))
    else:
        wanted = {int(pk) for pk in customers}
        if not wanted:
            raise ValidationError({"customers": _("Choose at least one customer.")})
        found = set(reach.filter(pk__in=wanted).values_list("pk", flat=True))
        if found != wanted:
            raise ValidationError(
                {"customers": _("%(n)d of the customers are not within your reach.") % {"n": len(wanted - found)}}
            )
        targets = reach.filter(pk__in=wanted)
    if remove:
        changed, _detail = CustomerTag.objects.filter(tag=tag, customer_id__in=targets.values("pk")).delete()
    else:
        changed = 0
        for ids in _keyset(targets.exclude(tag_links__tag=tag)):
            changed += _link(ids, tag, scope, "bulk")
    if changed:
        action = "tag.bulk_remove" if remove else "tag.bulk_add"
        audit.record_by(scope, action, tag, after={"customers": changed})
    return changed


def _keyset(qs: QuerySet[Any], size: int = BULK_CHUNK) -> Iterator[list[int]]:
    """The ids of ``qs`` in ascending batches, each read afresh (safe while writing in between)."""
    last = 0
    while ids := list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]):
        yield ids
        last = ids[-1]


def tags_of(customer_ids: Iterable[int]) -> dict[int, list[Tag]]:
    """Each customer's tags (one query), for a page of customers already in reach."""
    found: dict[int, list[Tag]] = defaultdict(list)
    links = CustomerTag.objects.filter(customer_id__in=list(customer_ids)).select_related("tag__group")
    for link in links.order_by("tag__group__name", "tag__name"):
        found[link.customer_id].append(link.tag)
    return found


# --- Notes and follow-ups -----------------------------------------------------------------------
@dataclass(frozen=True)
class NoteRow:
    id: int
    customer_id: int
    kind: str
    text: str
    due_on: dt.date | None
    done_at: dt.datetime | None
    at: dt.datetime
    author_id: int | None

    @property
    def overdue(self) -> bool:
        return (
            self.kind == Note.Kind.FOLLOW_UP
            and self.done_at is None
            and self.due_on is not None
            and (self.due_on <= clock.today())
        )


def note_row(n: Note) -> NoteRow:
    return NoteRow(n.pk, n.customer_id, n.kind, privacy.unseal(n.text_sealed), n.due_on, n.done_at, n.at, n.author_id)


@transaction.atomic
def add_note(
    scope: Scope, customer_id: int, *, text: str, kind: str = Note.Kind.NOTE, due_on: dt.date | None = None
) -> Note:
    """A note (or a follow-up with a due date) on a customer in reach. The text is sealed at rest."""
    _require(scope, Perm.MEMBERS_EDIT)
    text = (text or "").strip()
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = _("Write something.")
    elif len(text) > NOTE_MAX:
        errors["text"] = _("At most %(n)d characters.") % {"n": NOTE_MAX}
    if kind not in Note.Kind.values:
        errors["kind"] = _("Choose a note or a follow-up.")
    elif kind == Note.Kind.FOLLOW_UP and due_on is None:
        errors["due_on"] = _("A follow-up needs a due date.")
    elif kind == Note.Kind.NOTE and due_on is not None:
        errors["due_on"] = _("Only a follow-up has a due date.")
    if errors:
        raise ValidationError(errors)
    customer = customer_in_reach(scope, customer_id)
    return Note.objects.create(
        brand_id=scope.brand_id,
        customer=customer,
        author_id=scope.staff_id,
        kind=kind,
        text_sealed=privacy.seal(text),
        due_on=due_on,
        at=clock.now(),
    )


@transaction.atomic
def complete_follow_up(scope: Scope, note_id: int) -> Note:
    """Mark a follow-up done (idempotent: done stays done, at its first time)."""
    _require(scope, Perm.MEMBERS_EDIT)
    note = get_scoped(
        restrict(Note.objects.select_for_update(of=("self",)), scope).filter(customer__erased_at__isnull=True),
        scope,
        pk=note_id,
    )
    if note.kind != Note.Kind.FOLLOW_UP:
        raise ValidationError({"kind": _("Only a follow-up can be marked done.")})
    if note.done_at is None:
        note.done_at = clock.now()
        note.save(update_fields=["done_at"])
    return note


def notes_of(scope: Scope, customer_ids: Iterable[int]) -> list[NoteRow]:
    qs = restrict(Note, scope).filter(customer_id__in=list(customer_ids), customer__erased_at__isnull=True)
    return [note_row(n) for n in qs.order_by("-at", "-id")]


def follow_ups_due(scope: Scope, on: dt.date | None = None) -> QuerySet[Note]:
    """Open follow-ups due on or before ``on`` (today) on the customers the viewer reaches; a guide's
    are those on her own customers."""
    day = on or clock.today()
    return restrict(Note, scope).filter(
        kind=Note.Kind.FOLLOW_UP, done_at__isnull=True, due_on__lte=day, customer__erased_at__isnull=True
    )


def follow_ups_due_rows(scope: Scope, on: dt.date | None = None) -> list[NoteRow]:
    return [note_row(n) for n in follow_ups_due(scope, on).order_by("due_on", "id")]


# --- Consent (PIPL) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsentState:
    channel: str
    label: str
    granted: bool | None  # None: never asked
    source: str
    at: dt.datetime | None


SELF_SOURCE = "customer"  # she gave or withdrew it herself (store mall profile)


def _append_consent(customer: Customer, channel: str, granted: bool, source: str, at: dt.datetime) -> Consent:
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(Channel.values)}
    source = (source or "").strip()
    if not source:
        errors["source"] = _("Say where the consent was given, e.g. in store.")
    elif len(source) > 40:
        errors["source"] = _("At most %(n)d characters.") % {"n": 40}
    if at > clock.now() + dt.timedelta(minutes=5):
        errors["at"] = _("Consent cannot be given in the future.")
    if not isinstance(granted, bool):
        errors["granted"] = _("Say whether she granted or withdrew it.")
    if errors:
        raise ValidationError(errors)
    return Consent.objects.create(
        brand_id=customer.brand_id, customer=customer, channel=channel, granted=granted, source=source, at=at
    )


@transaction.atomic
def record_consent(
    scope: Scope, customer_id: int, channel: str, granted: bool, source: str, at: dt.datetime | None = None
) -> Consent:
    """Append a consent (or its withdrawal) for one channel; the history is never rewritten."""
    _require(scope, Perm.MEMBERS_EDIT)
    customer = customer_in_reach(scope, customer_id)
    consent = _append_consent(customer, channel, granted, source, at or clock.now())
    audit.record_by(
        scope, "consent.record", consent, after=audit.snapshot(consent, ("channel", "granted", "source", "at"))
    )
    return consent


@transaction.atomic
def record_own_consent(customer_id: int, channel: str, granted: bool) -> Consent:
    """The customer herself grants or withdraws a channel on her own profile page."""
    customer = Customer.objects.get(pk=customer_id, erased_at__isnull=True)
    return _append_consent(customer, channel, granted, SELF_SOURCE, clock.now())


def consent_state(customer_id: int) -> list[ConsentState]:
    """The consent in force per channel: the latest row of each (one query)."""
    latest: dict[str, Consent] = {}
    for row in Consent.objects.filter(customer_id=customer_id).order_by("-at", "-id"):
        latest.setdefault(row.channel, row)
    states = []
    for value, label in Channel.choices:
        c = latest.get(value)
        states.append(
            ConsentState(value, str(label), c.granted if c else None, c.source if c else "", c.at if c else None)
        )
    return states


def consent_history(customer_id: int) -> list[Consent]:
    return list(Consent.objects.filter(customer_id=customer_id).order_by("-at", "-id"))


# --- Policies (HQ settings) ---------------------------------------------------------------------
LIFECYCLE_FIELDS = ("new_days", "dormant_days", "churned_days")
TIER_POLICY_FIELDS = ("window_days", "downgrade", "grace_days")
TIER_LEVEL_FIELDS = ("code", "name", "rank", "min_spend_fen")
BINDING_FIELDS = ("conflict", "protection_days", "add_secondary", "receiver_limit", "pos_phones_verified")


def lifecycle_policy(brand_id: int) -> LifecyclePolicy:
    """The brand's thresholds, or the defaults (unsaved) until HQ sets them."""
    return LifecyclePolicy.objects.filter(brand_id=brand_id).first() or LifecyclePolicy(brand_id=brand_id)


def tier_policy(brand_id: int) -> TierPolicy:
    return TierPolicy.objects.filter(brand_id=brand_id).first() or TierPolicy(brand_id=brand_id)


def binding_policy(brand_id: int) -> BindingPolicy:
    return BindingPolicy.objects.filter(brand_id=brand_id).first() or BindingPolicy(brand_id=brand_id)


def tier_levels(brand_id: int) -> list[TierLevel]:
    return list(TierLevel.objects.filter(brand_id=brand_id).order_by("rank"))


def _save_policy(scope: Scope, policy: Any, data: dict[str, Any], fields: tuple[str, ...], action: str) -> Any:
    before = audit.snapshot(policy, fields) if policy.pk else None
    _apply(policy, data, fields)
    validation.full_clean(policy)
    policy.save()
    audit.record_by(scope, action, policy, before=before, after=audit.snapshot(policy, fields))
    return policy


@transaction.atomic
def set_lifecycle_policy(scope: Scope, **data: Any) -> LifecyclePolicy:
    _require(scope, Perm.MEMBERS_POLICY)
    policy = lifecycle_policy(scope.brand_id)
    merged = {f: data.get(f, getattr(policy, f)) for f in LIFECYCLE_FIELDS}
    try:
        t = rules.LifecycleThresholds(**{k: int(v) for k, v in merged.items()})
    except (TypeError, ValueError) as exc:
        raise ValidationError({f: _("Enter a whole number of days.") for f in LIFECYCLE_FIELDS if f in data}) from exc
    messages = {
        "new_days": _("At least 1 day."),
        "dormant_days": _("Must be more than the days a customer counts as new."),
        "churned_days": _("Must be more than the days after which a customer is dormant."),
    }
    problems = rules.thresholds_problems(t)
    if problems:
        raise ValidationError({f: messages[f] for f in problems})
    return _save_policy(scope, policy, data, LIFECYCLE_FIELDS, "lifecycle_policy.update")


@transaction.atomic
def set_tier_policy(scope: Scope, **data: Any) -> TierPolicy:
    _require(scope, Perm.MEMBERS_POLICY)
    policy = tier_policy(scope.brand_id)
    if "window_days" in data and isinstance(data["window_days"], int) and data["window_days"] < 1:
        raise ValidationError({"window_days": _("At least 1 day.")})
    return _save_policy(scope, policy, data, TIER_POLICY_FIELDS, "tier_policy.update")


@transaction.atomic
def set_binding_policy(scope: Scope, **data: Any) -> BindingPolicy:
    """The settings form of the binding rules (the model and its use belong to binding)."""
    _require(scope, Perm.MEMBERS_POLICY)
    policy = binding_policy(scope.brand_id)
    if "receiver_limit" in data and isinstance(data["receiver_limit"], int) and data["receiver_limit"] < 1:
        raise ValidationError({"receiver_limit": _("At least 1 customer.")})
    return _save_policy(scope, policy, data, BINDING_FIELDS, "binding_policy.update")


@transaction.atomic
def create_tier_level(scope: Scope, **data: Any) -> TierLevel:
    _require(scope, Perm.MEMBERS_POLICY)
    level = TierLevel(brand_id=scope.brand_id)
    _check_min_spend(data)
    return _save_policy(scope, level, data, TIER_LEVEL_FIELDS, "tier_level.create")


@transaction.atomic
def update_tier_level(scope: Scope, level_id: int, **data: Any) -> TierLevel:
    _require(scope, Perm.MEMBERS_POLICY)
    level = get_scoped(TierLevel.objects.select_for_update(), scope, pk=level_id)
    if "code" in data and data["code"] != level.code:
        raise ValidationError({"code": _("A tier keeps its code (customers hold it); change its name instead.")})
    _check_min_spend(data)
    return _save_policy(scope, level, data, TIER_LEVEL_FIELDS, "tier_level.update")


@transaction.atomic
def delete_tier_level(scope: Scope, level_id: int) -> None:
    _require(scope, Perm.MEMBERS_POLICY)
    level = get_scoped(TierLevel.objects.select_for_update(), scope, pk=level_id)
    if Customer.objects.filter(brand_id=scope.brand_id, tier=level.code, erased_at__isnull=True).exists():
        raise ValidationError({"code": _("Customers hold this tier; recompute tiers without it first.")})
    audit.record_by(scope, "tier_level.delete", level, before=audit.snapshot(level, TIER_LEVEL_FIELDS))
    level.delete()


def _check_min_spend(data: dict[str, Any]) -> None:
    value = data.get("min_spend_fen", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError({"min_spend_fen": _("An amount of at least 0, in whole fen.")})


# --- Recompute: lifecycle -----------------------------------------------------------------------
def _id_ranges(brand_id: int, chunk: int) -> Iterator[tuple[int, int]]:
    bounds = Customer.objects.filter(brand_id=brand_id).aggregate(lo=Min("id"), hi=Max("id"))
    lo, hi = bounds["lo"], bounds["hi"]
    if lo is None or hi is None:
        return
    start = lo
    while start <= hi:
        yield start, start + chunk
        start += chunk


def lifecycle_conditions(now: dt.datetime, t: rules.LifecycleThresholds) -> list[tuple[str, Q]]:
    """The stages as SQL conditions on the stored row, in the order they must be applied (see
    :func:`siyu.members.rules.lifecycle_stage`, which this mirrors)."""
    churn_at = now - dt.timedelta(days=t.churned_days)
    dormant_at = now - dt.timedelta(days=t.dormant_days)
    new_at = now - dt.timedelta(days=t.new_days)
    never = Q(last_purchase_at__isnull=True)
    churned = Q(last_purchase_at__lte=churn_at) | (never & Q(joined_at__lte=churn_at))
    idle_dormant = Q(last_purchase_at__lte=dormant_at) | (never & Q(joined_at__lte=dormant_at))
    fresh = Q(last_purchase_at__gt=dormant_at) | (never & Q(joined_at__gt=dormant_at))
    bought_long_member = Q(last_purchase_at__isnull=False, joined_at__lte=new_at)
    lapsed = Q(lifecycle__in=sorted(rules.LAPSED))
    still_recalled = Q(lifecycle=rules.RECALLED, lifecycle_changed_at__gt=new_at)
    return [
        (rules.CHURNED, churned),
        (rules.DORMANT, idle_dormant & ~churned),
        (rules.NEW, fresh & (never | Q(joined_at__gt=new_at))),
        (rules.RECALLED, fresh & bought_long_member & lapsed),
        (rules.ACTIVE, fresh & bought_long_member & ~lapsed & ~still_recalled),
    ]


def recompute_lifecycle(brand_id: int, *, now: dt.datetime | None = None, chunk: int = CHUNK) -> dict[str, int]:
    """Set every customer's stage per the brand's thresholds; returns how many moved into each."""
    at = now or clock.now()
    p = lifecycle_policy(brand_id)
    t = rules.LifecycleThresholds(p.new_days, p.dormant_days, p.churned_days)
    moved = dict.fromkeys(Lifecycle.values, 0)
    for lo, hi in _id_ranges(brand_id, chunk):
        base = Customer.objects.filter(brand_id=brand_id, erased_at__isnull=True, pk__gte=lo, pk__lt=hi)
        with transaction.atomic():
            for stage, condition in lifecycle_conditions(at, t):
                moved[stage] += (
                    base.filter(condition).exclude(lifecycle=stage).update(lifecycle=stage, lifecycle_changed_at=at)
                )
    return moved


# --- Recompute: RFM -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RfmCuts:
    r: list[dt.datetime]
    f: list[int]
    m: list[int]


def rfm_cuts(brand_id: int) -> RfmCuts:
    """Brand-wide quintile cut points over the customers who bought (see :func:`rules.quintile_cuts`):
    the value at 20/40/60/80 % of each sorted column, read with OFFSET (no list in memory)."""
    buyers = Customer.objects.filter(
        brand_id=brand_id, erased_at__isnull=True, last_purchase_at__isnull=False, orders_count__gt=0
    )
    n = buyers.count()

    def cuts(column: str) -> list[Any]:
        if n == 0:
            return []
        ordered = buyers.order_by(column).values_list(column, flat=True)
        return [ordered[min(n - 1, n * k // 5)] for k in (1, 2, 3, 4)]

    return RfmCuts(cuts("last_purchase_at"), cuts("orders_count"), cuts("total_spent_fen"))


def _score(column: str, cuts: list[Any]) -> Case:
    whens = [When(**{f"{column}__gt": c}, then=Value(len(cuts) + 1 - i)) for i, c in enumerate(reversed(cuts))]
    return Case(*whens, default=Value(1), output_field=IntegerField())


def recompute_rfm(brand_id: int, *, chunk: int = CHUNK) -> RfmCuts:
    """Score every customer 1–5 on recency, frequency and monetary value (0 for those who never
    bought) by brand-wide quintiles."""
    cuts = rfm_cuts(brand_id)
    for lo, hi in _id_ranges(brand_id, chunk):
        base = Customer.objects.filter(brand_id=brand_id, erased_at__isnull=True, pk__gte=lo, pk__lt=hi)
        with transaction.atomic():
            base.filter(last_purchase_at__isnull=False, orders_count__gt=0).update(
                rfm_r=_score("last_purchase_at", cuts.r),
                rfm_f=_score("orders_count", cuts.f),
                rfm_m=_score("total_spent_fen", cuts.m),
            )
            base.filter(Q(last_purchase_at__isnull=True) | Q(orders_count=0)).exclude(rfm_r=0, rfm_f=0, rfm_m=0).update(
                rfm_r=0, rfm_f=0, rfm_m=0
            )
    return cuts


# --- Recompute: tiers ---------------------------------------------------------------------------
SpendProvider = Callable[[dt.datetime], Combinable]


def stand_in_spend(since: dt.datetime) -> Combinable:
    """A customer's spend since ``since``, until the orders issue brings order lines: her total
    spend if her last purchase falls in the window, else 0. The orders issue passes its own
    provider (a subquery summing her order lines since ``since``) to :func:`recompute_tiers`."""
    return Case(
        When(last_purchase_at__gte=since, then=F("total_spent_fen")), default=Value(0), output_field=BigIntegerField()
    )


def _rank_of(spend_column: str, levels: list[TierLevel]) -> Case:
    whens = [
        When(**{f"{spend_column}__gte": lv.min_spend_fen}, then=Value(lv.rank))
        for lv in sorted(levels, key=lambda lv: -lv.rank)
    ]
    return Case(*whens, default=Value(-1), output_field=IntegerField())


@transaction.atomic
def recompute_tiers(
    brand_id: int,
    *,
    now: dt.datetime | None = None,
    spend: SpendProvider = stand_in_spend,
    customer_ids: Iterable[int] | None = None,
) -> int:
    """Upgrade at once, downgrade per the brand's policy (:func:`rules.next_rank`); every change
    appends a ``TierChange`` (from, to, reason). Returns the number of changes."""
    at = now or clock.now()
    levels = tier_levels(brand_id)
    if not levels:
        return 0
    policy = tier_policy(brand_id)
    window_start = at - dt.timedelta(days=policy.window_days)
    grace_start = window_start - dt.timedelta(days=policy.grace_days)
    code_of = {lv.rank: lv.code for lv in levels}
    current = Case(
        *[When(tier=lv.code, then=Value(lv.rank)) for lv in levels], default=Value(-1), output_field=IntegerField()
    )
    qs = Customer.objects.filter(brand_id=brand_id, erased_at__isnull=True)
    if customer_ids is not None:
        qs = qs.filter(pk__in=list(customer_ids))
    qs = qs.annotate(spend_w=spend(window_start), spend_g=spend(grace_start), cur=current)
    qs = qs.annotate(earned=_rank_of("spend_w", levels), earned_g=_rank_of("spend_g", levels))
    if policy.downgrade == rules.NEVER:
        down: Any = F("cur")
    elif policy.downgrade == rules.IMMEDIATE:
        down = Least(F("cur"), F("earned"))
    else:
        down = Least(F("cur"), F("earned_g"))
    qs = qs.annotate(
        target=Case(When(earned__gt=F("cur"), then=F("earned")), default=down, output_field=IntegerField())
    ).exclude(target=F("cur"))
    changes = 0
    last = 0
    while batch := list(
        qs.filter(pk__gt=last).order_by("pk").values_list("pk", "tier", "target", "spend_w")[:BULK_CHUNK]
    ):
        last = batch[-1][0]
        by_target: dict[int, list[int]] = defaultdict(list)
        log = []
        for pk, tier, target, spent in batch:
            to_code = code_of.get(target, BASE_TIER)
            by_target[target].append(pk)
            up = target > (next((lv.rank for lv in levels if lv.code == tier), -1))
            reason = (
                f"up: {spent} fen in {policy.window_days} days"
                if up
                else f"down ({policy.downgrade}): {spent} fen in {policy.window_days} days"
            )
            log.append(
                TierChange(brand_id=brand_id, customer_id=pk, from_tier=tier, to_tier=to_code, reason=reason, at=at)
            )
        for target, ids in by_target.items():
            Customer.objects.filter(pk__in=ids).update(tier=code_of.get(target, BASE_TIER), tier_changed_at=at)
        TierChange.objects.bulk_create(log, batch_size=2000)
        changes += len(log)
    return changes


def tier_changes_of(customer_ids: Iterable[int]) -> list[TierChange]:
    return list(TierChange.objects.filter(customer_id__in=list(customer_ids)).order_by("-at", "-id"))


# --- Recompute all (daily job; on demand from the settings page) --------------------------------
@dataclass(frozen=True)
class RecomputeSummary:
    lifecycle: dict[str, int]
    tier_changes: int
    seconds: float


def recompute_brand(brand_id: int, *, now: dt.datetime | None = None) -> RecomputeSummary:
    import time

    started = time.perf_counter()
    moved = recompute_lifecycle(brand_id, now=now)
    recompute_rfm(brand_id)
    changes = recompute_tiers(brand_id, now=now)
    return RecomputeSummary(moved, changes, time.perf_counter() - started)


def recompute_now(scope: Scope) -> RecomputeSummary:
    """HQ asks for the daily recompute now (settings page); audited."""
    _require(scope, Perm.MEMBERS_POLICY)
    summary = recompute_brand(scope.brand_id)
    policy = lifecycle_policy(scope.brand_id)
    if policy.pk is None:
        policy.save()
    audit.record_by(
        scope,
        "members.recompute",
        policy,
        after={"lifecycle": summary.lifecycle, "tier_changes": summary.tier_changes},
    )
    return summary


def brands_with_customers() -> list[int]:
    return list(Customer.objects.order_by().values_list("brand_id", flat=True).distinct())
