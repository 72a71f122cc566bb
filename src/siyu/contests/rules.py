"""Pure rules of PK contests (ADR 0019): what an event is worth on each metric, the dedupe key that
makes it count once and caps a customer, the day it belongs to, ranks with ties. No I/O.

What counts, per metric (an event must name the guide, and its customer must not be a member of
staff — a self-purchase or a guide's own phone as a "fan" scores nothing):

* ``sales_fen`` — an ``order`` event: its ``amount_fen``, once per order (``properties.order`` or
  ``number``; else the event id). A ``refund`` event reverses up to what that order scored, on the
  order's day (:class:`Refund`).
* ``new_fans`` — an ``add_friend`` event, or a ``custom:bind`` event of a binding the guide earned
  (a scan of her or the store's code, WeCom, a first purchase — not HQ's assignment, a transfer, an
  inheritance, an import or a merge): one point per customer per guide for the whole contest
  (adding, deleting and re-adding the same person, or adding her on WeCom and binding her, scores
  once).
* ``forwards`` — a ``share`` event to a customer: at most one point per customer per guide per day.
* ``conversions`` — an ``order`` that a share or a code brought (``content_id``, or
  ``properties.via``/``share``/``code``): at most one point per customer per guide per day.
* ``tasks_done`` — a task the guide finished (``task.done``): one point per assignment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from siyu.platform.money import format_cny

SALES, FANS, FORWARDS, CONVERSIONS, TASKS = "sales_fen", "new_fans", "forwards", "conversions", "tasks_done"
METRICS = (SALES, FANS, FORWARDS, CONVERSIONS, TASKS)
# The event types each metric listens to (refunds: sales only).
TYPES_OF = {
    SALES: ("order", "refund"),
    FANS: ("add_friend", "custom:bind"),
    FORWARDS: ("share",),
    CONVERSIONS: ("order",),
}
# Bindings a guide earned (a scan of a code, WeCom, a first purchase with her); HQ's assignments,
# transfers, a leaver's customers inherited, imports and merges are not new fans.
EARNED_BINDINGS = frozenset({"store_code", "guide_code", "wecom", "first_purchase"})
SCORED_TYPES = frozenset(t for types in TYPES_OF.values() for t in types)


@dataclass(frozen=True)
class Point:
    """Points one event (or task) is worth to one guide on one metric."""

    guide_id: int
    points: int
    day: dt.date
    dedupe: str
    source: str
    at: dt.datetime
    customer_id: int | None = None
    order_ref: str = ""


@dataclass(frozen=True)
class Refund:
    """A refund to reverse: up to ``amount_fen`` of what order ``order_ref`` scored."""

    event_id: str
    order_ref: str  # "" when the refund names no order: then the guide's own sales are reduced
    amount_fen: int
    guide_id: int | None
    day: dt.date
    at: dt.datetime


def at_of(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)


def day_of(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The brand's local calendar day of an instant: targets are daily in the brand's time."""
    return at.astimezone(zone).date()


def properties(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("properties")
    if not raw:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def order_ref(event: Mapping[str, Any]) -> str:
    """The order an order or refund event is about: ``properties.order`` (or ``number``), else ``""``."""
    props = properties(event)
    for name in ("order", "order_number", "number"):
        value = props.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()[:64]
    return ""


def came_from_share(event: Mapping[str, Any]) -> bool:
    props = properties(event)
    return bool(event.get("content_id")) or props.get("via") in ("share", "code") or bool(props.get("share"))


def point_of(
    metric: str, event: Mapping[str, Any], zone: ZoneInfo, staff_customers: Iterable[int] = ()
) -> Point | Refund | None:
    """What ``event`` is worth on ``metric`` (``None``: nothing). The caller checks the guide takes
    part and the day lies inside the contest."""
    kind = event.get("type")
    if kind not in TYPES_OF.get(metric, ()):
        return None
    at = at_of(int(event["at"]))
    day = day_of(at, zone)
    event_id = str(event["event_id"])
    guide = event.get("guide_id")
    customer = event.get("customer_id")
    if customer is not None and customer in staff_customers:
        return None  # staff buying, sharing to or befriending themselves
    if kind == "refund":
        amount = int(event.get("amount_fen") or 0)
        if amount <= 0:
            return None
        return Refund(event_id, order_ref(event), amount, int(guide) if guide else None, day, at)
    if not guide:
        return None
    guide = int(guide)
    if metric == SALES:
        amount = int(event.get("amount_fen") or 0)
        if amount <= 0:
            return None
        ref = order_ref(event) or f"event:{event_id}"
        return Point(guide, amount, day, f"sale:{ref}", event_id, at, customer, ref)
    if customer is None:
        return None
    if metric == FANS:
        if kind == "custom:bind" and properties(event).get("source") not in EARNED_BINDINGS:
            return None
        return Point(guide, 1, day, f"fan:{guide}:{customer}", event_id, at, customer)
    if metric == FORWARDS:
        return Point(guide, 1, day, f"fwd:{guide}:{customer}:{day.isoformat()}", event_id, at, customer)
    if metric == CONVERSIONS and came_from_share(event):
        return Point(guide, 1, day, f"conv:{guide}:{customer}:{day.isoformat()}", event_id, at, customer)
    return None


def task_point(guide_id: int, assignment_id: int, at: dt.datetime, zone: ZoneInfo) -> Point:
    return Point(guide_id, 1, day_of(at, zone), f"task:{assignment_id}", f"task:{assignment_id}", at)


def crossed(thresholds: Iterable[int], before: int, after: int) -> list[int]:
    """The thresholds a total passed on its way from ``before`` up to ``after``."""
    return sorted(t for t in thresholds if before < t <= after)


def ranked(scores: Iterable[tuple[Any, int]]) -> list[tuple[int, Any, int]]:
    """``(rank, key, points)`` by points, highest first; equal points share a rank (1, 2, 2, 4).
    Keys of equal points keep the order they came in."""
    ordered = sorted(scores, key=lambda pair: -pair[1])
    out: list[tuple[int, Any, int]] = []
    for index, (key, points) in enumerate(ordered):
        rank = out[-1][0] if out and out[-1][2] == points else index + 1
        out.append((rank, key, points))
    return out


def reward_key(contest_id: int, subject: str, subject_id: int, day: dt.date, target_id: int, guide_id: int) -> str:
    """The coin ledger's idempotency key of one reward: one per contest, guide or team, day and
    target (a team's reward: one per member)."""
    base = f"contest:{contest_id}:{subject}{subject_id}:{day.isoformat()}:{target_id}"
    return base if subject == "g" else f"{base}:g{guide_id}"


def shown(points: int, money: bool) -> str:
    """Points as a person reads them: sales in yuan (points are fen), the rest as counts."""
    return format_cny(points) if money else f"{points:,}"
