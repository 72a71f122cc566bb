"""Call-outs between domains that must not import each other: a domain registers a callback at
start-up (its ``AppConfig.ready``) and another fires it without knowing who listens.

* :func:`on_erase` / :func:`customers_erased`: a customer's data was erased (members' privacy
  rights); every listener forgets what it holds of these customers (the event lake does).
* :func:`on_events` / :func:`events_recorded`: new behaviour events were made durable (ingested
  through the API or a file, or emitted by the platform itself after a binding, an order, a task);
  listeners keep live figures in step (task progress, leaderboards, segment freshness).
* :func:`on_guide_done` / :func:`guide_done`: a guide did something other domains count that
  involves no customer (finished a task, read an article, passed a quiz).
* :func:`on_lake_days_changed` / :func:`lake_days_changed`: the event lake's files of some day
  partitions were replaced (compaction, a file import, erasure, retention); what is derived from
  those days' files is stale (the segment engine's behaviour summary).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)


def _add(listeners: list[Any], listener: Any) -> None:
    if listener not in listeners:
        listeners.append(listener)


def _tell_each(listeners: list[Any], brand_id: int, *args: Any) -> None:
    """Call every listener; one that fails is logged and skipped (the fact it hears of stands)."""
    for listener in list(listeners):
        try:
            listener(brand_id, *args)
        except Exception:
            log.exception("listener %r failed for brand %s", listener, brand_id)


EraseListener = Callable[[int, list[int]], None]
_erase_listeners: list[EraseListener] = []


def on_erase(listener: EraseListener) -> None:
    """Register ``listener(brand_id, customer_ids)``; registering the same one twice keeps one."""
    _add(_erase_listeners, listener)


def customers_erased(brand_id: int, customer_ids: Iterable[int]) -> None:
    """Tell every listener that these customers (a whole merged cluster) were erased."""
    ids = sorted(set(customer_ids))
    for listener in list(_erase_listeners):
        listener(brand_id, ids)


_Event = TypeVar("_Event", bound=Mapping[str, Any])
EventsListener = Callable[[int, Sequence[dict[str, Any]]], None]
_events_listeners: list[EventsListener] = []


def on_events(listener: EventsListener) -> None:
    """Register ``listener(brand_id, events)``, called once a batch of new events is durable (after
    the commit), with each event as stored in the lake: ``event_id``, ``type``, ``at`` and
    ``received_at`` (microseconds since the epoch, UTC), ``customer_id``, ``store_id``, ``guide_id``,
    ``content_id``, ``product_id``, ``sku_id``, ``amount_fen``, ``quantity``, ``properties`` (compact JSON text or
    ``None``). A repeated event id is never passed twice. Listeners run in the ingesting
    process and must be quick; registering the same one twice keeps one."""
    _add(_events_listeners, listener)


def events_of(events: Iterable[_Event], types: Iterable[str], *, present: Iterable[str] = ()) -> list[_Event]:
    """The events of these ``types`` whose ``present`` fields are set: a listener's first step. A
    batch that is large and lazy (a file import of millions) answers with a query of its own
    (``events.where(types, present)``) instead of a dict per event."""
    kinds, needed = frozenset(types), tuple(present)
    where = getattr(events, "where", None)
    if where is not None:
        return list(where(kinds, needed))
    return [e for e in events if e.get("type") in kinds and all(e.get(f) is not None for f in needed)]


def events_recorded(brand_id: int, events: Sequence[dict[str, Any]]) -> None:
    """Tell every listener about these new events. A listener that fails is logged and skipped: the
    events are already acknowledged and the others still hear of them."""
    if not events:
        return
    _tell_each(_events_listeners, brand_id, events)


GuideListener = Callable[[int, int, str, int | None], None]
_guide_listeners: list[GuideListener] = []


def on_guide_done(listener: GuideListener) -> None:
    """Register ``listener(brand_id, guide_id, kind, ref_id)``, called after the commit of something
    a guide did that other domains count (no customer involved, so not a behaviour event): kinds
    such as ``"task.done"`` (ref: the assignment), ``"learn.read"`` (the article), ``"learn.passed"``
    (the quiz). Registering the same one twice keeps one."""
    _add(_guide_listeners, listener)


def guide_done(brand_id: int, guide_id: int, kind: str, ref_id: int | None = None) -> None:
    """Tell every listener that a guide did ``kind`` (call it on commit). A failing listener is
    logged and skipped."""
    _tell_each(_guide_listeners, brand_id, guide_id, kind, ref_id)


LakeDaysListener = Callable[[int, list[str]], None]
_lake_listeners: list[LakeDaysListener] = []


def on_lake_days_changed(listener: LakeDaysListener) -> None:
    """Register ``listener(brand_id, days)`` (days as ``YYYY-MM-DD``), called in the process that
    changed the lake right after the change is applied, while it still holds the lake's writer
    lock: it must be quick (delete or mark, never rebuild). Registering the same one twice keeps one."""
    _add(_lake_listeners, listener)


def lake_days_changed(brand_id: int, days: Iterable[str]) -> None:
    """Tell every listener that these day partitions of the brand's event lake changed. A failing
    listener is logged and skipped (the lake's change stands)."""
    found = sorted(set(days))
    if found:
        _tell_each(_lake_listeners, brand_id, found)
