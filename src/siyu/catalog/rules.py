"""Pure rules of the catalog: how sizes sort, how a product's price range at a store is made,
what a search text means. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Letter sizes in the order a shop shows them; numbers (shoe sizes, 36–46) sort by value.
_LETTER_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "2XL", "XXXL", "3XL", "4XL", "5XL")
_RANK = {s: i for i, s in enumerate(_LETTER_SIZES)}
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _size_key(size: str, first_seen: int) -> tuple[int, float, int]:
    text = size.strip().upper()
    if _NUMBER.match(text):
        return (0, float(text), first_seen)
    if text in _RANK:
        return (1, float(_RANK[text]), first_seen)
    return (2, 0.0, first_seen)  # anything else ("均码", "one size") keeps the order it came in


def ordered_sizes(sizes: Iterable[str]) -> list[str]:
    """The distinct sizes in shop order: numbers by value, then S < M < L < XL…, then the rest in
    the order they first appear."""
    first: dict[str, int] = {}
    for size in sizes:
        first.setdefault(size, len(first))
    return sorted(first, key=lambda s: _size_key(s, first[s]))


def ordered_colors(colors: Iterable[str]) -> list[str]:
    """The distinct colours in the order they first appear (SKUs come sorted by code)."""
    return list(dict.fromkeys(colors))


def price_range(brand_price_fen: int, sku_count: int, overrides: Sequence[int]) -> tuple[int, int]:
    """The lowest and highest price of a product at a store: each SKU costs its store price where
    HQ set one (``overrides``, one per overridden SKU), else the brand price. A product without
    SKUs, or with some SKUs not overridden, also costs the brand price."""
    prices = list(overrides)
    if sku_count == 0 or len(prices) < sku_count:
        prices.append(brand_price_fen)
    return min(prices), max(prices)


def search_terms(text: str | None, *, limit: int = 5) -> list[str]:
    """The words of a search text: split on white space (ASCII or the ideographic space), empty
    words dropped, at most ``limit`` words (a product must match every one)."""
    if not text:
        return []
    return [w for w in re.split(r"[\s\u3000]+", text.strip()) if w][:limit]
