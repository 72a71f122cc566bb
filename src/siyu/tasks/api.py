"""REST endpoints of guide tasks: design (create, read, edit a draft, preview, publish, close,
remind), completion per guide / store / region / brand and the overdue list (within reach), a
guide's work today and her one-tap actions (share, outreach), and photo decisions. Every call goes
through :mod:`siyu.tasks.services`.

Module note: no ``from __future__ import annotations`` (django-ninja reads the annotations)."""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.org.services import Perm
from siyu.platform.api import Input, PageQuery, answers, created, current_scope, page_of, paginate, requires
from siyu.tasks import services
from siyu.tasks.models import Assignment, Task
from siyu.tasks.progress import Line

router = Router()
TAGS = ["tasks"]


class TaskIn(Input):
    title: str = Field(max_length=80)
    kind: Literal["fans", "forward", "follow_up", "store_action", "learn", "sales"]
    description: str = Field("", max_length=2000)
    content_id: str = Field("", max_length=64, description="Forward: the content's id; empty: any content.")
    share_channel: Literal["any", "moments", "group", "one_to_one"] = "any"
    count_mode: Literal["times", "customers"] = "times"
    segment_id: int | None = Field(None, description="Follow up: the segment whose customers each guide follows up.")
    learn_kind: Literal["", "read", "quiz"] = ""
    learn_ref: int | None = Field(None, description="Learn: the article or quiz id.")
    min_order_fen: int = Field(
        0, ge=0, le=100_000_000, description="Sales: count only orders paid of at least this amount (fen); 0: any."
    )
    product_code: str = Field(
        "", max_length=32, description="Sales: count only orders with this style among their lines; empty: any."
    )
    whole_brand: bool = False
    region_ids: list[int] = []
    store_ids: list[int] = []
    roles: list[Literal["guide", "store_manager"]] = []
    guide_ids: list[int] = []
    target: int = Field(1, ge=0, le=10_000)
    targets: dict[str, int] = Field({}, description="Named guides' own targets: guide id -> target.")
    repeat: Literal["once", "daily", "weekly"] = "once"
    starts_at: dt.datetime
    deadline_at: dt.datetime = Field(description="Of the first round.")
    repeat_until: dt.date | None = None
    auto_close: bool = True
    coins: int = Field(0, ge=0, le=100_000)


class TaskPatch(Input):
    title: str | None = Field(None, max_length=80)
    description: str | None = Field(None, max_length=2000)
    target: int | None = Field(None, ge=0, le=10_000)
    targets: dict[str, int] | None = None
    min_order_fen: int | None = Field(None, ge=0, le=100_000_000)
    product_code: str | None = Field(None, max_length=32)
    whole_brand: bool | None = None
    region_ids: list[int] | None = None
    store_ids: list[int] | None = None
    roles: list[Literal["guide", "store_manager"]] | None = None
    guide_ids: list[int] | None = None
    starts_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    repeat_until: dt.date | None = None
    coins: int | None = Field(None, ge=0, le=100_000)


class TaskOut(Schema):
    id: int
    title: str
    kind: str
    status: str
    description: str
    content_id: str
    share_channel: str
    count_mode: str
    segment_id: int | None
    learn_kind: str
    learn_ref: int | None
    min_order_fen: int
    product_code: str
    whole_brand: bool
    region_ids: list[int]
    store_ids: list[int]
    roles: list[str]
    guide_ids: list[int]
    target: int
    targets: dict[str, int]
    repeat: str
    starts_at: dt.datetime
    deadline_at: dt.datetime
    repeat_until: dt.date | None
    auto_close: bool
    coins: int
    published_at: dt.datetime | None
    closed_at: dt.datetime | None


class PreviewOut(Schema):
    total: int
    target_total: int
    without_list: int
    by_region: list[tuple[str, int]]
    by_store: list[tuple[str, int]]
    sample: list[tuple[str, str, int]] = Field(description="Name, store, target of the first 20.")


class LineOut(Schema):
    key: int | None = Field(description="The guide, store, region or brand id.")
    label: str
    total: int
    done: int
    overdue: int
    rate: float = Field(description="Completion in percent.")


class AssignmentOut(Schema):
    id: int
    task_id: int
    title: str
    kind: str
    guide_id: int
    store_id: int | None
    starts_at: dt.datetime
    due_at: dt.datetime
    target: int
    progress: int
    status: str
    coins: int
    completed_at: dt.datetime | None


class RemindOut(Schema):
    sent: int
    refused: int = Field(description="Guides who already had three reminders in the last 24 hours.")


class ShareIn(Input):
    channel: Literal["moments", "group", "one_to_one"]
    content_id: str = Field("", max_length=64)
    customer_id: int | None = Field(None, description="One to one: the customer (one of hers).")


class OutreachIn(Input):
    outcome: Literal["reached", "no_answer", "declined", "visit", "bought"]
    note: str = Field("", max_length=200)


class FollowUpOut(Schema):
    id: int
    assignment_id: int
    customer_id: int
    outcome: str
    attempts: int
    contacted_at: dt.datetime | None


class DecisionIn(Input):
    approve: bool
    reason: str = Field("", max_length=200)


class SubmissionOut(Schema):
    id: int
    assignment_id: int
    status: str
    note: str
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    reason: str


def _task(t: Task) -> dict[str, Any]:
    return {f: getattr(t, f) for f in TaskOut.model_fields} | {"id": t.pk}


def _assignment(a: Assignment) -> dict[str, Any]:
    return {f: getattr(a, f) for f in AssignmentOut.model_fields if f != "title"} | {"id": a.pk, "title": a.task.title}


def _line(line: Line) -> dict[str, Any]:
    return {
        "key": line.key,
        "label": line.label,
        "total": line.total,
        "done": line.done,
        "overdue": line.overdue,
        "rate": line.rate,
    }


@router.get("/tasks", response=answers(page_of(TaskOut)), summary="List guide tasks", tags=TAGS)
@requires(Perm.TASKS_VIEW)
def task_list(request: HttpRequest, page: Query[PageQuery], status: str | None = None) -> dict[str, Any]:
    return paginate(services.tasks(current_scope(request), status=status), page, _task)


@router.post("/tasks", response=answers(TaskOut, 201), summary="Design a task (a draft)", tags=TAGS)
@requires(Perm.TASKS_MANAGE)
def task_create(request: HttpRequest, payload: TaskIn) -> Any:
    return created(_task(services.create_task(current_scope(request), **payload.dict())))


@router.get("/tasks/{task_id}", response=answers(TaskOut), summary="Read a task", tags=TAGS)
@requires(Perm.TASKS_VIEW)
def task_detail(request: HttpRequest, task_id: int) -> dict[str, Any]:
    return _task(services.task_of(current_scope(request), task_id))


@router.patch("/tasks/{task_id}", response=answers(TaskOut), summary="Edit a draft", tags=TAGS)
@requires(Perm.TASKS_MANAGE)
def task_update(request: HttpRequest, task_id: int, payload: TaskPatch) -> dict[str, Any]:
    data = {k: v for k, v in payload.dict().items() if v is not None}
    return _task(services.update_task(current_scope(request), task_id, **data))


@router.get("/tasks/{task_id}/preview", response=answers(PreviewOut), summary="Who receives it", tags=TAGS)
@requires(Perm.TASKS_VIEW)
def task_preview(request: HttpRequest, task_id: int) -> Any:
    return services.preview(current_scope(request), task_id)


@router.post(
    "/tasks/{task_id}/publish", response=answers(TaskOut), summary="Publish: fan out its first round", tags=TAGS
)
@requires(Perm.TASKS_MANAGE)
def task_publish(request: HttpRequest, task_id: int) -> dict[str, Any]:
    return _task(services.publish(current_scope(request), task_id))


@router.post("/tasks/{task_id}/close", response=answers(TaskOut), summary="Close: open work is missed", tags=TAGS)
@requires(Perm.TASKS_MANAGE)
def task_close(request: HttpRequest, task_id: int) -> dict[str, Any]:
    return _task(services.close(current_scope(request), task_id))


@router.post("/tasks/{task_id}/remind", response=answers(RemindOut), summary="Remind who has not finished", tags=TAGS)
@requires(Perm.TASKS_MANAGE)
def task_remind(request: HttpRequest, task_id: int) -> dict[str, int]:
    sent, refused = services.remind_task(current_scope(request), task_id)
    return {"sent": sent, "refused": refused}


@router.get(
    "/task-completion",
    response=answers(list[LineOut]),
    summary="Completion per guide, store, region or brand (within reach)",
    tags=TAGS,
)
@requires(Perm.TASKS_VIEW)
def task_completion(
    request: HttpRequest,
    by: Literal["guide", "store", "region", "brand"] = "store",
    day: dt.date | None = None,
    task_id: int | None = None,
) -> list[dict[str, Any]]:
    return [_line(x) for x in services.completion(current_scope(request), by, day=day, task_id=task_id)]


@router.get("/task-overdue", response=answers(list[AssignmentOut]), summary="Overdue work within reach", tags=TAGS)
@requires(Perm.TASKS_VIEW)
def task_overdue(request: HttpRequest) -> list[dict[str, Any]]:
    return [_assignment(a) for a in services.overdue(current_scope(request))]


@router.get("/my-tasks", response=answers(list[AssignmentOut]), summary="A guide's work today", tags=TAGS)
@requires(Perm.GUIDE_WORKBENCH)
def my_tasks(request: HttpRequest) -> list[dict[str, Any]]:
    return [_assignment(a) for a in services.today(current_scope(request))]


@router.post("/my-tasks/shares", response=answers(dict[str, bool]), summary="Record a share (one tap)", tags=TAGS)
@requires(Perm.GUIDE_WORKBENCH)
def my_share(request: HttpRequest, payload: ShareIn) -> dict[str, bool]:
    services.record_share(
        current_scope(request), channel=payload.channel, content_id=payload.content_id, customer_id=payload.customer_id
    )
    return {"recorded": True}


@router.post(
    "/my-tasks/follow-ups/{follow_up_id}",
    response=answers(FollowUpOut),
    summary="Record an outreach to a customer of her list",
    tags=TAGS,
)
@requires(Perm.GUIDE_WORKBENCH)
def my_outreach(request: HttpRequest, follow_up_id: int, payload: OutreachIn) -> dict[str, Any]:
    f = services.record_outreach(current_scope(request), follow_up_id, outcome=payload.outcome, note=payload.note)
    return {
        "id": f.pk,
        "assignment_id": f.assignment_id,
        "customer_id": f.customer_id,
        "outcome": f.outcome,
        "attempts": f.attempts,
        "contacted_at": f.contacted_at,
    }


@router.post(
    "/task-photos/{submission_id}/decision",
    response=answers(SubmissionOut),
    summary="Approve or reject a store-action photo",
    tags=TAGS,
)
@requires(Perm.TASKS_APPROVE)
def photo_decide(request: HttpRequest, submission_id: int, payload: DecisionIn) -> dict[str, Any]:
    s = services.decide(current_scope(request), submission_id, approve=payload.approve, reason=payload.reason)
    return {f: getattr(s, f) for f in SubmissionOut.model_fields} | {"id": s.pk}
