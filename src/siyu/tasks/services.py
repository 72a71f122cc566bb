"""What other domains and the surfaces call: the public verbs of guide tasks (ADR 0017).

Design (HQ): :func:`create_task`, :func:`update_task`, :func:`preview`, :func:`publish`,
:func:`close`. Fan-out: :func:`run_schedules` (the periodic job), :func:`fan_out_round`.
Verification: :func:`recompute`, :func:`complete` (pays ``incentives.award(key="task:<id>")``
exactly once), the listeners registered in ``apps.py``. The guide's one-tap work:
:func:`record_share`, :func:`record_outreach`, :func:`submit_photo`; the manager's :func:`decide`.
Reminders and escalation: :func:`remind`, :func:`remind_task`, :func:`escalate`,
:func:`close_expired`. Reads: :func:`today`, :func:`completion`, :func:`overdue`.
"""

from __future__ import annotations

from siyu.tasks import design, fanout, notify, progress, verify, work
from siyu.tasks.models import CountMode, Kind, LearnKind, Repeat, ShareChannel

__all__ = [
    "CountMode",
    "Kind",
    "LearnKind",
    "Repeat",
    "ShareChannel",
    "close",
    "close_expired",
    "complete",
    "completion",
    "create_task",
    "decide",
    "escalate",
    "overdue",
    "pay_pending",
    "preview",
    "publish",
    "recompute",
    "record_outreach",
    "record_share",
    "remind",
    "remind_open",
    "remind_task",
    "run_schedules",
    "submit_photo",
    "task_of",
    "tasks",
    "today",
    "update_task",
]

create_task = design.create_task
update_task = design.update_task
preview = design.preview
publish = design.publish
close = design.close
tasks = design.tasks
task_of = design.task_of
run_schedules = fanout.run_schedules
fan_out_round = fanout.fan_out
complete = verify.complete
recompute = verify.recompute
pay_pending = verify.pay_pending
record_share = work.record_share
record_shares = work.record_shares
OwnShare = work.OwnShare
record_outreach = work.record_outreach
submit_photo = work.submit_photo
decide = work.decide
pending_submissions = work.pending_submissions
remind = notify.remind
remind_open = notify.remind_open
remind_task = notify.remind_task
escalate = notify.escalate
close_expired = notify.close_expired
today = progress.today
completion = progress.completion
overdue = progress.overdue
assignments = progress.assignments
