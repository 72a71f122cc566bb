"""REST endpoints of the organisation: who am I, regions, franchisees, stores, staff, audit log;
and the API token auth for systems (POS, ERP, callbacks).

Reads go through ``restrict``/``get_scoped``; writes through :mod:`siyu.org.services`, which check
permission and reach, validate and write the audit entry. Handlers only parse and shape.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer

from siyu.org import services
from siyu.org.models import Brand, Franchisee, Region, Staff, Status, Store
from siyu.org.rules import Perm, Role
from siyu.platform.access import AUTHENTICATED
from siyu.platform.api import (
    Created,
    Input,
    PageQuery,
    answers,
    created,
    current_scope,
    fields_named,
    named_choices,
    page_of,
    paginate,
    requires,
)
from siyu.platform.models import AuditEntry
from siyu.platform.tenancy import Scope, get_scoped, restrict

router = Router()

# Choices under readable schema names.
OrgStatus = Annotated[Status, named_choices(Status, "OrgStatus")]
StoreStatus = Annotated[Store.State, named_choices(Store.State, "StoreStatus")]
FranchiseeKind = Annotated[Franchisee.Kind, named_choices(Franchisee.Kind, "FranchiseeKind")]
Employment = Annotated[Staff.Employment, named_choices(Staff.Employment, "Employment")]
StaffRole = Annotated[Role, named_choices(Role, "StaffRole")]

# The API names foreign keys ``<name>_id``; the services and models call them ``<name>``.
REF_FIELDS = {"region": "region_id", "franchisee": "franchisee_id", "store": "store_id"}


class SystemToken(HttpBearer):
    """``Authorization: Bearer siyu_…``: a token issued to a system by HQ. An unknown or revoked
    token is refused with 401 (it never falls back to another kind of sign-in)."""

    def authenticate(self, request: HttpRequest, token: str) -> Scope:
        scope = services.scope_for_token(token.strip())
        if scope is None:
            raise HttpError(401, _("This API token is unknown or has been revoked."))
        request.siyu_scope = scope  # type: ignore[attr-defined]
        return scope


def _refs(data: dict[str, Any]) -> dict[str, Any]:
    """API field names to service keyword names (``region_id`` -> ``region``)."""
    back = {v: k for k, v in REF_FIELDS.items()}
    return {back.get(k, k): v for k, v in data.items()}


# --- Who am I --------------------------------------------------------------------------------
class BrandOut(Schema):
    id: int
    code: str
    name: str


class MeStaffOut(Schema):
    id: int
    username: str
    name: str


class MeOut(Schema):
    brand: BrandOut
    level: str = Field(description="How far the caller reaches: brand, region, store or self.")
    role: StaffRole | None = Field(description="The staff role; null for a system token.")
    perms: list[str]
    region_id: int | None
    store_id: int | None
    staff: MeStaffOut | None = Field(description="The signed-in member of staff; null for a system token.")
    label: str


@router.get("/me", response=answers(MeOut), summary="Who am I", tags=["me"])
@requires(AUTHENTICATED)
def me(request: HttpRequest) -> dict[str, Any]:
    scope = current_scope(request)
    staff = Staff.objects.filter(pk=scope.staff_id).first() if scope.staff_id else None
    return {
        "brand": Brand.objects.get(pk=scope.brand_id),
        "level": scope.level.value,
        "role": staff.role if staff else None,
        "perms": sorted(scope.perms),
        "region_id": scope.region_id,
        "store_id": scope.store_id,
        "staff": staff,
        "label": scope.label,
    }


# --- Regions ---------------------------------------------------------------------------------
class RegionOut(Schema):
    id: int
    code: str
    name: str
    status: OrgStatus


class RegionIn(Input):
    code: str
    name: str
    status: OrgStatus = Status.ACTIVE


class RegionPatch(Input):
    code: str | None = None
    name: str | None = None
    status: OrgStatus | None = None


@router.get(
    "/regions",
    response=answers(page_of(RegionOut)),
    summary="List regions",
    tags=["regions"],
)
@requires(Perm.ORG_VIEW)
def region_list(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    return paginate(restrict(Region, current_scope(request)), page)


@router.post(
    "/regions",
    response=answers(RegionOut, 201),
    summary="Create a region",
    tags=["regions"],
)
@requires(Perm.ORG_STRUCTURE)
def region_create(request: HttpRequest, payload: RegionIn) -> Created[Region]:
    return created(services.create_region(current_scope(request), **payload.dict()))


@router.get(
    "/regions/{region_id}",
    response=answers(RegionOut),
    summary="Get a region",
    tags=["regions"],
)
@requires(Perm.ORG_VIEW)
def region_detail(request: HttpRequest, region_id: int) -> Region:
    return get_scoped(Region, current_scope(request), pk=region_id)


@router.patch(
    "/regions/{region_id}",
    response=answers(RegionOut),
    summary="Change a region",
    tags=["regions"],
)
@requires(Perm.ORG_STRUCTURE)
def region_update(request: HttpRequest, region_id: int, payload: RegionPatch) -> Region:
    return services.update_region(current_scope(request), region_id, **payload.dict(exclude_unset=True))


# --- Franchisees -----------------------------------------------------------------------------
class FranchiseeOut(Schema):
    id: int
    code: str
    name: str
    kind: FranchiseeKind
    credit_code: str
    contact_name: str
    contact_phone: str
    status: OrgStatus


class FranchiseeIn(Input):
    code: str
    name: str
    kind: FranchiseeKind = Franchisee.Kind.FRANCHISEE
    credit_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    status: OrgStatus = Status.ACTIVE


class FranchiseePatch(Input):
    code: str | None = None
    name: str | None = None
    kind: FranchiseeKind | None = None
    credit_code: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    status: OrgStatus | None = None


@router.get(
    "/franchisees",
    response=answers(page_of(FranchiseeOut)),
    summary="List franchisees and dealers",
    tags=["franchisees"],
)
@requires(Perm.ORG_VIEW)
def franchisee_list(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    return paginate(restrict(Franchisee, current_scope(request)), page)


@router.post(
    "/franchisees",
    response=answers(FranchiseeOut, 201),
    summary="Create a franchisee or dealer",
    tags=["franchisees"],
)
@requires(Perm.ORG_STRUCTURE)
def franchisee_create(request: HttpRequest, payload: FranchiseeIn) -> Created[Franchisee]:
    return created(services.create_franchisee(current_scope(request), **payload.dict()))


@router.get(
    "/franchisees/{franchisee_id}",
    response=answers(FranchiseeOut),
    summary="Get a franchisee",
    tags=["franchisees"],
)
@requires(Perm.ORG_VIEW)
def franchisee_detail(request: HttpRequest, franchisee_id: int) -> Franchisee:
    return get_scoped(Franchisee, current_scope(request), pk=franchisee_id)


@router.patch(
    "/franchisees/{franchisee_id}",
    response=answers(FranchiseeOut),
    summary="Change a franchisee",
    tags=["franchisees"],
)
@requires(Perm.ORG_STRUCTURE)
def franchisee_update(request: HttpRequest, franchisee_id: int, payload: FranchiseePatch) -> Franchisee:
    return services.update_franchisee(current_scope(request), franchisee_id, **payload.dict(exclude_unset=True))


# --- Stores ----------------------------------------------------------------------------------
class StoreOut(Schema):
    id: int
    code: str
    name: str
    region_id: int
    franchisee_id: int
    city: str
    district: str
    address: str
    latitude: float
    longitude: float
    opening_hours: str
    phone: str
    status: StoreStatus
    opened_on: dt.date | None


class StoreIn(Input):
    region_id: int
    franchisee_id: int = Field(description="The legal entity that owns the store and receives its money.")
    code: str
    name: str
    city: str
    district: str = ""
    address: str
    latitude: Decimal = Field(description="WGS-84 degrees north, e.g. 31.2298.")
    longitude: Decimal = Field(description="WGS-84 degrees east, e.g. 121.4595.")
    opening_hours: str = Field("10:00-22:00", description="HH:MM-HH:MM")
    phone: str = ""
    status: StoreStatus = Store.State.OPEN
    opened_on: dt.date | None = None


class StorePatch(Input):
    region_id: int | None = None
    franchisee_id: int | None = None
    code: str | None = None
    name: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    opening_hours: str | None = None
    phone: str | None = None
    opened_on: dt.date | None = None


class StoreStatusIn(Input):
    status: StoreStatus


class StoreFilter(Schema):
    q: str | None = Field(None, description="Part of the code, name, city, district or address.")
    city: str | None = None
    region: int | None = Field(None, description="A region id.")
    status: StoreStatus | None = None


def _stores(scope: Scope, f: StoreFilter) -> QuerySet[Store]:
    return services.find_stores(scope, q=f.q, city=f.city, region=f.region, status=f.status)


@router.get(
    "/stores",
    response=answers(page_of(StoreOut)),
    summary="List stores",
    tags=["stores"],
)
@requires(Perm.ORG_VIEW)
def store_list(request: HttpRequest, filters: Query[StoreFilter], page: Query[PageQuery]) -> dict[str, Any]:
    return paginate(_stores(current_scope(request), filters), page)


@router.post(
    "/stores",
    response=answers(StoreOut, 201),
    summary="Open a new store",
    tags=["stores"],
)
@requires(Perm.ORG_STRUCTURE)
def store_create(request: HttpRequest, payload: StoreIn) -> Created[Store]:
    with fields_named(REF_FIELDS):
        return created(services.create_store(current_scope(request), **_refs(payload.dict())))


@router.get(
    "/stores/{store_id}",
    response=answers(StoreOut),
    summary="Get a store",
    tags=["stores"],
)
@requires(Perm.ORG_VIEW)
def store_detail(request: HttpRequest, store_id: int) -> Store:
    return get_scoped(Store, current_scope(request), pk=store_id)


@router.patch(
    "/stores/{store_id}",
    response=answers(StoreOut),
    summary="Change a store",
    description="Region, owner and code are HQ's to change; status has its own operation.",
    tags=["stores"],
)
@requires(Perm.ORG_STORE)
def store_update(request: HttpRequest, store_id: int, payload: StorePatch) -> Store:
    with fields_named(REF_FIELDS):
        return services.update_store(current_scope(request), store_id, **_refs(payload.dict(exclude_unset=True)))


@router.post(
    "/stores/{store_id}/status",
    response=answers(StoreOut),
    summary="Open, pause or close a store",
    description="A closed store keeps its history.",
    tags=["stores"],
)
@requires(Perm.ORG_STORE)
def store_set_status(request: HttpRequest, store_id: int, payload: StoreStatusIn) -> Store:
    return services.set_store_status(current_scope(request), store_id, payload.status)


# --- Staff -----------------------------------------------------------------------------------
class StaffOut(Schema):
    """A member of staff. Never carries the password (not even its hash)."""

    id: int
    username: str
    phone: str | None
    name: str
    role: StaffRole
    region_id: int | None
    store_id: int | None
    employment: Employment
    joined_on: dt.date | None
    left_on: dt.date | None


class StaffIn(Input):
    username: str
    name: str
    role: StaffRole
    password: str = Field(json_schema_extra={"format": "password", "writeOnly": True}, description="8 or more.")
    phone: str | None = None
    region_id: int | None = Field(None, description="For a region manager.")
    store_id: int | None = Field(None, description="For a store manager or a guide.")


class StaffPatch(Input):
    username: str | None = None
    name: str | None = None
    phone: str | None = None


class StaffMoveIn(Input):
    store_id: int | None = Field(None, description="The new store of a guide or store manager.")
    region_id: int | None = Field(None, description="The new region of a region manager.")


class StaffLeaveIn(Input):
    left_on: dt.date | None = Field(None, description="Her last day; today when left out.")
    to_guides: list[int] | None = Field(
        None,
        description="Guide ids who take her customers; when left out, the other active guides of her store, "
        "the least loaded first.",
    )


class StaffFilter(Schema):
    q: str | None = Field(None, description="Part of the name, username or mobile number.")
    role: StaffRole | None = None
    store: int | None = Field(None, description="A store id.")
    employment: Employment | None = None


def _staff(scope: Scope, f: StaffFilter) -> QuerySet[Staff]:
    return services.find_staff(scope, q=f.q, role=f.role, store=f.store, employment=f.employment)


@router.get(
    "/staff",
    response=answers(page_of(StaffOut)),
    summary="List staff",
    tags=["staff"],
)
@requires(Perm.ORG_VIEW)
def staff_list(request: HttpRequest, filters: Query[StaffFilter], page: Query[PageQuery]) -> dict[str, Any]:
    return paginate(_staff(current_scope(request), filters), page)


@router.post(
    "/staff",
    response=answers(StaffOut, 201),
    summary="Add a member of staff",
    description="A manager adds only roles below her own, within her reach.",
    tags=["staff"],
)
@requires(Perm.ORG_STAFF)
def staff_create(request: HttpRequest, payload: StaffIn) -> Created[Staff]:
    data = _refs(payload.dict())
    password = data.pop("password")
    with fields_named(REF_FIELDS):
        return created(services.create_staff(current_scope(request), password=password, **data))


@router.get(
    "/staff/{staff_id}",
    response=answers(StaffOut),
    summary="Get a member of staff",
    tags=["staff"],
)
@requires(Perm.ORG_VIEW)
def staff_detail(request: HttpRequest, staff_id: int) -> Staff:
    return get_scoped(Staff, current_scope(request), pk=staff_id)


@router.patch(
    "/staff/{staff_id}",
    response=answers(StaffOut),
    summary="Change a member of staff's name, username or mobile",
    tags=["staff"],
)
@requires(Perm.ORG_STAFF)
def staff_update(request: HttpRequest, staff_id: int, payload: StaffPatch) -> Staff:
    return services.update_staff(current_scope(request), staff_id, **payload.dict(exclude_unset=True))


@router.post(
    "/staff/{staff_id}/move",
    response=answers(StaffOut),
    summary="Move a member of staff to another store or region",
    description="Both the old and the new place must be within the caller's reach.",
    tags=["staff"],
)
@requires(Perm.ORG_STAFF)
def staff_move(request: HttpRequest, staff_id: int, payload: StaffMoveIn) -> Staff:
    with fields_named(REF_FIELDS):
        return services.move_staff(current_scope(request), staff_id, store=payload.store_id, region=payload.region_id)


@router.post(
    "/staff/{staff_id}/leave",
    response=answers(StaffOut),
    summary="Mark a member of staff as left",
    description="She can no longer sign in; her history stays.",
    tags=["staff"],
)
@requires(Perm.ORG_STAFF)
def staff_leave(request: HttpRequest, staff_id: int, payload: StaffLeaveIn) -> Staff:
    return services.mark_staff_left(
        current_scope(request), staff_id, left_on=payload.left_on, to_guides=payload.to_guides
    )


# --- Audit log -------------------------------------------------------------------------------
class AuditOut(Schema):
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    object_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditFilter(Schema):
    action: str | None = Field(None, description="e.g. store.update")
    object_type: str | None = Field(None, description="e.g. store, staff, region")
    object_id: str | None = None
    actor: int | None = Field(None, description="The id of the member of staff who acted.")


@router.get(
    "/audit",
    response=answers(page_of(AuditOut)),
    summary="List audit entries (newest first)",
    tags=["audit"],
)
@requires(Perm.AUDIT_VIEW)
def audit_list(request: HttpRequest, filters: Query[AuditFilter], page: Query[PageQuery]) -> dict[str, Any]:
    qs = restrict(AuditEntry, current_scope(request))
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.actor:
        qs = qs.filter(actor_id=filters.actor)
    return paginate(qs, page)
