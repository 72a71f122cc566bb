"""Use-cases of stock (ADR 0009). Every change of a quantity is a ``Movement`` written in the same
transaction as the ``StockLevel`` it changes, through one function (:func:`_move`), whose update is
conditional: it changes the row only when the result keeps ``0 ≤ reserved ≤ on_hand``. That
single conditional ``UPDATE`` is the concurrency technique: under any number of concurrent
checkouts the database serialises the updates of one row and re-checks the condition after each,
so a store never sells or holds more than it has.

Staff verbs (receive, adjust, transfer, POS sync) take a :class:`Scope`, check ``inventory.manage``
and the store's reach, and leave an audit entry. The checkout verbs (reserve, sell, release,
allocate) are called by the orders domain and take a brand id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.inventory import rules
from siyu.inventory.models import (
    AllocationPolicy,
    Movement,
    MovementKind,
    Reservation,
    ReservationLine,
    SplitPolicy,
    StockLevel,
)
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock, geo, sql
from siyu.platform.tenancy import Level, Scope

MAX_QUANTITY = 1_000_000  # one movement never moves more units than this


class StockError(Exception):
    """A stock change that cannot be made; ``str()`` says why and what to do."""


class OutOfStock(StockError):
    """Not enough stock. ``short`` maps SKU id → the units missing."""

    def __init__(self, short: Mapping[int, int], message: str | None = None) -> None:
        self.short = dict(short)
        super().__init__(message or _("Not enough stock for %(n)d item(s).") % {"n": len(self.short)})


Shipment = rules.Shipment  # a part of a plan: one store, its distance, SKU → units


class ReservationGone(StockError):
    """The reservation was released or expired: its stock is no longer held."""


@dataclass(frozen=True)
class StoreStock:
    store_id: int
    sku_id: int
    available: int


@dataclass(frozen=True)
class LevelInfo:
    store_id: int
    sku_id: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class PolicyInfo:
    split: str
    hold_minutes: int
    beyond_city: bool


@dataclass(frozen=True)
class Allocation:
    key: str
    expires_at: dt.datetime
    shipments: list[rules.Shipment]


@dataclass(frozen=True)
class Mismatch:
    store_id: int
    sku_id: int
    on_hand: int
    on_hand_ledger: int
    reserved: int
    reserved_ledger: int


# ---- the one way a quantity changes -------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    store_id: int
    sku_id: int
    kind: str
    on_hand_delta: int = 0
    reserved_delta: int = 0


def _move(
    brand_id: int,
    moves: Sequence[Move],
    *,
    key: str,
    reference: str,
    note: str,
    actor: str,
) -> bool:
    """Apply ``moves`` (all or nothing) with one ledger row each. Returns ``False`` when ``key`` was
    applied before (nothing changes), raises :class:`OutOfStock` when a move would take a quantity
    below zero or hold more than is on hand. Must run inside a transaction. (A checkout's hold has
    its own batched path, :func:`_hold`, with the same conditional update.)"""
    if Movement.objects.filter(brand_id=brand_id, key=f"{key}#0").exists():
        return False
    at = clock.now()
    stamp = sql.stamp(at)
    short: dict[int, int] = {}
    # One lock order for every writer (store, SKU): two checkouts never wait on each other in a circle.
    ordered = sorted(enumerate(moves), key=lambda im: (im[1].store_id, im[1].sku_id, im[0]))
    try:
        with transaction.atomic():
            if all(m.reserved_delta == 0 and m.on_hand_delta >= 0 for m in moves):
                _add_all(brand_id, [m for _i, m in ordered], at)  # only adds: the guard always holds
                ordered = []
            for _i, m in ordered:
                if m.on_hand_delta >= 0 and m.reserved_delta >= 0 and m.reserved_delta <= m.on_hand_delta:
                    StockLevel.objects.get_or_create(
                        store_id=m.store_id, sku_id=m.sku_id, defaults={"brand_id": brand_id, "updated_at": at}
                    )
                with connection.cursor() as cursor:
                    cursor.execute(_guarded_update(), _guarded_args(m, stamp))
                    changed = cursor.rowcount
                if not changed:
                    on_hand, reserved = (
                        StockLevel.objects.filter(store_id=m.store_id, sku_id=m.sku_id)
                        .values_list("on_hand", "reserved")
                        .first()
                    ) or (0, 0)
                    after_on, after_res = on_hand + m.on_hand_delta, reserved + m.reserved_delta
                    missing = max(-after_on, after_res - after_on, 1)
                    short[m.sku_id] = short.get(m.sku_id, 0) + missing
            if short:
                raise OutOfStock(short)
            sql.insert_rows(
                Movement,
                _MOVEMENT_COLUMNS,
                [
                    _movement_row(brand_id, m, f"{key}#{i}", reference[:60], note[:200], actor[:120], stamp)
                    for i, m in enumerate(moves)
                ],
            )
    except IntegrityError:
        # A concurrent writer applied the same key first (the unique key), or a check constraint
        # caught what the guard should have: either way nothing of this call was written.
        if Movement.objects.filter(brand_id=brand_id, key=f"{key}#0").exists():
            return False
        raise
    return True


_MOVEMENT_COLUMNS = (
    "brand_id",
    "store_id",
    "sku_id",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "key",
    "reference",
    "note",
    "actor_label",
    "at",
)


def _movement_row(
    brand_id: int, m: Move, key: str, reference: str, note: str, actor: str, stamp: Any
) -> tuple[Any, ...]:
    """A ledger row in the order of ``_MOVEMENT_COLUMNS``."""
    return (
        brand_id,
        m.store_id,
        m.sku_id,
        m.kind,
        m.on_hand_delta,
        m.reserved_delta,
        key,
        reference,
        note,
        actor,
        stamp,
    )


def _add_all(brand_id: int, moves: Sequence[Move], at: dt.datetime) -> None:
    """Moves that only add units (a receipt, a return) cannot break ``0 ≤ reserved ≤ on_hand``: they
    are applied in one batch — the missing rows created, then one prepared ``UPDATE`` run for every
    row in the lock order — instead of one ORM update each (a store's opening delivery of a
    thousand SKUs is two statements, not two thousand)."""
    StockLevel.objects.bulk_create(
        [StockLevel(brand_id=brand_id, store_id=m.store_id, sku_id=m.sku_id, updated_at=at) for m in moves],
        ignore_conflicts=True,
        batch_size=500,
    )
    stamp = connection.ops.adapt_datetimefield_value(at)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {StockLevel._meta.db_table} SET on_hand = on_hand + %s, updated_at = %s "
            "WHERE store_id = %s AND sku_id = %s",
            [(m.on_hand_delta, stamp, m.store_id, m.sku_id) for m in moves],
        )


@cache
def _guarded_update() -> str:
    """THE concurrency technique (ADR 0009): one conditional ``UPDATE`` per movement. It changes the
    row of (store, SKU) only when the result keeps ``0 ≤ reserved ≤ on_hand``; PostgreSQL locks the
    row and, when a concurrent writer changed it first, re-evaluates the ``WHERE`` against the
    committed row. A row count of 0 is a refusal."""
    return (
        f"UPDATE {connection.ops.quote_name(StockLevel._meta.db_table)} "
        "SET on_hand = on_hand + %s, reserved = reserved + %s, updated_at = %s "
        "WHERE store_id = %s AND sku_id = %s "
        "AND on_hand >= reserved + %s AND on_hand >= %s AND reserved >= %s"
    )


def _guarded_args(m: Move, stamp: Any) -> tuple[Any, ...]:
    d_on, d_res = m.on_hand_delta, m.reserved_delta
    return (d_on, d_res, stamp, m.store_id, m.sku_id, d_res - d_on, -d_on, -d_res)


def _positive_lines(lines: Mapping[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for sku_id, qty in lines.items():
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0 or qty > MAX_QUANTITY:
            raise ValidationError(
                {"quantity": _("A quantity is a whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY}}
            )
        out[int(sku_id)] = qty
    if not out:
        raise ValidationError({"lines": _("Give at least one SKU and quantity.")})
    return out


def _require_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise ValidationError({"key": _("An idempotency key of 1 to 100 characters is required.")})
    return key


# ---- staff verbs -------------------------------------------------------------------------------


def _store_in_reach(scope: Scope, store_id: int) -> org.StoreInfo:
    if not scope.can(Perm.STOCK_MANAGE):
        raise PermissionDenied(_("You may not change stock."))
    store = org.store_info(scope.brand_id, store_id, scope=scope)
    if store is None:
        raise ValidationError({"store": _("Choose a store within your reach.")})
    if scope.level is Level.SELF:
        raise PermissionDenied(_("You may not change stock."))
    return store


def _check_skus(brand_id: int, sku_ids: Iterable[int]) -> None:
    ids = set(sku_ids)
    known = set(catalog.sku_prices(brand_id, ids))
    missing = sorted(ids - known)
    if missing:
        raise ValidationError({"sku": _("Unknown SKU id(s): %(ids)s.") % {"ids": ", ".join(map(str, missing))}})


def _staff_move(
    scope: Scope, action: str, store_id: int, moves: list[Move], *, key: str, reference: str, note: str
) -> bool:
    _check_skus(scope.brand_id, {m.sku_id for m in moves})
    with transaction.atomic():
        done = _move(scope.brand_id, moves, key=key, reference=reference, note=note, actor=scope.label)
        if done:
            first = Movement.objects.get(brand_id=scope.brand_id, key=f"{key}#0")
            audit.record_by(
                scope,
                action,
                first,
                after={
                    "key": key,
                    "reference": reference,
                    "note": note,
                    "moves": [[m.store_id, m.sku_id, m.kind, m.on_hand_delta] for m in moves],
                },
            )
    return done


def receive(
    scope: Scope, store_id: int, lines: Mapping[int, int], *, key: str, reference: str = "", note: str = ""
) -> bool:
    """Goods arrived at the store. Returns ``False`` when ``key`` was received before."""
    _store_in_reach(scope, store_id)
    wanted = _positive_lines(lines)
    moves = [Move(store_id, sku, MovementKind.RECEIPT, on_hand_delta=q) for sku, q in wanted.items()]
    return _staff_move(scope, "stock.receive", store_id, moves, key=_require_key(key), reference=reference, note=note)


def adjust(scope: Scope, store_id: int, sku_id: int, *, counted: int, reason: str, key: str) -> bool:
    """Set the store's on-hand count of a SKU to what was counted (a stock-take correction)."""
    _store_in_reach(scope, store_id)
    if not isinstance(counted, int) or isinstance(counted, bool) or not 0 <= counted <= MAX_QUANTITY:
        raise ValidationError({"counted": _("The count is a whole number, 0 or more.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the count changes (stock-take, damage, loss...).")})
    return _set_counts(scope, store_id, {sku_id: counted}, MovementKind.ADJUSTMENT, key=key, note=reason.strip())


def pos_sync(scope: Scope, store_id: int, counts: Mapping[int, int], *, key: str, reference: str = "") -> bool:
    """A POS reports what the store holds: each SKU's on-hand becomes the reported count."""
    _store_in_reach(scope, store_id)
    for sku_id, n in counts.items():
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_QUANTITY:
            raise ValidationError({"counts": _("SKU %(sku)s: a count is a whole number, 0 or more.") % {"sku": sku_id}})
    if not counts:
        raise ValidationError({"counts": _("Give at least one SKU count.")})
    return _set_counts(scope, store_id, counts, MovementKind.POS_SYNC, key=key, reference=reference)


def _set_counts(
    scope: Scope, store_id: int, counts: Mapping[int, int], kind: str, *, key: str, note: str = "", reference: str = ""
) -> bool:
    key = _require_key(key)
    with transaction.atomic():
        current = {
            sku: (on_hand, reserved)
            for sku, on_hand, reserved in StockLevel.objects.select_for_update()
            .filter(store_id=store_id, sku_id__in=list(counts))
            .values_list("sku_id", "on_hand", "reserved")
        }
        below = {sku: current[sku][1] for sku, n in counts.items() if sku in current and n < current[sku][1]}
        if below:
            raise StockError(
                _(
                    "The count of %(n)d SKU(s) is below what open checkouts hold (%(detail)s): "
                    "wait for them to be paid or released, or cancel those orders first."
                )
                % {"n": len(below), "detail": ", ".join(f"{sku}: {held}" for sku, held in sorted(below.items()))}
            )
        moves = [
            Move(store_id, sku, kind, on_hand_delta=n - current.get(sku, (0, 0))[0])
            for sku, n in counts.items()
            if n != current.get(sku, (0, 0))[0]
        ]
        if not moves:
            return False
        return _staff_move(scope, f"stock.{kind}", store_id, moves, key=key, reference=reference, note=note)


def transfer(
    scope: Scope, from_store_id: int, to_store_id: int, lines: Mapping[int, int], *, key: str, note: str = ""
) -> bool:
    """Move units from one store to another of the brand (sent and received at once)."""
    _store_in_reach(scope, from_store_id)
    if from_store_id == to_store_id or org.store_info(scope.brand_id, to_store_id) is None:
        raise ValidationError({"to_store": _("Choose another store of the brand to send to.")})
    wanted = _positive_lines(lines)
    moves = [Move(from_store_id, sku, MovementKind.TRANSFER_OUT, on_hand_delta=-q) for sku, q in wanted.items()]
    moves += [Move(to_store_id, sku, MovementKind.TRANSFER_IN, on_hand_delta=q) for sku, q in wanted.items()]
    return _staff_move(
        scope, "stock.transfer", from_store_id, moves, key=_require_key(key), reference=key[:60], note=note
    )


# ---- checkout verbs (called by orders) -----------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """Stock held for a checkout under ``key`` until ``expires_at``."""

    reservation_id: int
    key: str
    expires_at: dt.datetime


class HoldRefused(OutOfStock):
    """A conditional update of a hold changed no row: another checkout took the stock between the
    plan and the hold. The caller's transaction (or savepoint) must be rolled back — part of the
    hold may have been applied — and the order planned again from a fresh read. ``moves`` are the
    movements that were tried."""

    def __init__(self, moves: Sequence[Move]) -> None:
        self.moves = list(moves)
        super().__init__({m.sku_id: 1 for m in moves})


def _merged(lines: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int], int]:
    merged: dict[tuple[int, int], int] = {}
    for store_id, sku_id, qty in lines:
        if qty <= 0:
            raise ValidationError(
                {"quantity": _("A quantity is a whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY}}
            )
        merged[(store_id, sku_id)] = merged.get((store_id, sku_id), 0) + qty
    return merged


def _hold(
    brand_id: int,
    key: str,
    merged: Mapping[tuple[int, int], int],
    *,
    expires_at: dt.datetime,
    at: dt.datetime,
    actor: str,
) -> int:
    """The hold itself, in plain SQL inside the caller's transaction (no savepoint of its own): the
    reservation row, one conditional update per (store, SKU) **in (store, SKU) order** — sent as one
    batch, which psycopg pipelines into a single round trip — then the ledger rows and the
    reservation's lines, each one multi-row ``INSERT``. Raises :class:`HoldRefused` when any update
    changed no row; the caller rolls back. Returns the reservation's id."""
    moves = [Move(s, k, MovementKind.RESERVATION, reserved_delta=q) for (s, k), q in sorted(merged.items())]
    stamp = sql.stamp(at)
    with connection.cursor() as cursor:
        ((reservation_id,),) = sql.insert_rows(
            Reservation,
            ("brand_id", "key", "status", "expires_at", "created_at", "closed_at"),
            [(brand_id, key, Reservation.Status.HELD, sql.stamp(expires_at), stamp, None)],
            returning=("id",),
            cursor=cursor,
        )
        if len(moves) == 1:
            cursor.execute(_guarded_update(), _guarded_args(moves[0], stamp))
        else:
            cursor.executemany(_guarded_update(), [_guarded_args(m, stamp) for m in moves])
        if cursor.rowcount != len(moves):
            raise HoldRefused(moves)
        reference, actor = key[:60], actor[:120]
        sql.insert_rows(
            Movement,
            _MOVEMENT_COLUMNS,
            [
                (
                    brand_id,
                    m.store_id,
                    m.sku_id,
                    m.kind,
                    0,
                    m.reserved_delta,
                    f"r:{key}#{i}",
                    reference,
                    "",
                    actor,
                    stamp,
                )
                for i, m in enumerate(moves)
            ],
            cursor=cursor,
        )
        sql.insert_rows(
            ReservationLine,
            ("reservation_id", "brand_id", "store_id", "sku_id", "quantity"),
            [(reservation_id, brand_id, m.store_id, m.sku_id, m.reserved_delta) for m in moves],
            cursor=cursor,
        )
    return reservation_id


def _shortfall(moves: Sequence[Move]) -> dict[int, int]:
    """The units each SKU of ``moves`` lacks now (read after a refused hold was rolled back)."""
    now = {
        (s, k): (o, r)
        for s, k, o, r in StockLevel.objects.filter(
            store_id__in={m.store_id for m in moves}, sku_id__in={m.sku_id for m in moves}
        ).values_list("store_id", "sku_id", "on_hand", "reserved")
    }
    short: dict[int, int] = {}
    for m in moves:
        on_hand, reserved = now.get((m.store_id, m.sku_id), (0, 0))
        after_on, after_res = on_hand + m.on_hand_delta, reserved + m.reserved_delta
        missing = max(-after_on, after_res - after_on, 0)
        if missing:
            short[m.sku_id] = short.get(m.sku_id, 0) + missing
    return short or {m.sku_id: 1 for m in moves}  # freed meanwhile: the hold still lost its race


def reserve(
    brand_id: int,
    key: str,
    lines: Sequence[tuple[int, int, int]],
    *,
    minutes: int,
    actor: str = "",
    fresh: bool = False,
) -> Held:
    """Hold ``lines`` ((store_id, sku_id, units)) until ``minutes`` from now, all or nothing.
    Raises :class:`OutOfStock` (with the units missing per SKU). The same ``key`` again returns the
    hold made before. ``fresh``: the key was drawn for this call and the caller holds a savepoint
    or its own transaction (allocation): the look-up of an earlier hold and the inner savepoint
    are skipped, and a lost race raises :class:`HoldRefused` for the caller to roll back."""
    key = _require_key(key)
    if not fresh:
        found = Reservation.objects.filter(brand_id=brand_id, key=key).values_list("pk", "expires_at").first()
        if found is not None:
            return Held(found[0], key, found[1])
    merged = _merged(lines)
    now = clock.now()
    expires_at = now + dt.timedelta(minutes=minutes)
    try:
        with transaction.atomic(savepoint=not fresh):
            reservation_id = _hold(brand_id, key, merged, expires_at=expires_at, at=now, actor=actor)
    except HoldRefused as refused:
        if fresh:
            raise
        raise OutOfStock(_shortfall(refused.moves)) from None
    return Held(reservation_id, key, expires_at)


def hold(
    brand_id: int, key: str, shipments: Sequence[rules.Shipment], *, minutes: int, at: dt.datetime, actor: str = ""
) -> Held:
    """Hold the stock of a plan (:func:`plan_allocation`) under a key drawn for this checkout, in
    the caller's transaction, until ``minutes`` after ``at``. Raises :class:`HoldRefused` when
    another checkout took the stock since the plan was read: roll the transaction back and plan
    again."""
    expires_at = at + dt.timedelta(minutes=minutes)
    merged = _merged((s.store_id, sku, q) for s in shipments for sku, q in s.lines.items())
    return Held(_hold(brand_id, _require_key(key), merged, expires_at=expires_at, at=at, actor=actor), key, expires_at)


def _close(brand_id: int, key: str, status: str, kind: str, actor: str) -> bool:
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(brand_id=brand_id, key=key).first()
        if reservation is None:
            raise ReservationGone(_("No stock is held under %(key)s.") % {"key": key})
        if reservation.status == status:
            return False
        if reservation.status != Reservation.Status.HELD:
            raise ReservationGone(
                _("The stock held under %(key)s was already %(status)s.")
                % {"key": key, "status": reservation.get_status_display().lower()}
            )
        lines = list(reservation.lines.values_list("store_id", "sku_id", "quantity"))
        sold = kind == MovementKind.SALE
        moves = [Move(s, k, kind, on_hand_delta=-q if sold else 0, reserved_delta=-q) for s, k, q in lines]
        _move(brand_id, moves, key=f"{kind}:{key}", reference=key, note="", actor=actor)
        reservation.status = status
        reservation.closed_at = clock.now()
        reservation.save(update_fields=["status", "closed_at"])
    return True


def sell(brand_id: int, key: str, *, actor: str = "") -> bool:
    """The checkout was paid: the held units leave the stores' stock. Idempotent."""
    return _close(brand_id, key, Reservation.Status.COMMITTED, MovementKind.SALE, actor)


def release(brand_id: int, key: str, *, actor: str = "", expired: bool = False) -> bool:
    """The checkout was cancelled (or ran out of time): the held units are free again. Idempotent."""
    status = Reservation.Status.EXPIRED if expired else Reservation.Status.RELEASED
    with transaction.atomic():
        current = Reservation.objects.filter(brand_id=brand_id, key=key).values_list("status", flat=True).first()
        if current in (Reservation.Status.RELEASED, Reservation.Status.EXPIRED):
            return False
        return _close(brand_id, key, status, MovementKind.RELEASE, actor)


def expire_due(*, grace_minutes: int = 5) -> int:
    """Release every reservation whose time ran out ``grace_minutes`` ago (the orders domain
    cancels its unpaid orders first; this catches anything left). Returns how many."""
    cutoff = clock.now() - dt.timedelta(minutes=grace_minutes)
    due = list(
        Reservation.objects.filter(status=Reservation.Status.HELD, expires_at__lt=cutoff).values_list("brand_id", "key")
    )
    released = 0
    for brand_id, key in due:
        try:
            released += release(brand_id, key, actor="system: expiry", expired=True)
        except ReservationGone:
            continue
    return released


def restock(brand_id: int, key: str, lines: Sequence[tuple[int, int, int]], *, reference: str, actor: str = "") -> bool:
    """Returned goods go back into the stores' stock ((store_id, sku_id, units)). Idempotent."""
    moves = [Move(s, k, MovementKind.RETURN, on_hand_delta=q) for s, k, q in lines if q > 0]
    if not moves:
        return False
    with transaction.atomic():
        return _move(brand_id, moves, key=_require_key(key), reference=reference, note="", actor=actor)


def sell_offline(
    brand_id: int, store_id: int, lines: Mapping[int, int], *, key: str, reference: str, actor: str = ""
) -> bool:
    """An in-store (POS) sale: the units leave the store's stock. Raises :class:`OutOfStock` when
    the store's free stock is below the sale (sync the count first). Idempotent."""
    wanted = _positive_lines(lines)
    moves = [Move(store_id, sku, MovementKind.SALE, on_hand_delta=-q) for sku, q in wanted.items()]
    with transaction.atomic():
        return _move(brand_id, moves, key=_require_key(key), reference=reference, note="", actor=actor)


# ---- allocation ----------------------------------------------------------------------------------


def allocation_policy(brand_id: int) -> PolicyInfo:
    table = connection.ops.quote_name(AllocationPolicy._meta.db_table)
    with connection.cursor() as cursor:  # read on every checkout: one plain query
        cursor.execute(
            f"SELECT split, hold_minutes, beyond_city FROM {table} WHERE brand_id = %s",
            [brand_id],
        )
        row = cursor.fetchone()
    if row is None:
        return PolicyInfo(split=SplitPolicy.FEWEST_SHIPMENTS, hold_minutes=15, beyond_city=False)
    return PolicyInfo(split=row[0], hold_minutes=row[1], beyond_city=bool(row[2]))


@transaction.atomic
def set_allocation_policy(scope: Scope, *, split: str, hold_minutes: int, beyond_city: bool) -> PolicyInfo:
    if scope.level is not Level.BRAND or not scope.can(Perm.ORDERS_MANAGE):
        raise PermissionDenied(_("Only HQ may set the allocation policy."))
    if split not in SplitPolicy.values:
        raise ValidationError({"split": _("Choose fewest shipments or nearest first.")})
    if not isinstance(hold_minutes, int) or not 5 <= hold_minutes <= 120:
        raise ValidationError({"hold_minutes": _("Hold stock between 5 and 120 minutes.")})
    row, _created = AllocationPolicy.objects.get_or_create(
        brand_id=scope.brand_id, defaults={"updated_at": clock.now()}
    )
    before = audit.snapshot(row, ("split", "hold_minutes", "beyond_city"))
    row.split, row.hold_minutes, row.beyond_city, row.updated_at = split, hold_minutes, bool(beyond_city), clock.now()
    row.save()
    audit.record_by(
        scope,
        "stock.allocation_policy",
        row,
        before=before,
        after=audit.snapshot(row, ("split", "hold_minutes", "beyond_city")),
    )
    return allocation_policy(scope.brand_id)


def candidate_stores(
    brand_id: int, *, city: str, policy: PolicyInfo, pickup_store_id: int | None = None
) -> dict[int, org.StoreInfo]:
    """The open stores an allocation may choose from, by id, in one read: the city's, or every
    open store of the brand when the policy ships beyond the city, for a pickup (the pickup store
    is among them if it is open) or when no city is given."""
    near = None if policy.beyond_city or pickup_store_id is not None or not city else city
    return {s.id: s for s in org.stores(brand_id, open_only=True, city=near)}


def _free_stock(brand_id: int, store_ids: Sequence[int], sku_ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """(store, SKU, units it can sell now) of the rows with free stock: one plain query."""
    if not store_ids or not sku_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT store_id, sku_id, on_hand - reserved FROM {connection.ops.quote_name(StockLevel._meta.db_table)} "
            f"WHERE brand_id = %s AND store_id IN ({', '.join(['%s'] * len(store_ids))}) "
            f"AND sku_id IN ({', '.join(['%s'] * len(sku_ids))}) AND on_hand > reserved",
            [brand_id, *store_ids, *sku_ids],
        )
        return list(cursor.fetchall())


def _candidates(
    brand_id: int,
    wanted: Mapping[int, int],
    *,
    stores: Mapping[int, org.StoreInfo],
    city: str,
    origin: tuple[float, float] | None,
    pickup_store_id: int | None,
    beyond_city: bool,
) -> list[rules.Candidate]:
    if pickup_store_id is not None:
        ids = [pickup_store_id] if pickup_store_id in stores else []
    else:
        ids = [s.id for s in stores.values() if s.city == city] if city else list(stores)
    free: dict[int, dict[int, int]] = {}
    skus = list(wanted)

    def load(store_ids: list[int]) -> None:
        for store_id, sku_id, available in _free_stock(brand_id, store_ids, skus):
            free.setdefault(store_id, {})[sku_id] = available

    load(ids)
    # Other cities' stores are read only when the city cannot fill a line and the policy allows it.
    if beyond_city and pickup_store_id is None and city:
        short = [k for k, q in wanted.items() if sum(f.get(k, 0) for f in free.values()) < q]
        if short:
            load([s for s in stores if s not in ids])
    return [
        rules.Candidate(
            store_id=store_id,
            distance_m=None
            if origin is None
            else geo.distance_m(origin[0], origin[1], stores[store_id].latitude, stores[store_id].longitude),
            available=avail,
        )
        for store_id, avail in free.items()
    ]


def plan_allocation(
    brand_id: int,
    wanted: Mapping[int, int],
    *,
    policy: PolicyInfo,
    stores: Mapping[int, org.StoreInfo],
    city: str = "",
    origin: tuple[float, float] | None = None,
    pickup_store_id: int | None = None,
) -> list[rules.Shipment]:
    """The shipments that fill ``wanted`` (sku_id → units, all positive) from ``stores``
    (:func:`candidate_stores`) — the nearest store that can fill it all, else split per the
    policy — planned from a fresh read of their free stock. Nothing is held (see :func:`hold`).
    Raises :class:`OutOfStock` with the units missing per SKU."""
    split = rules.FEWEST if policy.split == SplitPolicy.FEWEST_SHIPMENTS else rules.NEAREST
    candidates = _candidates(
        brand_id,
        wanted,
        stores=stores,
        city=city,
        origin=origin,
        pickup_store_id=pickup_store_id,
        beyond_city=policy.beyond_city,
    )
    plan = rules.plan(wanted, candidates, split)
    if plan.short:
        raise OutOfStock(plan.short)
    return plan.shipments


def allocate(
    brand_id: int,
    key: str,
    wanted: Mapping[int, int],
    *,
    city: str = "",
    origin: tuple[float, float] | None = None,
    pickup_store_id: int | None = None,
    actor: str = "",
    attempts: int = 3,
    fresh: bool = False,
) -> Allocation:
    """Choose the stores for ``wanted`` (sku_id → units) — the nearest that can fill it, split per
    the brand's policy when none can — and hold the stock there under ``key``. Candidates are the
    open stores of ``city`` (or only ``pickup_store_id``). Raises :class:`OutOfStock` with the
    missing units. When another checkout takes the stock between the plan and the hold, plans
    again (up to ``attempts`` times). ``fresh``: ``key`` was drawn for this call (see :func:`reserve`)."""
    wanted = _positive_lines(wanted)
    policy = allocation_policy(brand_id)
    stores = candidate_stores(brand_id, city=city, policy=policy, pickup_store_id=pickup_store_id)
    last: OutOfStock | None = None
    where = {"policy": policy, "stores": stores, "city": city, "origin": origin, "pickup_store_id": pickup_store_id}
    for _attempt in range(max(1, attempts)):
        shipments = plan_allocation(brand_id, wanted, **where)  # type: ignore[arg-type]
        lines = [(s.store_id, sku, q) for s in shipments for sku, q in s.lines.items()]
        try:
            with transaction.atomic():
                held = reserve(brand_id, key, lines, minutes=policy.hold_minutes, actor=actor, fresh=fresh)
        except OutOfStock as refused:
            last = refused
            continue
        return Allocation(key=key, expires_at=held.expires_at, shipments=shipments)
    plan_allocation(brand_id, wanted, **where)  # type: ignore[arg-type]  # the shortfall as it is now
    assert last is not None
    raise last


# ---- reads ---------------------------------------------------------------------------------------


def store_stock(brand_id: int, store_id: int, sku_ids: Iterable[int]) -> dict[int, int]:
    """What the store can sell now, per SKU (SKUs it never held are left out)."""
    return {
        sku: on_hand - reserved
        for sku, on_hand, reserved in StockLevel.objects.filter(
            brand_id=brand_id, store_id=store_id, sku_id__in=list(sku_ids)
        ).values_list("sku_id", "on_hand", "reserved")
    }


def stock_by_store(brand_id: int, city: str, sku_ids: Iterable[int]) -> list[StoreStock]:
    """What each open store of ``city`` can sell now, per SKU (only rows with stock)."""
    ids = [s.id for s in org.stores(brand_id, open_only=True) if s.city == city]
    return [
        StoreStock(store_id=s, sku_id=k, available=on_hand - reserved)
        for s, k, on_hand, reserved in StockLevel.objects.filter(
            brand_id=brand_id, store_id__in=ids, sku_id__in=list(sku_ids), on_hand__gt=F("reserved")
        )
        .order_by("store_id", "sku_id")
        .values_list("store_id", "sku_id", "on_hand", "reserved")
    ]


def city_stock(brand_id: int, city: str, sku_ids: Iterable[int]) -> dict[int, int]:
    """City-wide availability: what the city's open stores hold minus what checkouts hold, per SKU."""
    total: dict[int, int] = {}
    for row in stock_by_store(brand_id, city, sku_ids):
        total[row.sku_id] = total.get(row.sku_id, 0) + row.available
    return total


def levels(brand_id: int, store_id: int, sku_ids: Iterable[int] | None = None) -> list[LevelInfo]:
    qs = StockLevel.objects.filter(brand_id=brand_id, store_id=store_id)
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=list(sku_ids))
    return [
        LevelInfo(store_id=s, sku_id=k, on_hand=o, reserved=r)
        for s, k, o, r in qs.order_by("sku_id").values_list("store_id", "sku_id", "on_hand", "reserved")
    ]


def check_ledger(brand_id: int) -> list[Mismatch]:
    """Every (store, SKU) whose quantities differ from the sum of its movements. Empty when the
    ledger balances (it always should)."""
    sums = {
        (s, k): (o or 0, r or 0)
        for s, k, o, r in Movement.objects.filter(brand_id=brand_id)
        .values("store_id", "sku_id")
        .annotate(o=Sum("on_hand_delta"), r=Sum("reserved_delta"))
        .values_list("store_id", "sku_id", "o", "r")
    }
    out: list[Mismatch] = []
    seen: set[tuple[int, int]] = set()
    for s, k, on_hand, reserved in StockLevel.objects.filter(brand_id=brand_id).values_list(
        "store_id", "sku_id", "on_hand", "reserved"
    ):
        seen.add((s, k))
        o, r = sums.get((s, k), (0, 0))
        if (o, r) != (on_hand, reserved):
            out.append(Mismatch(s, k, on_hand, o, reserved, r))
    for (s, k), (o, r) in sums.items():
        if (s, k) not in seen and (o, r) != (0, 0):
            out.append(Mismatch(s, k, 0, o, 0, r))
    return out


# ---- the HQ stock pages (helper-stock-orders) ----------------------------------------------------


@dataclass(frozen=True)
class MovementInfo:
    store_id: int
    sku_id: int
    kind: str
    on_hand_delta: int
    reserved_delta: int
    key: str
    reference: str
    note: str
    actor: str
    at: dt.datetime

    @property
    def kind_label(self) -> str:
        return str(MovementKind(self.kind).label)


def _readable_store(scope: Scope, store_id: int) -> org.StoreInfo:
    if not scope.can(Perm.STOCK_VIEW):
        raise PermissionDenied(_("You may not read stock."))
    store = org.store_info(scope.brand_id, store_id, scope=scope)
    if store is None:
        raise ValidationError({"store": _("Choose a store within your reach.")})
    return store


def store_levels(scope: Scope, store_id: int, sku_ids: Iterable[int] | None = None) -> list[LevelInfo]:
    """A store's stock (within the viewer's reach), per SKU."""
    _readable_store(scope, store_id)
    return levels(scope.brand_id, store_id, sku_ids)


def movements(scope: Scope, store_id: int, *, sku_id: int | None = None, limit: int = 200) -> list[MovementInfo]:
    """The ledger of a store (of one SKU when given), newest first."""
    _readable_store(scope, store_id)
    qs = Movement.objects.filter(brand_id=scope.brand_id, store_id=store_id)
    if sku_id is not None:
        qs = qs.filter(sku_id=sku_id)
    return [
        MovementInfo(
            m.store_id,
            m.sku_id,
            m.kind,
            m.on_hand_delta,
            m.reserved_delta,
            m.key,
            m.reference,
            m.note,
            m.actor_label,
            m.at,
        )
        for m in qs.order_by("-at", "-id")[:limit]
    ]
