"""Use-cases of guides' incentives (ADR 0018): the coin ledger, the reward mall, benchmarks, and
(re-exported from :mod:`siyu.incentives.leaderboards`) the live leaderboards.

Other domains reach all of it through this module (the import-boundary rule):
``from siyu.incentives import services as incentives`` then ``incentives.award(...)``,
``incentives.balance(...)``, ``incentives.leaderboards.record/rank/top(...)`` (also
``incentives.record/rank/top``).

**The coin ledger.** A guide's ``CoinAccount.balance`` changes only in :func:`_post`, which in one
transaction (a savepoint inside the caller's) applies one conditional ``UPDATE … SET balance =
balance + d WHERE balance + d >= 0`` and appends one ``CoinEntry`` with the key. Under concurrency
PostgreSQL serialises the updates of the row and re-checks the condition, so a balance never goes
negative; a key already used (unique per brand) makes the second writer's savepoint roll back its
update, so a retried or concurrent award pays once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cache

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.incentives import leaderboards
from siyu.incentives.leaderboards import LeaderboardError, Place, RankView, rank, record, size, top
from siyu.incentives.models import CoinAccount, CoinEntry, EntryKind, Gift, GiftMovement, Redemption
from siyu.org import services as org
from siyu.platform import audit, clock, sql
from siyu.platform.tenancy import Level, Scope, restrict

__all__ = [
    "CoinError",
    "EntryInfo",
    "InsufficientCoins",
    "LeaderboardError",
    "Missing",
    "Place",
    "RankView",
    "award",
    "balance",
    "check_ledger",
    "history",
    "leaderboards",
    "rank",
    "record",
    "reverse",
    "size",
    "top",
]

MAX_COINS = 10_000_000  # one entry never moves more coins than this


class CoinError(ValueError):
    """A coin change that cannot be made; ``str()`` says why, ``field`` names the input at fault
    (empty: the request as a whole)."""

    def __init__(self, message: str = "", *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Missing(CoinError):
    """The thing named does not exist, or lies outside the caller's reach (the two look the same)."""


class InsufficientCoins(CoinError):
    """The guide has fewer coins than the change takes."""

    def __init__(self, message: str = "", *, field: str = "coins") -> None:
        super().__init__(message, field=field)


@dataclass(frozen=True)
class EntryInfo:
    id: int
    guide_id: int
    kind: str
    delta: int
    balance_after: int
    key: str
    reason: str
    source_type: str
    source_id: int | None
    reverses_id: int | None
    at: dt.datetime
    created: bool = True  # False: the key was used before and this is that first entry


def _info(e: CoinEntry, *, created: bool = True) -> EntryInfo:
    return EntryInfo(
        id=e.pk,
        guide_id=e.guide_id,
        kind=e.kind,
        delta=e.delta,
        balance_after=e.balance_after,
        key=e.key,
        reason=e.reason,
        source_type=e.source_type,
        source_id=e.source_id,
        reverses_id=e.reverses_id,
        at=e.at,
        created=created,
    )


ENTRY_COLUMNS = (
    "id",
    "guide_id",
    "kind",
    "delta",
    "balance_after",
    "key",
    "reason",
    "source_type",
    "source_id",
    "reverses_id",
    "at",
)


@cache
def _ledger_sql() -> dict[str, str]:
    """The few statements of the ledger's hot path (ADR 0018: an award is a handful of plain
    statements, not a dozen compiled ORM queries). Table names come from the models."""
    qn = connection.ops.quote_name
    account, entry = qn(CoinAccount._meta.db_table), qn(CoinEntry._meta.db_table)
    return {
        "existing": f"SELECT {', '.join(qn(c) for c in ENTRY_COLUMNS)} FROM {entry} "
        f"WHERE brand_id = %s AND {qn('key')} = %s",
        # the one change of a balance: never below zero, checked by the database on the locked row
        "move": f"UPDATE {account} SET balance = balance + %s, updated_at = %s "
        "WHERE brand_id = %s AND guide_id = %s AND balance >= %s RETURNING balance",
        "open_account": f"INSERT INTO {account} (brand_id, guide_id, balance, updated_at) VALUES (%s, %s, 0, %s) "
        "ON CONFLICT (brand_id, guide_id) DO NOTHING",
    }


def _existing(brand_id: int, key: str) -> EntryInfo | None:
    """The entry already written under ``key``, if any."""
    with connection.cursor() as cursor:
        cursor.execute(_ledger_sql()["existing"], [brand_id, key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(ENTRY_COLUMNS, row, strict=True))
    at = values.pop("at")
    if not isinstance(at, dt.datetime):  # SQLite hands back text
        at = CoinEntry._meta.get_field("at").to_python(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return EntryInfo(**values, at=at, created=False)


def _post(
    brand_id: int,
    guide_id: int,
    delta: int,
    *,
    kind: str,
    key: str,
    reason: str,
    source_type: str,
    source_id: int | None,
    actor: str = "",
    reverses_id: int | None = None,
) -> EntryInfo:
    """The one way coins change. Idempotent on (brand, key); raises :class:`InsufficientCoins`
    when the balance would go below zero (nothing changes).

    Plain statements in a savepoint: the entry's key is looked up; the balance moves with one
    conditional ``UPDATE … WHERE balance + d >= 0 RETURNING balance`` (a guide's first award opens
    her account first: ``INSERT … ON CONFLICT DO NOTHING``, after checking she is staff of the
    brand); the entry is appended. A concurrent writer of the same key makes our insert fail on the
    unique key, and the savepoint takes our update back."""
    if not key or len(key) > 160:
        raise CoinError(_("An idempotency key of 1 to 160 characters is required."), field="key")
    if delta == 0 or abs(delta) > MAX_COINS:
        raise CoinError(_("A coin change is a whole number from 1 to %(max)d.") % {"max": MAX_COINS}, field="coins")
    found = _existing(brand_id, key)
    if found is not None:
        return found
    at = clock.now()
    q = _ledger_sql()
    stamp = sql.stamp(at)
    move = [delta, stamp, brand_id, guide_id, max(0, -delta)]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(q["move"], move)
            row = cursor.fetchone()
            if row is None and delta > 0:  # no account yet (an award passes the condition): her first coins
                _check_guide(brand_id, guide_id)
                cursor.execute(q["open_account"], [brand_id, guide_id, stamp])
                cursor.execute(q["move"], move)
                row = cursor.fetchone()
            if row is None:
                raise InsufficientCoins(
                    _("Not enough coins: this takes %(n)d, the balance is %(b)d.")
                    % {"n": -delta, "b": balance(brand_id, guide_id)}
                )
            after = int(row[0])
            columns = ENTRY_COLUMNS[1:]
            values = (guide_id, kind, delta, after, key, reason[:200], source_type[:40], source_id, reverses_id)
            (entry_id,) = sql.insert_rows(
                CoinEntry,
                ("brand_id", *columns[:-1], "actor_label", "at"),
                [(brand_id, *values, actor[:120], stamp)],
                returning=("id",),
                cursor=cursor,
            )[0]
    except IntegrityError:
        # A concurrent writer used the same key first: our savepoint rolled our update back.
        found = _existing(brand_id, key)
        if found is not None:
            return found
        raise
    return EntryInfo(entry_id, *values, at)


def _check_guide(brand_id: int, guide_id: int) -> None:
    info = org.staff_info(brand_id, guide_id)
    if info is None:
        raise CoinError(_("No such member of staff in this brand."))


def award(
    brand_id: int,
    guide_id: int,
    coins: int,
    *,
    key: str,
    reason: str,
    source_type: str,
    source_id: int | None = None,
    actor: str = "system",
) -> EntryInfo:
    """Pay ``coins`` (> 0) to a guide. A repeated ``key`` returns the first entry (``created`` is
    ``False``) and pays nothing more; safe under concurrency. Runs in the caller's transaction."""
    if not isinstance(coins, int) or coins <= 0:
        raise CoinError(_("An award is a positive whole number of coins."))
    return _post(
        brand_id,
        guide_id,
        coins,
        kind=EntryKind.EARN,
        key=key,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
    )


def spend(
    brand_id: int,
    guide_id: int,
    coins: int,
    *,
    key: str,
    reason: str,
    source_type: str,
    source_id: int | None = None,
    actor: str = "",
) -> EntryInfo:
    """Take ``coins`` (> 0) from a guide; :class:`InsufficientCoins` when she has fewer."""
    if not isinstance(coins, int) or coins <= 0:
        raise CoinError(_("A payment is a positive whole number of coins."))
    return _post(
        brand_id,
        guide_id,
        -coins,
        kind=EntryKind.SPEND,
        key=key,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
    )


def give_back(
    brand_id: int, guide_id: int, coins: int, *, key: str, reason: str, source_type: str, source_id: int | None
) -> EntryInfo:
    """Return coins held for something that did not happen (a rejected redemption)."""
    return _post(
        brand_id,
        guide_id,
        coins,
        kind=EntryKind.RETURN,
        key=key,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
    )


def reverse(scope: Scope, entry_id: int, *, reason: str) -> EntryInfo:
    """Undo an entry by a compensating one (HQ, ``incentives.manage``). Reversing an award the guide
    has already spent fails (a balance never goes negative); an entry is reversed at most once."""
    if not scope.can("incentives.manage"):
        raise PermissionDenied
    entry = CoinEntry.objects.filter(brand_id=scope.brand_id, pk=entry_id).first()
    if entry is None:
        raise Missing(_("No such coin entry."))
    if entry.kind == EntryKind.REVERSAL:
        raise CoinError(_("A reversal cannot itself be reversed."))
    if not reason.strip():
        raise CoinError(_("Say why the entry is reversed."), field="reason")
    try:
        return _post(
            scope.brand_id,
            entry.guide_id,
            -entry.delta,
            kind=EntryKind.REVERSAL,
            key=f"reverse:{entry.pk}",
            reason=reason.strip(),
            source_type="reversal",
            source_id=entry.pk,
            actor=scope.label,
            reverses_id=entry.pk,
        )
    except InsufficientCoins as exc:
        raise InsufficientCoins(_("The guide has already spent these coins; the entry cannot be reversed.")) from exc


def balance(brand_id: int, guide_id: int) -> int:
    return (
        CoinAccount.objects.filter(brand_id=brand_id, guide_id=guide_id).values_list("balance", flat=True).first() or 0
    )


def ledger(brand_id: int, guide_id: int) -> QuerySet[CoinEntry]:
    """A guide's entries, newest first in the ledger's own order, so each balance after follows
    from the one below it (an entry recorded under a clock set in the past, as the demo does, stays
    in its place). Map each with :func:`entry_info`."""
    return CoinEntry.objects.filter(brand_id=brand_id, guide_id=guide_id).order_by("-id")


def entry_info(entry: CoinEntry) -> EntryInfo:
    return _info(entry)


def history(brand_id: int, guide_id: int, *, limit: int = 100) -> list[EntryInfo]:
    """A guide's entries, newest first (in the ledger's order: see :func:`ledger`)."""
    return [_info(e) for e in ledger(brand_id, guide_id)[:limit]]


def staff_in_reach(scope: Scope, staff_id: int) -> org.StaffInfo:
    """A member of staff the viewer reaches (HQ: the brand; a region or store manager: hers; a guide:
    herself), else :class:`Missing` — one outside her reach looks exactly like one that does not exist."""
    info = org.staff_info(scope.brand_id, staff_id, scope=scope)
    if info is None:
        raise Missing(_("No such member of staff within your reach."))
    return info


def coins_of(scope: Scope, guide_id: int) -> tuple[int, QuerySet[CoinEntry]]:
    """A guide's balance and ledger, for a viewer who reaches her (else :class:`Missing`)."""
    staff_in_reach(scope, guide_id)
    return balance(scope.brand_id, guide_id), ledger(scope.brand_id, guide_id)


def adjust(scope: Scope, guide_id: int, coins: int, *, key: str, reason: str) -> EntryInfo:
    """HQ grants (``coins`` > 0) or deducts (``coins`` < 0) coins by hand (``incentives.manage``).

    Idempotent on the caller's ``key`` (stored as ``manual:<key>``): the same key again returns the
    first entry (``created=False``) and changes nothing; the same key for another guide or amount is
    refused. A deduction beyond the balance raises :class:`InsufficientCoins` and changes nothing.
    Audited with the entry, in one transaction."""
    _require(scope, MANAGE, _("You may not grant or deduct coins."))
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise CoinError(_("Say why, in 1 to 200 characters."), field="reason")
    if not key or len(key) > 100:
        raise CoinError(_("An idempotency key of 1 to 100 characters is required."), field="key")
    if not isinstance(coins, int) or isinstance(coins, bool) or coins == 0 or abs(coins) > MAX_COINS:
        raise CoinError(
            _("A coin change is a whole number from 1 to %(max)d (negative to deduct).") % {"max": MAX_COINS},
            field="coins",
        )
    staff_in_reach(scope, guide_id)
    with transaction.atomic():
        entry = _post(
            scope.brand_id,
            guide_id,
            coins,
            kind=EntryKind.ADJUST,
            key=f"manual:{key}",
            reason=reason,
            source_type="manual",
            source_id=None,
            actor=scope.label,
        )
        if entry.guide_id != guide_id or entry.delta != coins:
            raise CoinError(_("This idempotency key was already used for another change."), field="key")
        if entry.created:
            audit.record(
                brand_id=scope.brand_id,
                actor_id=scope.staff_id,
                actor_label=scope.label,
                action="coins.adjust",
                obj=CoinEntry.objects.get(pk=entry.id),
                before=None,
                after={"guide": guide_id, "delta": coins, "balance_after": entry.balance_after, "reason": reason},
            )
    return entry


@dataclass(frozen=True)
class LedgerMismatch:
    guide_id: int
    balance: int
    ledger: int


def check_ledger(brand_id: int) -> list[LedgerMismatch]:
    """Every guide whose balance is not the sum of her entries (empty when the ledger holds)."""
    sums = dict(
        CoinEntry.objects.filter(brand_id=brand_id)
        .values("guide_id")
        .annotate(s=Sum("delta"))
        .values_list("guide_id", "s")
    )
    out = []
    for guide_id, bal in CoinAccount.objects.filter(brand_id=brand_id).values_list("guide_id", "balance"):
        summed = sums.pop(guide_id, 0)
        if summed != bal:
            out.append(LedgerMismatch(guide_id, bal, summed))
    out.extend(LedgerMismatch(g, 0, s) for g, s in sums.items() if s)
    return out


# ---- the reward mall ----------------------------------------------------------------------------

MANAGE = "incentives.manage"


@dataclass(frozen=True)
class GiftInfo:
    id: int
    name: str
    description: str
    cost: int
    stock: int
    active: bool


def _gift_info(g: Gift) -> GiftInfo:
    return GiftInfo(g.pk, g.name, g.description, g.cost, g.stock, g.active)


def _require(scope: Scope, perm: str = MANAGE, message: str = "") -> None:
    if not scope.can(perm):
        raise PermissionDenied(message or _("You may not manage the reward mall."))


def gift_rows(brand_id: int, *, offered_only: bool = True) -> QuerySet[Gift]:
    """The brand's gifts, cheapest first (map each with :func:`gift_info`)."""
    qs = Gift.objects.filter(brand_id=brand_id)
    if offered_only:
        qs = qs.filter(active=True)
    return qs.order_by("cost", "pk")


def gift_info(gift: Gift) -> GiftInfo:
    return _gift_info(gift)


def gifts(brand_id: int, *, offered_only: bool = True) -> list[GiftInfo]:
    return [_gift_info(g) for g in gift_rows(brand_id, offered_only=offered_only)]


def gift(brand_id: int, gift_id: int) -> GiftInfo:
    found = Gift.objects.filter(brand_id=brand_id, pk=gift_id).first()
    if found is None:
        raise Missing(_("No such gift."))
    return _gift_info(found)


def save_gift(
    scope: Scope,
    *,
    gift_id: int | None = None,
    name: str,
    description: str = "",
    cost: int,
    active: bool = True,
) -> GiftInfo:
    """Create or change a gift (HQ). Its stock changes only through :func:`restock`."""
    _require(scope)
    name = name.strip()
    if not name or len(name) > 80:
        raise CoinError(_("A gift needs a name of 1 to 80 characters."), field="name")
    if not isinstance(cost, int) or cost <= 0 or cost > MAX_COINS:
        raise CoinError(_("A gift's price is a positive whole number of coins."), field="cost")
    if Gift.objects.filter(brand_id=scope.brand_id, name=name).exclude(pk=gift_id or 0).exists():
        raise CoinError(_("Another gift already has this name."), field="name")
    now = clock.now()
    if gift_id is None:
        gift = Gift.objects.create(
            brand_id=scope.brand_id,
            name=name,
            description=description.strip()[:400],
            cost=cost,
            active=active,
            created_at=now,
            updated_at=now,
        )
    else:
        gift = Gift.objects.filter(brand_id=scope.brand_id, pk=gift_id).first()  # type: ignore[assignment]
        if gift is None:
            raise Missing(_("No such gift."))
        gift.name, gift.description, gift.cost, gift.active, gift.updated_at = (
            name,
            description.strip()[:400],
            cost,
            active,
            now,
        )
        gift.save()
    audit.record(
        brand_id=scope.brand_id,
        actor_id=scope.staff_id,
        actor_label=scope.label,
        action="gift.save",
        obj=gift,
        before=None,
        after=audit.snapshot(gift, ("name", "cost", "active")),
    )
    return _gift_info(gift)


def _move_gift(brand_id: int, gift_id: int, delta: int, *, key: str, note: str, actor: str) -> bool:
    """The one way a gift's stock changes: a conditional update (never below zero) and a movement
    with the key, in one savepoint. ``False``: the key was used before (nothing changes)."""
    if GiftMovement.objects.filter(brand_id=brand_id, key=key).exists():
        return False
    at = clock.now()
    try:
        with transaction.atomic():
            changed = Gift.objects.filter(brand_id=brand_id, pk=gift_id, stock__gte=max(0, -delta)).update(
                stock=F("stock") + delta, updated_at=at
            )
            if not changed:
                raise OutOfGifts(_("This gift is out of stock."), field="quantity")
            GiftMovement.objects.create(
                brand_id=brand_id,
                gift_id=gift_id,
                delta=delta,
                key=key,
                note=note[:200],
                actor_label=actor[:120],
                at=at,
            )
    except IntegrityError:
        if GiftMovement.objects.filter(brand_id=brand_id, key=key).exists():
            return False
        raise
    return True


class OutOfGifts(CoinError):
    """Not enough of the gift in stock."""


def restock(scope: Scope, gift_id: int, quantity: int, *, key: str, note: str = "") -> bool:
    """Add (or, negative, write off) units of a gift (HQ). Idempotent on ``key``: ``False`` when the
    key moved this gift's stock by this much before (nothing changes); the same key for another
    gift or quantity is refused."""
    _require(scope)
    if not isinstance(quantity, int) or quantity == 0 or abs(quantity) > 100_000:
        raise CoinError(
            _("A stock change is a whole number from 1 to 100000 (negative to write off)."), field="quantity"
        )
    if not key or len(key) > 100:
        raise CoinError(_("An idempotency key of 1 to 100 characters is required."), field="key")
    if not Gift.objects.filter(brand_id=scope.brand_id, pk=gift_id).exists():
        raise Missing(_("No such gift."))
    full = f"restock:{key}"
    moved = _move_gift(scope.brand_id, gift_id, quantity, key=full, note=note, actor=scope.label)
    if (
        not moved
        and not GiftMovement.objects.filter(brand_id=scope.brand_id, key=full, gift_id=gift_id, delta=quantity).exists()
    ):
        raise CoinError(_("This idempotency key was already used for another change."), field="key")
    return moved


def gift_movements(scope: Scope, gift_id: int) -> QuerySet[GiftMovement]:
    """A gift's stock ledger, newest first (HQ)."""
    _require(scope)
    if not Gift.objects.filter(brand_id=scope.brand_id, pk=gift_id).exists():
        raise Missing(_("No such gift."))
    return restrict(GiftMovement, scope).filter(gift_id=gift_id).order_by("-at", "-id")


def check_gift_ledger(brand_id: int) -> list[int]:
    """The gifts whose stock is not the sum of their movements (empty when the ledger holds)."""
    sums = dict(
        GiftMovement.objects.filter(brand_id=brand_id)
        .values("gift_id")
        .annotate(s=Sum("delta"))
        .values_list("gift_id", "s")
    )
    return [
        gid
        for gid, stock in Gift.objects.filter(brand_id=brand_id).values_list("pk", "stock")
        if sums.get(gid, 0) != stock
    ]


@dataclass(frozen=True)
class RedemptionInfo:
    id: int
    guide_id: int
    gift_id: int
    gift_name: str
    quantity: int
    coins: int
    status: str
    status_label: str
    tracking: str
    note: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None
    created: bool = True  # False: the key was used before and this is that first redemption


def _red_info(r: Redemption) -> RedemptionInfo:
    return RedemptionInfo(
        id=r.pk,
        guide_id=r.guide_id,
        gift_id=r.gift_id,
        gift_name=r.gift.name,
        quantity=r.quantity,
        coins=r.coins,
        status=r.status,
        status_label=str(Redemption.Status(r.status).label),
        tracking=r.tracking,
        note=r.note,
        created_at=r.created_at,
        decided_at=r.decided_at,
        shipped_at=r.shipped_at,
        received_at=r.received_at,
    )


def redeem(brand_id: int, guide_id: int, gift_id: int, *, quantity: int = 1, key: str) -> RedemptionInfo:
    """A guide asks for a gift: its coins are taken (held) and its stock set aside at once, in one
    transaction; HQ approves or rejects. Idempotent on ``key`` (a form sent twice redeems once)."""
    if not isinstance(quantity, int) or not 1 <= quantity <= 100:
        raise CoinError(_("Redeem 1 to 100 of a gift at a time."), field="quantity")
    if not key or len(key) > 100:
        raise CoinError(_("An idempotency key of 1 to 100 characters is required."), field="key")
    found = Redemption.objects.filter(brand_id=brand_id, key=key).select_related("gift").first()
    if found is not None:
        return _replayed(found, guide_id, gift_id, quantity)
    gift = Gift.objects.filter(brand_id=brand_id, pk=gift_id, active=True).first()
    if gift is None:
        raise CoinError(_("This gift is not on offer."), field="gift_id")
    info = org.staff_info(brand_id, guide_id)
    if info is None or not info.active:
        raise CoinError(_("No such member of staff in this brand."))
    coins = gift.cost * quantity
    try:
        with transaction.atomic():
            red = Redemption.objects.create(
                brand_id=brand_id,
                guide_id=guide_id,
                gift=gift,
                quantity=quantity,
                coins=coins,
                key=key,
                created_at=clock.now(),
            )
            _move_gift(brand_id, gift.pk, -quantity, key=f"redeem:{red.pk}", note=gift.name, actor=info.name)
            spend(
                brand_id,
                guide_id,
                coins,
                key=f"redeem:{red.pk}",
                reason=f"{gift.name} × {quantity}",
                source_type="redemption",
                source_id=red.pk,
                actor=info.name,
            )
    except IntegrityError:
        found = Redemption.objects.filter(brand_id=brand_id, key=key).select_related("gift").first()
        if found is not None:
            return _replayed(found, guide_id, gift_id, quantity)
        raise
    return _red_info(red)


def _replayed(found: Redemption, guide_id: int, gift_id: int, quantity: int) -> RedemptionInfo:
    """The redemption a repeated key made first; the key may not stand for another request."""
    if (found.guide_id, found.gift_id, found.quantity) != (guide_id, gift_id, quantity):
        raise CoinError(_("This idempotency key was already used for another redemption."), field="key")
    return replace(_red_info(found), created=False)


def _redemption(scope: Scope, redemption_id: int) -> Redemption:
    red = restrict(Redemption, scope).filter(pk=redemption_id).select_related("gift").first()
    if red is None:
        raise Missing(_("No such redemption."))
    return red


def decide(scope: Scope, redemption_id: int, *, approve: bool, note: str = "") -> RedemptionInfo:
    """HQ approves a pending redemption, or rejects it: the coins and the stock come back (keyed by
    the redemption, so a second rejection returns nothing more)."""
    _require(scope)
    with transaction.atomic():
        red = _redemption(scope, redemption_id)
        now = clock.now()
        moved = Redemption.objects.filter(pk=red.pk, status=Redemption.Status.PENDING).update(
            status=Redemption.Status.APPROVED if approve else Redemption.Status.REJECTED,
            decided_at=now,
            decided_by=scope.label[:120],
            note=note.strip()[:200],
        )
        if not moved:
            raise CoinError(_("This redemption was already decided."))
        if not approve:
            give_back(
                scope.brand_id,
                red.guide_id,
                red.coins,
                key=f"redeem:{red.pk}:return",
                reason=f"{red.gift.name} × {red.quantity}",
                source_type="redemption",
                source_id=red.pk,
            )
            _move_gift(
                scope.brand_id, red.gift_id, red.quantity, key=f"redeem:{red.pk}:return", note="", actor=scope.label
            )
        red.refresh_from_db()
    return _red_info(red)


def ship(scope: Scope, redemption_id: int, *, tracking: str = "") -> RedemptionInfo:
    """An approved gift leaves HQ (with a tracking number when sent by courier)."""
    _require(scope)
    red = _redemption(scope, redemption_id)
    if not Redemption.objects.filter(pk=red.pk, status=Redemption.Status.APPROVED).update(
        status=Redemption.Status.SHIPPED, shipped_at=clock.now(), tracking=tracking.strip()[:80]
    ):
        raise CoinError(_("Only an approved redemption can be shipped."))
    red.refresh_from_db()
    return _red_info(red)


def _receive(red: Redemption) -> RedemptionInfo:
    if not Redemption.objects.filter(pk=red.pk, status=Redemption.Status.SHIPPED).update(
        status=Redemption.Status.RECEIVED, received_at=clock.now()
    ):
        raise CoinError(_("Only a shipped gift can be marked as received."))
    red.refresh_from_db()
    return _red_info(red)


def confirm_received(brand_id: int, guide_id: int, redemption_id: int) -> RedemptionInfo:
    """The guide says her gift arrived."""
    red = (
        Redemption.objects.filter(brand_id=brand_id, guide_id=guide_id, pk=redemption_id).select_related("gift").first()
    )
    if red is None:
        raise Missing(_("No such redemption."))
    return _receive(red)


def deliver(scope: Scope, redemption_id: int) -> RedemptionInfo:
    """HQ records that a shipped gift was delivered (handed over, or the courier confirmed it)."""
    _require(scope)
    return _receive(_redemption(scope, redemption_id))


def redemption_rows(scope: Scope, *, status: str | None = None) -> QuerySet[Redemption]:
    """Redemptions within the viewer's reach (a guide: hers), newest first (map with
    :func:`redemption_info`)."""
    if status and status not in Redemption.Status.values:
        raise CoinError(_("Unknown status."), field="status")
    qs = restrict(Redemption, scope).select_related("gift")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def redemption_info(red: Redemption) -> RedemptionInfo:
    return _red_info(red)


def redemptions(scope: Scope, *, status: str | None = None, limit: int = 200) -> list[RedemptionInfo]:
    """Redemptions within the viewer's reach, newest first."""
    return [_red_info(r) for r in redemption_rows(scope, status=status)[:limit]]


def my_redemption_rows(brand_id: int, guide_id: int) -> QuerySet[Redemption]:
    qs = Redemption.objects.filter(brand_id=brand_id, guide_id=guide_id).select_related("gift")
    return qs.order_by("-created_at", "-id")


def my_redemptions(brand_id: int, guide_id: int) -> list[RedemptionInfo]:
    return [_red_info(r) for r in my_redemption_rows(brand_id, guide_id)[:100]]


# ---- leaderboards within reach (the console's boards, a guide's own rank) ------------------------

BOARD_METRICS = {
    "sales_fen": gettext_lazy("Attributed sales"),
    "share_sales_fen": gettext_lazy("Sales from shares"),
    "conversions": gettext_lazy("Conversions"),
    "new_fans": gettext_lazy("New fans"),
    "forwards": gettext_lazy("Forwards"),
    "tasks_done": gettext_lazy("Tasks done"),
}
BOARD_PERIODS = {"day": gettext_lazy("Day"), "week": gettext_lazy("Week"), "month": gettext_lazy("Month")}
BOARD_LEVELS = {"guide": gettext_lazy("Guides"), "store": gettext_lazy("Stores"), "region": gettext_lazy("Regions")}


def reach(scope: Scope) -> dict[str, int]:
    """The part of a board a viewer may see: HQ (and a brand-wide token) all of it, a region
    manager her region's, a store manager, a guide or a store's token her store's (a viewer placed
    nowhere sees an empty board)."""
    if scope.level is Level.REGION:
        return {"region_id": scope.region_id or -1}
    if scope.level in (Level.STORE, Level.SELF):
        return {"store_id": scope.store_id or -1}
    return {}


def levels_within(scope: Scope) -> tuple[str, ...]:
    """The boards a viewer's reach can show: a store's viewer ranks its guides, a region's its
    guides and stores, HQ guides, stores and regions."""
    where = reach(scope)
    if "store_id" in where:
        return ("guide",)
    if "region_id" in where:
        return ("guide", "store")
    return tuple(BOARD_LEVELS)


def subject_names(brand_id: int, level: str, ids: list[int]) -> dict[int, str]:
    """The names of a board's subjects: guides', stores' or regions' (``#id`` when gone)."""
    if level == "guide":
        found = dict(org.staff_names(brand_id, ids))
    elif level == "store":
        found = {i: shop.name for i in ids if (shop := org.store_info(brand_id, i)) is not None}
    else:
        found = org.region_names(brand_id)
    return {i: found.get(i, f"#{i}") for i in ids}


@dataclass(frozen=True)
class Standing:
    place: int
    subject_id: int
    name: str
    score: int


@dataclass(frozen=True)
class BoardView:
    metric: str
    period: str
    day: dt.date | None
    level: str
    count: int
    places: list[Standing]


def _period(period: str, day: dt.date | None, board: str | None) -> leaderboards.Period:
    if board:
        return ("board", None)
    if period not in BOARD_PERIODS:
        raise CoinError(_("The period is a day, a week or a month."), field="period")
    return (period, day or leaderboards.local_day(clock.now()))


def _standings(brand_id: int, level: str, places: list[Place]) -> list[Standing]:
    names = subject_names(brand_id, level, sorted({p.subject_id for p in places}))
    return [Standing(p.place, p.subject_id, names[p.subject_id], p.score) for p in places]


def board(
    scope: Scope,
    *,
    metric: str,
    period: str = "day",
    day: dt.date | None = None,
    level: str = "guide",
    board: str | None = None,
    limit: int = 30,
    offset: int = 0,
) -> BoardView:
    """A leaderboard within the viewer's reach (:func:`reach`): ``metric`` for the ``period``
    (day, week or month containing ``day``, default today) or a named ``board`` (a contest's, whose
    metric is the board), at ``level`` (one of :func:`levels_within`), ``limit`` places from
    ``offset``. Raises :class:`CoinError` (with its field) on a board the viewer cannot see."""
    if board is None and metric not in BOARD_METRICS:
        raise CoinError(_("Unknown metric."), field="metric")
    if level not in levels_within(scope):
        raise CoinError(
            _("Within your reach a board ranks: %(levels)s.") % {"levels": ", ".join(levels_within(scope))},
            field="level",
        )
    key = _period(period, day, board)
    metric = board or metric
    where = reach(scope)
    places = leaderboards.top(
        scope.brand_id, metric, key, level=level, board=board, limit=limit, offset=offset, **where
    )
    return BoardView(
        metric=metric,
        period="contest" if board else period,
        day=key[1],
        level=level,
        count=leaderboards.size(scope.brand_id, metric, key, level=level, board=board, **where),
        places=_standings(scope.brand_id, level, places),
    )


@dataclass(frozen=True)
class MyRank:
    """A guide's place on a brand-wide board of guides: ``gap`` is what she lacks to the next place
    (``None`` when first); ``above`` the places just ahead (best first), ``below`` just behind
    (nearest first); ``top`` the first places."""

    metric: str
    period: str
    day: dt.date | None
    rank: int
    score: int
    gap: int | None
    count: int
    above: list[Standing]
    below: list[Standing]
    top: list[Standing]


def my_rank(
    brand_id: int,
    guide_id: int,
    *,
    metric: str = "sales_fen",
    period: str = "day",
    day: dt.date | None = None,
    board: str | None = None,
    neighbours: int = 2,
    top_n: int = 10,
) -> MyRank:
    """Where a guide stands among every guide of the brand on ``metric`` for the period (or on a
    contest's ``board``), her neighbours and the first ``top_n`` places."""
    if board is None and metric not in BOARD_METRICS:
        raise CoinError(_("Unknown metric."), field="metric")
    key = _period(period, day, board)
    metric = board or metric
    view = leaderboards.rank(brand_id, metric, key, guide_id, board=board, neighbours=neighbours)
    first = leaderboards.top(brand_id, metric, key, board=board, limit=top_n)
    named = _standings(brand_id, "guide", [*first, *view.above, *view.below])
    by_id = {s.subject_id: s.name for s in named}

    def standing(p: Place) -> Standing:
        return Standing(p.place, p.subject_id, by_id[p.subject_id], p.score)

    return MyRank(
        metric=metric,
        period="contest" if board else period,
        day=key[1],
        rank=view.rank,
        score=view.score,
        gap=view.gap,
        count=leaderboards.size(brand_id, metric, key, board=board),
        above=[standing(p) for p in view.above],
        below=[standing(p) for p in view.below],
        top=[standing(p) for p in first],
    )
