"""Pure rules of stock: how an order's lines are allocated to stores (ADR 0009). No I/O.

The input is what each candidate store can sell now and how far it is; the output is a plan of
shipments (store → SKU → quantity) or the shortfall per SKU when the candidates together cannot
fill the order.

1. The nearest store that can fill the whole order ships all of it (one shipment).
2. Otherwise the brand's split policy decides:
   - ``fewest``: repeatedly take the store that can fill the most of the remaining lines whole
     (ties: more units, then nearer), so the order leaves in as few shipments as it can;
   - ``nearest``: each line goes whole to the nearest store that can fill it.
   A line no single store can fill is split over the nearest stores holding it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

FEWEST = "fewest"
NEAREST = "nearest"


@dataclass(frozen=True)
class Candidate:
    store_id: int
    distance_m: int | None  # None: unknown (no location); sorted after every known distance
    available: Mapping[int, int]  # sku_id -> units it can sell now


@dataclass(frozen=True)
class Shipment:
    store_id: int
    distance_m: int | None
    lines: dict[int, int]  # sku_id -> units


@dataclass(frozen=True)
class Plan:
    shipments: list[Shipment] = field(default_factory=list)
    short: dict[int, int] = field(default_factory=dict)  # sku_id -> units nobody can supply

    @property
    def ok(self) -> bool:
        return not self.short and bool(self.shipments)


def _order_key(c: Candidate) -> tuple[int, int, int]:
    return (0 if c.distance_m is not None else 1, c.distance_m or 0, c.store_id)


def _fills(c: Candidate, wanted: Mapping[int, int]) -> bool:
    return all(c.available.get(sku, 0) >= qty for sku, qty in wanted.items())


def plan(wanted: Mapping[int, int], candidates: Sequence[Candidate], policy: str = FEWEST) -> Plan:
    """Allocate ``wanted`` (sku_id → units, all positive) over ``candidates``."""
    if any(q <= 0 for q in wanted.values()):
        raise ValueError("every wanted quantity must be positive")
    if not wanted:
        return Plan()
    stores = sorted(candidates, key=_order_key)
    short = {
        sku: qty - total for sku, qty in wanted.items() if (total := sum(c.available.get(sku, 0) for c in stores)) < qty
    }
    if short:
        return Plan(short=short)
    whole = next((c for c in stores if _fills(c, wanted)), None)
    if whole is not None:
        return Plan(shipments=[Shipment(whole.store_id, whole.distance_m, dict(wanted))])

    left = {c.store_id: dict(c.available) for c in stores}
    by_store: dict[int, dict[int, int]] = {}
    remaining = dict(wanted)

    def take(store: Candidate, sku: int, qty: int) -> None:
        by_store.setdefault(store.store_id, {})[sku] = by_store.get(store.store_id, {}).get(sku, 0) + qty
        left[store.store_id][sku] = left[store.store_id].get(sku, 0) - qty
        remaining[sku] -= qty
        if remaining[sku] == 0:
            del remaining[sku]

    if policy == FEWEST:
        while remaining:
            best: tuple[int, int] | None = None
            best_store: Candidate | None = None
            for c in stores:
                whole_lines = [s for s, q in remaining.items() if left[c.store_id].get(s, 0) >= q]
                score = (len(whole_lines), sum(remaining[s] for s in whole_lines))
                if score[0] and (best is None or score > best):
                    best, best_store = score, c
            if best_store is None:
                break
            for sku, qty in list(remaining.items()):
                if left[best_store.store_id].get(sku, 0) >= qty:
                    take(best_store, sku, qty)
    elif policy == NEAREST:
        for sku, qty in list(remaining.items()):
            store = next((c for c in stores if left[c.store_id].get(sku, 0) >= qty), None)
            if store is not None:
                take(store, sku, qty)
    else:
        raise ValueError(f"unknown split policy {policy!r}")

    # Lines no single store can fill: split over the nearest stores that hold some.
    for sku in list(remaining):
        for c in stores:
            have = left[c.store_id].get(sku, 0)
            if have > 0:
                take(c, sku, min(have, remaining[sku]))
            if sku not in remaining:
                break

    shipments = [Shipment(c.store_id, c.distance_m, by_store[c.store_id]) for c in stores if c.store_id in by_store]
    return Plan(shipments=shipments)
