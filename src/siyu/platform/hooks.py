"""Call-outs between domains that must not import each other: a domain registers a callback at
start-up (its ``AppConfig.ready``) and another fires it without knowing who listens.

* :func:`on_erase` / :func:`customers_erased`: a customer's data was erased (members' privacy
  rights); every listener forgets what it holds of these customers (the event lake does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

EraseListener = Callable[[int, list[int]], None]
_erase_listeners: list[EraseListener] = []


def on_erase(listener: EraseListener) -> None:
    """Register ``listener(brand_id, customer_ids)``; registering the same one twice keeps one."""
    if listener not in _erase_listeners:
        _erase_listeners.append(listener)


def customers_erased(brand_id: int, customer_ids: Iterable[int]) -> None:
    """Tell every listener that these customers (a whole merged cluster) were erased."""
    ids = sorted(set(customer_ids))
    for listener in list(_erase_listeners):
        listener(brand_id, ids)
