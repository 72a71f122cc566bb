"""Fan-out: a task's round becomes one assignment per guide it reaches, written in bulk.

The recipients are read in one query (``org.posted_staff``: ids, roles, stores, regions, no model
objects), filtered by the pure targeting rule, and inserted with one raw ``INSERT`` per batch
(``executemany``) on SQLite or one ``COPY`` stream on PostgreSQL. A round and its assignments are
written in one transaction with the task row locked, and ``(occurrence, guide)`` is unique: a
retried or concurrent fan-out adds nothing twice (ADR 0017).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from siyu.org import services as org
from siyu.platform import clock
from siyu.tasks import rules
from siyu.tasks.models import Assignment, FollowUp, Kind, Occurrence, Task

ASSIGNMENT_COLUMNS = (
    "brand_id",
    "task_id",
    "occurrence_id",
    "guide_id",
    "store_id",
    "region_id",
    "kind",
    "starts_at",
    "due_at",
    "target",
    "progress",
    "status",
    "completed_at",
    "coins",
    "paid_at",
    "escalated_at",
)
FOLLOW_UP_COLUMNS = ("brand_id", "assignment_id", "customer_id", "outcome", "note", "contacted_at", "attempts")
BATCH = 20_000


def targeting_of(task: Task) -> rules.Targeting:
    return rules.Targeting(
        whole_brand=task.whole_brand,
        region_ids=frozenset(int(i) for i in task.region_ids),
        store_ids=frozenset(int(i) for i in task.store_ids),
        roles=frozenset(str(r) for r in task.roles),
        guide_ids=frozenset(int(i) for i in task.guide_ids),
    )


@dataclass
class Plan:
    people: list[rules.Person]
    targets: dict[int, int]
    lists: dict[int, list[int]] = field(default_factory=dict)  # follow-up: guide -> her customers in the segment
    without_list: int = 0


def plan(task: Task) -> Plan:
    """Who receives a round of ``task`` and the target of each (all of them: the preview)."""
    return _follow_up_plan(task) if task.kind == Kind.FOLLOW_UP else _whole(task)


def _whole(task: Task) -> Plan:
    whole = Plan([], {})
    for part in _plans(task):
        whole.people += part.people
        whole.targets.update(part.targets)
    return whole


def _plans(task: Task) -> Iterator[Plan]:
    """The recipients a chunk of staff at a time (at most ``BATCH``), in id order."""
    t = targeting_of(task)
    roles = t.roles or frozenset({"guide"})
    for chunk in org.posted_staff_chunks(task.brand_id, roles=roles, ids=t.guide_ids, size=BATCH):
        people = rules.recipients(t, (rules.Person(p.id, p.role, p.store_id, p.region_id) for p in chunk))
        target, own = task.target, task.targets
        yield Plan(people, {p.id: rules.target_of(target, own, p.id) for p in people})


def _follow_up_plan(task: Task) -> Plan:
    """A follow-up's recipients all at once: each guide's list is the segment's audience intersected
    with her customers, and a guide with an empty list receives nothing."""
    whole = _whole(task)
    people, targets = whole.people, whole.targets
    lists = follow_up_lists(task.brand_id, int(task.segment_id or 0), {p.id for p in people})
    kept = [p for p in people if lists.get(p.id)]
    for p in kept:
        size = len(lists[p.id])
        targets[p.id] = size if targets[p.id] == 0 else min(targets[p.id], size)
    return Plan(kept, {p.id: targets[p.id] for p in kept}, lists, len(people) - len(kept))


def follow_up_lists(brand_id: int, segment_id: int, guide_ids: set[int]) -> dict[int, list[int]]:
    """The segment's audience intersected with each guide's own customers (guide -> customers)."""
    from siyu.members import services as members
    from siyu.segments import services as segments

    audience = segments.members_of(brand_id, segment_id)
    lists: dict[int, list[int]] = {}
    for customer_id, guide_id in sorted(members.guides_of(brand_id, audience).items()):
        if guide_id in guide_ids:
            lists.setdefault(guide_id, []).append(customer_id)
    return lists


def db_value(value: Any) -> Any:
    """A value as the database driver takes it (a datetime: SQLite stores text); convert once per
    fan-out, not once per row."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def bulk_insert(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows with one statement per batch (SQLite) or one ``COPY`` stream (PostgreSQL). The
    values are already in the driver's form (:func:`db_value`)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            return
        sql = f"INSERT INTO {qn(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])


def fan_out(task: Task, r: rules.Round, *, now: dt.datetime) -> int:
    """Create round ``r`` of ``task`` and its assignments (the caller holds the task's lock, in a
    transaction). Returns how many assignments were created; 0 if the round already exists."""
    if Occurrence.objects.filter(task=task, seq=r.seq).exists():
        return 0
    occ = Occurrence.objects.create(
        brand_id=task.brand_id,
        task=task,
        seq=r.seq,
        starts_at=r.starts_at,
        due_at=r.due_at,
        assigned=0,
        created_at=now,
    )
    # A follow-up's lists need every recipient at once; any other kind is read and written a chunk
    # at a time, so the fan-out's memory does not grow with the brand.
    plans = [_follow_up_plan(task)] if task.kind == Kind.FOLLOW_UP else _plans(task)
    open_ = str(Assignment.Status.OPEN)
    starts, due, kind = db_value(r.starts_at), db_value(r.due_at), str(task.kind)
    assigned = 0
    for p in plans:
        rows = [
            (
                task.brand_id,
                task.pk,
                occ.pk,
                person.id,
                person.store_id,
                person.region_id,
                kind,
                starts,
                due,
                p.targets[person.id],
                0,
                open_,
                None,
                task.coins,
                None,
                None,
            )
            for person in p.people
        ]
        bulk_insert(Assignment._meta.db_table, ASSIGNMENT_COLUMNS, rows)
        assigned += len(rows)
        if p.lists:
            ids = dict(Assignment.objects.filter(occurrence=occ).values_list("guide_id", "pk"))
            follow = [
                (task.brand_id, ids[gid], cid, "", "", None, 0)
                for gid in sorted(ids)
                for cid in p.lists.get(gid, [])[: p.targets[gid]]
            ]
            bulk_insert(FollowUp._meta.db_table, FOLLOW_UP_COLUMNS, follow)
    occ.assigned = assigned
    occ.save(update_fields=["assigned"])
    return assigned


def create_due_rounds(task: Task, *, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """Create every round of a published task that is due by ``now`` (with its assignments);
    returns ``(seq, assignments)`` per round created. The caller has locked the task row."""
    now = now or clock.now()
    if task.status != Task.Status.PUBLISHED:
        return []
    due = rules.rounds_due(
        task.repeat,
        task.starts_at,
        task.deadline_at,
        task.repeat_until,
        task.last_seq,
        now,
        timezone.get_current_timezone(),
    )
    created = []
    for r in due:
        created.append((r.seq, fan_out(task, r, now=now)))
        task.last_seq = r.seq
    if due:
        task.save(update_fields=["last_seq"])
    return created


def run_schedules(brand_id: int | None = None, *, now: dt.datetime | None = None) -> int:
    """The periodic job's work: every published repeating task gets its rounds that have started
    (one transaction per task). Returns how many assignments were created."""
    now = now or clock.now()
    qs = Task.objects.filter(status=Task.Status.PUBLISHED).exclude(repeat="once")
    if brand_id is not None:
        qs = qs.filter(brand_id=brand_id)
    total = 0
    for task_id in qs.values_list("pk", flat=True):
        with transaction.atomic():
            task = Task.objects.select_for_update().get(pk=task_id)
            total += sum(n for _seq, n in create_due_rounds(task, now=now))
    return total
