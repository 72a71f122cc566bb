"""Keeping the leaderboards in step with the behaviour events (``hooks.on_events``), after commit.

What counts (each event scored once, keyed by its event id):

* ``order`` with a guide: ``sales_fen`` += amount; when the order came through the guide's share
  link or code (the order records the code that brought it: looked up through ``orders.services``
  by the order number the event carries; an ingested event may say so itself with a ``content_id``
  or a ``share``/``code`` property), also ``conversions`` += 1 and ``share_sales_fen`` += amount
  (the "top recommender" metric).
* ``refund`` with a guide: ``sales_fen`` (and ``share_sales_fen`` when via a share) −= amount.
* ``custom:bind`` to a guide that she earned (scanned her or her store's code, added her on WeCom,
  bought from her first): ``new_fans`` += 1. Transfers, inheritance, HQ assignment, imports and
  merges move customers, they do not win fans.
* ``share`` by a guide: ``forwards`` += 1.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

from siyu.incentives import leaderboards
from siyu.orders import services as orders
from siyu.platform import hooks

log = logging.getLogger(__name__)

COUNTED = frozenset({"order", "refund", "custom:bind", "share"})
EARNED_BINDINGS = frozenset({"store_code", "guide_code", "wecom", "first_purchase"})


def _at(value: Any) -> dt.datetime:
    """An event's time: microseconds since the epoch, or the lake's UTC text (``2026-12-07 03:00:00.000000``)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def _props(event: dict[str, Any]) -> dict[str, Any]:
    props = event.get("properties")
    if not props:
        return {}
    try:
        data = json.loads(props) if isinstance(props, str) else props
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def via_share(brand_id: int, event: dict[str, Any]) -> bool:
    """Whether an order came through a share link or code of the guide."""
    if event.get("content_id"):
        return True
    data = _props(event)
    if data.get("share") or data.get("code") or data.get("via") == "share":
        return True
    number = data.get("number")
    if not number:
        return False
    order = orders.order_info(brand_id, str(number))
    return order is not None and order.code_id is not None


def scorings(brand_id: int, event: dict[str, Any]) -> list[tuple[str, int]]:
    """The (metric, points) an event is worth to its guide."""
    kind = event.get("type")
    if kind not in COUNTED or not event.get("guide_id"):
        return []
    amount = int(event.get("amount_fen") or 0)
    if kind == "order":
        out = [("sales_fen", amount)] if amount else []
        if via_share(brand_id, event):
            out.append(("conversions", 1))
            if amount:
                out.append(("share_sales_fen", amount))
        return out
    if kind == "refund":
        out = [("sales_fen", -amount)] if amount else []
        if amount and via_share(brand_id, event):
            out.append(("share_sales_fen", -amount))
        return out
    if kind == "custom:bind":
        return [("new_fans", 1)] if _props(event).get("source") in EARNED_BINDINGS else []
    return [("forwards", 1)]


def on_events(brand_id: int, events: Sequence[dict[str, Any]]) -> None:
    where: dict[int, tuple[int | None, int | None]] = {}
    for event in hooks.events_of(events, COUNTED, present=("guide_id",)):
        scores = scorings(brand_id, event)
        if not scores:
            continue
        guide_id = int(event["guide_id"])
        try:
            if guide_id not in where:
                where[guide_id] = leaderboards._where_guide(brand_id, guide_id)
            store_id, region_id = where[guide_id]
            for metric, points in scores:
                leaderboards.record(
                    brand_id,
                    metric,
                    guide_id,
                    points,
                    key=f"ev:{event['event_id']}:{metric}",
                    at=_at(event["at"]),
                    store_id=store_id,
                    region_id=region_id,
                )
        except leaderboards.LeaderboardError:
            log.warning("event %s names guide %s, not staff of brand %s", event.get("event_id"), guide_id, brand_id)
