"""Transfers of customers between guides, following the WeCom rules the real adapter will face
(ADR 0007): in-service transfer (在职继承) and inheritance when a guide leaves (离职继承).

* one request (a *batch*) carries at most 100 customers: a larger selection is split into requests;
* a customer is transferred in service at most twice in 90 days: a third is refused up front, with
  the reason per customer;
* the receiver takes over 24 hours after the request (:func:`complete_due_transfers`, run by the
  scheduler, marks waiting transfers done and rebinds; running it again changes nothing);
* statuses: waiting -> done | refused by the customer (in service only) | receiver at limit (her
  customers plus those waiting for her would pass ``BindingPolicy.receiver_limit``);
* while an in-service transfer waits, the customer keeps her old guide;
* inheritance binds at once (a customer is never left without a guide); its rows still record the
  hand-over with the WeCom status lifecycle.
"""

from __future__ import annotations

import datetime as dt
import heapq
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from siyu.members import binding
from siyu.members.identity import live
from siyu.members.models import BindingSource, Customer, Transfer, TransferKind, TransferStatus
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock
from siyu.platform.jobs import crontab, periodic
from siyu.platform.tenancy import Scope, get_scoped, restrict

MAX_PER_CALL = 100
MAX_TRANSFERS = 2
WINDOW = dt.timedelta(days=90)
TAKEOVER = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Refusal:
    customer_id: int
    reason: str


@dataclass
class TransferResult:
    batches: list[str] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return sum(1 for t in self.transfers if t.status == TransferStatus.WAITING)


def new_batch() -> str:
    return secrets.token_hex(8)


def chunks(items: Sequence[int], size: int = MAX_PER_CALL) -> list[list[int]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def load_of(brand_id: int, guide_ids: Iterable[int]) -> dict[int, int]:
    """Customers a guide holds plus those waiting to come to her (the receiver-limit count)."""
    ids = list(guide_ids)
    load = dict.fromkeys(ids, 0)
    held = live(Customer.objects.filter(brand_id=brand_id, guide_id__in=ids)).values("guide_id").annotate(n=Count("id"))
    for row in held:
        load[row["guide_id"]] += row["n"]
    waiting = (
        Transfer.objects.filter(brand_id=brand_id, to_guide_id__in=ids, status=TransferStatus.WAITING)
        .exclude(kind=TransferKind.INHERITANCE)  # inheritance already bound the customer to her
        .values("to_guide_id")
        .annotate(n=Count("id"))
    )
    for incoming in waiting:
        load[incoming["to_guide_id"]] += incoming["n"]
    return load


def _recent_counts(customer_ids: list[int], now: dt.datetime) -> dict[int, int]:
    rows = (
        Transfer.objects.filter(
            customer_id__in=customer_ids,
            kind=TransferKind.IN_SERVICE,
            requested_at__gt=now - WINDOW,
            status__in=[TransferStatus.WAITING, TransferStatus.DONE],
        )
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    return {r["customer_id"]: r["n"] for r in rows}


def _record_batches(scope: Scope, rows: list[Transfer], action: str) -> list[str]:
    batches: list[str] = []
    for batch in dict.fromkeys(t.batch for t in rows):
        members = [t for t in rows if t.batch == batch]
        batches.append(batch)
        audit.record_by(
            scope,
            action,
            members[0],
            after={
                "batch": batch,
                "customers": [t.customer_id for t in members],
                "to_guides": sorted({t.to_guide_id for t in members}),
                "statuses": sorted({t.status for t in members}),
            },
        )
    return batches


# --- In-service transfer ----------------------------------------------------------------------
@transaction.atomic
def start_transfer(
    scope: Scope, customer_ids: Sequence[int], to_guide_id: int, *, at: dt.datetime | None = None
) -> TransferResult:
    """Ask for ``customer_ids`` to be transferred to ``to_guide_id``. Customers the rules refuse
    are reported in ``refused`` with the reason and left alone; the others wait 24 hours."""
    if not scope.can(Perm.MEMBERS_BIND):
        raise PermissionDenied(Perm.MEMBERS_BIND)
    wanted = list(dict.fromkeys(int(i) for i in customer_ids))
    if not wanted:
        raise ValidationError({"customers": _("Choose at least one customer to transfer.")})
    to = binding.receiver(scope.brand_id, to_guide_id, scope=scope, field="to_guide")
    pool = live(restrict(Customer.objects.select_for_update(of=("self",)), scope)).filter(pk__in=wanted)
    customers = {c.pk: c for c in pool.order_by("pk")}
    missing = [i for i in wanted if i not in customers]
    if missing:
        raise ValidationError(
            {"customers": _("Not found or not yours to transfer: %(ids)s.") % {"ids": ", ".join(map(str, missing))}}
        )
    now = at or clock.now()
    recent = _recent_counts(wanted, now)
    waiting = set(
        Transfer.objects.filter(customer_id__in=wanted, status=TransferStatus.WAITING).values_list(
            "customer_id", flat=True
        )
    )
    result = TransferResult()
    accepted: list[Customer] = []
    for cid in wanted:
        c = customers[cid]
        if c.guide_id is None:
            result.refused.append(Refusal(cid, _("She has no guide yet: assign one instead.")))
        elif c.guide_id == to.id:
            result.refused.append(Refusal(cid, _("She is already with this guide.")))
        elif cid in waiting:
            result.refused.append(Refusal(cid, _("A transfer of this customer is already waiting.")))
        elif recent.get(cid, 0) >= MAX_TRANSFERS:
            result.refused.append(
                Refusal(cid, _("Already transferred twice in the last 90 days (WeCom allows 2).")),
            )
        else:
            accepted.append(c)
    limit = binding.policy_of(scope.brand_id).receiver_limit
    load = load_of(scope.brand_id, [to.id])[to.id]
    rows: list[Transfer] = []
    for group in chunks([c.pk for c in accepted]):
        batch = new_batch()
        for cid in group:
            c = customers[cid]
            full = load + 1 > limit
            load += 0 if full else 1
            rows.append(
                Transfer(
                    brand_id=scope.brand_id,
                    batch=batch,
                    kind=TransferKind.IN_SERVICE,
                    customer=c,
                    from_guide_id=int(c.guide_id or 0),
                    to_guide_id=to.id,
                    status=TransferStatus.RECEIVER_AT_LIMIT if full else TransferStatus.WAITING,
                    requested_at=now,
                    takeover_at=now + TAKEOVER,
                    decided_at=now if full else None,
                    actor_label=(scope.label or "system")[:120],
                )
            )
    Transfer.objects.bulk_create(rows)
    result.transfers = rows
    result.batches = _record_batches(scope, rows, "transfer.request")
    return result


# --- Inheritance when a guide leaves ----------------------------------------------------------
@transaction.atomic
def hand_over_customers_of(
    scope: Scope, staff_id: int, to_guides: Sequence[int] | None = None, *, at: dt.datetime | None = None
) -> TransferResult:
    """Hand every customer of a leaving guide over: to ``to_guides`` or, when none are chosen, to
    the active guides of her store, least loaded first (balanced). Refuses (``ValidationError``,
    nothing changed) when nobody can take them: no customer is ever left without a guide."""
    now = at or clock.now()
    brand_id = scope.brand_id
    customers = list(
        live(Customer.objects.select_for_update(of=("self",)).filter(brand_id=brand_id, guide_id=staff_id)).order_by(
            "pk"
        )
    )
    incoming = list(
        Transfer.objects.select_for_update(of=("self",)).filter(
            brand_id=brand_id, to_guide_id=staff_id, status=TransferStatus.WAITING
        )
    )
    if not customers and not incoming:
        return TransferResult()
    leaver = org.staff_info(brand_id, staff_id)
    if to_guides:
        receivers = []
        for gid in dict.fromkeys(int(g) for g in to_guides):
            if gid == staff_id:
                raise ValidationError({"to_guides": _("She is the one leaving: choose other guides.")})
            receivers.append(binding.receiver(brand_id, gid, scope=scope, field="to_guides").id)
    else:
        store_id = leaver.store_id if leaver is not None else None
        receivers = (
            [g.id for g in org.guides(brand_id, store_id=store_id, active_only=True) if g.id != staff_id]
            if store_id is not None
            else []
        )
        if not receivers:
            n = len(customers) + len(incoming)
            raise ValidationError(
                {
                    "to_guides": ngettext(
                        "Her store has no other active guide: choose who takes over her %(n)d customer.",
                        "Her store has no other active guide: choose who takes over her %(n)d customers.",
                        n,
                    )
                    % {"n": n}
                }
            )
    limit = binding.policy_of(brand_id).receiver_limit
    loads = load_of(brand_id, receivers)
    heap = [(loads[g], n, g) for n, g in enumerate(receivers)]
    heapq.heapify(heap)

    def next_receiver() -> int:
        load, order, gid = heapq.heappop(heap)
        if load + 1 > limit:
            raise ValidationError({"to_guides": _("Every receiving guide is at the limit of customers she may hold.")})
        heapq.heappush(heap, (load + 1, order, gid))
        return gid

    label = (scope.label or "system")[:120]
    waiting_out = {
        t.customer_id: t
        for t in Transfer.objects.select_for_update(of=("self",)).filter(
            customer__in=customers, status=TransferStatus.WAITING
        )
    }
    rows: list[Transfer] = []
    plan: list[tuple[Customer, int]] = []
    for c in customers:
        pending = waiting_out.get(c.pk)
        if pending is not None and binding.can_receive(brand_id, pending.to_guide_id):
            plan.append((c, pending.to_guide_id))  # the waiting transfer's receiver takes her now
        else:
            if pending is not None:
                pending.status, pending.decided_at = TransferStatus.RECEIVER_AT_LIMIT, now
                pending.save(update_fields=["status", "decided_at"])
            plan.append((c, next_receiver()))
    for t in incoming:  # she was about to receive these: another guide of hers receives them
        t.to_guide_id = next_receiver()
        t.save(update_fields=["to_guide"])
    for group in chunks(list(range(len(plan)))):
        batch = new_batch()
        for index in group:
            c, gid = plan[index]
            binding.bind(c, guide_id=gid, source=BindingSource.INHERITANCE, at=now, actor_label=label, force=True)
            if c.pk in waiting_out and waiting_out[c.pk].status == TransferStatus.WAITING:
                continue  # her in-service transfer (now bound) records this hand-over
            rows.append(
                Transfer(
                    brand_id=brand_id,
                    batch=batch,
                    kind=TransferKind.INHERITANCE,
                    customer=c,
                    from_guide_id=staff_id,
                    to_guide_id=gid,
                    status=TransferStatus.WAITING,
                    requested_at=now,
                    takeover_at=now + TAKEOVER,
                    actor_label=label,
                )
            )
    Transfer.objects.bulk_create(rows)
    result = TransferResult(transfers=rows)
    result.batches = _record_batches(scope, rows, "transfer.inherit")
    return result


# --- Takeover, refusal ------------------------------------------------------------------------
def complete_due_transfers(at: dt.datetime | None = None, *, limit: int = 5000) -> int:
    """Mark waiting transfers whose takeover time has passed as done and rebind the customers
    (or "receiver at limit" when she can take no more). Idempotent: only waiting rows change."""
    now = at or clock.now()
    due = list(
        Transfer.objects.filter(status=TransferStatus.WAITING, takeover_at__lte=now)
        .order_by("takeover_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in due:
        with transaction.atomic():
            t = Transfer.objects.select_for_update(of=("self",)).filter(pk=pk, status=TransferStatus.WAITING).first()
            if t is None:
                continue  # another worker got it
            _take_over(t, now)
            done += 1
    return done


def _take_over(t: Transfer, now: dt.datetime) -> None:
    customer = Customer.objects.get(pk=t.customer_id)
    if t.kind == TransferKind.IN_SERVICE:
        policy = binding.policy_of(t.brand_id)
        at_limit = load_of(t.brand_id, [t.to_guide_id])[t.to_guide_id] > policy.receiver_limit
        if at_limit or not binding.can_receive(t.brand_id, t.to_guide_id):
            t.status, t.decided_at = TransferStatus.RECEIVER_AT_LIMIT, now
            t.save(update_fields=["status", "decided_at"])
            return
        if customer.merged_into_id is None and customer.erased_at is None:
            binding.bind(
                customer,
                guide_id=t.to_guide_id,
                source=BindingSource.TRANSFER,
                at=now,
                actor_label=t.actor_label,
                force=True,
            )
    t.status, t.decided_at = TransferStatus.DONE, now
    t.save(update_fields=["status", "decided_at"])


@transaction.atomic
def refuse_transfer(scope: Scope, transfer_id: int, *, at: dt.datetime | None = None) -> Transfer:
    """The customer refused a waiting in-service transfer (a WeCom callback, or the sandbox
    button): she stays with her guide."""
    if not scope.can(Perm.MEMBERS_BIND):
        raise PermissionDenied(Perm.MEMBERS_BIND)
    t = get_scoped(Transfer.objects.select_for_update(of=("self",)), scope, pk=transfer_id)
    if t.kind != TransferKind.IN_SERVICE:
        raise ValidationError({"transfer": _("Only an in-service transfer can be refused by the customer.")})
    if t.status != TransferStatus.WAITING:
        raise ValidationError({"transfer": _("This transfer is no longer waiting.")})
    t.status, t.decided_at = TransferStatus.REFUSED, at or clock.now()
    t.save(update_fields=["status", "decided_at"])
    audit.record_by(scope, "transfer.refused", t, before={"status": "waiting"}, after={"status": t.status})
    return t


def visible_transfers(
    scope: Scope, *, status: str | None = None, batch: str | None = None, kind: str | None = None
) -> QuerySet[Transfer]:
    qs = restrict(Transfer, scope)
    if status:
        qs = qs.filter(status=status)
    if batch:
        qs = qs.filter(batch=batch)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-requested_at", "-id")


def transfers_of(customer_ids: Iterable[int]) -> QuerySet[Transfer]:
    return Transfer.objects.filter(Q(customer_id__in=list(customer_ids))).order_by("-requested_at", "-id")


@periodic(crontab(minute="*/5"))
def complete_due_transfers_job() -> int:
    """Every five minutes: take over the transfers whose 24 hours have passed (idempotent)."""
    return complete_due_transfers()
