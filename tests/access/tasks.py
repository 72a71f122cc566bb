"""Who may use the guide-task pages and API (see ``tests/access/model.py``). HQ designs, publishes,
closes and reminds (``tasks.manage``); every console viewer reads tasks and completion within reach
(``tasks.view``) and approves photos within reach (``tasks.approve``); a guide (and a store manager
in the workbench) works on her own assignments only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, HQ, WORKBENCH, Rule, World

GUIDE_A = frozenset({"guide_a"})
START = dt.datetime(2030, 1, 1, 1, 0, tzinfo=dt.UTC)


def _task(w: World, *, publish: bool, kind: str = "forward") -> Any:
    from siyu.org import services as org
    from siyu.tasks import services as tasks

    hq = org.hq_scope(w.brand.pk, "matrix")
    task = tasks.create_task(
        hq,
        title="矩阵任务",
        kind=kind,
        guide_ids=[w.staff["guide_a"].pk, w.south_guide.pk],
        target=2,
        starts_at=START - dt.timedelta(days=3650),
        deadline_at=START,
        coins=5,
    )
    if publish:
        tasks.publish(hq, task.pk)
    return task


def _assignment(w: World, guide: Any, kind: str = "forward") -> Any:
    from siyu.tasks.models import Assignment

    task = _task(w, publish=True, kind=kind)
    return Assignment.objects.get(task=task, guide=guide)


def draft(w: World) -> dict[str, Any]:
    return {"pk": _task(w, publish=False).pk}


def draft_api(w: World) -> dict[str, Any]:
    return {"task_id": _task(w, publish=False).pk}


def published(w: World) -> dict[str, Any]:
    return {"pk": _task(w, publish=True).pk}


def published_api(w: World) -> dict[str, Any]:
    return {"task_id": _task(w, publish=True).pk}


def mine(w: World) -> dict[str, Any]:
    return {"pk": _assignment(w, w.staff["guide_a"]).pk}


def south(w: World) -> dict[str, Any]:
    return {"pk": _assignment(w, w.south_guide).pk}


def _submission(w: World, guide: Any) -> int:
    from siyu.platform import clock
    from siyu.tasks.models import Submission

    a = _assignment(w, guide, kind="store_action")
    return Submission.objects.create(
        brand_id=w.brand.pk, assignment=a, photo="tasks/matrix.png", submitted_at=clock.now()
    ).pk


def _forward_follow_up(w: World, guide: Any, customers: list[int]) -> int:
    """A follow-up row on a forward assignment (the matrix needs no segment for the access check)."""
    from siyu.tasks.models import FollowUp

    a = _assignment(w, guide)
    return FollowUp.objects.create(brand_id=w.brand.pk, assignment=a, customer_id=customers[0]).pk


def follow_up(w: World) -> dict[str, Any]:
    return {"pk": _forward_follow_up(w, w.staff["guide_a"], w.customers["chen.guide"])}


def south_follow_up(w: World) -> dict[str, Any]:
    return {"pk": _forward_follow_up(w, w.south_guide, w.customers["he.guide"])}


def follow_up_api(w: World) -> dict[str, Any]:
    return {"follow_up_id": follow_up(w)["pk"]}


def south_follow_up_api(w: World) -> dict[str, Any]:
    return {"follow_up_id": south_follow_up(w)["pk"]}


def photo(w: World) -> dict[str, Any]:
    return {"pk": _submission(w, w.staff["guide_a"])}


def south_photo(w: World) -> dict[str, Any]:
    return {"pk": _submission(w, w.south_guide)}


def photo_api(w: World) -> dict[str, Any]:
    return {"submission_id": photo(w)["pk"]}


def south_photo_api(w: World) -> dict[str, Any]:
    return {"submission_id": south_photo(w)["pk"]}


def _form(w: World) -> dict[str, Any]:
    return {
        "title": "矩阵新任务",
        "kind": "forward",
        "share_channel": "any",
        "count_mode": "times",
        "whole_brand": "on",
        "target": "2",
        "repeat": "once",
        "starts_at": "2030-01-01T09:00",
        "deadline_at": "2030-01-01T18:00",
        "auto_close": "on",
        "coins": "5",
    }


def _api_task(w: World) -> dict[str, Any]:
    return {
        "title": "矩阵新任务",
        "kind": "fans",
        "whole_brand": True,
        "target": 3,
        "starts_at": "2030-01-01T09:00:00+08:00",
        "deadline_at": "2030-01-01T18:00:00+08:00",
    }


OUT_PHOTO = {"region_manager": south_photo, "store_manager": south_photo}
OUT_PHOTO_API = {"region_manager": south_photo_api, "store_manager": south_photo_api}
DECIDE = {"decision": "approve"}

RULES: dict[tuple[str, str], Rule] = {
    ("hq:task_list", "GET"): Rule(CONSOLE),
    ("hq:task_new", "GET"): Rule(HQ),
    ("hq:task_new", "POST"): Rule(HQ, data=_form, ok=302),
    ("hq:task_dashboard", "GET"): Rule(CONSOLE),
    ("hq:task_approvals", "GET"): Rule(CONSOLE),
    ("hq:task_approval_decide", "POST"): Rule(
        CONSOLE, kwargs=photo, data=lambda w: DECIDE, ok=302, out_of_scope=OUT_PHOTO
    ),
    ("hq:task_detail", "GET"): Rule(CONSOLE, kwargs=published),
    ("hq:task_edit", "GET"): Rule(HQ, kwargs=draft),
    ("hq:task_edit", "POST"): Rule(HQ, kwargs=draft, data=_form, ok=302),
    ("hq:task_publish", "POST"): Rule(HQ, kwargs=draft, data=lambda w: {}, ok=302),
    ("hq:task_close", "POST"): Rule(HQ, kwargs=published, data=lambda w: {}, ok=302),
    ("hq:task_remind", "POST"): Rule(HQ, kwargs=published, data=lambda w: {}, ok=302),
    ("guide:today", "GET"): Rule(WORKBENCH),
    ("guide:assignment_detail", "GET"): Rule(GUIDE_A, kwargs=mine, out_of_scope={"store_manager": south}),
    ("guide:assignment_share", "POST"): Rule(
        GUIDE_A, kwargs=mine, data=lambda w: {"channel": "moments"}, ok=302, out_of_scope={"store_manager": south}
    ),
    ("guide:assignment_photo", "POST"): Rule(
        GUIDE_A, kwargs=mine, data=lambda w: {}, ok=302, out_of_scope={"store_manager": south}
    ),
    ("guide:follow_up_mark", "POST"): Rule(
        GUIDE_A,
        kwargs=follow_up,
        data=lambda w: {"outcome": "reached"},
        ok=302,
        out_of_scope={"store_manager": south_follow_up},
    ),
    ("guide:submission_decide", "POST"): Rule(
        CONSOLE, kwargs=photo, data=lambda w: DECIDE, ok=302, out_of_scope=OUT_PHOTO
    ),
    # API
    ("api:task_list", "GET"): Rule(CONSOLE, token_perm=Perm.TASKS_VIEW),
    ("api:task_create", "POST"): Rule(HQ, data=_api_task, ok=201, token_perm=Perm.TASKS_MANAGE),
    ("api:task_detail", "GET"): Rule(CONSOLE, kwargs=published_api, token_perm=Perm.TASKS_VIEW),
    ("api:task_update", "PATCH"): Rule(
        HQ, kwargs=draft_api, data=lambda w: {"title": "改"}, token_perm=Perm.TASKS_MANAGE
    ),
    ("api:task_preview", "GET"): Rule(CONSOLE, kwargs=draft_api, token_perm=Perm.TASKS_VIEW),
    ("api:task_publish", "POST"): Rule(HQ, kwargs=draft_api, data=lambda w: {}, token_perm=Perm.TASKS_MANAGE),
    ("api:task_close", "POST"): Rule(HQ, kwargs=published_api, data=lambda w: {}, token_perm=Perm.TASKS_MANAGE),
    ("api:task_remind", "POST"): Rule(HQ, kwargs=published_api, data=lambda w: {}, token_perm=Perm.TASKS_MANAGE),
    ("api:task_completion", "GET"): Rule(CONSOLE, token_perm=Perm.TASKS_VIEW),
    ("api:task_overdue", "GET"): Rule(CONSOLE, token_perm=Perm.TASKS_VIEW),
    ("api:my_tasks", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:my_share", "POST"): Rule(WORKBENCH, data=lambda w: {"channel": "group"}, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:my_outreach", "POST"): Rule(
        GUIDE_A,
        kwargs=follow_up_api,
        data=lambda w: {"outcome": "visit"},
        out_of_scope={"store_manager": south_follow_up_api},
        token_perm=Perm.GUIDE_WORKBENCH,
    ),
    ("api:photo_decide", "POST"): Rule(
        CONSOLE,
        kwargs=photo_api,
        data=lambda w: {"approve": True},
        out_of_scope=OUT_PHOTO_API,
        token_perm=Perm.TASKS_APPROVE,
    ),
}
