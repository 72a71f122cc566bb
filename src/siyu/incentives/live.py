"""Keeping the leaderboards in step with the behaviour events (``hooks.on_events``), after commit.

What counts (each event scored once, keyed by its event id):

* ``order`` with a guide: ``sales_fen`` += amount; when the order came through a share (the event
  names a ``content_id``, or its properties carry ``share``/``code``), also ``conversions`` += 1 and
  ``share_sales_fen`` += amount (the "top recommender" metric).
* ``refund`` with a guide: ``sales_fen`` (and ``share_sales_fen`` when via a share) −= amount.
* ``add_friend`` with a guide: ``new_fans`` += 1 (a customer bound to her).
* ``share`` by a guide: ``forwards`` += 1.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

from siyu.incentives import leaderboards

log = logging.getLogger(__name__)

COUNTED = frozenset({"order", "refund", "add_friend", "share"})


def _at(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)


def via_share(event: dict[str, Any]) -> bool:
    if event.get("content_id"):
        return True
    props = event.get("properties")
    if not props:
        return False
    try:
        data = json.loads(props) if isinstance(props, str) else props
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("share") or data.get("code") or data.get("via") == "share")


def scorings(event: dict[str, Any]) -> list[tuple[str, int]]:
    """The (metric, points) an event is worth to its guide (pure)."""
    kind = event.get("type")
    if kind not in COUNTED or not event.get("guide_id"):
        return []
    amount = int(event.get("amount_fen") or 0)
    if kind == "order":
        out = [("sales_fen", amount)] if amount else []
        if via_share(event):
            out.append(("conversions", 1))
            if amount:
                out.append(("share_sales_fen", amount))
        return out
    if kind == "refund":
        out = [("sales_fen", -amount)] if amount else []
        if amount and via_share(event):
            out.append(("share_sales_fen", -amount))
        return out
    if kind == "add_friend":
        return [("new_fans", 1)]
    return [("forwards", 1)]


def on_events(brand_id: int, events: Sequence[dict[str, Any]]) -> None:
    where: dict[int, tuple[int | None, int | None]] = {}
    for event in events:
        scores = scorings(event)
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
                    at=_at(int(event["at"])),
                    store_id=store_id,
                    region_id=region_id,
                )
        except leaderboards.LeaderboardError:
            log.warning("event %s names guide %s, not staff of brand %s", event.get("event_id"), guide_id, brand_id)
