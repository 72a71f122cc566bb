"""REST endpoints of guides' incentives (ADR 0018), every call through
:mod:`siyu.incentives.services` and :mod:`siyu.incentives.benchmarks`:

* coins — a guide's own balance and ledger; a guide's within the viewer's reach; HQ grants and
  deducts by hand (idempotency key) and reverses an entry;
* the reward mall — gifts (a guide sees what she can afford), HQ's gifts, stock and stock ledger,
  redemptions (a guide redeems with an idempotency key and confirms receipt; HQ approves, rejects,
  ships and records delivery);
* leaderboards — a board by metric, period (or contest) and level within reach, paged; a guide's
  own rank, neighbours and gap;
* benchmarks — the wall, HQ's rules and the daily pick, a guide's method notes and video (multipart).

A guide acts for herself (``guide.workbench``); reads within reach need ``incentives.view`` (every
role and grantable to tokens; a guide's reach is herself and her store); HQ's changes need
``incentives.manage``. A refused change answers 422 with ``detail`` and ``errors`` and changes
nothing; an object outside the caller's reach answers 404 like a missing one.

Module note: no ``from __future__ import annotations`` (django-ninja reads the annotations)."""

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from siyu.contests import services as contests
from siyu.incentives import benchmarks, services
from siyu.org.services import Perm
from siyu.platform.api import Input, PageQuery, answers, created, current_scope, page_of, paginate, requires
from siyu.platform.tenancy import Scope

router = Router()
F = TypeVar("F", bound=Callable[..., Any])

Metric = Literal["sales_fen", "share_sales_fen", "conversions", "new_fans", "forwards", "tasks_done"]
RedemptionStatus = Literal["pending", "approved", "rejected", "shipped", "received"]
KEY_HELP = "Your idempotency key: the same key again changes nothing and answers the first result."


def refusals(view: F) -> F:
    """Answer the services' refusals: :class:`services.Missing` as 404 (outside the caller's reach
    looks exactly like missing), any other :class:`services.CoinError` as 422 naming its field."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except services.Missing as exc:
            raise Http404(str(exc)) from exc
        except (services.CoinError, services.LeaderboardError) as exc:
            raise ValidationError({getattr(exc, "field", "") or NON_FIELD_ERRORS: [str(exc)]}) from exc

    return wrapped  # type: ignore[return-value]


def _guide(scope: Scope) -> int:
    """The calling guide (``guide.workbench`` is held by staff only, never by a token)."""
    if scope.staff_id is None:  # pragma: no cover - guarded by the permission
        raise Http404
    return scope.staff_id


# --- coins -------------------------------------------------------------------------------------------
class EntryOut(Schema):
    id: int
    guide_id: int
    kind: str = Field(description="`earn`, `spend`, `return`, `reversal` or `adjust` (by HQ).")
    delta: int = Field(description="Coins added (negative: taken).")
    balance_after: int
    reason: str
    source_type: str
    source_id: int | None
    reverses_id: int | None
    at: dt.datetime
    created: bool = Field(True, description="False: the key was used before; this is that first entry.")


class CoinsOut(Schema):
    """A guide's balance and one page of her ledger, newest first."""

    guide_id: int
    balance: int
    count: int
    limit: int
    offset: int
    items: list[EntryOut]


class AdjustIn(Input):
    coins: int = Field(
        ge=-services.MAX_COINS, le=services.MAX_COINS, description="Coins to grant; negative to deduct; never 0."
    )
    reason: str = Field(min_length=1, max_length=200)
    key: str = Field(min_length=1, max_length=100, description=KEY_HELP)


class ReverseIn(Input):
    reason: str = Field(min_length=1, max_length=200)


def _coins(guide_id: int, balance: int, entries: Any, page: PageQuery) -> dict[str, Any]:
    return {"guide_id": guide_id, "balance": balance, **paginate(entries, page, services.entry_info)}


def _entry(entry: services.EntryInfo) -> Any:
    return created(entry) if entry.created else entry


@router.get("/incentives/coins/mine", response=answers(CoinsOut), summary="My coins and ledger", tags=["coins"])
@requires(Perm.GUIDE_WORKBENCH)
def coins_mine(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    guide_id = _guide(scope)
    balance = services.balance(scope.brand_id, guide_id)
    return _coins(guide_id, balance, services.ledger(scope.brand_id, guide_id), page)


@router.get(
    "/incentives/guides/{int:guide_id}/coins",
    response=answers(CoinsOut),
    summary="A guide's coins and ledger (within reach)",
    tags=["coins"],
)
@requires(Perm.INCENTIVES_VIEW)
@refusals
def coins_of_guide(request: HttpRequest, guide_id: int, page: Query[PageQuery]) -> dict[str, Any]:
    balance, entries = services.coins_of(current_scope(request), guide_id)
    return _coins(guide_id, balance, entries, page)


@router.post(
    "/incentives/guides/{int:guide_id}/coins",
    response={**answers(EntryOut, 201), 200: EntryOut},
    summary="Grant or deduct a guide's coins by hand",
    description="201 with the new entry; 200 with the first entry when the key was used before. A "
    "deduction beyond the balance is refused (422 on `coins`) and changes nothing.",
    tags=["coins"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def coins_adjust(request: HttpRequest, guide_id: int, payload: AdjustIn) -> Any:
    scope = current_scope(request)
    return _entry(services.adjust(scope, guide_id, payload.coins, key=payload.key, reason=payload.reason))


@router.post(
    "/incentives/coin-entries/{int:entry_id}/reversal",
    response={**answers(EntryOut, 201), 200: EntryOut},
    summary="Reverse a coin entry (once, by a compensating entry)",
    tags=["coins"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def coins_reverse(request: HttpRequest, entry_id: int, payload: ReverseIn) -> Any:
    return _entry(services.reverse(current_scope(request), entry_id, reason=payload.reason))


# --- the reward mall ---------------------------------------------------------------------------------
class GiftOut(Schema):
    id: int
    name: str
    description: str
    cost: int = Field(description="Price in coins.")
    stock: int
    active: bool = Field(description="On offer in the mall.")


class MallGiftOut(Schema):
    id: int
    name: str
    description: str
    cost: int
    stock: int
    can_redeem: bool = Field(description="In stock and within her balance.")


class MallOut(Schema):
    """Her balance and one page of the gifts on offer, cheapest first."""

    balance: int
    count: int
    limit: int
    offset: int
    items: list[MallGiftOut]


class GiftIn(Input):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=400)
    cost: int = Field(gt=0, le=services.MAX_COINS, description="Price in coins.")
    active: bool = True


class RestockIn(Input):
    quantity: int = Field(ge=-100_000, le=100_000, description="Units to add; negative to write off; never 0.")
    key: str = Field(min_length=1, max_length=60, description=KEY_HELP)
    note: str = Field("", max_length=200)


class RestockOut(Schema):
    applied: bool = Field(description="False: the key was applied before; nothing changed.")
    gift: GiftOut


class MovementOut(Schema):
    id: int
    delta: int
    note: str
    actor: str
    at: dt.datetime


class RedeemIn(Input):
    gift_id: int
    quantity: int = Field(1, ge=1, le=100)
    key: str = Field(min_length=1, max_length=60, description=KEY_HELP)


class RedemptionOut(Schema):
    id: int
    guide_id: int
    guide_name: str
    gift_id: int
    gift_name: str
    quantity: int
    coins: int = Field(description="Coins held for it (returned if rejected).")
    status: RedemptionStatus
    tracking: str
    note: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None
    created: bool = Field(True, description="False: the key was used before; this is that first redemption.")


class DecisionIn(Input):
    approve: bool = Field(description="True approves; false rejects and returns the coins and the stock.")
    note: str = Field("", max_length=200)


class ShipIn(Input):
    tracking: str = Field("", max_length=80, description="The courier's tracking number.")


def _gift(g: services.GiftInfo) -> dict[str, Any]:
    return dict(vars(g))


def _redemptions(brand_id: int, rows: list[services.RedemptionInfo]) -> list[dict[str, Any]]:
    names = services.subject_names(brand_id, "guide", sorted({r.guide_id for r in rows}))
    return [{**vars(r), "guide_name": names[r.guide_id]} for r in rows]


def _redemption_page(brand_id: int, qs: Any, page: PageQuery) -> dict[str, Any]:
    found = paginate(qs, page, services.redemption_info)
    return {**found, "items": _redemptions(brand_id, found["items"])}


def _redemption(brand_id: int, red: services.RedemptionInfo) -> dict[str, Any]:
    return _redemptions(brand_id, [red])[0]


@router.get(
    "/incentives/mall", response=answers(MallOut), summary="The reward mall: my balance and gifts", tags=["mall"]
)
@requires(Perm.GUIDE_WORKBENCH)
def mall(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    balance = services.balance(scope.brand_id, _guide(scope))

    def row(g: Any) -> dict[str, Any]:
        info = services.gift_info(g)
        return {**_gift(info), "can_redeem": info.stock > 0 and info.cost <= balance}

    return {"balance": balance, **paginate(services.gift_rows(scope.brand_id), page, row)}


@router.get("/incentives/gifts", response=answers(page_of(GiftOut)), summary="Gifts of the reward mall", tags=["mall"])
@requires(Perm.INCENTIVES_MANAGE)
def gift_list(request: HttpRequest, page: Query[PageQuery], offered_only: bool = False) -> dict[str, Any]:
    rows = services.gift_rows(current_scope(request).brand_id, offered_only=offered_only)
    return paginate(rows, page, lambda g: _gift(services.gift_info(g)))


@router.post("/incentives/gifts", response=answers(GiftOut, 201), summary="Add a gift", tags=["mall"])
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def gift_create(request: HttpRequest, payload: GiftIn) -> Any:
    return created(_gift(services.save_gift(current_scope(request), **payload.dict())))


@router.get("/incentives/gifts/{int:gift_id}", response=answers(GiftOut), summary="A gift", tags=["mall"])
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def gift_detail(request: HttpRequest, gift_id: int) -> dict[str, Any]:
    return _gift(services.gift(current_scope(request).brand_id, gift_id))


@router.put(
    "/incentives/gifts/{int:gift_id}",
    response=answers(GiftOut),
    summary="Change a gift (its stock changes only by restocking)",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def gift_update(request: HttpRequest, gift_id: int, payload: GiftIn) -> dict[str, Any]:
    return _gift(services.save_gift(current_scope(request), gift_id=gift_id, **payload.dict()))


@router.post(
    "/incentives/gifts/{int:gift_id}/restock",
    response=answers(RestockOut),
    summary="Restock or write off units of a gift",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def gift_restock(request: HttpRequest, gift_id: int, payload: RestockIn) -> dict[str, Any]:
    scope = current_scope(request)
    applied = services.restock(scope, gift_id, payload.quantity, key=payload.key, note=payload.note)
    return {"applied": applied, "gift": _gift(services.gift(scope.brand_id, gift_id))}


@router.get(
    "/incentives/gifts/{int:gift_id}/movements",
    response=answers(page_of(MovementOut)),
    summary="A gift's stock ledger",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def gift_movements(request: HttpRequest, gift_id: int, page: Query[PageQuery]) -> dict[str, Any]:
    rows = services.gift_movements(current_scope(request), gift_id)
    return paginate(
        rows, page, lambda m: {"id": m.pk, "delta": m.delta, "note": m.note, "actor": m.actor_label, "at": m.at}
    )


@router.post(
    "/incentives/redemptions",
    response={**answers(RedemptionOut, 201), 200: RedemptionOut},
    summary="Redeem a gift with my coins",
    description="The coins and the stock are held at once. 201 with the new redemption; 200 with the "
    "first one when the key was used before. Too few coins or units: 422, nothing changes.",
    tags=["mall"],
)
@requires(Perm.GUIDE_WORKBENCH)
@refusals
def redemption_create(request: HttpRequest, payload: RedeemIn) -> Any:
    scope = current_scope(request)
    guide_id = _guide(scope)
    red = services.redeem(
        scope.brand_id, guide_id, payload.gift_id, quantity=payload.quantity, key=f"api:{guide_id}:{payload.key}"
    )
    out = _redemption(scope.brand_id, red)
    return created(out) if red.created else out


@router.get(
    "/incentives/redemptions/mine", response=answers(page_of(RedemptionOut)), summary="My redemptions", tags=["mall"]
)
@requires(Perm.GUIDE_WORKBENCH)
def redemption_mine(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    return _redemption_page(scope.brand_id, services.my_redemption_rows(scope.brand_id, _guide(scope)), page)


@router.post(
    "/incentives/redemptions/{int:redemption_id}/received",
    response=answers(RedemptionOut),
    summary="My gift arrived",
    tags=["mall"],
)
@requires(Perm.GUIDE_WORKBENCH)
@refusals
def redemption_received(request: HttpRequest, redemption_id: int) -> dict[str, Any]:
    scope = current_scope(request)
    return _redemption(scope.brand_id, services.confirm_received(scope.brand_id, _guide(scope), redemption_id))


@router.get(
    "/incentives/redemptions",
    response=answers(page_of(RedemptionOut)),
    summary="Redemptions within reach",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_VIEW)
@refusals
def redemption_list(
    request: HttpRequest, page: Query[PageQuery], status: RedemptionStatus | None = None
) -> dict[str, Any]:
    scope = current_scope(request)
    return _redemption_page(scope.brand_id, services.redemption_rows(scope, status=status), page)


@router.post(
    "/incentives/redemptions/{int:redemption_id}/decision",
    response=answers(RedemptionOut),
    summary="Approve or reject a redemption (a rejection returns the coins once)",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def redemption_decide(request: HttpRequest, redemption_id: int, payload: DecisionIn) -> dict[str, Any]:
    scope = current_scope(request)
    red = services.decide(scope, redemption_id, approve=payload.approve, note=payload.note)
    return _redemption(scope.brand_id, red)


@router.post(
    "/incentives/redemptions/{int:redemption_id}/ship",
    response=answers(RedemptionOut),
    summary="Ship an approved gift",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def redemption_ship(request: HttpRequest, redemption_id: int, payload: ShipIn) -> dict[str, Any]:
    scope = current_scope(request)
    return _redemption(scope.brand_id, services.ship(scope, redemption_id, tracking=payload.tracking))


@router.post(
    "/incentives/redemptions/{int:redemption_id}/delivered",
    response=answers(RedemptionOut),
    summary="Record that a shipped gift was delivered",
    tags=["mall"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def redemption_delivered(request: HttpRequest, redemption_id: int) -> dict[str, Any]:
    scope = current_scope(request)
    return _redemption(scope.brand_id, services.deliver(scope, redemption_id))


# --- leaderboards ------------------------------------------------------------------------------------
class BoardQuery(Schema):
    metric: Metric = Field("sales_fen", description="Money metrics (`*_fen`) are in fen. Ignored for a contest.")
    period: Literal["day", "week", "month", "contest"] = Field(
        "day", description="The day, ISO week or month containing `day`; `contest`: the board of `contest_id`."
    )
    day: dt.date | None = Field(None, description="Default: today (the brand's time zone).")
    contest_id: int | None = Field(None, description="With `period=contest`: the PK contest.")


class StandingOut(Schema):
    place: int = Field(description="1 is first; ties share a place (1, 2, 2, 4).")
    subject_id: int = Field(description="The guide's, store's or region's id.")
    name: str
    score: int


class BoardOut(Schema):
    metric: str
    period: str
    day: dt.date | None
    level: str
    count: int = Field(description="Subjects on the board (within the caller's reach).")
    limit: int
    offset: int
    items: list[StandingOut]


class MyRankOut(Schema):
    metric: str
    period: str
    day: dt.date | None
    rank: int
    score: int
    gap: int | None = Field(description="Points to the next place; null when first.")
    count: int
    above: list[StandingOut] = Field(description="The places just ahead, best first.")
    below: list[StandingOut] = Field(description="The places just behind, nearest first.")
    top: list[StandingOut]


def _contest_board(scope: Scope, q: BoardQuery) -> str | None:
    if q.period != "contest":
        return None
    if q.contest_id is None:
        raise ValidationError({"contest_id": _("A contest's board needs contest_id.")})
    return contests.contest(scope, q.contest_id).board


@router.get(
    "/incentives/leaderboards",
    response=answers(BoardOut),
    summary="A leaderboard within reach",
    description="HQ and brand-wide tokens see the whole brand (levels guide, store, region); a region "
    "manager her region (guide, store); a store manager, a guide or a store's token the store (guide).",
    tags=["leaderboards"],
)
@requires(Perm.INCENTIVES_VIEW)
@refusals
def leaderboard(
    request: HttpRequest,
    q: Query[BoardQuery],
    page: Query[PageQuery],
    level: Literal["guide", "store", "region"] = "guide",
) -> dict[str, Any]:
    scope = current_scope(request)
    view = services.board(
        scope,
        metric=q.metric,
        period=q.period,
        day=q.day,
        level=level,
        board=_contest_board(scope, q),
        limit=page.limit,
        offset=page.offset,
    )
    return {**vars(view), "limit": page.limit, "offset": page.offset, "items": view.places}


@router.get(
    "/incentives/leaderboards/mine",
    response=answers(MyRankOut),
    summary="My rank among the brand's guides, my neighbours and the gap to the next place",
    tags=["leaderboards"],
)
@requires(Perm.GUIDE_WORKBENCH)
@refusals
def leaderboard_mine(
    request: HttpRequest,
    q: Query[BoardQuery],
    neighbours: int = Query(2, ge=0, le=10),
    top: int = Query(10, ge=0, le=50),
) -> services.MyRank:
    scope = current_scope(request)
    return services.my_rank(
        scope.brand_id,
        _guide(scope),
        metric=q.metric,
        period=q.period,
        day=q.day,
        board=_contest_board(scope, q),
        neighbours=neighbours,
        top_n=top,
    )


# --- benchmarks --------------------------------------------------------------------------------------
BenchmarkMetric = Literal["sales_fen", "share_sales_fen", "new_fans", "conversions", "forwards", "tasks_done"]


class WallEntryOut(Schema):
    id: int
    rule_id: int
    rule_title: str
    metric: str
    day: dt.date
    guide_id: int
    guide_name: str
    region_id: int | None
    place: int
    score: int
    coins: int = Field(description="Coins the pick paid.")
    notes: str = Field(description="Her method notes.")
    video_url: str = Field(description="Her short video (empty: none).")


class WallOut(Schema):
    day: dt.date | None = Field(description="The day shown (the latest with picks unless asked).")
    items: list[WallEntryOut]


class RuleIn(Input):
    title: str = Field(min_length=1, max_length=60)
    metric: BenchmarkMetric
    scope: Literal["brand", "region"] = Field("brand", description="Pick from the whole brand or in each region.")
    how_many: int = Field(3, ge=1, le=50)
    minimum: int = Field(1, ge=0, description="The lowest score that can be picked.")
    award_coins: int = Field(0, ge=0, le=100_000)
    active: bool = True


class RuleOut(Schema):
    id: int
    title: str
    metric: str
    scope: str
    how_many: int
    minimum: int
    award_coins: int
    active: bool


class PickIn(Input):
    day: dt.date | None = Field(None, description="Default: yesterday.")


class PickOut(Schema):
    day: dt.date
    picked: int = Field(description="New picks (0 when the day was picked before).")


class DeletedOut(Schema):
    deleted: bool


@router.get("/incentives/benchmarks/wall", response=answers(WallOut), summary="The benchmark wall", tags=["benchmarks"])
@requires(Perm.INCENTIVES_VIEW)
def benchmark_wall(
    request: HttpRequest,
    day: dt.date | None = None,
    metric: BenchmarkMetric | None = None,
    limit: int = Query(60, ge=1, le=200),
) -> dict[str, Any]:
    entries = benchmarks.wall(current_scope(request).brand_id, day=day, metric=metric, limit=limit)
    return {"day": entries[0].day if entries else day, "items": entries}


@router.get(
    "/incentives/benchmarks/mine",
    response=answers(list[WallEntryOut]),
    summary="My benchmark picks",
    tags=["benchmarks"],
)
@requires(Perm.GUIDE_WORKBENCH)
def benchmark_mine(request: HttpRequest) -> list[benchmarks.WallEntry]:
    scope = current_scope(request)
    return benchmarks.mine(scope.brand_id, _guide(scope))


@router.post(
    "/incentives/benchmarks/{int:benchmark_id}/write-up",
    response=answers(WallEntryOut),
    summary="Write my method notes (and upload a short video)",
    description="Multipart form: `notes` (at most 2000 characters) and optionally `video` (MP4, MOV or "
    "WebM, read from its bytes, at most 20 MB; replaces the one before). Only the picked guide may.",
    tags=["benchmarks"],
)
@requires(Perm.GUIDE_WORKBENCH)
@refusals
def benchmark_write_up(
    request: HttpRequest,
    benchmark_id: int,
    notes: Form[str] = "",
    video: UploadedFile | None = File(None),  # noqa: B008  (django-ninja's way to declare a parameter)
) -> benchmarks.WallEntry:
    scope = current_scope(request)
    return benchmarks.write_up(scope.brand_id, _guide(scope), benchmark_id, notes=notes, video=video)


@router.post(
    "/incentives/benchmarks/pick", response=answers(PickOut), summary="Pick a day's benchmarks now", tags=["benchmarks"]
)
@requires(Perm.INCENTIVES_MANAGE)
def benchmark_pick(request: HttpRequest, payload: PickIn) -> dict[str, Any]:
    day = payload.day or benchmarks.yesterday()
    return {"day": day, "picked": benchmarks.pick(current_scope(request).brand_id, day)}


@router.get(
    "/incentives/benchmark-rules", response=answers(list[RuleOut]), summary="Benchmark rules", tags=["benchmarks"]
)
@requires(Perm.INCENTIVES_MANAGE)
def rule_list(request: HttpRequest) -> list[benchmarks.RuleInfo]:
    return benchmarks.rules(current_scope(request).brand_id)


def _save_rule(scope: Scope, rule_id: int | None, payload: RuleIn) -> benchmarks.RuleInfo:
    data = payload.dict()
    return benchmarks.save_rule(scope, rule_id=rule_id, scope_kind=data.pop("scope"), **data)


@router.post(
    "/incentives/benchmark-rules", response=answers(RuleOut, 201), summary="Add a benchmark rule", tags=["benchmarks"]
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[benchmarks.RuleInfo]:
    return created(_save_rule(current_scope(request), None, payload))


@router.get(
    "/incentives/benchmark-rules/{int:rule_id}",
    response=answers(RuleOut),
    summary="A benchmark rule",
    tags=["benchmarks"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def rule_detail(request: HttpRequest, rule_id: int) -> benchmarks.RuleInfo:
    return benchmarks.rule(current_scope(request).brand_id, rule_id)


@router.put(
    "/incentives/benchmark-rules/{int:rule_id}",
    response=answers(RuleOut),
    summary="Change a benchmark rule",
    tags=["benchmarks"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def rule_update(request: HttpRequest, rule_id: int, payload: RuleIn) -> benchmarks.RuleInfo:
    return _save_rule(current_scope(request), rule_id, payload)


@router.delete(
    "/incentives/benchmark-rules/{int:rule_id}",
    response=answers(DeletedOut),
    summary="Delete a rule that has picked nobody (else switch it off)",
    tags=["benchmarks"],
)
@requires(Perm.INCENTIVES_MANAGE)
@refusals
def rule_delete(request: HttpRequest, rule_id: int) -> dict[str, bool]:
    benchmarks.delete_rule(current_scope(request), rule_id)
    return {"deleted": True}
