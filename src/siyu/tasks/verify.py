"""Verification: credits from what the platform sees, and completion that pays exactly once.

* Live: :func:`on_events` (share events of guides, bindings to them) and :func:`on_guide_done` (an
  article read, a quiz passed) credit the guide's open assignments as facts arrive.
* Correct: :func:`recompute` rebuilds the credits of open assignments from the facts themselves
  (bindings, the event lake, the guide's own share records and outreach, approved photos,
  learning). A credit is unique per ``(assignment, key)``, so live and recompute never count twice.
* :func:`complete`: an open assignment whose progress reached its target becomes done with one
  conditional ``UPDATE``; only the transaction that made that change pays the coins
  (``incentives.award``, key ``task:<id>``, idempotent too) and records ``tasks_done`` on the
  leaderboards, and on commit tells the other domains (``hooks.guide_done(..., "task.done", id)``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, F

from siyu.incentives import services as incentives
from siyu.learning import services as learning
from siyu.platform import clock, hooks
from siyu.tasks import rules
from siyu.tasks.models import (
    Assignment,
    CountMode,
    Credit,
    FollowUp,
    Kind,
    LearnKind,
    ShareChannel,
    ShareRecord,
    Submission,
    Task,
)

log = logging.getLogger(__name__)
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


# --- credits ---------------------------------------------------------------------------------
def window_end(a: Assignment, task: Task) -> dt.datetime:
    """Until when facts count: the deadline when the task closes then, else until it is done."""
    return a.due_at if task.auto_close else FAR_FUTURE


def add_credits(brand_id: int, credits: Iterable[tuple[int, str, str]], *, at: dt.datetime | None = None) -> list[int]:
    """Record ``(assignment_id, key, source)`` credits (repeats are ignored), bring the progress of
    the assignments concerned up to date and complete those that reached their target. Returns
    the ids of the assignments completed now."""
    at = at or clock.now()
    rows = {(a, k): s for a, k, s in credits}
    if not rows:
        return []
    with transaction.atomic():
        Credit.objects.bulk_create(
            [Credit(brand_id=brand_id, assignment_id=a, key=k[:80], source=s, at=at) for (a, k), s in rows.items()],
            ignore_conflicts=True,
        )
        ids = sorted({a for a, _k in rows})
        return refresh(ids, at=at)


REFRESH_BATCH = 5_000


def refresh(assignment_ids: Sequence[int], *, at: dt.datetime | None = None) -> list[int]:
    """Set the progress of these assignments to their number of credits; complete the open ones
    that reached their target. Returns the ids completed now.

    In bulk: per batch, one count of the credits, one read of the assignments (values, no model
    objects) and one ``UPDATE`` per distinct new progress; only the ones to complete go one by one
    (each completion is its own conditional update and payment)."""
    at = at or clock.now()
    ids = sorted(set(assignment_ids))
    due: list[int] = []
    for i in range(0, len(ids), REFRESH_BATCH):
        chunk = ids[i : i + REFRESH_BATCH]
        counts = dict(
            Credit.objects.filter(assignment_id__in=chunk)
            .order_by()
            .values("assignment_id")
            .annotate(n=Count("id"))
            .values_list("assignment_id", "n")
        )
        changed: dict[int, list[int]] = {}
        rows = Assignment.objects.filter(pk__in=chunk).values_list("pk", "progress", "status", "target")
        for pk, progress, status, target in rows:
            n = int(counts.get(pk, 0))
            if n != progress:
                changed.setdefault(n, []).append(pk)
            if status == Assignment.Status.OPEN and n >= target:
                due.append(pk)
        for n, pks in changed.items():
            Assignment.objects.filter(pk__in=pks).update(progress=n)
    return [pk for pk in sorted(due) if complete(pk, at=at)]


def complete(assignment_id: int, *, at: dt.datetime | None = None) -> bool:
    """Mark an open assignment that reached its target done and pay for it: exactly once, whoever
    calls and however often (retries, concurrent listeners). Returns whether this call did it."""
    at = at or clock.now()
    with transaction.atomic():
        changed = Assignment.objects.filter(
            pk=assignment_id, status=Assignment.Status.OPEN, progress__gte=F("target")
        ).update(status=Assignment.Status.DONE, completed_at=at)
        if not changed:
            return False
        a = Assignment.objects.select_related("task").get(pk=assignment_id)
        pay(a, at=at)
        brand_id, guide_id = a.brand_id, a.guide_id
        transaction.on_commit(lambda: hooks.guide_done(brand_id, guide_id, "task.done", assignment_id))
    return True


def pay(a: Assignment, *, at: dt.datetime) -> bool:
    """Pay a done assignment's coins and count it on the leaderboards, in the caller's transaction.
    Both calls are idempotent on ``task:<id>``, so paying again pays nothing more."""
    key = f"task:{a.pk}"
    if a.coins > 0:
        incentives.award(
            a.brand_id,
            a.guide_id,
            a.coins,
            key=key,
            reason=a.task.title[:80],
            source_type="task",
            source_id=a.pk,
        )
    incentives.leaderboards.record(
        a.brand_id,
        "tasks_done",
        a.guide_id,
        1,
        key=key,
        at=a.completed_at or at,
        store_id=a.store_id,
        region_id=a.region_id,
    )
    Assignment.objects.filter(pk=a.pk, paid_at=None).update(paid_at=at)
    return True


def pay_pending(limit: int = 5_000) -> int:
    """Pay done assignments not yet paid (done before this release, or a payment that failed and
    was logged): each in its own transaction, idempotent. Returns how many were paid."""
    paid = 0
    now = clock.now()
    ids = list(
        Assignment.objects.filter(status=Assignment.Status.DONE, paid_at=None).values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            a = Assignment.objects.select_for_update().select_related("task").get(pk=pk)
            if a.paid_at is None and pay(a, at=now):
                paid += 1
    return paid


# --- live: what the platform hears ----------------------------------------------------------------
def _at(micros: Any) -> dt.datetime:
    if isinstance(micros, dt.datetime):
        return micros
    return dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)


def _property(properties: Any, name: str) -> str | None:
    """One property of an event (its properties are compact JSON text in the lake)."""
    if not properties:
        return None
    import orjson

    try:
        value = (orjson.loads(properties) if isinstance(properties, str | bytes) else properties).get(name)
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(value) if value else None


def share_counts_for(task: Task, content_id: str | None, channel: str | None) -> bool:
    """Whether a share (of ``content_id``, through ``channel``; ``None``: to a customer, one to
    one) counts for a forward task."""
    if task.content_id and content_id != task.content_id:
        return False
    if task.share_channel == ShareChannel.ANY:
        return True
    return (channel or ShareChannel.ONE_TO_ONE) == task.share_channel


def share_key(
    task: Task, *, event_id: str | None = None, customer_id: int | None = None, own_id: int | None = None
) -> str | None:
    """The credit key of a share: per share (times) or per receiver (customers). A share with no
    receiver (Moments, a group) counts only in times."""
    if task.count_mode == CountMode.CUSTOMERS:
        return f"cust:{customer_id}" if customer_id else None
    if own_id is not None:
        return f"own:{own_id}"
    return f"event:{event_id}"


def _open_of(brand_id: int, guide_ids: Iterable[int], kind: str, at: dt.datetime) -> list[Assignment]:
    found = (
        Assignment.objects.filter(
            brand_id=brand_id, guide_id__in=list(guide_ids), kind=kind, status=Assignment.Status.OPEN, starts_at__lte=at
        )
        .select_related("task")
        .order_by("pk")
    )
    return [a for a in found if at < window_end(a, a.task)]


def on_events(brand_id: int, events: Sequence[dict[str, Any]]) -> None:
    """``hooks.on_events`` listener: a guide's share events credit her open forward tasks; a
    binding to her (``custom:bind``, from a source that counts as a fan she gained) her open
    gain-fans tasks; an order paid and attributed to her (``order``) her open sales tasks, and its
    refund (``refund``) takes it off again."""
    _on_orders(brand_id, hooks.events_of(events, ("order", "refund"), present=("guide_id",)))
    mine = [e for e in hooks.events_of(events, ("share", "custom:bind"), present=("guide_id",)) if e.get("guide_id")]
    if not mine:
        return
    credits: list[tuple[int, str, str]] = []
    for e in mine:
        at = _at(e.get("at"))
        guide_id = int(e["guide_id"])
        if e["type"] == "custom:bind":
            if _property(e.get("properties"), "source") not in rules.GAINED_SOURCES or not e.get("customer_id"):
                continue
            for a in _open_of(brand_id, [guide_id], Kind.FANS, at):
                credits.append((a.pk, f"bind:{int(e['customer_id'])}", Credit.Source.BINDING))
            continue
        for a in _open_of(brand_id, [guide_id], Kind.FORWARD, at):
            if not share_counts_for(a.task, e.get("content_id"), _property(e.get("properties"), "channel")):
                continue
            key = share_key(a.task, event_id=str(e["event_id"]), customer_id=e.get("customer_id"))
            if key:
                credits.append((a.pk, key, Credit.Source.SHARE))
    add_credits(brand_id, credits)


def _order_id(event_id: Any) -> int | None:
    """The order of an ``order:<id>:paid`` / ``order:<id>:refund`` event (the platform's own)."""
    kind, _sep, rest = str(event_id or "").partition(":")
    ref = rest.partition(":")[0]
    return int(ref) if kind == "order" and ref.isdigit() else None


def sale_counts_for(task: Task, sale: Any) -> bool:
    """Whether a paid order (an ``orders.SaleInfo``) counts for a sales task: not refunded, of at
    least the task's minimum amount, with the task's style among its lines when it names one."""
    if sale.refunded or sale.amount_fen < task.min_order_fen:
        return False
    return not task.product_code or task.product_code in sale.product_codes


def sale_key(order_id: int) -> str:
    return f"order:{order_id}"


def _on_orders(brand_id: int, events: Sequence[dict[str, Any]]) -> None:
    """Paid orders credit the open sales tasks of the guide they are attributed to, as the orders
    domain tells them (``orders.sales_of``: the event only says which order); a refund takes the
    order's credit off every sales task of hers that counted it. Coins paid for a completion stay
    (ADR 0017)."""
    from siyu.orders import services as orders

    paid = sorted({i for e in events if e["type"] == "order" and (i := _order_id(e.get("event_id")))})
    refunded = sorted({i for e in events if e["type"] == "refund" and (i := _order_id(e.get("event_id")))})
    credits: list[tuple[int, str, str]] = []
    for sale in orders.sales_of(brand_id, paid) if paid else []:
        if sale.guide_id is None:
            continue
        for a in _open_of(brand_id, [sale.guide_id], Kind.SALES, sale.paid_at):
            if sale_counts_for(a.task, sale):
                credits.append((a.pk, sale_key(sale.order_id), Credit.Source.SALE))
    add_credits(brand_id, credits)
    if refunded:
        guides = sorted({int(e["guide_id"]) for e in events if e["type"] == "refund"})
        withdraw(brand_id, [sale_key(i) for i in refunded], guide_ids=guides)


def withdraw(brand_id: int, keys: Sequence[str], *, guide_ids: Sequence[int] | None = None) -> list[int]:
    """Take these credits off the sales assignments that hold them (of these guides, when given) and
    bring their progress down. A done assignment stays done and keeps its coins. Returns the ids
    of the assignments changed."""
    if not keys:
        return []
    with transaction.atomic():
        found = Credit.objects.filter(brand_id=brand_id, key__in=list(keys), assignment__kind=Kind.SALES)
        if guide_ids is not None:
            found = found.filter(assignment__guide_id__in=list(guide_ids))
        ids = sorted(set(found.values_list("assignment_id", flat=True)))
        if not ids:
            return []
        Credit.objects.filter(assignment_id__in=ids, key__in=list(keys)).delete()
        refresh(ids)
    return ids


def on_guide_done(brand_id: int, guide_id: int, kind: str, ref_id: int | None) -> None:
    """``hooks.on_guide_done`` listener: an article read or a quiz passed credits her open learn
    tasks on that article or quiz."""
    if kind not in ("learn.read", "learn.passed") or ref_id is None:
        return
    now = clock.now()
    wanted = LearnKind.READ if kind == "learn.read" else LearnKind.QUIZ
    credits = [
        (a.pk, f"learn:{ref_id}", Credit.Source.LEARN)
        for a in _open_of(brand_id, [guide_id], Kind.LEARN, now)
        if a.task.learn_kind == wanted and a.task.learn_ref == ref_id
    ]
    add_credits(brand_id, credits, at=now)


# --- correct: recompute from the facts -----------------------------------------------------------
def recompute(brand_id: int, assignments: Sequence[Assignment] | None = None) -> list[int]:
    """Rebuild the credits of open assignments (all of the brand's, or those given, with their
    task loaded) from the facts, then complete those that reached their target. Returns the ids
    completed."""
    if assignments is None:
        assignments = list(
            Assignment.objects.filter(brand_id=brand_id, status=Assignment.Status.OPEN, starts_at__lte=clock.now())
            .select_related("task")
            .order_by("pk")
        )
    credits: list[tuple[int, str, str]] = []
    by_kind: dict[str, list[Assignment]] = {}
    for a in assignments:
        by_kind.setdefault(a.kind, []).append(a)
    credits += _fans(brand_id, by_kind.get(Kind.FANS, []))
    credits += _forwards(brand_id, by_kind.get(Kind.FORWARD, []))
    credits += _follow_ups(by_kind.get(Kind.FOLLOW_UP, []))
    credits += _photos(by_kind.get(Kind.STORE_ACTION, []))
    credits += _learning(brand_id, by_kind.get(Kind.LEARN, []))
    sales, refunded = _sales(brand_id, by_kind.get(Kind.SALES, []))
    credits += sales
    withdraw(brand_id, refunded, guide_ids=sorted({a.guide_id for a in by_kind.get(Kind.SALES, [])}))
    done = add_credits(brand_id, credits)
    others = [a.pk for a in assignments]
    return sorted(set(done) | set(refresh(others)))


def _groups(items: list[Assignment]) -> dict[int, list[Assignment]]:
    """Assignments by occurrence: one round shares its window, so its facts are read in one query."""
    found: dict[int, list[Assignment]] = {}
    for a in items:
        found.setdefault(a.occurrence_id, []).append(a)
    return found


def _end(a: Assignment) -> dt.datetime:
    return min(window_end(a, a.task), clock.now() + dt.timedelta(seconds=1))


def _fans(brand_id: int, items: list[Assignment]) -> list[tuple[int, str, str]]:
    from siyu.members import services as members

    out: list[tuple[int, str, str]] = []
    for group in _groups(items).values():
        first = group[0]
        gained = members.gained_customers(
            brand_id, [a.guide_id for a in group], first.starts_at, _end(first), rules.GAINED_SOURCES
        )
        for a in group:
            out += [(a.pk, f"bind:{c}", Credit.Source.BINDING) for c in sorted(gained.get(a.guide_id, ()))]
    return out


def _forwards(brand_id: int, items: list[Assignment]) -> list[tuple[int, str, str]]:
    from siyu.events import services as events

    out: list[tuple[int, str, str]] = []
    for group in _groups(items).values():
        first = group[0]
        task, start, end = first.task, first.starts_at, _end(first)
        mine = {a.guide_id: a for a in group}
        for s in events.guide_shares(brand_id, list(mine), start, end, content_id=task.content_id or None):
            a = mine[s.guide_id]
            if share_counts_for(task, s.content_id, s.channel):
                key = share_key(task, event_id=s.event_id, customer_id=s.customer_id)
                if key:
                    out.append((a.pk, key, Credit.Source.SHARE))
        own = ShareRecord.objects.filter(guide_id__in=list(mine), at__gte=start, at__lt=end)
        for r in own:
            if share_counts_for(task, r.content_id or None, r.channel):
                key = share_key(task, own_id=r.pk)
                if key:
                    out.append((mine[r.guide_id].pk, key, Credit.Source.SHARE))
    return out


def _follow_ups(items: list[Assignment]) -> list[tuple[int, str, str]]:
    rows = FollowUp.objects.filter(assignment__in=items, outcome__in=rules.COUNTED_OUTCOMES)
    return [(f.assignment_id, f"outreach:{f.customer_id}", Credit.Source.OUTREACH) for f in rows]


def _photos(items: list[Assignment]) -> list[tuple[int, str, str]]:
    rows = Submission.objects.filter(assignment__in=items, status=Submission.Status.APPROVED)
    return [(s.assignment_id, f"photo:{s.pk}", Credit.Source.PHOTO) for s in rows]


def _learning(brand_id: int, items: list[Assignment]) -> list[tuple[int, str, str]]:
    if not items:
        return []
    out: list[tuple[int, str, str]] = []
    for a in items:
        ref = a.task.learn_ref
        if ref is None:
            continue
        check = learning.has_read if a.task.learn_kind == LearnKind.READ else learning.has_passed
        if check(brand_id, a.guide_id, ref):
            out.append((a.pk, f"learn:{ref}", Credit.Source.LEARN))
    return out


def _sales(brand_id: int, items: list[Assignment]) -> tuple[list[tuple[int, str, str]], list[str]]:
    """The credits of the orders that count for these sales assignments, and the keys of the orders
    of their windows refunded since (a credit a listener added before the refund is taken off)."""
    from siyu.orders import services as orders

    out: list[tuple[int, str, str]] = []
    refunded: list[str] = []
    for group in _groups(items).values():
        first = group[0]
        task, mine = first.task, {a.guide_id: a for a in group}
        for sale in orders.guide_sales(brand_id, list(mine), first.starts_at, _end(first)):
            if sale.refunded:
                refunded.append(sale_key(sale.order_id))
            elif sale.guide_id in mine and sale_counts_for(task, sale):
                out.append((mine[sale.guide_id].pk, sale_key(sale.order_id), Credit.Source.SALE))
    return out, refunded
