"""Periodic work of guide tasks (Huey, ``platform.jobs``). Every job is idempotent: rounds are
unique per task and sequence, credits per assignment and key, escalation marks each assignment
once, payment is keyed ``task:<id>``."""

from __future__ import annotations

from siyu.platform.jobs import crontab, periodic
from siyu.tasks import fanout, notify, verify


@periodic(crontab(minute="*/5"))
def tasks_tick() -> dict[str, int]:
    """Every five minutes: new daily / weekly rounds, closing at deadlines, escalation, payments
    that waited for the coin ledger."""
    created = fanout.run_schedules()
    missed = notify.close_expired()
    notices = notify.escalate()
    paid = verify.pay_pending()
    return {"assigned": created, "missed": missed, "escalated": notices, "paid": paid}


@periodic(crontab(minute="17"))
def tasks_recompute() -> int:
    """Hourly: rebuild the progress of open work from the facts (what the live listeners may have
    missed, e.g. a binding made while no process listened)."""
    from siyu.tasks.models import Assignment

    done = 0
    for brand_id in sorted(set(Assignment.objects.filter(status="open").values_list("brand_id", flat=True))):
        done += len(verify.recompute(brand_id))
    return done


@periodic(crontab(minute="0", hour="10,15,20"))
def tasks_remind() -> int:
    """At 10:00, 15:00 and 20:00: remind guides with open work (three a day at most per guide)."""
    from siyu.tasks.models import Assignment

    sent = 0
    for brand_id in sorted(set(Assignment.objects.filter(status="open").values_list("brand_id", flat=True))):
        sent += notify.remind_open(brand_id)[0]
    return sent
