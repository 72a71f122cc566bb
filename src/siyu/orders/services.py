"""Use-cases of orders: place (allocate and hold stock), pay (sandbox), hand to the stores, pick,
pack, ship or set out for pickup, complete, cancel, return. Each verb owns its transaction, moves the
order only along the state machine of :mod:`siyu.orders.rules`, writes an ``OrderEvent`` and the
notifications, and reaches stock only through :mod:`siyu.inventory.services` (ADR 0009).

Customers act on their own orders (``customer_id``); staff act through a :class:`Scope` (an order or
fulfilment outside its reach is a 404)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.events import services as events
from siyu.inventory import services as stock
from siyu.members import services as members
from siyu.orders import rules
from siyu.orders.models import (
    Channel,
    Fulfilment,
    Mode,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    ReturnRequest,
    Status,
)
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock, privacy, sql
from siyu.platform.tenancy import Scope, get_scoped, restrict

OutOfStock = stock.OutOfStock


class OrderError(ValidationError):
    """An order cannot do what was asked in its current state; the message says why."""


@dataclass(frozen=True)
class NewLine:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Delivery:
    recipient: str
    phone: str
    city: str
    address: str
    district: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class LineInfo:
    sku_id: int
    sku_code: str
    product_code: str
    product_name: str
    color: str
    size: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    fulfilment_id: int | None


@dataclass(frozen=True)
class FulfilmentInfo:
    id: int
    store_id: int
    status: str
    distance_m: int | None
    carrier: str
    tracking_no: str
    pickup_code: str


@dataclass(frozen=True)
class EventInfo:
    status: str
    note: str
    at: dt.datetime


@dataclass(frozen=True)
class OrderInfo:
    id: int
    number: str
    status: str
    mode: str
    channel: str
    customer_id: int
    store_id: int
    guide_id: int | None
    code_id: int | None
    pickup_store_id: int | None
    city: str
    items_fen: int
    shipping_fen: int
    total_fen: int
    created_at: dt.datetime
    pay_by: dt.datetime | None
    paid_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    lines: list[LineInfo] = field(default_factory=list)
    fulfilments: list[FulfilmentInfo] = field(default_factory=list)
    events: list[EventInfo] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return str(Status(self.status).label)


# ---- reads ---------------------------------------------------------------------------------------


def _info(
    order: Order,
    *,
    lines: Iterable[OrderLine] | None = None,
    fulfilments: Iterable[Fulfilment] | None = None,
    full: bool = True,
) -> OrderInfo:
    info = OrderInfo(
        id=order.pk,
        number=order.number,
        status=order.status,
        mode=order.mode,
        channel=order.channel,
        customer_id=order.customer_id,
        store_id=order.store_id,
        guide_id=order.guide_id,
        code_id=order.code_id,
        pickup_store_id=order.pickup_store_id,
        city=order.city,
        items_fen=order.items_fen,
        shipping_fen=order.shipping_fen,
        total_fen=order.total_fen,
        created_at=order.created_at,
        pay_by=order.pay_by,
        paid_at=order.paid_at,
        completed_at=order.completed_at,
        cancelled_at=order.cancelled_at,
    )
    if not full:
        return info
    source = lines if lines is not None else order.lines.all()
    info.lines.extend(
        LineInfo(
            sku_id=ln.sku_id,
            sku_code=ln.sku_code,
            product_code=ln.product_code,
            product_name=ln.product_name,
            color=ln.color,
            size=ln.size,
            quantity=ln.quantity,
            unit_price_fen=ln.unit_price_fen,
            amount_fen=ln.amount_fen,
            fulfilment_id=ln.fulfilment_id,
        )
        for ln in source
    )
    info.fulfilments.extend(
        FulfilmentInfo(
            id=f.pk,
            store_id=f.store_id,
            status=f.status,
            distance_m=f.distance_m,
            carrier=f.carrier,
            tracking_no=f.tracking_no,
            pickup_code=f.pickup_code,
        )
        for f in (fulfilments if fulfilments is not None else order.fulfilments.all())
    )
    if lines is None:
        info.events.extend(EventInfo(status=e.status, note=e.note, at=e.at) for e in order.events.all())
    return info


def order_info(brand_id: int, number: str) -> OrderInfo | None:
    order = Order.objects.filter(brand_id=brand_id, number=number).first()
    return _info(order) if order is not None else None


def customer_order(brand_id: int, customer_id: int, number: str) -> OrderInfo | None:
    """One of her own orders (also those placed before a merge into her), else ``None``."""
    ids = members.cluster_ids(customer_id)
    order = Order.objects.filter(brand_id=brand_id, number=number, customer_id__in=ids).first()
    return _info(order) if order is not None else None


def orders_of_customer(brand_id: int, customer_id: int, *, limit: int = 50) -> list[OrderInfo]:
    ids = members.cluster_ids(customer_id)
    qs = Order.objects.filter(brand_id=brand_id, customer_id__in=ids).prefetch_related("lines", "fulfilments")
    return [_info(o, lines=o.lines.all()) for o in qs[:limit]]


def units_by_store(brand_id: int) -> dict[tuple[int, int], int]:
    """Units of the orders placed and not cancelled (held or sold), per (fulfilling store, SKU):
    what a stock audit compares with what each store received."""
    rows = (
        OrderLine.objects.filter(brand_id=brand_id, fulfilment__isnull=False)
        .exclude(order__status=Status.CANCELLED)
        .values_list("fulfilment__store_id", "sku_id")
        .annotate(units=Sum("quantity"))
    )
    return {(store, sku): int(units) for store, sku, units in rows}


# A paid order no longer stands once it is cancelled (refunded before it left the store) or returned.
UNDONE = (Status.CANCELLED, Status.RETURNED)


@dataclass(frozen=True)
class SaleInfo:
    """A paid order as another domain counts it (guide tasks): who it is attributed to, when it was
    paid, what was paid, whether it was refunded since, and the style codes among its lines."""

    order_id: int
    guide_id: int | None
    paid_at: dt.datetime
    amount_fen: int
    refunded: bool
    product_codes: frozenset[str]


def _sales(qs: QuerySet[Order]) -> list[SaleInfo]:
    rows = list(qs.filter(paid_at__isnull=False).values_list("pk", "guide_id", "paid_at", "total_fen", "status"))
    codes: dict[int, set[str]] = {}
    lines = OrderLine.objects.filter(order_id__in=[r[0] for r in rows]).values_list("order_id", "product_code")
    for order_id, code in lines:
        codes.setdefault(order_id, set()).add(code)
    return [
        SaleInfo(pk, guide_id, paid_at, int(total), status in UNDONE, frozenset(codes.get(pk, ())))
        for pk, guide_id, paid_at, total, status in sorted(rows)
        if paid_at is not None
    ]


def guide_sales(brand_id: int, guide_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> list[SaleInfo]:
    """The orders attributed to these guides and paid within ``[start, end)``, refunded ones too
    (flagged), in order of their id."""
    ids = list(guide_ids)
    if not ids:
        return []
    found = Order.objects.filter(brand_id=brand_id, guide_id__in=ids, created_at__lt=end)  # paid after placed
    return _sales(found.filter(paid_at__gte=start, paid_at__lt=end))


def sales_of(brand_id: int, order_ids: Iterable[int]) -> list[SaleInfo]:
    """These orders of the brand as sales (those never paid are left out), in order of their id."""
    return _sales(Order.objects.filter(brand_id=brand_id, pk__in=list(order_ids)))


def visible_orders(
    scope: Scope,
    *,
    status: str | None = None,
    store_id: int | None = None,
    channel: str | None = None,
    q: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Order]:
    """Orders within the viewer's reach, newest first, for lists and exports."""
    if not scope.can(Perm.ORDERS_VIEW):
        raise PermissionDenied(_("You may not read orders."))
    qs = restrict(Order, scope)
    if status:
        qs = qs.filter(status=status)
    if store_id:
        qs = qs.filter(store_id=store_id) | qs.filter(fulfilments__store_id=store_id)
        qs = qs.distinct()
    if channel:
        qs = qs.filter(channel=channel)
    if q:
        qs = qs.filter(number__icontains=q.strip())
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def staff_order(scope: Scope, number: str) -> OrderInfo:
    if not scope.can(Perm.ORDERS_VIEW):
        raise PermissionDenied(_("You may not read orders."))
    return _info(get_scoped(Order, scope, number=number))


def store_queue(scope: Scope, store_id: int, statuses: Sequence[str]) -> QuerySet[Fulfilment]:
    """The fulfilments a store has to work on (within the viewer's reach), oldest first."""
    if not scope.can(Perm.ORDERS_VIEW):
        raise PermissionDenied(_("You may not read orders."))
    return (
        restrict(Fulfilment, scope)
        .filter(store_id=store_id, status__in=list(statuses))
        .select_related("order")
        .order_by("updated_at", "id")
    )


def recipient_of(order_id: int, *, masked: bool) -> dict[str, str]:
    """The delivery recipient (name, phone, address), masked unless the viewer needs it."""
    order = Order.objects.get(pk=order_id)
    name, phone, address = (
        privacy.unseal(v) if v else "" for v in (order.recipient_sealed, order.phone_sealed, order.address_sealed)
    )
    if masked:
        return {"name": privacy.mask_name(name), "phone": privacy.mask_phone(phone), "address": order.district}
    return {"name": name, "phone": phone, "address": address}


# ---- placing an order ----------------------------------------------------------------------------


def _new_number(at: dt.datetime) -> str:
    return f"{at:%y%m%d}{secrets.randbelow(10**8):08d}"


def _event(
    order: Order, status: str, *, at: dt.datetime, actor: str, note: str = "", fulfilment: Fulfilment | None = None
) -> None:
    OrderEvent.objects.create(
        brand_id=order.brand_id,
        order=order,
        fulfilment=fulfilment,
        status=status,
        note=note[:200],
        actor_label=actor[:120],
        at=at,
    )


def _notify(order: Order, kind: str, *, at: dt.datetime, stores: Iterable[int] = (), customer: bool = True) -> None:
    rows = [
        Notification(
            brand_id=order.brand_id,
            order=order,
            audience=Notification.Audience.STORE,
            store_id=s,
            kind=kind,
            created_at=at,
        )
        for s in sorted(set(stores))
    ]
    if customer:
        rows.append(
            Notification(
                brand_id=order.brand_id,
                order=order,
                audience=Notification.Audience.CUSTOMER,
                customer_id=order.customer_id,
                kind=kind,
                created_at=at,
            )
        )
    Notification.objects.bulk_create(rows)


def _clean_lines(lines: Sequence[NewLine]) -> dict[int, int]:
    if not lines:
        raise ValidationError({"lines": _("The order has no items.")})
    if len(lines) > rules.MAX_LINES:
        raise ValidationError({"lines": _("An order holds at most %(n)d different items.") % {"n": rules.MAX_LINES}})
    wanted: dict[int, int] = {}
    for ln in lines:
        qty = ln.quantity
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= rules.MAX_UNITS_PER_LINE:
            raise ValidationError({"quantity": _("A quantity is from 1 to %(n)d.") % {"n": rules.MAX_UNITS_PER_LINE}})
        wanted[int(ln.sku_id)] = wanted.get(int(ln.sku_id), 0) + qty
    if any(q > rules.MAX_UNITS_PER_LINE for q in wanted.values()):
        raise ValidationError({"quantity": _("A quantity is from 1 to %(n)d.") % {"n": rules.MAX_UNITS_PER_LINE}})
    return wanted


def _clean_delivery(d: Delivery | None) -> Delivery:
    if d is None:
        raise ValidationError({"address": _("Give a delivery address, or choose store pickup.")})
    errors: dict[str, str] = {}
    recipient, city, address = d.recipient.strip(), d.city.strip(), d.address.strip()
    if not recipient or len(recipient) > 40:
        errors["recipient"] = _("Give the recipient's name (up to 40 characters).")
    try:
        phone = privacy.normalize_phone(d.phone)
    except ValueError:
        phone = ""
    if not phone:
        errors["phone"] = _("Give the recipient's mobile number, e.g. 13812345678.")
    if not city or len(city) > 40:
        errors["city"] = _("Give the city.")
    if not address or len(address) > 200:
        errors["address"] = _("Give the street address (up to 200 characters).")
    if (d.latitude is None) != (d.longitude is None) or (
        d.latitude is not None and not (-90 <= d.latitude <= 90 and -180 <= (d.longitude or 0) <= 180)
    ):
        errors["latitude"] = _("The location is not a valid latitude and longitude.")
    if errors:
        raise ValidationError(errors)
    return Delivery(recipient, phone, city, address, d.district.strip()[:40], d.latitude, d.longitude)


_ORDER_COLUMNS = (
    "brand_id",
    "number",
    "client_key",
    "external_ref",
    "channel",
    "status",
    "mode",
    "customer_id",
    "store_id",
    "guide_id",
    "code_id",
    "pickup_store_id",
    "recipient_sealed",
    "phone_sealed",
    "address_sealed",
    "city",
    "district",
    "latitude",
    "longitude",
    "items_fen",
    "shipping_fen",
    "total_fen",
    "note",
    "created_at",
    "pay_by",
)
_FULFILMENT_COLUMNS = (
    "brand_id",
    "order_id",
    "store_id",
    "status",
    "distance_m",
    "carrier",
    "tracking_no",
    "pickup_code",
    "updated_at",
)
_LINE_COLUMNS = (
    "brand_id",
    "order_id",
    "fulfilment_id",
    "sku_id",
    "product_code",
    "product_name",
    "sku_code",
    "color",
    "size",
    "quantity",
    "unit_price_fen",
    "amount_fen",
)
PLACE_ATTEMPTS = 5  # plans and holds per placement (a hold that lost its race, a drawn number taken)


@dataclass(frozen=True)
class _NewOrder:
    """What a placement writes, prepared before its transaction."""

    brand_id: int
    number: str
    client_key: str
    channel: str
    mode: str
    customer_id: int
    store_id: int
    guide_id: int | None
    code_id: int | None
    pickup_store_id: int | None
    sealed: tuple[str, str, str]  # recipient, phone, street address
    city: str
    district: str
    latitude: float | None
    longitude: float | None
    items_fen: int
    shipping_fen: int
    note: str
    created_at: dt.datetime
    pay_by: dt.datetime
    actor: str


def _write_order(new: _NewOrder, shipments: Sequence[stock.Shipment], skus: dict[int, catalog.SkuInfo]) -> OrderInfo:
    """The order, its parcels, lines, first event and the customer's notification, in plain SQL:
    one multi-row ``INSERT`` per table, nothing read back but the new ids (ADR 0014)."""
    b, at = new.brand_id, sql.stamp(new.created_at)
    with connection.cursor() as cursor:
        ((order_id,),) = sql.insert_rows(
            Order,
            _ORDER_COLUMNS,
            [
                (
                    b,
                    new.number,
                    new.client_key,
                    "",
                    new.channel,
                    Status.CREATED,
                    new.mode,
                    new.customer_id,
                    new.store_id,
                    new.guide_id,
                    new.code_id,
                    new.pickup_store_id,
                    *new.sealed,
                    new.city,
                    new.district,
                    sql.decimal(new.latitude, 9, 6),
                    sql.decimal(new.longitude, 9, 6),
                    new.items_fen,
                    new.shipping_fen,
                    new.items_fen + new.shipping_fen,
                    new.note,
                    at,
                    sql.stamp(new.pay_by),
                )
            ],
            returning=("id",),
            cursor=cursor,
        )
        pending = Fulfilment.Status.PENDING
        parcel_ids = sql.insert_rows(
            Fulfilment,
            _FULFILMENT_COLUMNS,
            [(b, order_id, s.store_id, pending, s.distance_m, "", "", "", at) for s in shipments],
            returning=("id",),
            cursor=cursor,
        )
        lines = [
            LineInfo(sku_id=sku, **rules.line_snapshot(skus[sku], qty), fulfilment_id=parcel_id)
            for s, (parcel_id,) in zip(shipments, parcel_ids, strict=True)
            for sku, qty in s.lines.items()
        ]
        sql.insert_rows(
            OrderLine,
            _LINE_COLUMNS,
            [
                (
                    *(b, order_id, ln.fulfilment_id, ln.sku_id, ln.product_code, ln.product_name, ln.sku_code),
                    *(ln.color, ln.size, ln.quantity, ln.unit_price_fen, ln.amount_fen),
                )
                for ln in lines
            ],
            cursor=cursor,
        )
        sql.insert_rows(
            OrderEvent,
            ("brand_id", "order_id", "status", "note", "actor_label", "at"),
            [(b, order_id, Status.CREATED, "", new.actor[:120], at)],
            cursor=cursor,
        )
        sql.insert_rows(
            Notification,
            ("brand_id", "order_id", "audience", "customer_id", "kind", "created_at"),
            [(b, order_id, Notification.Audience.CUSTOMER, new.customer_id, Status.CREATED, at)],
            cursor=cursor,
        )
    return OrderInfo(
        id=order_id,
        number=new.number,
        status=Status.CREATED,
        mode=new.mode,
        channel=new.channel,
        customer_id=new.customer_id,
        store_id=new.store_id,
        guide_id=new.guide_id,
        code_id=new.code_id,
        pickup_store_id=new.pickup_store_id,
        city=new.city,
        items_fen=new.items_fen,
        shipping_fen=new.shipping_fen,
        total_fen=new.items_fen + new.shipping_fen,
        created_at=new.created_at,
        pay_by=new.pay_by,
        paid_at=None,
        completed_at=None,
        cancelled_at=None,
        lines=lines,
        fulfilments=[
            FulfilmentInfo(
                id=parcel_id,
                store_id=s.store_id,
                status=pending,
                distance_m=s.distance_m,
                carrier="",
                tracking_no="",
                pickup_code="",
            )
            for s, (parcel_id,) in zip(shipments, parcel_ids, strict=True)
        ],
        events=[EventInfo(status=Status.CREATED, note="", at=new.created_at)],
    )


def _placed_before(brand_id: int, client_key: str) -> OrderInfo | None:
    if not client_key:
        return None
    found = Order.objects.filter(brand_id=brand_id, client_key=client_key).first()
    return _info(found) if found is not None else None


def place_order(
    brand_id: int,
    customer_id: int,
    *,
    store_id: int,
    lines: Sequence[NewLine],
    mode: str = Mode.DELIVERY,
    delivery: Delivery | None = None,
    pickup_store_id: int | None = None,
    origin: tuple[float, float] | None = None,
    guide_id: int | None = None,
    code_id: int | None = None,
    client_key: str = "",
    note: str = "",
    channel: str = Channel.MALL,
    actor: str = "",
) -> OrderInfo:
    """Place an order for ``customer_id`` from ``store_id``'s page: price the lines at that store,
    allocate them to the nearest stores that can fill them (or the pickup store), hold the stock
    until the payment deadline, and record who brought the order (store, guide, code). The same
    ``client_key`` again returns the order placed the first time. Raises :class:`OutOfStock`
    (nothing changes) or ``ValidationError``.

    The hot path of the mall (ADR 0014): the plan is made from reads outside the transaction; the
    transaction writes the order in plain SQL and then holds the stock with the conditional updates
    of ADR 0009. A hold that lost its race rolls everything back and plans again. A repeated
    ``client_key`` is found by the unique constraint (no read before every placement)."""
    client_key = (client_key or "").strip()[:80]
    if mode not in Mode.values:
        raise ValidationError({"mode": _("Choose delivery or store pickup.")})
    wanted = _clean_lines(lines)
    buyer = members.buyer(brand_id, customer_id)
    if buyer is None:
        raise ValidationError({"customer": _("Unknown customer.")})
    policy = stock.allocation_policy(brand_id)
    place: Delivery | None = None
    if mode == Mode.PICKUP:
        pickup = org.store_info(brand_id, pickup_store_id) if isinstance(pickup_store_id, int) else None
        if pickup is None or pickup.status != "open":
            raise ValidationError({"pickup_store": _("Choose an open store to pick the order up at.")})
        city, stores = pickup.city, {pickup.id: pickup}
    else:
        place = _clean_delivery(delivery)
        city = place.city
        if place.latitude is not None and place.longitude is not None:
            origin = (place.latitude, place.longitude)
        stores = stock.candidate_stores(brand_id, city=city, policy=policy)  # the one read of the stores
    store = stores.get(store_id) or org.store_info(brand_id, store_id)  # a page of another city: one more read
    if store is None or store.status != "open":
        raise ValidationError({"store": _("This store is not open for orders.")})
    skus = catalog.sku_prices(brand_id, wanted, store_id=store_id)
    unknown = [s for s in wanted if s not in skus or not skus[s].on_sale]
    if unknown:
        raise ValidationError(
            {"lines": _("%(n)d item(s) are not on sale: remove them and try again.") % {"n": len(unknown)}}
        )
    now = clock.now()
    items_fen = sum(skus[s].price_fen * q for s, q in wanted.items())
    pickup_id = pickup_store_id if mode == Mode.PICKUP else None
    new = _NewOrder(
        brand_id=brand_id,
        number="",
        client_key=client_key,
        channel=channel,
        mode=mode,
        customer_id=buyer.customer_id,
        store_id=store_id,
        guide_id=guide_id if guide_id is not None else buyer.guide_id,
        code_id=code_id,
        pickup_store_id=pickup_id,
        sealed=(privacy.seal(place.recipient), privacy.seal(place.phone), privacy.seal(place.address))
        if place
        else ("", "", ""),
        city=city,
        district=place.district if place else "",
        latitude=place.latitude if place else None,
        longitude=place.longitude if place else None,
        items_fen=items_fen,
        shipping_fen=rules.shipping_fen(mode, items_fen),
        note=note.strip()[:200],
        created_at=now,
        pay_by=now + dt.timedelta(minutes=policy.hold_minutes),
        actor=actor,
    )
    refused: stock.HoldRefused | None = None
    for _attempt in range(PLACE_ATTEMPTS):
        try:
            shipments = stock.plan_allocation(
                brand_id, wanted, policy=policy, stores=stores, city=city, origin=origin, pickup_store_id=pickup_id
            )
        except OutOfStock:
            if (found := _placed_before(brand_id, client_key)) is not None:
                return found  # a retry of an order that took the last units
            raise
        number = _new_number(now)
        try:
            with transaction.atomic():
                info = _write_order(replace(new, number=number), shipments, skus)
                stock.hold(brand_id, number, shipments, minutes=policy.hold_minutes, at=now, actor=actor)
        except stock.HoldRefused as exc:
            refused = exc  # another checkout took the stock since the plan: plan again
            continue
        except IntegrityError:
            if (found := _placed_before(brand_id, client_key)) is not None:
                return found
            if Order.objects.filter(brand_id=brand_id, number=number).exists():
                continue  # the number was taken: draw another
            raise
        return info
    if refused is not None:
        raise refused
    raise RuntimeError("could not draw a free order number")  # pragma: no cover - 10^8 numbers a day


# ---- paying ---------------------------------------------------------------------------------------


def _locked(brand_id: int, number: str) -> Order:
    order = Order.objects.select_for_update().filter(brand_id=brand_id, number=number).first()
    if order is None:
        raise OrderError({"order": _("No such order.")})
    return order


def pay(brand_id: int, number: str, *, key: str, succeed: bool = True, actor: str = "") -> OrderInfo:
    """The sandbox payment step: a charge of the order's total under ``key`` (the same key again
    is the same payment). A successful charge sells the held stock, hands the order to its
    fulfilling stores and tells them; a failed one leaves the order awaiting payment."""
    key = (key or "").strip()[:80]
    if not key:
        raise ValidationError({"key": _("A payment key is required.")})
    now = clock.now()
    with transaction.atomic():
        order = _locked(brand_id, number)
        done = Payment.objects.filter(brand_id=brand_id, key=key).first()
        if done is not None:
            if done.order_id != order.pk:
                raise OrderError({"key": _("This payment key belongs to another order.")})
            return _info(order)
        if order.status != Status.CREATED:
            raise OrderError(
                {"order": _("This order is %(status)s: it cannot be paid.") % {"status": order.get_status_display()}}
            )
        too_late = order.pay_by is not None and now > order.pay_by
        if too_late:
            _cancel(order, at=now, actor="system: payment deadline", note=_("Not paid in time."), expired=True)
        else:
            _charge(order, key=key, succeed=succeed, now=now, actor=actor)
    if too_late:  # raised after the commit: the cancellation stands
        raise OrderError({"order": _("The time to pay ran out and the order was cancelled. Place it again.")})
    return _info(order)


def _charge(order: Order, *, key: str, succeed: bool, now: dt.datetime, actor: str) -> None:
    """The sandbox charge of a locked, unpaid order; a success sells its stock and hands it to the
    stores."""
    payment = Payment.objects.create(
        brand_id=order.brand_id,
        order=order,
        key=key,
        amount_fen=order.total_fen,
        status=Payment.Status.SUCCEEDED if succeed else Payment.Status.FAILED,
        provider_ref=f"sandbox-{secrets.token_hex(8)}",
        created_at=now,
        settled_at=now,
    )
    if not succeed:
        _event(order, order.status, at=now, actor=actor, note=_("Payment failed."))
        return
    stock.sell(order.brand_id, order.number, actor=actor)
    order.status, order.paid_at = Status.PAID, now
    order.save(update_fields=["status", "paid_at"])
    _event(order, Status.PAID, at=now, actor=actor, note=payment.provider_ref)
    store_ids = list(order.fulfilments.values_list("store_id", flat=True))
    order.fulfilments.update(status=rules.F_TO_PICK, updated_at=now)
    order.status = Status.ALLOCATED
    order.save(update_fields=["status"])
    _event(order, Status.ALLOCATED, at=now, actor="system")
    _notify(order, Status.ALLOCATED, at=now, stores=store_ids)
    members.record_purchase(
        order.brand_id,
        order.customer_id,
        amount_fen=order.total_fen,
        store_id=order.store_id,
        guide_id=order.guide_id,
        at=now,
        reference=order.number,
    )
    events.emit_order(
        order.brand_id, order.pk, order.customer_id, now, amount_fen=order.total_fen,
        store_id=order.store_id, guide_id=order.guide_id, number=order.number, channel=order.channel,
    )  # fmt: skip


# ---- cancelling ----------------------------------------------------------------------------------


def _cancel(order: Order, *, at: dt.datetime, actor: str, note: str, expired: bool = False) -> None:
    fulfilments = list(order.fulfilments.all())
    if order.status == Status.CREATED:
        stock.release(order.brand_id, order.number, actor=actor, expired=expired)
    else:  # paid: the units were sold from the stores and never left them
        stock.restock(
            order.brand_id, f"cancel:{order.number}", _stock_lines(order), reference=order.number, actor=actor
        )
        _refund(order, at=at)
    for f in fulfilments:
        f.status, f.updated_at = rules.F_CANCELLED, at
    Fulfilment.objects.bulk_update(fulfilments, ["status", "updated_at"])
    order.status, order.cancelled_at = Status.CANCELLED, at
    order.save(update_fields=["status", "cancelled_at"])
    _event(order, Status.CANCELLED, at=at, actor=actor, note=note)
    _notify(order, Status.CANCELLED, at=at, stores=[f.store_id for f in fulfilments] if order.paid_at else ())


def _stock_lines(order: Order) -> list[tuple[int, int, int]]:
    """(store, SKU, units) of each line, at the store that fulfils it (the order's store if none)."""
    return [
        (ln.fulfilment.store_id if ln.fulfilment else order.store_id, ln.sku_id, ln.quantity)
        for ln in order.lines.select_related("fulfilment")
    ]


def _refund(order: Order, *, at: dt.datetime) -> None:
    Payment.objects.create(
        brand_id=order.brand_id,
        order=order,
        kind=Payment.Kind.REFUND,
        key=f"refund:{order.number}",
        amount_fen=order.total_fen,
        status=Payment.Status.SUCCEEDED,
        provider_ref=f"sandbox-{secrets.token_hex(8)}",
        created_at=at,
        settled_at=at,
    )
    members.record_refund(order.brand_id, order.customer_id, amount_fen=order.total_fen, reference=order.number)
    events.emit_order(
        order.brand_id, order.pk, order.customer_id, at, amount_fen=order.total_fen, refund=True,
        store_id=order.store_id, guide_id=order.guide_id, number=order.number, channel=order.channel,
    )  # fmt: skip


def cancel_own(brand_id: int, customer_id: int, number: str, *, reason: str = "") -> OrderInfo:
    """The customer cancels her order, until a store has sent or set out any part of it."""
    now = clock.now()
    with transaction.atomic():
        order = _locked(brand_id, number)
        if order.customer_id not in members.cluster_ids(customer_id):
            raise OrderError({"order": _("No such order.")})
        if not rules.customer_may_cancel(order.status, order.fulfilments.values_list("status", flat=True)):
            raise OrderError({"order": _("This order is already on its way: ask for a return once it arrives.")})
        _cancel(order, at=now, actor="customer", note=reason or _("Cancelled by the customer."))
    return _info(order)


def cancel_by_staff(scope: Scope, number: str, *, reason: str) -> OrderInfo:
    if not scope.can(Perm.ORDERS_MANAGE):
        raise PermissionDenied(_("You may not cancel orders."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the order is cancelled (the customer is told).")})
    now = clock.now()
    with transaction.atomic():
        get_scoped(Order, scope, number=number)
        order = _locked(scope.brand_id, number)
        if (
            order.status not in (Status.CREATED, Status.PAID, Status.ALLOCATED)
            or order.fulfilments.filter(status__in=[rules.F_SHIPPED, rules.F_READY, rules.F_DONE]).exists()
        ):
            raise OrderError({"order": _("Only an order no store has sent or set out can be cancelled.")})
        _cancel(order, at=now, actor=scope.label, note=reason.strip())
        audit.record_by(scope, "order.cancel", order, after={"number": number, "reason": reason.strip()})
    return _info(order)


def expire_unpaid() -> int:
    """Cancel every order whose payment deadline passed, freeing its stock. Returns how many."""
    now = clock.now()
    due = list(Order.objects.filter(status=Status.CREATED, pay_by__lt=now).values_list("brand_id", "number"))
    n = 0
    for brand_id, number in due:
        with transaction.atomic():
            order = _locked(brand_id, number)
            if order.status == Status.CREATED and order.pay_by is not None and order.pay_by < now:
                _cancel(order, at=now, actor="system: payment deadline", note=_("Not paid in time."), expired=True)
                n += 1
    return n


# ---- the stores' work ----------------------------------------------------------------------------


def _fulfilment(scope: Scope, fulfilment_id: int) -> tuple[Fulfilment, Order]:
    if not scope.can(Perm.ORDERS_FULFIL):
        raise PermissionDenied(_("You may not fulfil orders."))
    found = get_scoped(Fulfilment, scope, pk=fulfilment_id)
    order = _locked(scope.brand_id, found.order.number)
    f = Fulfilment.objects.select_for_update().get(pk=found.pk)
    return f, order


def _advance(
    scope: Scope,
    fulfilment_id: int,
    target: str,
    *,
    note: str = "",
    check: Callable[[Fulfilment, Order], None] | None = None,
    **changes: object,
) -> OrderInfo:
    """Move one parcel on to ``target`` (its order following). ``check`` sees the locked parcel and
    order first and raises when this step does not apply to them."""
    now = clock.now()
    with transaction.atomic():
        f, order = _fulfilment(scope, fulfilment_id)
        if check is not None:
            check(f, order)
        if not rules.can_move_fulfilment(f.status, target):
            raise OrderError(
                {
                    "status": _("This parcel is %(status)s: it cannot be moved on that way.")
                    % {"status": f.get_status_display()}
                }
            )
        f.status, f.updated_at = target, now
        for name, value in changes.items():
            setattr(f, name, value)
        if target == rules.F_SHIPPED:
            f.shipped_at = now
        if target == rules.F_DONE:
            f.done_at = now
        f.save()
        _event(order, order.status, at=now, actor=scope.label, note=note or f.get_status_display(), fulfilment=f)
        _settle(order, at=now, actor=scope.label)
    return _info(order)


def _settle(order: Order, *, at: dt.datetime, actor: str) -> None:
    """Move the order to the state its fulfilments put it in, telling the customer."""
    target = rules.order_state(order.status, order.fulfilments.values_list("status", flat=True))
    if target == order.status:
        return
    order.status = target
    fields = ["status"]
    if target == Status.COMPLETED:
        order.completed_at = at
        fields.append("completed_at")
    order.save(update_fields=fields)
    _event(order, target, at=at, actor=actor)
    _notify(order, target, at=at)


def pack(scope: Scope, fulfilment_id: int) -> OrderInfo:
    return _advance(scope, fulfilment_id, rules.F_PACKED)


def ship(scope: Scope, fulfilment_id: int, *, carrier: str, tracking_no: str) -> OrderInfo:
    carrier, tracking_no = (carrier or "").strip(), (tracking_no or "").strip()
    errors = {}
    if not carrier or len(carrier) > 40:
        errors["carrier"] = _("Name the carrier (e.g. SF Express).")
    if not tracking_no or len(tracking_no) > 40:
        errors["tracking_no"] = _("Give the tracking number.")
    if errors:
        raise ValidationError(errors)

    def delivered(f: Fulfilment, order: Order) -> None:
        if order.mode != Mode.DELIVERY:
            raise OrderError({"status": _("This order is picked up at the store: set it out for pickup instead.")})

    return _advance(
        scope,
        fulfilment_id,
        rules.F_SHIPPED,
        check=delivered,
        carrier=carrier,
        tracking_no=tracking_no,
        note=f"{carrier} {tracking_no}",
    )


def set_out_for_pickup(scope: Scope, fulfilment_id: int) -> OrderInfo:

    def picked_up(f: Fulfilment, order: Order) -> None:
        if order.mode != Mode.PICKUP:
            raise OrderError({"status": _("This order is delivered: ship it instead.")})

    return _advance(scope, fulfilment_id, rules.F_READY, check=picked_up, pickup_code=f"{secrets.randbelow(10**6):06d}")


def hand_over(scope: Scope, fulfilment_id: int, *, pickup_code: str) -> OrderInfo:
    """The customer collects her order at the store and shows her pickup code."""

    def shows_code(f: Fulfilment, order: Order) -> None:
        if (pickup_code or "").strip() != f.pickup_code:
            raise ValidationError(
                {"pickup_code": _("That is not this order's pickup code: ask the customer to show it again.")}
            )

    return _advance(scope, fulfilment_id, rules.F_DONE, check=shows_code, note=_("Picked up"))


def mark_delivered(scope: Scope, fulfilment_id: int) -> OrderInfo:
    """The carrier delivered the parcel (the store records the carrier's confirmation)."""
    return _advance(scope, fulfilment_id, rules.F_DONE, note=_("Delivered"))


def confirm_receipt(brand_id: int, customer_id: int, number: str) -> OrderInfo:
    """The customer says her parcels arrived: every shipped parcel is delivered."""
    now = clock.now()
    with transaction.atomic():
        order = _locked(brand_id, number)
        if order.customer_id not in members.cluster_ids(customer_id):
            raise OrderError({"order": _("No such order.")})
        shipped = list(order.fulfilments.filter(status=rules.F_SHIPPED))
        if not shipped:
            raise OrderError({"order": _("Nothing of this order is on its way to you.")})
        for f in shipped:
            f.status, f.done_at, f.updated_at = rules.F_DONE, now, now
            f.save(update_fields=["status", "done_at", "updated_at"])
            _event(order, order.status, at=now, actor="customer", note=_("Delivered"), fulfilment=f)
        _settle(order, at=now, actor="customer")
    return _info(order)


# ---- returns -------------------------------------------------------------------------------------


def request_return(brand_id: int, customer_id: int, number: str, *, reason: str) -> OrderInfo:
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError({"reason": _("Say why you return it (up to 200 characters).")})
    now = clock.now()
    with transaction.atomic():
        order = _locked(brand_id, number)
        if order.customer_id not in members.cluster_ids(customer_id):
            raise OrderError({"order": _("No such order.")})
        if not rules.may_request_return(order.status, order.completed_at, now):
            raise OrderError({"order": _("A return can be asked for within 7 days of receiving the order.")})
        ReturnRequest.objects.create(
            brand_id=brand_id, order=order, reason=reason, requested_at=now, refund_fen=order.total_fen
        )
        order.status = Status.RETURN_REQUESTED
        order.save(update_fields=["status"])
        _event(order, Status.RETURN_REQUESTED, at=now, actor="customer", note=reason)
        _notify(
            order,
            Status.RETURN_REQUESTED,
            at=now,
            stores=order.fulfilments.values_list("store_id", flat=True),
            customer=False,
        )
    return _info(order)


def decide_return(scope: Scope, number: str, *, accept: bool, note: str = "") -> OrderInfo:
    """A store manager or HQ receives the returned goods (they go back into the fulfilling stores'
    stock and the customer is refunded) or refuses the return (the order is completed again)."""
    if not scope.can(Perm.ORDERS_MANAGE):
        raise PermissionDenied(_("You may not decide returns."))
    now = clock.now()
    with transaction.atomic():
        get_scoped(Order, scope, number=number)
        order = _locked(scope.brand_id, number)
        request = ReturnRequest.objects.select_for_update().filter(order=order).first()
        if order.status != Status.RETURN_REQUESTED or request is None:
            raise OrderError({"order": _("No return is waiting for a decision on this order.")})
        if not accept and not note.strip():
            raise ValidationError({"note": _("Say why the return is refused (the customer is told).")})
        request.decided_at, request.decided_by = now, scope.label[:120]
        if accept:
            stock.restock(scope.brand_id, f"return:{number}", _stock_lines(order), reference=number, actor=scope.label)
            _refund(order, at=now)
            request.status = ReturnRequest.Status.RECEIVED
            order.status = Status.RETURNED
        else:
            request.status = ReturnRequest.Status.REFUSED
            order.status = Status.COMPLETED
        request.save()
        order.save(update_fields=["status"])
        _event(order, order.status, at=now, actor=scope.label, note=note.strip())
        _notify(order, order.status, at=now)
        audit.record_by(
            scope,
            "order.return_" + ("accept" if accept else "refuse"),
            order,
            after={"number": number, "note": note.strip()},
        )
    return _info(order)


# ---- notifications -------------------------------------------------------------------------------


def unread_for_store(scope: Scope, store_id: int) -> int:
    return restrict(Notification, scope).filter(store_id=store_id, read_at__isnull=True).count()


def notifications_of_customer(
    brand_id: int, customer_id: int, *, limit: int = 20
) -> list[tuple[str, str, dt.datetime]]:
    """Her latest order messages: (order number, status/event kind, when)."""
    ids = members.cluster_ids(customer_id)
    rows = (
        Notification.objects.filter(brand_id=brand_id, customer_id__in=ids)
        .select_related("order")
        .order_by("-created_at", "-id")[:limit]
    )
    return [(n.order.number, n.kind, n.created_at) for n in rows]


# ---- the cart (cart.py) --------------------------------------------------------------------------
# isort: split
from siyu.orders import cart as _cart  # noqa: E402  (cart imports this module only inside checkout)

CartInfo = _cart.CartInfo
CartLineInfo = _cart.CartLineInfo
add_to_cart = _cart.add_to_cart
set_cart_quantity = _cart.set_cart_quantity
remove_from_cart = _cart.remove_from_cart
cart_of = _cart.cart_of
cart_units = _cart.cart_units
fill_cart = _cart.fill_cart
checkout = _cart.checkout


# ---- the stores' screens and the HQ console (helper-stock-orders) ---------------------------------


@dataclass(frozen=True)
class ParcelInfo:
    """One store's part of an order as its staff work on it: the order, the parcel, its lines."""

    order: OrderInfo
    fulfilment: FulfilmentInfo
    lines: list[LineInfo]

    @property
    def status_label(self) -> str:
        return str(Fulfilment.Status(self.fulfilment.status).label)


@dataclass(frozen=True)
class PaymentInfo:
    kind: str
    provider: str
    amount_fen: int
    status: str
    provider_ref: str
    created_at: dt.datetime


@dataclass(frozen=True)
class ReturnInfo:
    status: str
    reason: str
    refund_fen: int
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str


QUEUE = (rules.F_TO_PICK, rules.F_PACKED, rules.F_READY, rules.F_SHIPPED)  # what a store works on


def parcel(scope: Scope, fulfilment_id: int) -> ParcelInfo:
    """A parcel within the viewer's reach (else 404), with its order and its own lines."""
    if not scope.can(Perm.ORDERS_VIEW):
        raise PermissionDenied(_("You may not read orders."))
    f = get_scoped(Fulfilment, scope, pk=fulfilment_id)
    order = _info(f.order)
    shown = next(x for x in order.fulfilments if x.id == f.pk)
    return ParcelInfo(order=order, fulfilment=shown, lines=[ln for ln in order.lines if ln.fulfilment_id == f.pk])


def queue_counts(scope: Scope, store_id: int) -> dict[str, int]:
    """How many of the store's parcels wait in each working state (to pick, packed, ready, shipped)."""
    counts = dict.fromkeys(QUEUE, 0)
    rows = store_queue(scope, store_id, QUEUE).order_by().values_list("status").annotate(n=Count("id"))
    counts.update({status: n for status, n in rows})
    return counts


def mark_read(scope: Scope, store_id: int, order_id: int) -> int:
    """The store's staff opened the order: its notifications to the store are read."""
    return (
        restrict(Notification, scope)
        .filter(store_id=store_id, order_id=order_id, read_at__isnull=True)
        .update(read_at=clock.now())
    )


def order_money(scope: Scope, number: str) -> tuple[list[PaymentInfo], ReturnInfo | None]:
    """The payments and refunds of an order within the viewer's reach, and its return if any."""
    if not scope.can(Perm.ORDERS_VIEW):
        raise PermissionDenied(_("You may not read orders."))
    order = get_scoped(Order, scope, number=number)
    payments = [
        PaymentInfo(p.kind, p.provider, p.amount_fen, p.status, p.provider_ref, p.created_at)
        for p in Payment.objects.filter(order=order)
    ]
    r = ReturnRequest.objects.filter(order=order).first()
    ret = (
        ReturnInfo(r.status, r.reason, r.refund_fen, r.requested_at, r.decided_at, r.decided_by)
        if r is not None
        else None
    )
    return payments, ret


def parcel_of(scope: Scope, number: str, store_id: int) -> int | None:
    """The id of the store's parcel of an order within the viewer's reach, if it has one."""
    return (
        restrict(Fulfilment, scope).filter(order__number=number, store_id=store_id).values_list("pk", flat=True).first()
    )


# ---- offline POS orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class PosLine:
    sku_id: int
    quantity: int
    unit_price_fen: int


def record_pos_order(
    scope: Scope,
    *,
    store_id: int,
    document: str,
    customer_id: int,
    lines: Sequence[PosLine],
    at: dt.datetime,
) -> tuple[OrderInfo, bool]:
    """An in-store sale a POS reports: recorded as a completed ``pos`` order handed over at the store,
    attributed to the customer's bound guide; the units leave the store's stock
    (``inventory.services.sell_offline``) and her purchase summary moves on. ``document`` (the POS
    document number) makes it idempotent: the same document again returns the order recorded the
    first time and ``False``. Raises ``ValidationError`` or :class:`OutOfStock` (nothing changes)."""
    if not scope.can(Perm.ORDERS_IMPORT):
        raise PermissionDenied(_("You may not import POS orders."))
    document = (document or "").strip()
    if not document or len(document) > 60:
        raise ValidationError({"document": _("Give the POS document number (up to 60 characters).")})
    found = Order.objects.filter(brand_id=scope.brand_id, external_ref=document).first()
    if found is not None:
        return _info(found), False
    store = org.store_info(scope.brand_id, store_id, scope=scope)
    if store is None:
        raise ValidationError({"store": _("Choose a store within your reach.")})
    if not lines or len(lines) > rules.MAX_LINES:
        raise ValidationError({"lines": _("A POS order has 1 to %(n)d lines.") % {"n": rules.MAX_LINES}})
    for ln in lines:
        if not isinstance(ln.quantity, int) or isinstance(ln.quantity, bool) or not 1 <= ln.quantity <= 9999:
            raise ValidationError({"quantity": _("A quantity is a whole number from 1 to 9999.")})
        if not isinstance(ln.unit_price_fen, int) or isinstance(ln.unit_price_fen, bool) or ln.unit_price_fen < 0:
            raise ValidationError({"price": _("A price is a whole number of fen, 0 or more.")})
    buyer = members.buyer(scope.brand_id, customer_id)
    if buyer is None:
        raise ValidationError({"customer": _("Unknown customer.")})
    skus = catalog.sku_prices(scope.brand_id, {ln.sku_id for ln in lines})
    unknown = sorted({ln.sku_id for ln in lines} - set(skus))
    if unknown:
        raise ValidationError({"sku": _("Unknown SKU id(s): %(ids)s.") % {"ids": ", ".join(map(str, unknown))}})
    sold: dict[int, int] = {}
    for ln in lines:
        sold[ln.sku_id] = sold.get(ln.sku_id, 0) + ln.quantity
    items_fen = sum(ln.unit_price_fen * ln.quantity for ln in lines)
    for _attempt in range(5):
        number = _new_number(at)
        try:
            with transaction.atomic():
                stock.sell_offline(
                    scope.brand_id, store_id, sold, key=f"pos:{document}", reference=document, actor=scope.label
                )
                order = Order.objects.create(
                    brand_id=scope.brand_id,
                    number=number,
                    external_ref=document,
                    channel=Channel.POS,
                    status=Status.COMPLETED,
                    mode=Mode.PICKUP,
                    customer_id=buyer.customer_id,
                    store_id=store_id,
                    guide_id=buyer.guide_id,
                    pickup_store_id=store_id,
                    city=store.city,
                    items_fen=items_fen,
                    shipping_fen=0,
                    total_fen=items_fen,
                    created_at=at,
                    paid_at=at,
                    completed_at=at,
                )
                f = Fulfilment.objects.create(
                    brand_id=scope.brand_id,
                    order=order,
                    store_id=store_id,
                    status=rules.F_DONE,
                    updated_at=at,
                    done_at=at,
                )
                OrderLine.objects.bulk_create(
                    OrderLine(
                        brand_id=scope.brand_id,
                        order=order,
                        fulfilment=f,
                        sku_id=ln.sku_id,
                        product_code=skus[ln.sku_id].product_code,
                        product_name=skus[ln.sku_id].product_name,
                        sku_code=skus[ln.sku_id].sku_code,
                        color=skus[ln.sku_id].color,
                        size=skus[ln.sku_id].size,
                        quantity=ln.quantity,
                        unit_price_fen=ln.unit_price_fen,
                        amount_fen=ln.unit_price_fen * ln.quantity,
                    )
                    for ln in lines
                )
                if items_fen > 0:
                    Payment.objects.create(
                        brand_id=scope.brand_id,
                        order=order,
                        provider="pos",
                        key=f"pos:{document}",
                        amount_fen=items_fen,
                        status=Payment.Status.SUCCEEDED,
                        provider_ref=document,
                        created_at=at,
                        settled_at=at,
                    )
                _event(
                    order,
                    Status.COMPLETED,
                    at=at,
                    actor=scope.label,
                    note=_("POS document %(doc)s") % {"doc": document},
                )
                members.record_purchase(
                    scope.brand_id,
                    buyer.customer_id,
                    amount_fen=items_fen,
                    store_id=store_id,
                    guide_id=buyer.guide_id,
                    at=at,
                    reference=number,
                    pos=True,
                )
                events.emit_order(
                    scope.brand_id, order.pk, buyer.customer_id, at, amount_fen=items_fen,
                    store_id=store_id, guide_id=buyer.guide_id, number=number, channel=order.channel,
                )  # fmt: skip
                audit.record_by(scope, "order.pos", order, after={"number": number, "document": document})
        except IntegrityError:
            found = Order.objects.filter(brand_id=scope.brand_id, external_ref=document).first()
            if found is not None:  # a concurrent call recorded the same document first
                return _info(found), False
            if Order.objects.filter(brand_id=scope.brand_id, number=number).exists():
                continue
            raise
        return _info(order), True
    raise RuntimeError("could not draw a free order number")  # pragma: no cover


def pos_documents(brand_id: int, documents: Sequence[str]) -> set[str]:
    """Which of these POS document numbers are already recorded as orders."""
    return set(
        Order.objects.filter(brand_id=brand_id, external_ref__in=[d for d in documents if d]).values_list(
            "external_ref", flat=True
        )
    )
