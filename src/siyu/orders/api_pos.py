"""REST endpoint for offline POS orders (a POS with an API token holding ``orders.import``): one
in-store sale per call, named by its POS document number (the same document again answers the
order recorded the first time, 200 instead of 201). The store and the SKUs are named by code, the
customer by mobile number or POS member card; the order is recorded completed, attributed to her
bound guide, and the units leave the store's stock (:mod:`siyu.orders.pos_import`)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from siyu.orders import pos_import
from siyu.org.services import Perm
from siyu.platform.api import Input, answers, current_scope, requires
from siyu.platform.privacy import normalize_phone

router = Router()
FEN = "in fen (1 CNY = 100 fen)"


class PosLineIn(Input):
    sku_code: str = Field(max_length=40)
    quantity: int = Field(ge=1, le=9999)
    unit_price_fen: int = Field(ge=0, le=100_000_000, description=f"The unit price paid {FEN}.")


class PosOrderIn(Input):
    store_code: str = Field(max_length=20)
    document: str = Field(min_length=1, max_length=60, description="The POS document number (idempotent).")
    phone: str = Field("", max_length=20, description="The customer's mobile number…")
    pos_card: str = Field("", max_length=40, description="…or her POS member card number.")
    at: dt.datetime = Field(description="When the sale was made.")
    lines: list[PosLineIn] = Field(min_length=1, max_length=50)


class PosOrderOut(Schema):
    number: str
    document: str
    status: str
    store_id: int
    customer_id: int
    guide_id: int | None
    total_fen: int
    created: bool


@router.post(
    "/pos/orders",
    response={**answers(PosOrderOut, 201), 200: PosOrderOut},
    summary="Record an offline POS order",
    tags=["pos"],
)
@requires(Perm.ORDERS_IMPORT)
def pos_order_create(request: HttpRequest, payload: PosOrderIn) -> Status[PosOrderOut]:
    scope = current_scope(request)
    phone = ""
    if payload.phone:
        try:
            phone = normalize_phone(payload.phone)
        except ValueError:
            raise ValidationError({"phone": _("A mobile number has 11 digits and starts with 13–19.")}) from None
    doc = pos_import.PosDoc(
        store_code=payload.store_code,
        document=payload.document,
        at=payload.at,
        lines=[(ln.sku_code, ln.quantity, ln.unit_price_fen) for ln in payload.lines],
        phone=phone,
        pos_card=payload.pos_card.strip(),
    )
    info, new = pos_import.record(scope, doc)
    out = PosOrderOut(
        number=info.number,
        document=payload.document,
        status=info.status,
        store_id=info.store_id,
        customer_id=info.customer_id,
        guide_id=info.guide_id,
        total_fen=info.total_fen,
        created=new,
    )
    return Status(201 if new else 200, out)
