"""The identity graph: one customer across touchpoints (ADR 0007).

An :class:`~siyu.members.models.Identity` is one identifier of a customer at one touchpoint (a
phone number, a WeChat unionid, an openid per app, a WeCom external_userid, a POS member card, an
app account). ``(brand, kind, app_id, key)`` is unique, so an identity never points to two
customers. :func:`resolve` finds or creates the customer a set of identities belongs to:

* the same **unionid** or the same **verified phone** means the same person. When the identities
  given together match two or more customers and the request carries a unionid or a verified phone,
  those customers are merged automatically into the oldest (the rule is recorded on the merge);
* the other identities (openid, WeCom id, POS card, app account) attach to the resolved customer;
* an **unverified** phone (typed into a page, not confirmed by an SMS code or WeChat) never merges
  two customers and never finds one: it is attached as an unverified identity only when no other
  customer holds the number, and it never becomes her primary (searchable) phone;
* a verified phone finds only a customer who holds it verified (or as her primary phone, which is
  only ever a verified or imported one); an unverified claim of that number by someone else gives
  way: the identity moves to the customer who proved the number.

Merges (:func:`merge_customers` by HQ, or automatic) move identities to the survivor and leave
every history row where it is; reads gather the cluster (:func:`cluster_ids`). :func:`unmerge`
gives back exactly the identities that came from the absorbed customer, and her guide and store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from siyu.members.models import (
    Binding,
    BindingSource,
    Customer,
    Identity,
    IdentityKind,
    Merge,
    Source,
)
from siyu.org.services import Perm
from siyu.platform import audit, clock, privacy
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

# Identities that say "this is the same person" when they match (ADR 0007).
STRONG = {IdentityKind.UNIONID.value}
MAX_RETRIES = 3


@dataclass(frozen=True)
class IdentityIn:
    """One identity as a touchpoint reports it. ``key`` is the raw value (a phone is normalised and
    hashed here); ``app_id`` names the app that issued an openid."""

    kind: str
    key: str
    app_id: str = ""
    verified: bool = False


@dataclass(frozen=True)
class _Clean:
    kind: str
    key: str  # stored key: the keyed hash for a phone
    app_id: str
    verified: bool
    phone: str = ""  # the normalised phone, for sealing

    @property
    def strong(self) -> bool:
        return self.kind in STRONG or (self.kind == IdentityKind.PHONE and self.verified)


@dataclass(frozen=True)
class IdentityRow:
    """An identity as the customer 360 page shows it (a phone key is never shown)."""

    id: int
    kind: str
    kind_label: str
    app_id: str
    shown_key: str
    verified: bool
    source: str
    origin_id: int
    created_at: dt.datetime


def system_scope(brand_id: int, label: str) -> Scope:
    """The scope the platform's own rules act with (automatic merges, scans, jobs)."""
    return Scope(brand_id=brand_id, level=Level.BRAND, label=label)


# --- Reading the graph ------------------------------------------------------------------------
def live(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    """Customers that are neither merged away nor erased: what lists show."""
    return qs.filter(merged_into__isnull=True, erased_at__isnull=True)


def root_of(customer: Customer) -> Customer:
    """The customer that ``customer`` was merged into, following the chain to its end."""
    seen = {customer.pk}
    while customer.merged_into_id is not None:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        if customer.pk in seen:  # pragma: no cover - a cycle is prevented by merge_customers
            break
        seen.add(customer.pk)
    return customer


def cluster_ids(customer: Customer | int) -> list[int]:
    """The customer and every customer merged into her (directly or through another merge).
    Histories stay on the customer they were written for: a read of a customer's touches, tags,
    notes or consent filters on ``customer_id__in=cluster_ids(c)``."""
    first = customer if isinstance(customer, int) else customer.pk
    found = [first]
    frontier = [first]
    while frontier:
        frontier = list(Customer.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True))
        found += frontier
    return found


def identities_of(customer: Customer) -> list[IdentityRow]:
    """The customer's identities, for her 360 page: a phone shows as its mask when she has one."""
    phone = privacy.unseal(customer.phone_sealed) if customer.phone_sealed else ""
    own_hash = customer.phone_hash
    rows = []
    for ident in Identity.objects.filter(customer_id=customer.pk).order_by("created_at", "pk"):
        if ident.kind == IdentityKind.PHONE:
            shown = privacy.mask_phone(phone) if ident.key == own_hash and phone else "***********"
        else:
            shown = ident.key if len(ident.key) <= 12 else f"{ident.key[:6]}…{ident.key[-4:]}"
        rows.append(
            IdentityRow(
                id=ident.pk,
                kind=ident.kind,
                kind_label=str(IdentityKind(ident.kind).label) if ident.kind in IdentityKind.values else ident.kind,
                app_id=ident.app_id,
                shown_key=shown,
                verified=ident.verified,
                source=ident.source,
                origin_id=ident.origin_id,
                created_at=ident.created_at,
            )
        )
    return rows


def customer_by_phone(brand_id: int, phone: str) -> Customer | None:
    """The live customer who holds a phone number (as her primary phone or as an identity moved to
    her by a merge), or ``None``. Raises ``ValueError`` for a malformed number."""
    key = privacy.lookup_hash(privacy.normalize_phone(phone))
    ident = Identity.objects.filter(brand_id=brand_id, kind=IdentityKind.PHONE, app_id="", key=key).first()
    if ident is not None:
        return root_of(ident.customer)
    found = Customer.objects.filter(brand_id=brand_id, phone_hash=key).first()
    return root_of(found) if found is not None else None


# --- Validation -------------------------------------------------------------------------------
def _clean(identities: Iterable[IdentityIn]) -> list[_Clean]:
    cleaned: dict[tuple[str, str, str], _Clean] = {}
    for n, raw in enumerate(identities):
        where = f"identities.{n}"
        kind = str(raw.kind or "").strip()
        key = str(raw.key or "").strip()
        app_id = str(raw.app_id or "").strip()
        if kind not in IdentityKind.values:
            raise ValidationError(
                {
                    where: _("Unknown identity kind: choose one of %(kinds)s.")
                    % {"kinds": ", ".join(IdentityKind.values)}
                }
            )
        if not key or len(key) > 128:
            raise ValidationError({where: _("An identity needs a value of 1 to 128 characters.")})
        if len(app_id) > 64:
            raise ValidationError({where: _("An app id has at most 64 characters.")})
        phone = ""
        if kind == IdentityKind.PHONE:
            try:
                phone = privacy.normalize_phone(key)
            except ValueError as exc:
                raise ValidationError(
                    {where: _("A mobile number has 11 digits and starts with 13–19, e.g. 13812345678.")}
                ) from exc
            key, app_id = privacy.lookup_hash(phone), ""
        elif kind == IdentityKind.OPENID and not app_id:
            raise ValidationError({where: _("An openid belongs to one app: give its app_id.")})
        elif kind != IdentityKind.OPENID:
            app_id = app_id if kind == IdentityKind.APP else ""
        item = _Clean(kind=kind, key=key, app_id=app_id, verified=bool(raw.verified), phone=phone)
        previous = cleaned.get((kind, app_id, key))
        if previous is None or (item.verified and not previous.verified):
            cleaned[(kind, app_id, key)] = item
    if not cleaned:
        raise ValidationError({"identities": _("Give at least one identity (a phone, a unionid, an openid…).")})
    if sum(1 for c in cleaned.values() if c.kind == IdentityKind.UNIONID) > 1:
        raise ValidationError({"identities": _("A person has one unionid; two were given.")})
    return list(cleaned.values())


def _oldest(customers: Iterable[Customer]) -> Customer:
    return min(customers, key=lambda c: (c.joined_at, c.pk))


# --- Resolving --------------------------------------------------------------------------------
def resolve(
    brand_id: int,
    identities: Sequence[IdentityIn],
    *,
    source: str,
    store_id: int | None = None,
    guide_id: int | None = None,
    name: str | None = None,
    at: dt.datetime | None = None,
) -> tuple[Customer, bool]:
    """The customer these identities belong to, and whether she was created now.

    A new customer is bound to ``guide_id`` / ``store_id`` (through :func:`siyu.members.binding.bind`);
    an existing one is not rebound here (callers bind per the brand's rules). Safe under concurrency:
    two requests resolving the same new unionid at once end with one customer (the loser of the
    unique constraint retries and finds the winner's)."""
    items = _clean(identities)
    if source not in Source.values:
        raise ValidationError({"source": _("Unknown source.")})
    for attempt in range(MAX_RETRIES):
        try:
            with transaction.atomic():
                return _resolve_once(brand_id, items, source, store_id, guide_id, name, at or clock.now())
        except IntegrityError:
            if attempt == MAX_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _lock_identities(brand_id: int, items: list[_Clean]) -> None:
    """On PostgreSQL, take a transaction lock per identity (in one order) before looking them up:
    two requests resolving the same new identities at once then run one after the other, and the
    second finds the first's customer instead of making another. (SQLite serialises writers at
    ``BEGIN IMMEDIATE`` already.)"""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    keys = sorted({f"{brand_id}:{i.kind}:{i.app_id}:{i.key}" for i in items})
    with connection.cursor() as cursor:
        for key in keys:
            digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [digest])


def _resolve_once(
    brand_id: int,
    items: list[_Clean],
    source: str,
    store_id: int | None,
    guide_id: int | None,
    name: str | None,
    now: dt.datetime,
) -> tuple[Customer, bool]:
    strong_request = any(i.strong for i in items)
    _lock_identities(brand_id, items)
    # Which customers the identities point to. An unverified phone does not identify anyone, and a
    # verified one only those who hold it verified: a typed number proves nothing (ADR 0007).
    lookup = Q()
    for item in items:
        if item.kind == IdentityKind.PHONE:
            if item.verified:
                lookup |= Q(kind=item.kind, app_id="", key=item.key, verified=True)
            continue
        lookup |= Q(kind=item.kind, app_id=item.app_id, key=item.key)
    found = list(Identity.objects.select_for_update().filter(lookup, brand_id=brand_id)) if lookup else []
    matched: dict[int, Customer] = {}
    for ident in found:
        root = root_of(ident.customer)
        matched[root.pk] = root
    for item in items:  # a verified phone also finds a customer who holds it as her primary phone
        if item.kind == IdentityKind.PHONE and item.verified:
            for holder in Customer.objects.filter(brand_id=brand_id, phone_hash=item.key):
                root = root_of(holder)
                matched[root.pk] = root
    matched = {pk: c for pk, c in matched.items() if c.erased_at is None}

    created = False
    if not matched:
        customer = _create(brand_id, items, source, store_id, name, now)
        created = True
    else:
        customer = _oldest(matched.values())
        if strong_request and len(matched) > 1:
            rule = Merge.Rule.UNIONID if any(i.kind == IdentityKind.UNIONID for i in items) else Merge.Rule.PHONE
            system = system_scope(brand_id, _("identity rules"))
            for other in sorted(matched.values(), key=lambda c: (c.joined_at, c.pk)):
                if other.pk != customer.pk:
                    _merge(system, customer, other, rule=rule, reason="", now=now)
    _attach(customer, items, source, now)
    if created and (guide_id or store_id):
        from siyu.members import binding  # binding imports this module

        binding.bind(
            customer,
            guide_id=guide_id,
            store_id=store_id,
            source=binding.binding_source_for(source),
            at=now,
            actor_label=_("first touch"),
        )
        customer.refresh_from_db()
    return customer, created


def _create(
    brand_id: int, items: list[_Clean], source: str, store_id: int | None, name: str | None, now: dt.datetime
) -> Customer:
    phone_item = _primary_phone(brand_id, items, exclude=None)
    customer = Customer(
        brand_id=brand_id,
        store_id=store_id,
        source=source,
        joined_at=now,
        name_sealed=privacy.seal(name.strip()) if name and name.strip() else "",
        name_hash=privacy.lookup_hash(name.strip()) if name and name.strip() else "",
    )
    if phone_item is not None:
        customer.phone_sealed = privacy.seal(phone_item.phone)
        customer.phone_hash = phone_item.key
    customer.save()
    return customer


def _primary_phone(brand_id: int, items: list[_Clean], exclude: int | None) -> _Clean | None:
    """The phone to keep as a customer's primary (searchable, reachable) phone: a verified one that
    no other customer holds. An unverified number never becomes anyone's primary phone."""
    for item in (i for i in items if i.kind == IdentityKind.PHONE and i.verified):
        taken = Customer.objects.filter(brand_id=brand_id, phone_hash=item.key)
        if exclude is not None:
            taken = taken.exclude(pk=exclude)
        if not taken.exists():
            return item
    return None


def _attach(customer: Customer, items: list[_Clean], source: str, now: dt.datetime) -> None:
    """Attach the identities no customer holds yet to ``customer``; verify phones she holds."""
    if not customer.phone_hash:
        phone_item = _primary_phone(customer.brand_id, items, exclude=customer.pk)
        if phone_item is not None:
            customer.phone_sealed = privacy.seal(phone_item.phone)
            customer.phone_hash = phone_item.key
            customer.save(update_fields=["phone_sealed", "phone_hash"])
    ensure_phone_identity(customer, now)
    for item in items:
        existing = Identity.objects.filter(
            brand_id=customer.brand_id, kind=item.kind, app_id=item.app_id, key=item.key
        ).first()
        if existing is not None:
            holder = root_of(existing.customer)
            if item.verified and not existing.verified and holder.pk == customer.pk:
                Identity.objects.filter(pk=existing.pk).update(verified=True)
            elif item.verified and not existing.verified and holder.phone_hash != item.key:
                _claim(customer, existing, holder, now)  # she proved the number someone else only typed
            continue  # held by her, or (another app's id, a number held verified) by someone else
        if item.kind == IdentityKind.PHONE and (
            Customer.objects.filter(brand_id=customer.brand_id, phone_hash=item.key).exclude(pk=customer.pk).exists()
        ):
            continue  # an unverified number another customer holds is not attached
        Identity.objects.create(
            brand_id=customer.brand_id,
            customer=customer,
            origin=customer,
            kind=item.kind,
            app_id=item.app_id,
            key=item.key,
            verified=item.verified,
            source=source,
            created_at=now,
        )


def _claim(customer: Customer, ident: Identity, holder: Customer, now: dt.datetime) -> None:
    """``customer`` proved a phone number that ``holder`` had only typed: the identity moves to her,
    verified, and is hers from now on (an unmerge does not give it back). Audited on the holder."""
    Identity.objects.filter(pk=ident.pk).update(customer_id=customer.pk, origin_id=customer.pk, verified=True)
    audit.record_by(
        system_scope(customer.brand_id, _("identity rules")),
        "customer.phone_claimed",
        holder,
        before={"phone_identity": ident.pk},
        after={"claimed_by": customer.pk, "at": now.isoformat()},
    )


def ensure_phone_identity(customer: Customer, now: dt.datetime | None = None) -> None:
    """Customers added in bulk (imports, the demo) hold their phone only as ``phone_hash``; give it
    an identity row so that it travels with merges. Safe to call again. A primary phone is always a
    verified or imported number, so its identity is verified."""
    if not customer.phone_hash:
        return
    exists = Identity.objects.filter(
        brand_id=customer.brand_id, kind=IdentityKind.PHONE, app_id="", key=customer.phone_hash
    ).exists()
    if not exists:
        Identity.objects.create(
            brand_id=customer.brand_id,
            customer=customer,
            origin=customer,
            kind=IdentityKind.PHONE,
            app_id="",
            key=customer.phone_hash,
            verified=True,
            source=customer.source,
            created_at=now or clock.now(),
        )


def without_phone_identity(brand_id: int) -> QuerySet[Customer]:
    """Customers of the brand whose phone has no identity row yet (added in bulk and not yet given
    their identities): what a seeding step still has to attach."""
    held = Identity.objects.filter(brand_id=brand_id, kind=IdentityKind.PHONE, app_id="", key=OuterRef("phone_hash"))
    return Customer.objects.filter(brand_id=brand_id).exclude(phone_hash="").exclude(Exists(held))


# --- Merging ----------------------------------------------------------------------------------
MERGE_FIELDS = ("survivor", "absorbed", "rule", "reason", "moved_identities")


def _merge(scope: Scope, survivor: Customer, absorbed: Customer, *, rule: str, reason: str, now: dt.datetime) -> Merge:
    ensure_phone_identity(absorbed, now)
    ensure_phone_identity(survivor, now)
    moved = list(Identity.objects.filter(customer_id=absorbed.pk).values_list("pk", flat=True))
    Identity.objects.filter(pk__in=moved).update(customer_id=survivor.pk)
    merge = Merge.objects.create(
        brand_id=survivor.brand_id,
        survivor=survivor,
        absorbed=absorbed,
        rule=rule,
        reason=reason,
        moved_identities=moved,
        absorbed_guide_id=absorbed.guide_id,
        absorbed_store_id=absorbed.store_id,
        actor_id=scope.staff_id,
        actor_label=scope.label or "system",
        at=now,
    )
    if absorbed.guide_id is not None or absorbed.store_id is not None:
        Binding.objects.create(
            brand_id=absorbed.brand_id,
            customer=absorbed,
            guide=None,
            store=None,
            previous_guide_id=absorbed.guide_id,
            source=BindingSource.MERGE,
            actor_label=scope.label or "system",
            at=now,
        )
    Customer.objects.filter(pk=absorbed.pk).update(
        merged_into_id=survivor.pk, guide_id=None, store_id=None, protected_until=None
    )
    absorbed.refresh_from_db()
    audit.record_by(scope, "customer.merge", merge, after=audit.snapshot(merge, MERGE_FIELDS))
    return merge


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


@transaction.atomic
def merge_customers(scope: Scope, survivor_id: int, absorbed_id: int, *, reason: str) -> Merge:
    """HQ merges ``absorbed`` into ``survivor`` (reversible with :func:`unmerge`)."""
    _require(scope, Perm.MEMBERS_MERGE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why these two records are one person.")})
    if len(reason) > 200:
        raise ValidationError({"reason": _("At most 200 characters.")})
    if int(survivor_id) == int(absorbed_id):
        raise ValidationError({"absorbed": _("A customer cannot be merged into herself.")})
    pool = live(restrict(Customer.objects.select_for_update(of=("self",)), scope))
    survivor = get_scoped(pool, scope, pk=survivor_id)
    absorbed = get_scoped(pool, scope, pk=absorbed_id)
    return _merge(scope, survivor, absorbed, rule=Merge.Rule.MANUAL, reason=reason, now=clock.now())


@transaction.atomic
def unmerge(scope: Scope, merge_id: int) -> Merge:
    """Undo a merge: the absorbed customer gets back exactly the identities that came from her,
    her guide and store; every history row was never moved, so it is hers again at once."""
    _require(scope, Perm.MEMBERS_MERGE)
    merge = get_scoped(Merge.objects.select_for_update(of=("self",)), scope, pk=merge_id)
    if merge.undone_at is not None:
        raise ValidationError({"merge": _("This merge is already undone.")})
    survivor = Customer.objects.select_for_update(of=("self",)).get(pk=merge.survivor_id)
    if survivor.merged_into_id is not None:
        raise ValidationError(
            {"merge": _("The survivor was merged into another customer since: undo that merge first.")}
        )
    absorbed = Customer.objects.select_for_update(of=("self",)).get(pk=merge.absorbed_id)
    now = clock.now()
    # only what the survivor still holds: an identity claimed since by a verified number stays put
    given_back = Identity.objects.filter(customer_id=survivor.pk).filter(
        Q(pk__in=merge.moved_identities) | Q(origin_id=absorbed.pk)
    )
    given_back.update(customer_id=absorbed.pk)
    guide_id, store_id = merge.absorbed_guide_id, merge.absorbed_store_id
    from siyu.members import binding  # binding imports this module

    if guide_id is not None and not binding.can_receive(absorbed.brand_id, guide_id):
        guide_id, store_id = survivor.guide_id, survivor.store_id  # her guide left meanwhile
    Customer.objects.filter(pk=absorbed.pk).update(merged_into_id=None, guide_id=guide_id, store_id=store_id)
    if guide_id is not None or store_id is not None:
        Binding.objects.create(
            brand_id=absorbed.brand_id,
            customer=absorbed,
            guide_id=guide_id,
            store_id=store_id,
            previous_guide=None,
            source=BindingSource.MERGE,
            actor_label=scope.label or "system",
            at=now,
        )
    merge.undone_at = now
    merge.undone_by = (scope.label or "system")[:120]
    merge.save(update_fields=["undone_at", "undone_by"])
    audit.record_by(scope, "customer.unmerge", merge, before={"undone_at": None}, after={"undone_at": now.isoformat()})
    return merge


def merges(scope: Scope) -> QuerySet[Merge]:
    """The brand's merges, newest first (HQ only: ``Merge`` is brand-level)."""
    return restrict(Merge, scope).select_related("survivor", "absorbed")
