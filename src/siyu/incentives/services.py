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
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from siyu.incentives import leaderboards
from siyu.incentives.leaderboards import LeaderboardError, Place, RankView, rank, record, size, top
from siyu.incentives.models import CoinAccount, CoinEntry, EntryKind, Gift, GiftMovement, Redemption
from siyu.org import services as org
from siyu.platform import audit, clock, sql
from siyu.platform.tenancy import Scope, restrict

__all__ = [
    "CoinError",
    "EntryInfo",
    "InsufficientCoins",
    "LeaderboardError",
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
    """A coin change that cannot be made; ``str()`` says why."""


class InsufficientCoins(CoinError):
    """The guide has fewer coins than the change takes."""


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
        raise CoinError(_("An idempotency key of 1 to 160 characters is required."))
    if delta == 0 or abs(delta) > MAX_COINS:
        raise CoinError(_("A coin change is a whole number from 1 to %(max)d.") % {"max": MAX_COINS})
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
        raise CoinError(_("No such coin entry."))
    if entry.kind == EntryKind.REVERSAL:
        raise CoinError(_("A reversal cannot itself be reversed."))
    if not reason.strip():
        raise CoinError(_("Say why the entry is reversed."))
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


def history(brand_id: int, guide_id: int, *, limit: int = 100) -> list[EntryInfo]:
    """A guide's entries, newest first: in the ledger's own order, so each balance after follows from the one
    below it (an entry recorded under a clock set in the past, as the demo does, stays in its place)."""
    qs = CoinEntry.objects.filter(brand_id=brand_id, guide_id=guide_id).order_by("-id")[:limit]
    return [_info(e) for e in qs]


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


def _require(scope: Scope, perm: str = MANAGE) -> None:
    if not scope.can(perm):
        raise PermissionDenied(_("You may not manage the reward mall."))


def gifts(brand_id: int, *, offered_only: bool = True) -> list[GiftInfo]:
    qs = Gift.objects.filter(brand_id=brand_id)
    if offered_only:
        qs = qs.filter(active=True)
    return [_gift_info(g) for g in qs.order_by("cost", "pk")]


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
        raise CoinError(_("A gift needs a name of 1 to 80 characters."))
    if not isinstance(cost, int) or cost <= 0 or cost > MAX_COINS:
        raise CoinError(_("A gift's price is a positive whole number of coins."))
    if Gift.objects.filter(brand_id=scope.brand_id, name=name).exclude(pk=gift_id or 0).exists():
        raise CoinError(_("Another gift already has this name."))
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
            raise CoinError(_("No such gift."))
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
                raise OutOfGifts(_("This gift is out of stock."))
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
    """Add (or, negative, write off) units of a gift (HQ). Idempotent on ``key``."""
    _require(scope)
    if not isinstance(quantity, int) or quantity == 0 or abs(quantity) > 100_000:
        raise CoinError(_("A stock change is a whole number from 1 to 100000 (negative to write off)."))
    if not Gift.objects.filter(brand_id=scope.brand_id, pk=gift_id).exists():
        raise CoinError(_("No such gift."))
    return _move_gift(scope.brand_id, gift_id, quantity, key=f"restock:{key}", note=note, actor=scope.label)


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
        raise CoinError(_("Redeem 1 to 100 of a gift at a time."))
    if not key or len(key) > 100:
        raise CoinError(_("An idempotency key of 1 to 100 characters is required."))
    found = Redemption.objects.filter(brand_id=brand_id, key=key).select_related("gift").first()
    if found is not None:
        return _red_info(found)
    gift = Gift.objects.filter(brand_id=brand_id, pk=gift_id, active=True).first()
    if gift is None:
        raise CoinError(_("This gift is not on offer."))
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
            return _red_info(found)
        raise
    return _red_info(red)


def _redemption(scope: Scope, redemption_id: int) -> Redemption:
    red = restrict(Redemption, scope).filter(pk=redemption_id).select_related("gift").first()
    if red is None:
        raise CoinError(_("No such redemption."))
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


def confirm_received(brand_id: int, guide_id: int, redemption_id: int) -> RedemptionInfo:
    """The guide says her gift arrived."""
    red = (
        Redemption.objects.filter(brand_id=brand_id, guide_id=guide_id, pk=redemption_id).select_related("gift").first()
    )
    if red is None:
        raise CoinError(_("No such redemption."))
    if not Redemption.objects.filter(pk=red.pk, status=Redemption.Status.SHIPPED).update(
        status=Redemption.Status.RECEIVED, received_at=clock.now()
    ):
        raise CoinError(_("Only a shipped gift can be marked as received."))
    red.refresh_from_db()
    return _red_info(red)


def redemptions(scope: Scope, *, status: str | None = None, limit: int = 200) -> list[RedemptionInfo]:
    """Redemptions within the viewer's reach, newest first."""
    qs = restrict(Redemption, scope).select_related("gift")
    if status:
        qs = qs.filter(status=status)
    return [_red_info(r) for r in qs.order_by("-created_at", "-id")[:limit]]


def my_redemptions(brand_id: int, guide_id: int) -> list[RedemptionInfo]:
    qs = Redemption.objects.filter(brand_id=brand_id, guide_id=guide_id).select_related("gift")
    return [_red_info(r) for r in qs.order_by("-created_at", "-id")[:100]]
