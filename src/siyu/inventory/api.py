"""REST endpoints of stock for store systems (a POS with an API token holding ``inventory.manage``):
push the counts a store holds (POS sync: each SKU's on-hand becomes the count) and goods received.
Stores and SKUs are named by their codes; ``key`` is the caller's idempotency key (the same key
again moves nothing and answers ``applied: false``). Every change is a verb of
:mod:`siyu.inventory.services` (one ledger movement per SKU, audited)."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from siyu.catalog import services as catalog
from siyu.inventory import services
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.api import Input, answers, current_scope, requires
from siyu.platform.tenancy import Scope

router = Router()


class CountIn(Input):
    sku_code: str = Field(max_length=40)
    count: int = Field(ge=0, le=services.MAX_QUANTITY, description="Units the store holds now.")


class LineIn(Input):
    sku_code: str = Field(max_length=40)
    quantity: int = Field(ge=1, le=services.MAX_QUANTITY)


class PosSyncIn(Input):
    store_code: str = Field(max_length=20)
    key: str = Field(min_length=1, max_length=100, description="Idempotency key: the same key moves stock once.")
    reference: str = Field("", max_length=60)
    counts: list[CountIn] = Field(min_length=1, max_length=5000)


class ReceiptIn(Input):
    store_code: str = Field(max_length=20)
    key: str = Field(min_length=1, max_length=100, description="Idempotency key: the same key moves stock once.")
    reference: str = Field("", max_length=60, description="The delivery note.")
    lines: list[LineIn] = Field(min_length=1, max_length=5000)


class AppliedOut(Schema):
    applied: bool = Field(description="False when the key was applied before, or nothing changed.")
    store_code: str
    skus: int


def store_id_of(scope: Scope, code: str) -> int:
    """The id of the store of the caller's reach with this code (else a 422 on ``store_code``)."""
    found = next((s.id for s in org.visible_stores(scope) if s.code == code.strip()), None)
    if found is None:
        raise ValidationError({"store_code": _("No store of your reach has the code %(code)s.") % {"code": code}})
    return found


def sku_ids_of(brand_id: int, codes: list[str]) -> dict[str, int]:
    ids = catalog.sku_ids_by_code(brand_id, codes)
    unknown = sorted(set(codes) - set(ids))
    if unknown:
        raise ValidationError({"sku_code": _("Unknown SKU code(s): %(codes)s.") % {"codes": ", ".join(unknown)}})
    return ids


@router.post("/stock/pos-sync", response=answers(AppliedOut), summary="Push a store's stock counts", tags=["stock"])
@requires(Perm.STOCK_MANAGE)
def stock_pos_sync(request: HttpRequest, payload: PosSyncIn) -> AppliedOut:
    scope = current_scope(request)
    store_id = store_id_of(scope, payload.store_code)
    ids = sku_ids_of(scope.brand_id, [c.sku_code for c in payload.counts])
    try:
        applied = services.pos_sync(
            scope,
            store_id,
            {ids[c.sku_code]: c.count for c in payload.counts},
            key=payload.key,
            reference=payload.reference,
        )
    except services.StockError as exc:
        raise ValidationError({"counts": str(exc)}) from exc
    return AppliedOut(applied=applied, store_code=payload.store_code, skus=len(payload.counts))


@router.post(
    "/stock/receipts", response=answers(AppliedOut), summary="Record goods received at a store", tags=["stock"]
)
@requires(Perm.STOCK_MANAGE)
def stock_receipt(request: HttpRequest, payload: ReceiptIn) -> AppliedOut:
    scope = current_scope(request)
    store_id = store_id_of(scope, payload.store_code)
    ids = sku_ids_of(scope.brand_id, [ln.sku_code for ln in payload.lines])
    wanted: dict[int, int] = {}
    for ln in payload.lines:
        wanted[ids[ln.sku_code]] = wanted.get(ids[ln.sku_code], 0) + ln.quantity
    applied = services.receive(scope, store_id, wanted, key=payload.key, reference=payload.reference)
    return AppliedOut(applied=applied, store_code=payload.store_code, skus=len(wanted))
