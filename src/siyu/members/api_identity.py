"""REST endpoints of identity, binding, transfers and codes: a POS, ERP or mini-program registers
members and touches; HQ manages codes, transfers and merges.

Handlers parse and shape; every rule lives in :mod:`siyu.members.identity`, ``binding``,
``transfers`` and ``codes`` (permission, reach, validation, audit)."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from siyu.members import binding, codes, identity, services, transfers
from siyu.members.models import (
    Channel,
    Code,
    CodeKind,
    IdentityKind,
    Merge,
    Source,
    TouchKind,
    Transfer,
    TransferKind,
    TransferStatus,
)
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.api import (
    Created,
    Input,
    PageQuery,
    answers,
    created,
    current_scope,
    fields_named,
    page_of,
    paginate,
    requires,
)
from siyu.platform.tenancy import Scope, get_scoped

router = Router()


# --- Registering members and touches ---------------------------------------------------------
class IdentityItem(Input):
    kind: IdentityKind
    key: str = Field(description="The raw value: a mobile number, a unionid, an openid, a card number…")
    app_id: str = Field("", description="For an openid: the app that issued it.")
    verified: bool = Field(
        False,
        description=(
            "A phone confirmed by WeChat, an SMS code or the brand's own member records. An unverified "
            "phone finds and merges nobody and is not her searchable number (ADR 0007)."
        ),
    )


class ResolveIn(Input):
    identities: list[IdentityItem] = Field(description="What the touchpoint knows of her (at least one).")
    source: Source = Source.POS
    store_code: str | None = Field(None, description="The store she registered in (a new customer is bound to it).")
    guide_id: int | None = Field(None, description="The guide who registered her (binds per the brand's rules).")
    name: str | None = Field(None, max_length=60)
    consent: dict[Channel, bool] | None = Field(None, description="Consent she gave at the touchpoint, per channel.")


class ResolveOut(Schema):
    customer_id: int
    created: bool
    guide_id: int | None
    store_id: int | None


def _items(items: list[IdentityItem]) -> list[identity.IdentityIn]:
    return [identity.IdentityIn(i.kind, i.key, i.app_id, i.verified) for i in items]


def _store_by_code(scope: Scope, store_code: str | None) -> int | None:
    if not store_code:
        return None
    for store in org.visible_stores(scope):
        if store.code == store_code:
            return store.id
    raise ValidationError({"store_code": _("No store with this code in your reach.")})


@router.post(
    "/customers/resolve",
    response=answers(ResolveOut),
    summary="Register a member (find or create her by her identities)",
    description=(
        "The same unionid or the same verified phone means the same person (customers matched "
        "both ways are merged into the oldest); other identities attach to her."
    ),
    tags=["identity"],
)
@requires(Perm.MEMBERS_REGISTER)
def customer_resolve(request: HttpRequest, payload: ResolveIn) -> ResolveOut:
    scope = current_scope(request)
    store_id = _store_by_code(scope, payload.store_code)
    if payload.guide_id is not None:
        guide = binding.receiver(scope.brand_id, payload.guide_id, scope=scope, field="guide_id")
        store_id = store_id or guide.store_id
    customer, was_created = identity.resolve(
        scope.brand_id,
        _items(payload.identities),
        source=payload.source,
        store_id=store_id,
        guide_id=payload.guide_id,
        name=payload.name,
    )
    if not was_created and payload.guide_id is not None:
        binding.bind(
            customer,
            guide_id=payload.guide_id,
            source=binding.binding_source_for(payload.source),
            actor_label=scope.label,
        )
    if payload.consent:
        codes.consent_from_touchpoint(customer, {str(k): v for k, v in payload.consent.items()})
    customer.refresh_from_db()
    return ResolveOut(
        customer_id=customer.pk, created=was_created, guide_id=customer.guide_id, store_id=customer.store_id
    )


class TouchIn(Input):
    token: str | None = Field(None, description="The token of the code she scanned (binds per the code).")
    identities: list[IdentityItem] | None = None
    customer_id: int | None = None
    kind: TouchKind = TouchKind.SCAN
    campaign: str = Field("", max_length=60)
    properties: dict[str, Any] = Field(default_factory=dict)


class TouchOut(Schema):
    touch_id: int
    customer_id: int
    created: bool


@router.post(
    "/touches",
    response=answers(TouchOut, 201),
    summary="Record a touch (a scan by code token, or any moment at a touchpoint)",
    tags=["identity"],
)
@requires(Perm.MEMBERS_REGISTER)
def touch_create(request: HttpRequest, payload: TouchIn) -> "Created[TouchOut]":
    scope = current_scope(request)
    if payload.token:
        code = codes.code_by_token(payload.token)
        if code is None or code.brand_id != scope.brand_id:
            raise ValidationError({"token": _("No code has this token.")})
        if not payload.identities:
            raise ValidationError({"identities": _("Say who scanned: give at least one identity.")})
        try:
            result = codes.scan(code, _items(payload.identities), properties=payload.properties)
        except codes.CodeGone as exc:
            raise ValidationError({"token": _("This code is no longer valid.")}) from exc
        assert result.touch is not None  # a counted scan always records its touch
        return created(TouchOut(touch_id=result.touch.pk, customer_id=result.customer.pk, created=result.created))
    was_created = False
    if payload.customer_id is not None:
        customer = get_scoped(services.visible_customers(scope), scope, pk=payload.customer_id)
    elif payload.identities:
        customer, was_created = identity.resolve(scope.brand_id, _items(payload.identities), source=Source.POS)
    else:
        raise ValidationError({"customer_id": _("Give the customer's id or her identities.")})
    touch = codes.record_touch(
        scope,
        customer,
        kind=payload.kind,
        store_id=scope.store_id,
        campaign=payload.campaign,
        properties=payload.properties,
    )
    return created(TouchOut(touch_id=touch.pk, customer_id=customer.pk, created=was_created))


# --- Codes -----------------------------------------------------------------------------------
class CodeOut(Schema):
    id: int
    kind: CodeKind
    name: str
    token: str
    url: str
    store_id: int | None
    guide_id: int | None
    campaign: str
    sku_code: str
    serial: str
    active: bool
    expires_at: dt.datetime | None
    scans: int
    created_at: dt.datetime

    @staticmethod
    def resolve_url(obj: Code) -> str:
        return codes.scan_url(obj)


class CodeIn(Input):
    kind: CodeKind
    name: str = Field("", max_length=100)
    store_id: int | None = None
    guide_id: int | None = None
    campaign: str = Field("", max_length=60)
    sku_code: str = Field("", max_length=40)
    serial: str = Field("", max_length=40)
    expires_at: dt.datetime | None = None


class CodeFilter(Schema):
    kind: CodeKind | None = None
    store: int | None = Field(None, description="A store id.")
    guide: int | None = Field(None, description="A guide id.")


@router.get(
    "/codes",
    response=answers(page_of(CodeOut)),
    summary="List codes",
    tags=["codes"],
)
@requires(Perm.MEMBERS_CODES)
def code_list(request: HttpRequest, filters: Query[CodeFilter], page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    return paginate(codes.visible_codes(scope, kind=filters.kind, store_id=filters.store, guide_id=filters.guide), page)


@router.post(
    "/codes",
    response=answers(CodeOut, 201),
    summary="Create a code",
    description="HQ creates every kind; a region or store manager store and guide codes in her reach.",
    tags=["codes"],
)
@requires(Perm.MEMBERS_CODES)
def code_create(request: HttpRequest, payload: CodeIn) -> "Created[Code]":
    data = payload.dict()
    data["store"], data["guide"] = data.pop("store_id"), data.pop("guide_id")
    with fields_named({"store": "store_id", "guide": "guide_id"}):
        return created(codes.create_code(current_scope(request), **data))


@router.get(
    "/codes/{code_id}",
    response=answers(CodeOut),
    summary="Get a code",
    tags=["codes"],
)
@requires(Perm.MEMBERS_CODES)
def code_detail(request: HttpRequest, code_id: int) -> Code:
    scope = current_scope(request)
    return get_scoped(Code, scope, pk=code_id)


def _image(request: HttpRequest, code_id: int, fmt: str) -> HttpResponse:
    code = get_scoped(Code, current_scope(request), pk=code_id)
    content_type = "image/png" if fmt == "png" else "image/svg+xml"
    return HttpResponse(codes.code_image(code, fmt), content_type=content_type)


@router.get(
    "/codes/{code_id}/image.png",
    response=answers(None),
    openapi_extra={"responses": {"200": {"description": "The QR image", "content": {"image/png": {}}}}},
    summary="The code's QR image (PNG)",
    tags=["codes"],
)
@requires(Perm.MEMBERS_CODES)
def code_image_png(request: HttpRequest, code_id: int) -> HttpResponse:
    return _image(request, code_id, "png")


@router.get(
    "/codes/{code_id}/image.svg",
    response=answers(None),
    openapi_extra={"responses": {"200": {"description": "The QR image", "content": {"image/svg+xml": {}}}}},
    summary="The code's QR image (SVG)",
    tags=["codes"],
)
@requires(Perm.MEMBERS_CODES)
def code_image_svg(request: HttpRequest, code_id: int) -> HttpResponse:
    return _image(request, code_id, "svg")


# --- Transfers -------------------------------------------------------------------------------
class TransferOut(Schema):
    id: int
    batch: str
    kind: TransferKind
    customer_id: int
    from_guide_id: int
    to_guide_id: int
    status: TransferStatus
    requested_at: dt.datetime
    takeover_at: dt.datetime
    decided_at: dt.datetime | None


class RefusalOut(Schema):
    customer_id: int
    reason: str


class TransferIn(Input):
    customer_ids: list[int] = Field(description="Any number: sent as requests of at most 100 (WeCom's rule).")
    to_guide_id: int


class TransferResultOut(Schema):
    batches: list[str]
    transfers: list[TransferOut]
    refused: list[RefusalOut]


class TransferFilter(Schema):
    status: TransferStatus | None = None
    kind: TransferKind | None = None
    batch: str | None = None


@router.post(
    "/transfers",
    response=answers(TransferResultOut, 201),
    summary="Ask for an in-service transfer of customers to another guide",
    description="Customers the WeCom rules refuse (2 transfers in 90 days, one waiting) come back in `refused`.",
    tags=["transfers"],
)
@requires(Perm.MEMBERS_BIND)
def transfer_create(request: HttpRequest, payload: TransferIn) -> "Created[TransferResultOut]":
    with fields_named({"customers": "customer_ids", "to_guide": "to_guide_id"}):
        result = transfers.start_transfer(current_scope(request), payload.customer_ids, payload.to_guide_id)
    return created(
        TransferResultOut(
            batches=result.batches,
            transfers=[TransferOut.from_orm(t) for t in result.transfers],
            refused=[RefusalOut(customer_id=r.customer_id, reason=r.reason) for r in result.refused],
        )
    )


@router.get(
    "/transfers",
    response=answers(page_of(TransferOut)),
    summary="List transfers",
    tags=["transfers"],
)
@requires(Perm.MEMBERS_BIND)
def transfer_list(request: HttpRequest, filters: Query[TransferFilter], page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    qs = transfers.visible_transfers(scope, status=filters.status, kind=filters.kind, batch=filters.batch)
    return paginate(qs, page)


@router.post(
    "/transfers/{transfer_id}/refuse",
    response=answers(TransferOut),
    summary="The customer refused a waiting in-service transfer (WeCom callback, sandbox)",
    tags=["transfers"],
)
@requires(Perm.MEMBERS_BIND)
def transfer_refuse(request: HttpRequest, transfer_id: int) -> Transfer:
    return transfers.refuse_transfer(current_scope(request), transfer_id)


# --- Merges, identities, assignment ----------------------------------------------------------
class MergeIn(Input):
    survivor_id: int
    absorbed_id: int
    reason: str = Field(max_length=200)


class MergeOut(Schema):
    id: int
    survivor_id: int
    absorbed_id: int
    rule: Merge.Rule
    reason: str
    moved_identities: list[int]
    at: dt.datetime
    undone_at: dt.datetime | None


@router.post(
    "/customers/merge",
    response=answers(MergeOut, 201),
    summary="Merge two customers (HQ)",
    description="Identities move to the survivor; histories stay; undo with /merges/{id}/undo.",
    tags=["identity"],
)
@requires(Perm.MEMBERS_MERGE)
def customer_merge(request: HttpRequest, payload: MergeIn) -> "Created[Merge]":
    with fields_named({"absorbed": "absorbed_id", "survivor": "survivor_id"}):
        merge = identity.merge_customers(
            current_scope(request), payload.survivor_id, payload.absorbed_id, reason=payload.reason
        )
    return created(merge)


@router.post(
    "/merges/{merge_id}/undo",
    response=answers(MergeOut),
    summary="Undo a merge",
    tags=["identity"],
)
@requires(Perm.MEMBERS_MERGE)
def merge_undo(request: HttpRequest, merge_id: int) -> Merge:
    return identity.unmerge(current_scope(request), merge_id)


class IdentityOut(Schema):
    id: int
    kind: str
    app_id: str
    shown_key: str = Field(description="A phone is masked; other keys are shortened.")
    verified: bool
    source: str
    origin_id: int
    created_at: dt.datetime


@router.get(
    "/customers/{customer_id}/identities",
    response=answers(list[IdentityOut]),
    summary="A customer's identities",
    tags=["identity"],
)
@requires(Perm.MEMBERS_VIEW)
def customer_identities(request: HttpRequest, customer_id: int) -> list[identity.IdentityRow]:
    scope = current_scope(request)
    return identity.identities_of(get_scoped(services.visible_customers(scope), scope, pk=customer_id))


class AssignIn(Input):
    guide_id: int


class BindOut(Schema):
    outcome: str
    changed: bool
    guide_id: int | None
    store_id: int | None


@router.put(
    "/customers/{customer_id}/guide",
    response=answers(BindOut),
    summary="Assign a customer to a guide (always binds)",
    tags=["identity"],
)
@requires(Perm.MEMBERS_BIND)
def customer_assign_guide(request: HttpRequest, customer_id: int, payload: AssignIn) -> binding.BindResult:
    with fields_named({"guide": "guide_id"}):
        return binding.assign_guide(current_scope(request), customer_id, payload.guide_id)
