"""Use-cases of the organisation. Each verb checks the actor's reach and permission, validates,
writes in one transaction and records an audit entry (who, when, before, after) in it.

Pages, the API, the CLI and the demo generator all come through here. Other domains read the
organisation through the plain dataclasses at the bottom of this module, never its tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from siyu.org.models import ApiToken, Brand, Franchisee, Posting, Region, Staff, Store
from siyu.org.rules import POSTED_TO, TOKEN_PERMS, Perm, Role, can_manage_role, valid_opening_hours
from siyu.platform import audit, clock, validation
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

M = TypeVar("M", bound=models.Model)

REGION_FIELDS = ("code", "name", "status")
FRANCHISEE_FIELDS = ("code", "name", "kind", "credit_code", "contact_name", "contact_phone", "status")
STORE_FIELDS = (
    "region",
    "franchisee",
    "code",
    "name",
    "city",
    "district",
    "address",
    "latitude",
    "longitude",
    "opening_hours",
    "phone",
    "status",
    "opened_on",
)
STAFF_FIELDS = ("username", "phone", "name", "role", "region", "store", "employment", "joined_on", "left_on")


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


def _apply(instance: M, data: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in sorted(unknown)})
    for name, value in data.items():
        setattr(instance, name, value)


def _save(scope: Scope, instance: M, action: str, before: dict[str, Any] | None, fields: Iterable[str]) -> M:
    fields = tuple(fields)
    validation.full_clean(instance)
    instance.save()
    audit.record_by(scope, action, instance, before=before, after=audit.snapshot(instance, fields))
    return instance


def _in_scope_ref(scope: Scope, model: type[M], value: Any, field: str) -> M | None:
    """Resolve a foreign key given as an object or an id, only within the actor's reach."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, models.Model) else value
    try:
        return restrict(model, scope).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise ValidationError({field: _("Choose one that exists and that you may manage.")}) from exc


# --- Regions ---------------------------------------------------------------------------------
@transaction.atomic
def create_region(scope: Scope, **data: Any) -> Region:
    _require(scope, Perm.ORG_STRUCTURE)
    region = Region(brand_id=scope.brand_id)
    _apply(region, data, REGION_FIELDS)
    return _save(scope, region, "region.create", None, REGION_FIELDS)


@transaction.atomic
def update_region(scope: Scope, region_id: int, **data: Any) -> Region:
    _require(scope, Perm.ORG_STRUCTURE)
    region = get_scoped(Region.objects.select_for_update(of=("self",)), scope, pk=region_id)
    before = audit.snapshot(region, REGION_FIELDS)
    _apply(region, data, REGION_FIELDS)
    return _save(scope, region, "region.update", before, REGION_FIELDS)


# --- Franchisees -----------------------------------------------------------------------------
@transaction.atomic
def create_franchisee(scope: Scope, **data: Any) -> Franchisee:
    _require(scope, Perm.ORG_STRUCTURE)
    franchisee = Franchisee(brand_id=scope.brand_id)
    _apply(franchisee, data, FRANCHISEE_FIELDS)
    return _save(scope, franchisee, "franchisee.create", None, FRANCHISEE_FIELDS)


@transaction.atomic
def update_franchisee(scope: Scope, franchisee_id: int, **data: Any) -> Franchisee:
    _require(scope, Perm.ORG_STRUCTURE)
    franchisee = get_scoped(Franchisee.objects.select_for_update(of=("self",)), scope, pk=franchisee_id)
    before = audit.snapshot(franchisee, FRANCHISEE_FIELDS)
    _apply(franchisee, data, FRANCHISEE_FIELDS)
    return _save(scope, franchisee, "franchisee.update", before, FRANCHISEE_FIELDS)


# --- Stores ----------------------------------------------------------------------------------
def _store_refs(scope: Scope, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "region" in data:
        data["region"] = _in_scope_ref(scope, Region, data["region"], "region")
    if "franchisee" in data:
        # Ownership is brand-level knowledge: any franchisee of the brand may own a store.
        data["franchisee"] = _in_scope_ref(
            Scope(brand_id=scope.brand_id, level=Level.BRAND), Franchisee, data["franchisee"], "franchisee"
        )
    if "opening_hours" in data and not valid_opening_hours(str(data["opening_hours"] or "")):
        raise ValidationError({"opening_hours": _("Write opening hours as HH:MM-HH:MM, e.g. 10:00-22:00.")})
    return data


@transaction.atomic
def create_store(scope: Scope, **data: Any) -> Store:
    _require(scope, Perm.ORG_STRUCTURE)
    store = Store(brand_id=scope.brand_id)
    _apply(store, _store_refs(scope, data), STORE_FIELDS)
    return _save(scope, store, "store.create", None, STORE_FIELDS)


@transaction.atomic
def update_store(scope: Scope, store_id: int, **data: Any) -> Store:
    _require(scope, Perm.ORG_STORE)
    store = get_scoped(Store.objects.select_for_update(of=("self",)), scope, pk=store_id)
    if not scope.can(Perm.ORG_STRUCTURE) and ({"region", "franchisee", "code"} & set(data)):
        changed = {
            k
            for k in ("region", "franchisee", "code")
            if k in data and _ref_id(data[k]) != _ref_id(getattr(store, k + "_id" if k != "code" else k))
        }
        if changed:
            raise ValidationError({k: _("Only HQ may change this.") for k in sorted(changed)})
    before = audit.snapshot(store, STORE_FIELDS)
    _apply(store, _store_refs(scope, data), STORE_FIELDS)
    return _save(scope, store, "store.update", before, STORE_FIELDS)


def _ref_id(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def set_store_status(scope: Scope, store_id: int, status: str) -> Store:
    """Open, pause or close (deactivate) a store. A closed store keeps its history."""
    if status not in Store.State.values:
        raise ValidationError({"status": _("Choose open, paused or closed.")})
    return update_store(scope, store_id, status=status)


# --- Staff -----------------------------------------------------------------------------------
def _check_staff_posting(scope: Scope, role: Role, region: Region | None, store: Store | None) -> None:
    posted = POSTED_TO[role]
    if posted == "store" and store is None:
        raise ValidationError({"store": _("A store manager or guide belongs to a store.")})
    if posted == "region" and region is None:
        raise ValidationError({"region": _("A region manager belongs to a region.")})
    if posted is None and (region is not None or store is not None):
        raise ValidationError({"role": _("HQ staff belong to the brand, not to a region or store.")})
    if posted == "store" and region is not None:
        raise ValidationError({"region": _("Staff of a store take the store's region; leave region empty.")})
    if posted == "region" and store is not None:
        raise ValidationError({"store": _("A region manager is not posted to a store.")})


def _open_posting(staff: Staff, at: dt.datetime) -> None:
    Posting.objects.filter(staff=staff, ended_at__isnull=True).update(ended_at=at)
    Posting.objects.create(
        brand_id=staff.brand_id, staff=staff, store_id=staff.store_id, region_id=staff.region_id, started_at=at
    )


@transaction.atomic
def create_staff(scope: Scope, *, password: str, **data: Any) -> Staff:
    _require(scope, Perm.ORG_STAFF)
    try:
        role = Role(str(data.get("role")))
    except ValueError as exc:
        raise ValidationError({"role": _("Choose a role.")}) from exc
    if not can_manage_role(_actor_role(scope), role):
        raise ValidationError({"role": _("You may not create staff with this role.")})
    data = dict(data)
    data["region"] = _in_scope_ref(scope, Region, data.get("region"), "region")
    data["store"] = _in_scope_ref(scope, Store, data.get("store"), "store")
    data["phone"] = data.get("phone") or None
    _check_staff_posting(scope, role, data["region"], data["store"])
    if len(password or "") < 8:
        raise ValidationError({"password": _("A password has at least 8 characters.")})
    staff = Staff(brand_id=scope.brand_id, joined_on=clock.today())
    _apply(staff, data, STAFF_FIELDS)
    staff.set_password(password)
    validation.full_clean(staff, exclude=["password"])
    _save(scope, staff, "staff.create", None, STAFF_FIELDS)
    _open_posting(staff, clock.now())
    return staff


def _actor_role(scope: Scope) -> Role:
    if scope.staff_id is None:  # a system token acts at HQ level within its permissions
        return Role.HQ_ADMIN if scope.level is Level.BRAND else Role.STORE_MANAGER
    return Staff.objects.values_list("role", flat=True).get(pk=scope.staff_id)  # type: ignore[return-value]


def _managed_staff(scope: Scope, staff_id: int) -> Staff:
    _require(scope, Perm.ORG_STAFF)
    staff = get_scoped(Staff.objects.select_for_update(of=("self",)), scope, pk=staff_id)
    if staff.pk == scope.staff_id or not can_manage_role(_actor_role(scope), staff.role_enum):
        raise PermissionDenied(_("You may not manage this member of staff."))
    return staff


@transaction.atomic
def update_staff(scope: Scope, staff_id: int, **data: Any) -> Staff:
    """Edit name, phone, username (moves go through :func:`move_staff`, leaving through
    :func:`mark_staff_left`)."""
    staff = _managed_staff(scope, staff_id)
    editable = ("username", "phone", "name")
    before = audit.snapshot(staff, STAFF_FIELDS)
    if "phone" in data:
        data["phone"] = data["phone"] or None
    _apply(staff, data, editable)
    validation.full_clean(staff, exclude=["password"])
    return _save(scope, staff, "staff.update", before, STAFF_FIELDS)


@transaction.atomic
def move_staff(scope: Scope, staff_id: int, *, store: Any = None, region: Any = None) -> Staff:
    """Move a guide or store manager to another store, or a region manager to another region.
    Both the old and the new place must be within the actor's reach."""
    staff = _managed_staff(scope, staff_id)
    if staff.employment != Staff.Employment.ACTIVE:
        raise ValidationError({"store": _("Staff who have left cannot be moved.")})
    before = audit.snapshot(staff, STAFF_FIELDS)
    posted = POSTED_TO[staff.role_enum]
    if posted == "store":
        target = _in_scope_ref(scope, Store, store, "store")
        if target is None:
            raise ValidationError({"store": _("Choose the store to move to.")})
        if target.status == Store.State.CLOSED:
            raise ValidationError({"store": _("This store is closed.")})
        if target.pk == staff.store_id:
            raise ValidationError({"store": _("She already works in this store.")})
        staff.store = target
    elif posted == "region":
        target_region = _in_scope_ref(scope, Region, region, "region")
        if target_region is None or target_region.pk == staff.region_id:
            raise ValidationError({"region": _("Choose another region to move to.")})
        staff.region = target_region
    else:
        raise ValidationError({"role": _("HQ staff are not posted anywhere.")})
    _save(scope, staff, "staff.move", before, STAFF_FIELDS)
    _open_posting(staff, clock.now())
    return staff


@transaction.atomic
def mark_staff_left(
    scope: Scope, staff_id: int, left_on: dt.date | None = None, *, to_guides: list[int] | None = None
) -> Staff:
    """Deactivate: she can no longer sign in; her history stays. Her customers are handed over (to
    ``to_guides``, or to the least-loaded active guides of her store) in the same transaction; with
    nobody to take them the leave is refused."""
    staff = _managed_staff(scope, staff_id)
    if staff.employment == Staff.Employment.LEFT:
        raise ValidationError({"employment": _("Already marked as left.")})
    before = audit.snapshot(staff, STAFF_FIELDS)
    staff.employment = Staff.Employment.LEFT
    staff.left_on = left_on or clock.today()
    staff.is_active = False
    _save(scope, staff, "staff.leave", before, STAFF_FIELDS)
    Posting.objects.filter(staff=staff, ended_at__isnull=True).update(ended_at=clock.now())
    from siyu.members import services as members  # members reads org through this module: import late

    members.hand_over_customers_of(scope, staff.pk, to_guides)
    return staff


@transaction.atomic
def set_staff_password(scope: Scope, staff_id: int, password: str) -> Staff:
    staff = _managed_staff(scope, staff_id)
    if len(password or "") < 8:
        raise ValidationError({"password": _("A password has at least 8 characters.")})
    staff.set_password(password)
    staff.save(update_fields=["password"])
    audit.record_by(scope, "staff.password", staff)
    return staff


@transaction.atomic
def change_own_password(scope: Scope, *, old_password: str, new_password: str) -> Staff:
    """A member of staff changes her own password; she must know the current one."""
    if scope.staff_id is None:
        raise PermissionDenied("only a member of staff has a password")
    staff = get_scoped(Staff.objects.select_for_update(of=("self",)), scope, pk=scope.staff_id)
    if not staff.check_password(old_password or ""):
        raise ValidationError({"old_password": _("This is not your current password.")})
    if len(new_password or "") < 8:
        raise ValidationError({"new_password": _("A password has at least 8 characters.")})
    if new_password == old_password:
        raise ValidationError({"new_password": _("Choose a password different from the current one.")})
    staff.set_password(new_password)
    staff.save(update_fields=["password"])
    audit.record_by(scope, "staff.password", staff)
    return staff


# --- API tokens ------------------------------------------------------------------------------
TOKEN_PREFIX = "siyu_"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def issue_token(scope: Scope, *, name: str, perms: Iterable[str], store: Any = None) -> tuple[ApiToken, str]:
    """Create a token for a system; returns it with its secret, which is never shown again."""
    _require(scope, Perm.TOKENS)
    perms = sorted(set(perms))
    bad = [p for p in perms if p not in TOKEN_PERMS]
    if bad or not perms:
        raise ValidationError({"perms": _("Choose at least one of the permissions offered.")})
    if not (name or "").strip():
        raise ValidationError({"name": _("Give the token a name, e.g. 'POS Shanghai'.")})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        brand_id=scope.brand_id,
        name=name.strip(),
        prefix=secret[:12],
        key_hash=hash_token(secret),
        store=_in_scope_ref(scope, Store, store, "store"),
        perms=perms,
        created_by_id=scope.staff_id,
    )
    _save(scope, token, "token.issue", None, ("name", "prefix", "store", "perms"))
    return token, secret


@transaction.atomic
def revoke_token(scope: Scope, token_id: int) -> ApiToken:
    _require(scope, Perm.TOKENS)
    token = get_scoped(ApiToken.objects.select_for_update(of=("self",)), scope, pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        _save(scope, token, "token.revoke", {"revoked_at": None}, ("revoked_at",))
    return token


def scope_for_token(secret: str) -> Scope | None:
    """The scope of a live token, or None. Records when it was last used (at most once a minute)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    # Every API request authenticates: one plain query for what the scope needs (the token's store
    # gives its region), and whether the last use is older than a minute.
    now = clock.now()
    token, store = (connection.ops.quote_name(m._meta.db_table) for m in (ApiToken, Store))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.brand_id, t.name, t.store_id, s.region_id, t.perms, "
            f"t.last_used_at IS NULL OR t.last_used_at < %s "
            f"FROM {token} t LEFT JOIN {store} s ON s.id = t.store_id "
            f"WHERE t.key_hash = %s AND t.revoked_at IS NULL",
            [connection.ops.adapt_datetimefield_value(now - dt.timedelta(seconds=60)), hash_token(secret)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pk, brand_id, name, store_id, region_id, perms, stale = row
    if stale:
        ApiToken.objects.filter(pk=pk).update(last_used_at=now)
    return Scope(
        brand_id=brand_id,
        level=Level.STORE if store_id else Level.BRAND,
        region_id=region_id if store_id else None,
        store_id=store_id,
        staff_id=None,
        perms=frozenset(json.loads(perms) if isinstance(perms, str) else perms),
        label=f"token:{name}",
    )


# --- Searching (one reader for the pages and the API) -----------------------------------------
def find_stores(
    scope: Scope, *, q: str | None = None, city: str | None = None, region: Any = None, status: str | None = None
) -> QuerySet[Store]:
    """Stores within reach, filtered: ``q`` matches part of the code, name, city, district or address."""
    qs = restrict(Store, scope)
    if q := (q or "").strip():
        qs = qs.filter(
            Q(code__icontains=q)
            | Q(name__icontains=q)
            | Q(city__icontains=q)
            | Q(district__icontains=q)
            | Q(address__icontains=q)
        )
    if city:
        qs = qs.filter(city=city)
    if region not in (None, ""):
        qs = qs.filter(region_id=_ref_id(region))
    if status:
        qs = qs.filter(status=status)
    return qs


def find_staff(
    scope: Scope, *, q: str | None = None, role: str | None = None, store: Any = None, employment: str | None = None
) -> QuerySet[Staff]:
    """Staff within reach, filtered: ``q`` matches part of the name, username or mobile number."""
    qs = restrict(Staff, scope)
    if q := (q or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(username__icontains=q) | Q(phone__contains=q))
    if role:
        qs = qs.filter(role=role)
    if store not in (None, ""):
        qs = qs.filter(store_id=_ref_id(store))
    if employment:
        qs = qs.filter(employment=employment)
    return qs


# --- What other domains see ------------------------------------------------------------------
@dataclass(frozen=True)
class StoreInfo:
    id: int
    brand_id: int
    region_id: int
    franchisee_id: int
    code: str
    name: str
    city: str
    latitude: float
    longitude: float
    status: str
    # what a customer reads on the store's page in the mall
    district: str = ""
    address: str = ""
    opening_hours: str = ""
    phone: str = ""


@dataclass(frozen=True)
class StaffInfo:
    id: int
    brand_id: int
    name: str
    role: str
    store_id: int | None
    region_id: int | None
    active: bool


def _store_info(s: Store) -> StoreInfo:
    return StoreInfo(
        id=s.pk,
        brand_id=s.brand_id,
        region_id=s.region_id,
        franchisee_id=s.franchisee_id,
        code=s.code,
        name=s.name,
        city=s.city,
        latitude=float(s.latitude),
        longitude=float(s.longitude),
        status=s.status,
        district=s.district,
        address=s.address,
        opening_hours=s.opening_hours,
        phone=s.phone,
    )


def visible_stores(scope: Scope) -> list[StoreInfo]:
    """The stores within a viewer's reach (for other domains' filters and labels)."""
    return [_store_info(s) for s in restrict(Store, scope).order_by("code")]


def visible_staff(scope: Scope, *, role: str | None = None, store_id: int | None = None) -> list[StaffInfo]:
    """The staff within a viewer's reach, optionally of one role or store."""
    qs = restrict(Staff, scope)
    if role:
        qs = qs.filter(role=role)
    if store_id:
        qs = qs.filter(store_id=store_id)
    return [_staff_info(s) for s in qs.order_by("name", "pk")]


def staff_info(brand_id: int, staff_id: int, *, scope: Scope | None = None) -> StaffInfo | None:
    """One member of staff of the brand (within ``scope``'s reach when given), or ``None``."""
    qs = restrict(Staff, scope) if scope is not None else Staff.objects.all()
    found = qs.filter(brand_id=brand_id, pk=staff_id).first()
    return _staff_info(found) if found is not None else None


_STORE_COLUMNS = (
    "id",
    "brand_id",
    "region_id",
    "franchisee_id",
    "code",
    "name",
    "city",
    "latitude",
    "longitude",
    "status",
    "district",
    "address",
    "opening_hours",
    "phone",
)


def _stores_where(where: str, params: list[Any]) -> list[StoreInfo]:
    """Stores as :class:`StoreInfo` in one plain query, by code (these reads run on every checkout
    and mall page: no model instances, no query compilation)."""
    table = connection.ops.quote_name(Store._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_STORE_COLUMNS)} FROM {table} WHERE {where} ORDER BY code, id", params)
        rows = cursor.fetchall()
    return [
        StoreInfo(
            id=pk,
            brand_id=brand,
            region_id=region,
            franchisee_id=franchisee,
            code=code,
            name=name,
            city=city,
            latitude=float(lat),
            longitude=float(lng),
            status=status,
            district=district,
            address=address,
            opening_hours=hours,
            phone=phone,
        )
        for pk, brand, region, franchisee, code, name, city, lat, lng, status, district, address, hours, phone in rows
    ]


def store_info(brand_id: int, store_id: int, *, scope: Scope | None = None) -> StoreInfo | None:
    """One store of the brand (within ``scope``'s reach when given), or ``None``."""
    if scope is None:
        found = _stores_where("brand_id = %s AND id = %s", [brand_id, store_id])
        return found[0] if found else None
    store = restrict(Store, scope).filter(brand_id=brand_id, pk=store_id).first()
    return _store_info(store) if store is not None else None


def stores(brand_id: int, *, open_only: bool = False, city: str | None = None) -> list[StoreInfo]:
    where: list[str] = ["brand_id = %s"]
    params: list[Any] = [brand_id]
    if open_only:
        where.append("status = %s")
        params.append(Store.State.OPEN.value)
    if city is not None:
        where.append("city = %s")
        params.append(city)
    return _stores_where(" AND ".join(where), params)


def stores_with_code(code: str) -> list[StoreInfo]:
    """The stores of every brand whose code is ``code`` (a store code is unique within its brand):
    the public mall finds a store from its address ``/m/<code>/`` before it knows the brand."""
    return sorted(_stores_where("code = %s", [code]), key=lambda s: s.brand_id)


def guides(brand_id: int, *, store_id: int | None = None, active_only: bool = True) -> list[StaffInfo]:
    qs = Staff.objects.filter(brand_id=brand_id, role=Role.GUIDE)
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    if active_only:
        qs = qs.filter(employment=Staff.Employment.ACTIVE)
    return [_staff_info(g) for g in qs.order_by("pk")]


def _staff_info(s: Staff) -> StaffInfo:
    return StaffInfo(
        id=s.pk,
        brand_id=s.brand_id,
        name=s.name,
        role=s.role,
        store_id=s.store_id,
        region_id=s.region_id,
        active=s.employment == Staff.Employment.ACTIVE,
    )


def brand_name(brand_id: int) -> str:
    """The brand's name (the signature of its text messages); empty for an unknown id."""
    return Brand.objects.filter(pk=brand_id).values_list("name", flat=True).first() or ""


def brand_by_code(code: str) -> int | None:
    return Brand.objects.filter(code=code).values_list("pk", flat=True).first()


def hq_scope(brand_id: int, label: str = "system") -> Scope:
    """The scope the platform itself acts with (the demo generator, jobs)."""
    from siyu.org.rules import ROLE_PERMS

    return Scope(brand_id=brand_id, level=Level.BRAND, perms=ROLE_PERMS[Role.HQ_ADMIN], label=label)


@transaction.atomic
def create_brand(*, code: str, name: str) -> int:
    """Provision a tenant. The platform operator does this (``siyu demo``, a setup script), never a
    member of another brand, so it takes no scope; it is audited like every org change."""
    brand = Brand(code=code, name=name)
    validation.full_clean(brand)
    brand.save()
    audit.record(
        brand_id=brand.pk,
        actor_id=None,
        actor_label="system",
        action="brand.create",
        obj=brand,
        before=None,
        after=audit.snapshot(brand, ("code", "name")),
    )
    return brand.pk


def region_ids(brand_id: int) -> dict[str, int]:
    """The brand's regions: code -> id (for commands and imports that name regions by code)."""
    return dict(Region.objects.filter(brand_id=brand_id).values_list("code", "pk"))


def staff_id_by_login(brand_id: int, login: str) -> int | None:
    """The id of the brand's member of staff who signs in as ``login`` (username or phone)."""
    qs = Staff.objects.filter(brand_id=brand_id).filter(models.Q(username=login) | models.Q(phone=login))
    return qs.values_list("pk", flat=True).first()


def guides_by_login(brand_id: int) -> dict[str, StaffInfo]:
    """The brand's guides (those who left included: ``active`` tells) by username and by phone, for
    imports that name a guide either way."""
    found: dict[str, StaffInfo] = {}
    for s in Staff.objects.filter(brand_id=brand_id, role=Role.GUIDE).order_by("pk"):
        info = _staff_info(s)
        found[s.username.lower()] = info
        if s.phone:
            found[s.phone] = info
    return found


# --- What guide tasks need (issue 6): staff postings in bulk, guides added in bulk --------------
@dataclass(frozen=True)
class Posted:
    """A member of staff as a task's targeting sees her: her role and where she works."""

    id: int
    role: str
    store_id: int | None
    region_id: int | None  # her store's region (or her own, for a region manager)


def posted_staff(brand_id: int, *, roles: Iterable[str] = (Role.GUIDE,), ids: Iterable[int] = ()) -> list[Posted]:
    """The active staff of the brand with one of ``roles`` (plus those named in ``ids``, whatever
    their role), with their store's region, read without building model objects."""
    return [p for chunk in posted_staff_chunks(brand_id, roles=roles, ids=ids) for p in chunk]


def posted_staff_chunks(
    brand_id: int, *, roles: Iterable[str] = (Role.GUIDE,), ids: Iterable[int] = (), size: int = 20_000
) -> Iterator[list[Posted]]:
    """:func:`posted_staff` in id order, at most ``size`` at a time, one query each (the next chunk
    starts after the last id): the fan-out of a task to 100,000 guides holds one chunk at a time."""
    wanted = [str(r) for r in roles]
    named = [int(i) for i in ids]
    qs = Staff.objects.filter(brand_id=brand_id, employment=Staff.Employment.ACTIVE)
    qs = qs.filter(models.Q(role__in=wanted) | models.Q(pk__in=named)) if named else qs.filter(role__in=wanted)
    qs = qs.order_by("pk")
    last = 0
    while True:
        rows = qs.filter(pk__gt=last).values_list("pk", "role", "store_id", "store__region_id", "region_id")[:size]
        chunk = [Posted(pk, role, store, store_region or region) for pk, role, store, store_region, region in rows]
        if chunk:
            yield chunk
        if len(chunk) < size:
            return
        last = chunk[-1].id


def store_managers(brand_id: int, store_ids: Iterable[int]) -> dict[int, list[StaffInfo]]:
    """The active managers of each store (store id -> managers)."""
    found: dict[int, list[StaffInfo]] = {}
    qs = Staff.objects.filter(
        brand_id=brand_id, role=Role.STORE_MANAGER, employment=Staff.Employment.ACTIVE, store_id__in=list(store_ids)
    )
    for s in qs.order_by("pk"):
        found.setdefault(int(s.store_id or 0), []).append(_staff_info(s))
    return found


def phones_of_staff(brand_id: int, staff_ids: Iterable[int]) -> dict[int, str]:
    """The mobile numbers of these members of staff (those who have one): where reminders go."""
    rows = Staff.objects.filter(brand_id=brand_id, pk__in=list(staff_ids)).exclude(phone=None).exclude(phone="")
    return {pk: str(phone) for pk, phone in rows.values_list("pk", "phone")}


def bulk_add_guides(brand_id: int, guides: Iterable[tuple[str, str, int]], *, batch_size: int = 5_000) -> int:
    """Add guides in bulk, ``(username, name, store_id)`` each, who cannot sign in until a manager
    sets their password (an unusable one is stored): for staff imports from an HR system and for the
    benchmarks that need 100,000 guides. Stores must be the brand's. Returns how many were added."""
    from django.contrib.auth.hashers import make_password

    store_ids = set(Store.objects.filter(brand_id=brand_id).values_list("pk", flat=True))
    unusable = make_password(None)
    now = clock.now()
    added = 0
    batch: list[Staff] = []

    def flush() -> None:
        created = Staff.objects.bulk_create(batch)
        Posting.objects.bulk_create(
            Posting(brand_id=brand_id, staff_id=s.pk, store_id=s.store_id, started_at=now) for s in created
        )

    with transaction.atomic():
        for username, name, store_id in guides:
            if store_id not in store_ids:
                raise ValidationError({"store": _("Choose a store of the brand.")})
            batch.append(
                Staff(
                    brand_id=brand_id,
                    username=username,
                    name=name,
                    role=Role.GUIDE,
                    store_id=store_id,
                    password=unusable,
                )
            )
            if len(batch) >= batch_size:
                flush()
                added += len(batch)
                batch = []
        if batch:
            flush()
            added += len(batch)
    return added


def staff_names(brand_id: int, staff_ids: Iterable[int]) -> list[tuple[int, str]]:
    """``(id, name)`` of these members of staff of the brand, for labels on lists and charts."""
    ids = sorted({int(i) for i in staff_ids})
    found: list[tuple[int, str]] = []
    for start in range(0, len(ids), 5_000):
        found += list(
            Staff.objects.filter(brand_id=brand_id, pk__in=ids[start : start + 5_000]).values_list("pk", "name")
        )
    return found


def staff_phones(brand_id: int) -> list[str]:
    """The mobile numbers of the brand's staff (those who have one): contests leave out what staff
    buy, share or befriend as customers themselves."""
    return [p for p in Staff.objects.filter(brand_id=brand_id).exclude(phone=None).values_list("phone", flat=True) if p]


def region_names(brand_id: int) -> dict[int, str]:
    """The brand's regions (branch companies): id -> name, in code order."""
    return dict(Region.objects.filter(brand_id=brand_id).order_by("code").values_list("pk", "name"))


def staff_scope(brand_id: int, staff_id: int) -> Scope | None:
    """The scope a member of staff acts with (her role's reach and permissions), for the platform
    acting on her behalf: the demo generator recording a guide's day, jobs. ``None`` if unknown."""
    found = Staff.objects.select_related("store").filter(brand_id=brand_id, pk=staff_id).first()
    return found.scope if found is not None else None
