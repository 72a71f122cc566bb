"""The customer's cart in the store mall: one cart per customer and brand, one line per SKU.

Lines are priced at the store whose page she is on (``catalog.sku_prices``: a store price set by
HQ wins over the brand price) and carry what the stores of her city can sell now
(``inventory.city_stock``); neither is stored, so the cart always shows today's price and stock.
Checking out places the order through :func:`siyu.orders.services.place_order` and then removes
the ordered lines; an order that cannot be placed (out of stock, bad input) leaves the cart as it
was."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.inventory import services as stock
from siyu.orders import rules
from siyu.orders.models import Cart, CartLine
from siyu.platform import clock

if TYPE_CHECKING:
    from siyu.orders.services import OrderInfo


@dataclass(frozen=True)
class CartLineInfo:
    sku_id: int
    sku_code: str
    product_id: int
    product_code: str
    product_name: str
    color: str
    size: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    on_sale: bool
    available: int  # what the city's open stores can sell now

    @property
    def short(self) -> int:
        """Units wanted beyond what the city holds (0 when the line can be filled)."""
        return max(0, self.quantity - self.available)


@dataclass(frozen=True)
class CartInfo:
    lines: list[CartLineInfo]
    items_fen: int

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)

    @property
    def orderable(self) -> bool:
        return bool(self.lines) and all(ln.on_sale and ln.short == 0 for ln in self.lines)


def _quantity(value: object) -> int:
    try:
        qty = int(str(value))
    except (TypeError, ValueError):
        qty = 0
    if not 1 <= qty <= rules.MAX_UNITS_PER_LINE:
        raise ValidationError({"quantity": _("A quantity is from 1 to %(n)d.") % {"n": rules.MAX_UNITS_PER_LINE}})
    return qty


def _cart(brand_id: int, customer_id: int, store_id: int | None = None) -> Cart:
    now = clock.now()
    cart, created = Cart.objects.get_or_create(
        brand_id=brand_id, customer_id=customer_id, defaults={"store_id": store_id, "updated_at": now}
    )
    if not created:
        cart.updated_at = now
        if store_id is not None:
            cart.store_id = store_id
        cart.save(update_fields=["updated_at", "store_id"])
    return cart


def add_to_cart(
    brand_id: int, customer_id: int, sku_id: int, quantity: object = 1, *, store_id: int | None = None
) -> int:
    """Add ``quantity`` units of a SKU on sale (to what the line holds). Returns the line's units."""
    qty = _quantity(quantity)
    found = catalog.sku_prices(brand_id, [sku_id])
    if sku_id not in found or not found[sku_id].on_sale:
        raise ValidationError({"sku": _("This item is not on sale.")})
    with transaction.atomic():
        cart = _cart(brand_id, customer_id, store_id)
        line = CartLine.objects.select_for_update().filter(cart=cart, sku_id=sku_id).first()
        if line is None:
            if cart.lines.count() >= rules.MAX_LINES:
                raise ValidationError(
                    {"sku": _("An order holds at most %(n)d different items.") % {"n": rules.MAX_LINES}}
                )
            CartLine.objects.create(cart=cart, sku_id=sku_id, quantity=qty, added_at=clock.now())
            return qty
        total = line.quantity + qty
        if total > rules.MAX_UNITS_PER_LINE:
            raise ValidationError({"quantity": _("A quantity is from 1 to %(n)d.") % {"n": rules.MAX_UNITS_PER_LINE}})
        line.quantity = total
        line.save(update_fields=["quantity"])
        return total


def set_cart_quantity(brand_id: int, customer_id: int, sku_id: int, quantity: object) -> None:
    """Set a line's units; 0 removes the line."""
    if str(quantity).strip() == "0":
        remove_from_cart(brand_id, customer_id, sku_id)
        return
    qty = _quantity(quantity)
    updated = CartLine.objects.filter(cart__brand_id=brand_id, cart__customer_id=customer_id, sku_id=sku_id).update(
        quantity=qty
    )
    if not updated:
        raise ValidationError({"sku": _("This item is not in your cart.")})


def remove_from_cart(brand_id: int, customer_id: int, sku_id: int) -> None:
    CartLine.objects.filter(cart__brand_id=brand_id, cart__customer_id=customer_id, sku_id=sku_id).delete()


def cart_of(brand_id: int, customer_id: int, *, store_id: int, city: str) -> CartInfo:
    """Her cart priced at ``store_id``, each line with what the open stores of ``city`` can sell."""
    rows = list(
        CartLine.objects.filter(cart__brand_id=brand_id, cart__customer_id=customer_id).values_list(
            "sku_id", "quantity"
        )
    )
    ids = [sku for sku, _q in rows]
    skus = catalog.sku_prices(brand_id, ids, store_id=store_id)
    free = stock.city_stock(brand_id, city, ids) if ids else {}
    lines = [
        CartLineInfo(
            sku_id=sku,
            product_id=skus[sku].product_id,
            **rules.line_snapshot(skus[sku], qty),
            on_sale=skus[sku].on_sale,
            available=free.get(sku, 0),
        )
        for sku, qty in rows
        if sku in skus
    ]
    return CartInfo(lines=lines, items_fen=sum(ln.amount_fen for ln in lines if ln.on_sale))


def cart_units(brand_id: int, customer_id: int) -> int:
    return sum(
        CartLine.objects.filter(cart__brand_id=brand_id, cart__customer_id=customer_id).values_list(
            "quantity", flat=True
        )
    )


def fill_cart(brand_id: int, customer_id: int, lines: Sequence[tuple[int, int]], *, store_id: int | None = None) -> int:
    """Put ``(sku, units)`` in the cart (reorder), skipping SKUs no longer on sale and capping a
    line at the most one line may hold. Returns how many SKUs were put in."""
    on_sale = {s for s, info in catalog.sku_prices(brand_id, [s for s, _q in lines]).items() if info.on_sale}
    done = 0
    with transaction.atomic():
        cart = _cart(brand_id, customer_id, store_id)
        for sku, qty in lines:
            if sku not in on_sale:
                continue
            line = CartLine.objects.select_for_update().filter(cart=cart, sku_id=sku).first()
            if line is None:
                if cart.lines.count() >= rules.MAX_LINES:
                    break
                CartLine.objects.create(
                    cart=cart, sku_id=sku, quantity=min(qty, rules.MAX_UNITS_PER_LINE), added_at=clock.now()
                )
            else:
                line.quantity = min(line.quantity + qty, rules.MAX_UNITS_PER_LINE)
                line.save(update_fields=["quantity"])
            done += 1
    return done


def clear_ordered(brand_id: int, customer_id: int, ordered: Sequence[tuple[int, int]]) -> None:
    """Take the ordered units off the cart (a line she raised meanwhile keeps the difference)."""
    with transaction.atomic():
        for sku, qty in ordered:
            line = (
                CartLine.objects.select_for_update()
                .filter(cart__brand_id=brand_id, cart__customer_id=customer_id, sku_id=sku)
                .first()
            )
            if line is None:
                continue
            if line.quantity <= qty:
                line.delete()
            else:
                line.quantity -= qty
                line.save(update_fields=["quantity"])


def checkout(brand_id: int, customer_id: int, *, store_id: int, city: str, **order: object) -> OrderInfo:
    """Place an order of everything in her cart (``order`` holds :func:`place_order`'s other
    arguments: mode, delivery, pickup store, guide, code, client key...), then take the ordered
    lines off the cart. Raises ``OutOfStock`` or ``ValidationError`` with the cart unchanged."""
    from siyu.orders import services  # services re-exports this module

    current = cart_of(brand_id, customer_id, store_id=store_id, city=city)
    if not current.lines:
        raise ValidationError({"lines": _("Your cart is empty.")})
    lines = [services.NewLine(ln.sku_id, ln.quantity) for ln in current.lines]
    info = services.place_order(brand_id, customer_id, store_id=store_id, lines=lines, **order)  # type: ignore[arg-type]
    clear_ordered(brand_id, customer_id, [(ln.sku_id, ln.quantity) for ln in current.lines])
    return info
