"""Template filters of the catalog: money in fen shown as yuan, a card's price or price range.

``{% load catalog_tags %}`` then ``{{ product.price_fen|cny }}`` (¥599.00) and
``{{ card|price_range }}`` (¥499.00 – ¥599.00, or one price)."""

from __future__ import annotations

from typing import Any

from django import template

from siyu.platform.money import format_cny

register = template.Library()


@register.filter
def cny(fen: Any) -> str:
    """An ``int`` of fen as ``¥1,299.00``; anything else as nothing."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        return ""
    return format_cny(fen)


@register.filter
def price_range(card: Any) -> str:
    """A product card's price at its store: one price, or the lowest – the highest."""
    low, high = card.min_price_fen, card.max_price_fen
    return format_cny(low) if low == high else f"{format_cny(low)} – {format_cny(high)}"
