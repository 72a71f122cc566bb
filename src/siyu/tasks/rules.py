"""Pure rules of guide tasks: schedules, targeting, targets, reminder limits. No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REMINDERS_PER_DAY = 3  # at most this many reminders to one guide within any 24 hours
REMINDER_WINDOW = dt.timedelta(hours=24)
PERIOD = {"once": None, "daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
MAX_OCCURRENCES = 400  # a repeating task stops after this many rounds (a daily task: more than a year)
# Binding sources that count as a fan the guide gained herself (not handed to her).
GAINED_SOURCES = frozenset({"store_code", "guide_code", "wecom", "first_purchase"})
TARGET_ROLES = ("guide", "store_manager")
# Outreach outcomes that count as a customer followed up ("no answer" means: try again).
COUNTED_OUTCOMES = ("reached", "declined", "visit", "bought")
MAX_PHOTO_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Round:
    seq: int
    starts_at: dt.datetime
    due_at: dt.datetime


def round_of(seq: int, repeat: str, starts_at: dt.datetime, deadline_at: dt.datetime) -> Round:
    """Round ``seq`` (1-based) of a schedule: the first round shifted by whole periods."""
    period = PERIOD[repeat]
    shift = period * (seq - 1) if period is not None else dt.timedelta(0)
    return Round(seq, starts_at + shift, deadline_at + shift)


def rounds_due(
    repeat: str,
    starts_at: dt.datetime,
    deadline_at: dt.datetime,
    repeat_until: dt.date | None,
    last_seq: int,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> list[Round]:
    """The rounds after ``last_seq`` that have started by ``now`` and start on or before
    ``repeat_until`` (local date). A one-off task has exactly one round, due from its start (it is
    created at publishing even before it starts, so guides see what is coming)."""
    if repeat == "once":
        return [round_of(1, repeat, starts_at, deadline_at)] if last_seq == 0 else []
    found = []
    seq = last_seq + 1
    while seq <= MAX_OCCURRENCES:
        r = round_of(seq, repeat, starts_at, deadline_at)
        if r.starts_at > now and seq > 1:
            break
        if repeat_until is not None and r.starts_at.astimezone(tz).date() > repeat_until:
            break
        found.append(r)
        seq += 1
    return found


def schedule_problems(
    repeat: str, starts_at: dt.datetime, deadline_at: dt.datetime, repeat_until: dt.date | None, tz: dt.tzinfo
) -> dict[str, str]:
    """What is wrong with a schedule (field -> English message key); empty when it is fine."""
    problems: dict[str, str] = {}
    if repeat not in PERIOD:
        problems["repeat"] = "repeat"
        return problems
    if deadline_at <= starts_at:
        problems["deadline_at"] = "deadline_after_start"
    period = PERIOD[repeat]
    if period is not None and deadline_at - starts_at > period:
        problems["deadline_at"] = "deadline_within_period"
    if repeat_until is not None and repeat_until < starts_at.astimezone(tz).date():
        problems["repeat_until"] = "until_after_start"
    return problems


@dataclass(frozen=True)
class Person:
    """A member of staff as targeting sees her."""

    id: int
    role: str
    store_id: int | None
    region_id: int | None


@dataclass(frozen=True)
class Targeting:
    whole_brand: bool
    region_ids: frozenset[int]
    store_ids: frozenset[int]
    roles: frozenset[str]
    guide_ids: frozenset[int]

    @property
    def empty(self) -> bool:
        return not (self.whole_brand or self.region_ids or self.store_ids or self.guide_ids)


def reaches(t: Targeting, p: Person) -> bool:
    """Whether the targeting reaches a person: a named guide always; otherwise her role must be
    among the roles (guides only when none are named) and she must be in the whole brand, or in a
    named region or store."""
    if p.id in t.guide_ids:
        return True
    if p.store_id is None:
        return False
    roles = t.roles or frozenset({"guide"})
    if p.role not in roles:
        return False
    if t.whole_brand:
        return True
    return p.store_id in t.store_ids or (p.region_id is not None and p.region_id in t.region_ids)


def recipients(t: Targeting, people: Iterable[Person]) -> list[Person]:
    if t.whole_brand and not t.roles:  # the common case at scale: every guide posted to a store
        return [p for p in people if (p.role == "guide" and p.store_id is not None) or p.id in t.guide_ids]
    return [p for p in people if reaches(t, p)]


def target_of(default: int, overrides: dict[str, int], guide_id: int) -> int:
    """A guide's target: her own when HQ set one, else the task's."""
    return int(overrides.get(str(guide_id), default))


def reminders_left(sent_at: Sequence[dt.datetime], now: dt.datetime) -> int:
    """How many more reminders a guide may get now, given when she was sent the earlier ones."""
    recent = [t for t in sent_at if now - t < REMINDER_WINDOW]
    return max(0, REMINDERS_PER_DAY - len(recent))


def rate(done: int, total: int) -> float:
    """A completion rate in percent, one decimal; 0 for nothing assigned."""
    return round(100.0 * done / total, 1) if total else 0.0
