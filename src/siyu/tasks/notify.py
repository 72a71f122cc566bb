"""Reminders to guides and escalation of overdue work to store managers, through the channel
adapter (the SMS sandbox for now: ``channels.send_notice``).

* A guide gets **at most three reminders in any 24 hours** (``rules.REMINDERS_PER_DAY``): sending
  locks her :class:`ReminderGate` row, counts what she got in the last 24 h and refuses beyond.
* Overdue work (past its deadline and not done) is escalated **once per assignment**: one notice per
  store and run to each of its managers, who also see it on their overdue list.
* Rounds of tasks that close at their deadline are marked missed then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock
from siyu.platform.tenancy import Scope, get_scoped
from siyu.tasks import rules
from siyu.tasks.models import Assignment, Escalation, Occurrence, Reminder, ReminderGate, Task

log = logging.getLogger(__name__)
PURPOSE_REMIND = "tasks.reminder"
PURPOSE_ESCALATE = "tasks.overdue"


def _lock(brand_id: int, guide_id: int) -> None:
    gates = ReminderGate.objects.select_for_update().filter(guide_id=guide_id)
    if gates.first() is None:
        try:
            with transaction.atomic():
                ReminderGate.objects.create(brand_id=brand_id, guide_id=guide_id)
        except IntegrityError:
            gates.get()


def _send(brand_id: int, phone: str | None, text: str, purpose: str) -> str:
    """Hand the text to the channel adapter; a guide without a mobile sees it in the workbench only."""
    if not phone:
        return ""
    from siyu.channels import services as channels

    try:
        return channels.send_notice(brand_id, phone, text, purpose=purpose)
    except Exception:  # a refused number never blocks the task's bookkeeping
        log.exception("notice to staff of brand %s not sent", brand_id)
        return ""


def remind(brand_id: int, guide_id: int, text: str, *, assignment_id: int | None = None) -> Reminder | None:
    """Send one reminder to a guide, unless she already got three in the last 24 hours (then
    nothing is sent and ``None`` returned)."""
    now = clock.now()
    with transaction.atomic():
        _lock(brand_id, guide_id)
        sent = list(
            Reminder.objects.filter(guide_id=guide_id, sent_at__gt=now - rules.REMINDER_WINDOW).values_list(
                "sent_at", flat=True
            )
        )
        if rules.reminders_left(sent, now) <= 0:
            return None
        info = org.staff_info(brand_id, guide_id)
        phone = org.phones_of_staff(brand_id, [guide_id]).get(guide_id)
        ref = _send(brand_id, phone, text, PURPOSE_REMIND)
        return Reminder.objects.create(
            brand_id=brand_id,
            guide_id=guide_id,
            store_id=info.store_id if info else None,
            assignment_id=assignment_id,
            text=text[:300],
            channel_ref=ref,
            sent_at=now,
        )


def _open_counts(brand_id: int, now: dt.datetime, task_id: int | None = None) -> Counter[int]:
    qs = Assignment.objects.filter(brand_id=brand_id, status=Assignment.Status.OPEN, starts_at__lte=now)
    if task_id is not None:
        qs = qs.filter(task_id=task_id)
    return Counter(qs.values_list("guide_id", flat=True))


def _text(brand: str, n: int) -> str:
    return ngettext(
        "[%(brand)s] You have %(n)d task to finish today. Open the workbench: Today.",
        "[%(brand)s] You have %(n)d tasks to finish today. Open the workbench: Today.",
        n,
    ) % {"brand": brand, "n": n}


def remind_open(brand_id: int, *, task_id: int | None = None) -> tuple[int, int]:
    """Remind every guide with open work (of one task, or any): one reminder each, within the
    limit. Returns ``(sent, refused by the limit)``."""
    now = clock.now()
    sent = refused = 0
    brand = org.brand_name(brand_id)  # once, not per guide
    for guide_id, n in sorted(_open_counts(brand_id, now, task_id).items()):
        if remind(brand_id, guide_id, _text(brand, n)) is None:
            refused += 1
        else:
            sent += 1
    return sent, refused


def remind_task(scope: Scope, task_id: int) -> tuple[int, int]:
    """HQ: remind the guides who have not finished a task yet."""
    if not scope.can(Perm.TASKS_MANAGE):
        raise PermissionDenied(Perm.TASKS_MANAGE)
    task = get_scoped(Task, scope, pk=task_id)
    result = remind_open(scope.brand_id, task_id=task.pk)
    audit.record_by(scope, "task.remind", task, after={"sent": result[0], "refused": result[1]})
    return result


def close_expired(*, now: dt.datetime | None = None) -> int:
    """Open assignments of tasks that close at their deadline become missed once it passes; a
    task whose last round is over closes. Returns how many assignments were marked missed."""
    now = now or clock.now()
    closing = Assignment.objects.filter(status=Assignment.Status.OPEN, due_at__lte=now, task__auto_close=True)
    missed = closing.update(status=Assignment.Status.MISSED)
    Occurrence.objects.filter(closed_at=None, due_at__lte=now, task__auto_close=True).update(closed_at=now)
    over = Task.objects.filter(status=Task.Status.PUBLISHED, deadline_at__lte=now).filter(
        Q(repeat="once") | Q(repeat_until__isnull=False)
    )
    for task in over:
        last_due = task.deadline_at
        if task.repeat != "once":
            if task.last_seq == 0:
                continue
            last = rules.round_of(task.last_seq, task.repeat, task.starts_at, task.deadline_at)
            nxt = rules.round_of(task.last_seq + 1, task.repeat, task.starts_at, task.deadline_at)
            if task.repeat_until is None or timezone.localdate(nxt.starts_at) <= task.repeat_until:
                continue
            last_due = last.due_at
        if last_due <= now and (task.auto_close or task.repeat != "once"):
            Task.objects.filter(pk=task.pk, status=Task.Status.PUBLISHED).update(
                status=Task.Status.CLOSED, closed_at=now
            )
    return missed


def escalate(*, now: dt.datetime | None = None) -> int:
    """Tell each store's managers about work newly overdue in their store (once per assignment).
    Returns how many notices were written."""
    now = now or clock.now()
    notices = 0
    overdue = Assignment.objects.filter(
        escalated_at=None,
        due_at__lte=now,
        status__in=(Assignment.Status.OPEN, Assignment.Status.MISSED),
        store__isnull=False,
    )
    by_store: dict[tuple[int, int], list[int]] = {}
    for pk, brand_id, store_id in overdue.values_list("pk", "brand_id", "store_id").order_by("pk")[:50_000]:
        by_store.setdefault((brand_id, store_id), []).append(pk)
    for (brand_id, store_id), ids in sorted(by_store.items()):
        with transaction.atomic():
            marked = Assignment.objects.filter(pk__in=ids, escalated_at=None).update(escalated_at=now)
            if not marked:
                continue
            managers = org.store_managers(brand_id, [store_id]).get(store_id, [])
            phones = org.phones_of_staff(brand_id, [m.id for m in managers])
            text = ngettext(
                "[%(brand)s] %(n)d task of your team is overdue. See the workbench: Today, overdue.",
                "[%(brand)s] %(n)d tasks of your team are overdue. See the workbench: Today, overdue.",
                marked,
            ) % {"brand": org.brand_name(brand_id), "n": marked}
            recipients: list[org.StaffInfo | None] = list(managers) or [None]
            for manager in recipients:
                ref = _send(brand_id, phones.get(manager.id) if manager else None, text, PURPOSE_ESCALATE)
                Escalation.objects.create(
                    brand_id=brand_id,
                    store_id=store_id,
                    manager_id=manager.id if manager else None,
                    overdue=marked,
                    text=text,
                    channel_ref=ref,
                    at=now,
                )
                notices += 1
    return notices


def escalations(scope: Scope, *, limit: int = 20) -> list[Escalation]:
    from siyu.platform.tenancy import restrict

    if not scope.can(Perm.TASKS_VIEW):
        raise PermissionDenied(Perm.TASKS_VIEW)
    return list(restrict(Escalation, scope).order_by("-at", "-id")[:limit])
