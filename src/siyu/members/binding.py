"""Binding a customer to her primary guide and store, under the brand's :class:`BindingPolicy`.

``bind`` is the one writer of ``Customer.guide / store / bound_at / protected_until``: every change
appends a :class:`~siyu.members.models.Binding` row (previous guide, source, code, actor), so the
history shows every hand-over. The conflict rule (ADR 0007):

* unbound -> bound to the guide who reached her;
* bound to the same guide -> nothing changes (the caller records the touch);
* bound to another guide -> within the protection period she stays; after it ``first_come`` keeps
  her (the other guide becomes a secondary guide when the policy says so) and ``last_touch`` moves her;
* HQ assignment, transfers and inheritance (``force``) always bind.

Only an active guide (or store manager) posted to a store can receive customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.members.identity import live
from siyu.members.models import Binding, BindingPolicy, BindingSource, Code, Customer, SecondaryGuide, Source
from siyu.org import services as org
from siyu.org.services import Perm, Role
from siyu.platform import audit, clock
from siyu.platform.tenancy import Scope, get_scoped, restrict

RECEIVER_ROLES = {Role.GUIDE.value, Role.STORE_MANAGER.value}

_SOURCE_TO_BINDING = {
    Source.STORE_CODE: BindingSource.STORE_CODE,
    Source.GUIDE_CODE: BindingSource.GUIDE_CODE,
    Source.CAMPAIGN: BindingSource.GUIDE_CODE,
    Source.PRODUCT_CODE: BindingSource.STORE_CODE,
    Source.SHARE_LINK: BindingSource.GUIDE_CODE,
    Source.WECOM: BindingSource.WECOM,
    Source.POS: BindingSource.FIRST_PURCHASE,
    Source.MINI_PROGRAM: BindingSource.STORE_CODE,
    Source.IMPORT: BindingSource.IMPORT,
}


def binding_source_for(source: str) -> str:
    """The binding source that goes with a customer source (a scan of a guide code binds as such)."""
    return (
        str(_SOURCE_TO_BINDING.get(Source(source), BindingSource.HQ)) if source in Source.values else BindingSource.HQ
    )


class Outcome:
    BOUND = "bound"  # she had no guide (or no store) and now has one
    SAME = "same"  # already bound there: nothing changed
    PROTECTED = "protected"  # bound to another guide inside the protection period: she stays
    KEPT = "kept"  # first come: she stays with her guide
    MOVED = "moved"  # last touch, assignment, transfer: she moved to the new guide
    STORE_ONLY = "store_only"  # a store code reached a customer who has a guide: nothing changed


@dataclass(frozen=True)
class BindResult:
    outcome: str
    changed: bool
    guide_id: int | None
    store_id: int | None


@dataclass(frozen=True)
class BindingRow:
    """One line of a customer's binding history, for her 360 page."""

    at: dt.datetime
    guide_id: int | None
    store_id: int | None
    previous_guide_id: int | None
    source: str
    source_label: str
    code_id: int | None
    actor_label: str
    customer_id: int


def policy_of(brand_id: int) -> BindingPolicy:
    """The brand's binding policy, created with the defaults on first use."""
    policy, _created = BindingPolicy.objects.get_or_create(brand_id=brand_id)
    return policy


def can_receive(brand_id: int, guide_id: int, *, scope: Scope | None = None) -> bool:
    info = org.staff_info(brand_id, guide_id, scope=scope)
    return info is not None and info.active and info.role in RECEIVER_ROLES and info.store_id is not None


def receiver(brand_id: int, guide_id: int, *, scope: Scope | None = None, field: str = "guide") -> org.StaffInfo:
    """The guide who is to receive customers, or a ``ValidationError`` on ``field``."""
    info = org.staff_info(brand_id, guide_id, scope=scope)
    if info is None:
        raise ValidationError({field: _("Choose a guide of the brand that you may manage.")})
    if not info.active or info.role not in RECEIVER_ROLES or info.store_id is None:
        raise ValidationError({field: _("Only an active guide of a store can receive customers.")})
    return info


def bind(
    customer: Customer,
    *,
    guide_id: int | None = None,
    store_id: int | None = None,
    source: str,
    code: Code | None = None,
    at: dt.datetime | None = None,
    actor_label: str = "",
    force: bool = False,
) -> BindResult:
    """Bind ``customer`` to a guide (her store follows) or, without a guide, to a store."""
    if source not in BindingSource.values:
        raise ValidationError({"source": _("Unknown binding source.")})
    if guide_id is None and store_id is None:
        raise ValidationError({"guide": _("Choose a guide or a store.")})
    now = at or clock.now()
    with transaction.atomic():
        c = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
        if c.merged_into_id is not None or c.erased_at is not None:
            raise ValidationError({"customer": _("This customer was merged or erased.")})
        if guide_id is not None:
            result = _bind_guide(c, guide_id, source, code, now, actor_label, force)
        else:
            result = _bind_store(c, int(store_id or 0), source, code, now, actor_label)
    customer.refresh_from_db()
    return result


def _bind_guide(
    c: Customer, guide_id: int, source: str, code: Code | None, now: dt.datetime, actor: str, force: bool
) -> BindResult:
    info = receiver(c.brand_id, guide_id)
    if c.guide_id == info.id:
        if c.store_id != info.store_id:  # her guide moved store: the customer follows her
            return _write(c, info.id, info.store_id, source, code, now, actor, Outcome.MOVED)
        return BindResult(Outcome.SAME, False, c.guide_id, c.store_id)
    current_ok = c.guide_id is not None and can_receive(c.brand_id, c.guide_id)
    if not current_ok:
        return _write(c, info.id, info.store_id, source, code, now, actor, Outcome.BOUND)
    if force:
        return _write(c, info.id, info.store_id, source, code, now, actor, Outcome.MOVED)
    policy = policy_of(c.brand_id)
    if c.protected_until is not None and now < c.protected_until:
        outcome = Outcome.PROTECTED
    elif policy.conflict == BindingPolicy.Conflict.LAST_TOUCH:
        return _write(c, info.id, info.store_id, source, code, now, actor, Outcome.MOVED)
    else:
        outcome = Outcome.KEPT
    if policy.add_secondary:
        SecondaryGuide.objects.get_or_create(
            customer_id=c.pk, guide_id=info.id, defaults={"brand_id": c.brand_id, "since": now}
        )
    return BindResult(outcome, False, c.guide_id, c.store_id)


def _bind_store(c: Customer, store_id: int, source: str, code: Code | None, now: dt.datetime, actor: str) -> BindResult:
    store = org.store_info(c.brand_id, store_id)
    if store is None:
        raise ValidationError({"store": _("Choose a store of the brand.")})
    if c.guide_id is not None:
        return BindResult(Outcome.STORE_ONLY, False, c.guide_id, c.store_id)
    if c.store_id == store.id:
        return BindResult(Outcome.SAME, False, None, c.store_id)
    return _write(c, None, store.id, source, code, now, actor, Outcome.BOUND)


def _write(
    c: Customer,
    guide_id: int | None,
    store_id: int | None,
    source: str,
    code: Code | None,
    now: dt.datetime,
    actor: str,
    outcome: str,
) -> BindResult:
    from siyu.events import services as events  # here: events reads members at import

    policy = policy_of(c.brand_id)
    made = Binding.objects.create(
        brand_id=c.brand_id,
        customer=c,
        guide_id=guide_id,
        store_id=store_id,
        previous_guide_id=c.guide_id,
        source=source,
        code=code,
        actor_label=actor[:120],
        at=now,
    )
    events.emit_binding(
        c.brand_id, made.pk, c.pk, now,
        store_id=store_id, guide_id=guide_id, source=source, previous_guide_id=c.guide_id,
    )  # fmt: skip
    c.guide_id, c.store_id, c.bound_at = guide_id, store_id, now
    c.protected_until = now + dt.timedelta(days=policy.protection_days) if guide_id is not None else None
    c.save(update_fields=["guide", "store", "bound_at", "protected_until"])
    if guide_id is not None:
        SecondaryGuide.objects.filter(customer_id=c.pk, guide_id=guide_id).delete()
    return BindResult(outcome, True, guide_id, store_id)


# --- HQ assignment ----------------------------------------------------------------------------
@transaction.atomic
def assign_guide(scope: Scope, customer_id: int, guide_id: int) -> BindResult:
    """HQ (or a manager, within reach) assigns a customer to a guide: it always binds."""
    if not scope.can(Perm.MEMBERS_BIND):
        raise PermissionDenied(Perm.MEMBERS_BIND)
    customer = get_scoped(live(restrict(Customer, scope)), scope, pk=customer_id)
    receiver(scope.brand_id, guide_id, scope=scope)
    before = audit.snapshot(customer, ("guide", "store"))
    result = bind(customer, guide_id=guide_id, source=BindingSource.HQ, actor_label=scope.label, force=True)
    if result.changed:
        audit.record_by(
            scope, "customer.assign", customer, before=before, after=audit.snapshot(customer, ("guide", "store"))
        )
    return result


# --- Reading ----------------------------------------------------------------------------------
def binding_history(customer: Customer) -> list[BindingRow]:
    """Every binding change of the customer and of the customers merged into her, newest first."""
    from siyu.members.identity import cluster_ids

    rows = Binding.objects.filter(customer_id__in=cluster_ids(customer)).order_by("-at", "-id")
    return [
        BindingRow(
            at=b.at,
            guide_id=b.guide_id,
            store_id=b.store_id,
            previous_guide_id=b.previous_guide_id,
            source=b.source,
            source_label=str(BindingSource(b.source).label) if b.source in BindingSource.values else b.source,
            code_id=b.code_id,
            actor_label=b.actor_label,
            customer_id=b.customer_id,
        )
        for b in rows
    ]


def secondary_guide_ids(customer: Customer) -> list[int]:
    return list(SecondaryGuide.objects.filter(customer_id=customer.pk).values_list("guide_id", flat=True))
