"""Pure rules of orders: the state machine, how fulfilments decide the order's state, shipping and
the return window. No I/O.

Order states (``models.Status``)::

    created ──pay──▶ paid ──(stock sold, stores told)──▶ allocated ──▶ shipped ──▶ completed
       │               │                                    │    └──▶ ready ────▶ completed
       └─cancel/expire─┴────────────── cancel ──────────────┘      (pickup)          │
                                                                        return_requested
                                                                         │          │
                                                                     returned   completed (refused)

An order with several fulfilments is ``shipped`` when every one has left (or is done), ``ready``
when every one waits at its store (or is done), and ``completed`` when every one is done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

CREATED, PAID, ALLOCATED, SHIPPED, READY, COMPLETED = "created", "paid", "allocated", "shipped", "ready", "completed"
CANCELLED, RETURN_REQUESTED, RETURNED = "cancelled", "return_requested", "returned"

NEXT: dict[str, frozenset[str]] = {
    CREATED: frozenset({PAID, CANCELLED}),
    PAID: frozenset({ALLOCATED, CANCELLED}),
    ALLOCATED: frozenset({SHIPPED, READY, COMPLETED, CANCELLED}),
    SHIPPED: frozenset({COMPLETED}),
    READY: frozenset({COMPLETED}),
    COMPLETED: frozenset({RETURN_REQUESTED}),
    RETURN_REQUESTED: frozenset({RETURNED, COMPLETED}),
    CANCELLED: frozenset(),
    RETURNED: frozenset(),
}

# Fulfilment states
F_PENDING, F_TO_PICK, F_PACKED, F_SHIPPED, F_READY, F_DONE, F_CANCELLED = (
    "pending",
    "to_pick",
    "packed",
    "shipped",
    "ready",
    "done",
    "cancelled",
)
F_NEXT: dict[str, frozenset[str]] = {
    F_PENDING: frozenset({F_TO_PICK, F_CANCELLED}),
    F_TO_PICK: frozenset({F_PACKED, F_CANCELLED}),
    F_PACKED: frozenset({F_SHIPPED, F_READY, F_CANCELLED}),
    F_SHIPPED: frozenset({F_DONE}),
    F_READY: frozenset({F_DONE}),
    F_DONE: frozenset(),
    F_CANCELLED: frozenset(),
}

RETURN_WINDOW = dt.timedelta(days=7)
FREE_SHIPPING_FROM_FEN = 19_900  # delivery is free from ¥199 of items
SHIPPING_FEN = 1_000  # else ¥10
MAX_LINES = 50
MAX_UNITS_PER_LINE = 99


def can_move(current: str, target: str) -> bool:
    return target in NEXT.get(current, frozenset())


def can_move_fulfilment(current: str, target: str) -> bool:
    return target in F_NEXT.get(current, frozenset())


def order_state(current: str, fulfilments: Iterable[str]) -> str:
    """The order's state once its fulfilments are in ``fulfilments`` (only while it is with the
    stores: allocated, shipped or ready)."""
    states = [s for s in fulfilments if s != F_CANCELLED]
    if current not in (ALLOCATED, SHIPPED, READY) or not states:
        return current
    if all(s == F_DONE for s in states):
        return COMPLETED
    if all(s in (F_SHIPPED, F_DONE) for s in states):
        return SHIPPED
    if all(s in (F_READY, F_DONE) for s in states):
        return READY
    return ALLOCATED


def customer_may_cancel(status: str, fulfilments: Iterable[str]) -> bool:
    """She may cancel until a store has sent or set out any part of it."""
    if status not in (CREATED, PAID, ALLOCATED):
        return False
    return all(s in (F_PENDING, F_TO_PICK, F_PACKED, F_CANCELLED) for s in fulfilments)


def may_request_return(status: str, completed_at: dt.datetime | None, now: dt.datetime) -> bool:
    return status == COMPLETED and completed_at is not None and now - completed_at <= RETURN_WINDOW


def shipping_fen(mode: str, items_fen: int) -> int:
    if mode == "pickup" or items_fen >= FREE_SHIPPING_FROM_FEN:
        return 0
    return SHIPPING_FEN


class PricedSku(Protocol):
    """What a line copies of its SKU (``catalog.services.SkuInfo``)."""

    @property
    def sku_code(self) -> str: ...
    @property
    def product_code(self) -> str: ...
    @property
    def product_name(self) -> str: ...
    @property
    def color(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def price_fen(self) -> int: ...


def line_snapshot(sku: PricedSku, quantity: int) -> dict[str, Any]:
    """The SKU as a cart or order line shows it, priced: ``amount = unit price × quantity`` (fen)."""
    return {
        "sku_code": sku.sku_code,
        "product_code": sku.product_code,
        "product_name": sku.product_name,
        "color": sku.color,
        "size": sku.size,
        "quantity": quantity,
        "unit_price_fen": sku.price_fen,
        "amount_fen": sku.price_fen * quantity,
    }
