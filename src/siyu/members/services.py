"""Use-cases of the customer domain that the foundation needs: adding customers in bulk (the demo
generator and, later, imports) and reading them through the viewer's scope with masking.

The customers issue extends this module (identity graph, binding, transfer, tags, consent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from siyu.members.models import Customer, Lifecycle
from siyu.platform import privacy
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict


@dataclass(frozen=True)
class NewCustomer:
    phone: str
    name: str
    store_id: int | None
    guide_id: int | None
    joined_at: dt.datetime
    gender: str = ""
    birthday: dt.date | None = None
    source: str = "store_code"
    tier: str = "regular"
    lifecycle: str = Lifecycle.NEW
    last_purchase_at: dt.datetime | None = None
    orders_count: int = 0
    total_spent_fen: int = 0


@dataclass(frozen=True)
class CustomerRow:
    """A customer as one viewer may see her: phone and name masked unless the viewer is her guide."""

    id: int
    phone: str
    name: str
    masked: bool
    store_id: int | None
    guide_id: int | None
    tier: str
    lifecycle: str
    source: str
    joined_at: dt.datetime
    last_purchase_at: dt.datetime | None
    orders_count: int
    total_spent_fen: int


def name_hash(name: str) -> str:
    """The keyed hash of a full name (trimmed) for exact search; empty for no name."""
    name = name.strip()
    return privacy.lookup_hash(name) if name else ""


def _sealed(row: NewCustomer, brand_id: int) -> Customer:
    phone = privacy.normalize_phone(row.phone)
    return Customer(
        brand_id=brand_id,
        store_id=row.store_id,
        guide_id=row.guide_id,
        phone_sealed=privacy.seal(phone),
        phone_hash=privacy.lookup_hash(phone),
        name_sealed=privacy.seal(row.name),
        name_hash=name_hash(row.name),
        gender=row.gender,
        birthday=row.birthday,
        source=row.source,
        tier=row.tier,
        lifecycle=row.lifecycle,
        joined_at=row.joined_at,
        last_purchase_at=row.last_purchase_at,
        orders_count=row.orders_count,
        total_spent_fen=row.total_spent_fen,
    )


def bulk_add_customers(brand_id: int, rows: Iterable[NewCustomer], *, batch_size: int = 2000) -> Iterator[int]:
    """Insert customers in batches, each batch in one transaction; yields the count of each batch
    so a caller can drive a progress bar. Memory stays bounded by ``batch_size``. A phone number
    that already belongs to a customer of the brand is skipped (re-running adds nothing)."""
    it = iter(rows)
    while batch := list(islice(it, batch_size)):
        objs = [_sealed(r, brand_id) for r in batch]
        with transaction.atomic():
            Customer.objects.bulk_create(objs, batch_size=batch_size, ignore_conflicts=True)
        yield len(objs)


def visible_customers(
    scope: Scope,
    *,
    store_id: int | None = None,
    guide_id: int | None = None,
    lifecycle: str | None = None,
    phone: str | None = None,
) -> QuerySet[Customer]:
    qs = restrict(Customer, scope).filter(erased_at__isnull=True, merged_into__isnull=True)  # merged-away: gone
    if store_id:
        qs = qs.filter(store_id=store_id)
    if guide_id:
        qs = qs.filter(guide_id=guide_id)
    if lifecycle:
        qs = qs.filter(lifecycle=lifecycle)
    if phone:
        try:
            qs = qs.filter(phone_hash=privacy.lookup_hash(privacy.normalize_phone(phone))).exclude(phone_hash="")
        except ValueError:
            qs = qs.none()
    return qs


def to_row(scope: Scope, customer: Customer) -> CustomerRow:
    """Unmasked only for the customer's own guide (she needs to reach her); masked for all others."""
    own = scope.level is Level.SELF and customer.guide_id == scope.staff_id and scope.staff_id is not None
    phone = privacy.unseal(customer.phone_sealed)
    name = privacy.unseal(customer.name_sealed)
    return CustomerRow(
        id=customer.pk,
        phone=phone if own else privacy.mask_phone(phone),
        name=name if own else privacy.mask_name(name),
        masked=not own,
        store_id=customer.store_id,
        guide_id=customer.guide_id,
        tier=customer.tier,
        lifecycle=customer.lifecycle,
        source=customer.source,
        joined_at=customer.joined_at,
        last_purchase_at=customer.last_purchase_at,
        orders_count=customer.orders_count,
        total_spent_fen=customer.total_spent_fen,
    )


def customer_row(scope: Scope, customer_id: int) -> CustomerRow:
    return to_row(scope, get_scoped(visible_customers(scope), scope, pk=customer_id))


def count_by_guide(scope: Scope) -> dict[int, int]:
    """How many customers each guide holds, within the viewer's reach."""
    from django.db.models import Count

    rows = visible_customers(scope).filter(~Q(guide_id=None)).values("guide_id").annotate(n=Count("id"))
    return {r["guide_id"]: r["n"] for r in rows}


def count_by_store(scope: Scope) -> dict[int, int]:
    """How many customers each store holds, within the viewer's reach."""
    from django.db.models import Count

    rows = visible_customers(scope).filter(~Q(store_id=None)).values("store_id").annotate(n=Count("id"))
    return {r["store_id"]: r["n"] for r in rows}


def count_customers(brand_id: int) -> int:
    return Customer.objects.filter(brand_id=brand_id).count()


# --- profile: tags, notes, consent, lifecycle, RFM, tiers; privacy rights (helper-profile) ------
from siyu.members import profile as _profile  # noqa: E402  (profile does not import this module at load)
from siyu.members import rights as _rights  # noqa: E402

ConsentState = _profile.ConsentState
NoteRow = _profile.NoteRow
add_note = _profile.add_note
add_tag = _profile.add_tag
bulk_tag = _profile.bulk_tag
complete_follow_up = _profile.complete_follow_up
consent_state = _profile.consent_state
follow_ups_due = _profile.follow_ups_due
record_consent = _profile.record_consent
recompute_brand = _profile.recompute_brand
remove_tag = _profile.remove_tag
tags_of = _profile.tags_of
erase_customer = _rights.erase_customer
export_customer_data = _rights.export_customer_data

# --- import (helper-import): members from CSV / Excel, dry run and batched real run ------------
# isort: split
from siyu.members import importer as _importer  # noqa: E402

BadRow = _importer.BadRow
ImportFailed = _importer.ImportFailed
ImportReport = _importer.Report
import_members = _importer.import_members
Attach = _importer.Attach
bulk_attach = _importer.bulk_attach  # identities and first bindings of existing customers (demo seeding)
NewTouch = _importer.NewTouch
bulk_add_touches = _importer.bulk_add_touches  # touches of existing customers (demo seeding)
# what the demo generator's customer-assets step uses (src/siyu/demo/seed_assets.py)
create_tag_group = _profile.create_tag_group
create_tag = _profile.create_tag
create_tier_level = _profile.create_tier_level
usable_tags = _profile.usable_tags


def has_identities(brand_id: int) -> bool:
    from siyu.members.models import Identity

    return Identity.objects.filter(brand_id=brand_id).exists()


def count_transfers(brand_id: int) -> int:
    from siyu.members.models import Transfer

    return Transfer.objects.filter(brand_id=brand_id).count()


# --- identity, binding, transfers, codes & scans (helper-identity) ------------------------------
# isort: split
from siyu.members import binding as _binding  # noqa: E402
from siyu.members import codes as _codes  # noqa: E402
from siyu.members import identity as _identity  # noqa: E402
from siyu.members import transfers as _transfers  # noqa: E402

IdentityIn = _identity.IdentityIn
IdentityRow = _identity.IdentityRow
BindingRow = _binding.BindingRow
TransferResult = _transfers.TransferResult
resolve = _identity.resolve
live_customers = _identity.live  # customers neither merged away nor erased
cluster_ids = _identity.cluster_ids  # a customer and those merged into her: read histories over these
without_phone_identity = _identity.without_phone_identity  # bulk-added customers still to attach (demo)
root_of = _identity.root_of
customer_by_phone = _identity.customer_by_phone
identities_of = _identity.identities_of
merge_customers = _identity.merge_customers
unmerge = _identity.unmerge
bind = _binding.bind
assign_guide = _binding.assign_guide
binding_history = _binding.binding_history
start_transfer = _transfers.start_transfer
refuse_transfer = _transfers.refuse_transfer
complete_due_transfers = _transfers.complete_due_transfers
create_code = _codes.create_code
create_product_codes = _codes.create_product_codes
visible_codes = _codes.visible_codes
scan = _codes.scan
share_link = _codes.share_link
code_by_token = _codes.code_by_token  # the mall's orders: the share link a visitor arrived with
code_is_live = _codes.is_live


def hand_over_customers_of(scope: Scope, staff_id: int, to_guides: list[int] | None = None) -> int:
    """Hand a leaving guide's customers over (inheritance); how many were handed over. Called by
    ``siyu.org.services.mark_staff_left`` inside its transaction; refuses (``ValidationError``)
    when nobody can take them."""
    return len(_transfers.hand_over_customers_of(scope, staff_id, to_guides).transfers)


# --- what the orders domain needs of a customer --------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """A customer as an order sees her: who she is now (after merges), her store and guide."""

    customer_id: int
    brand_id: int
    store_id: int | None
    guide_id: int | None


def buyer(brand_id: int, customer_id: int) -> Buyer | None:
    """The live customer behind ``customer_id`` (followed through merges), or ``None`` when she is
    unknown, of another brand or erased."""
    # Read on every checkout: the five columns it needs, in one plain query (not the whole row).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT store_id, guide_id, merged_into_id, erased_at IS NULL "
            f"FROM {connection.ops.quote_name(Customer._meta.db_table)} WHERE id = %s AND brand_id = %s",
            [customer_id, brand_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    store_id, guide_id, merged_into_id, live = row
    if merged_into_id is None:
        return Buyer(customer_id=customer_id, brand_id=brand_id, store_id=store_id, guide_id=guide_id) if live else None
    found = _identity.root_of(Customer.objects.get(pk=customer_id))
    if found.erased_at is not None:
        return None
    return Buyer(customer_id=found.pk, brand_id=found.brand_id, store_id=found.store_id, guide_id=found.guide_id)


def pos_phones_verified(brand_id: int) -> bool:
    """Does the brand's POS confirm phone numbers by SMS (its binding policy)? Unless it does, a
    phone number a POS sends is an unverified identity: it neither finds nor merges customers."""
    return bool(_binding.policy_of(brand_id).pos_phones_verified)


def record_purchase(
    brand_id: int,
    customer_id: int,
    *,
    amount_fen: int,
    store_id: int,
    guide_id: int | None,
    at: dt.datetime,
    reference: str,
    pos: bool = False,
) -> None:
    """A paid order (or POS sale): her purchase summary moves on, a purchase touch is recorded,
    and a first purchase with a guide binds her to that guide per the brand's binding rules."""
    from django.db.models import F

    from siyu.members.models import BindingSource, Touch, TouchKind

    with transaction.atomic():
        c = Customer.objects.select_for_update().get(pk=customer_id, brand_id=brand_id)
        first = c.orders_count == 0
        Customer.objects.filter(pk=c.pk).update(
            orders_count=F("orders_count") + 1,
            total_spent_fen=F("total_spent_fen") + amount_fen,
            last_purchase_at=at if c.last_purchase_at is None or c.last_purchase_at < at else c.last_purchase_at,
        )
        Touch.objects.create(
            brand_id=brand_id,
            customer=c,
            kind=TouchKind.POS if pos else TouchKind.PURCHASE,
            store_id=store_id,
            guide_id=guide_id,
            at=at,
            properties={"order": reference, "amount_fen": amount_fen},
        )
        if first and guide_id is not None and _binding.can_receive(brand_id, guide_id):
            _binding.bind(c, guide_id=guide_id, source=BindingSource.FIRST_PURCHASE, at=at, actor_label=reference)
        elif c.store_id is None:
            _binding.bind(c, store_id=store_id, source=BindingSource.FIRST_PURCHASE, at=at, actor_label=reference)


def record_refund(brand_id: int, customer_id: int, *, amount_fen: int, reference: str = "") -> None:
    """A paid order was refunded in full: her purchase summary steps back (never below zero). The
    purchase touch of the order (``reference``, as given to :func:`record_purchase`) is marked
    refunded, and her last purchase is taken again from the purchases that remain: none when the
    order was her only one (a refund of her latest order moves it back to the one before)."""
    from django.db.models import Case, F, When

    from siyu.members.models import Touch, TouchKind

    purchases = Touch.objects.filter(
        brand_id=brand_id, customer_id=customer_id, kind__in=[TouchKind.PURCHASE, TouchKind.POS]
    )
    with transaction.atomic():
        c = Customer.objects.select_for_update().filter(pk=customer_id, brand_id=brand_id).first()
        if c is None:
            return
        refunded = list(purchases.filter(properties__order=reference)) if reference else []
        for touch in refunded:
            touch.properties = {**touch.properties, "refunded": True}
            touch.save(update_fields=["properties"])
        orders_left = max(c.orders_count - 1, 0)
        last = c.last_purchase_at
        if orders_left == 0:
            last = None
        elif last is not None and any(t.at >= last for t in refunded):
            # (a customer's purchases are few: read here, where the JSON flag reads the same on every database)
            remaining = [at for at, props in purchases.values_list("at", "properties") if not props.get("refunded")]
            last = max(remaining, default=last)  # purchases older than the touches (imported history) keep theirs
        Customer.objects.filter(pk=c.pk).update(
            orders_count=Case(When(orders_count__gt=0, then=F("orders_count") - 1), default=0),
            total_spent_fen=Case(
                When(total_spent_fen__gte=amount_fen, then=F("total_spent_fen") - amount_fen), default=0
            ),
            last_purchase_at=last,
        )


# --- batch readers for the analytics lake (segments) ---------------------------------------------
# isort: split
from siyu.members import facts as _facts  # noqa: E402

CustomerFact = _facts.CustomerFact
customer_facts = _facts.customer_facts
customer_tag_facts = _facts.customer_tag_facts
consent_facts = _facts.consent_facts
tag_labels = _facts.tag_labels
live_customer_ids = _facts.live_customer_ids
customer_ids_by_phones = _facts.customer_ids_by_phones
customer_ids_of_guide = _facts.customer_ids_of_guide
tier_levels = _profile.tier_levels  # the brand's tiers, for the segment builder's tier choices


def guides_of(brand_id: int, customer_ids: Iterable[int]) -> dict[int, int]:
    """The guide each of these live customers is bound to now (customers without one left out):
    the follow-up lists of guide tasks, read in chunks."""
    ids = sorted({int(c) for c in customer_ids})
    found: dict[int, int] = {}
    for start in range(0, len(ids), 5_000):
        rows = Customer.objects.filter(
            brand_id=brand_id, pk__in=ids[start : start + 5_000], merged_into=None, erased_at=None
        ).exclude(guide_id=None)
        found.update(rows.values_list("pk", "guide_id"))
    return found


def gained_customers(
    brand_id: int, guide_ids: Iterable[int], since: dt.datetime, until: dt.datetime, sources: Iterable[str]
) -> dict[int, set[int]]:
    """The customers each guide gained between ``since`` and ``until``: bindings to her from one
    of ``sources`` (a scan of her code, WeCom, a first purchase ...), guide -> customer ids."""
    from siyu.members.models import Binding

    found: dict[int, set[int]] = {}
    rows = Binding.objects.filter(
        brand_id=brand_id, guide_id__in=list(guide_ids), at__gte=since, at__lt=until, source__in=list(sources)
    ).values_list("guide_id", "customer_id")
    for guide_id, customer_id in rows:
        found.setdefault(int(guide_id), set()).add(int(customer_id))
    return found


# --- what the events domain needs: identities to customers, in batches (helper-events) ----------
_IDS_CACHE: dict[tuple[int, str, str, str], tuple[float, int]] = {}
_IDS_CACHE_SECONDS = 60.0
_IDS_CACHE_MAX = 200_000


def customer_ids_for(brand_id: int, identities: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """The live customer (followed through merges) behind each known identity ``(kind, key, app_id)``
    as a touchpoint sends it (a phone raw); identities nobody holds (or a malformed phone) are left
    out. Read-only and batched: one query per kind of lookup, cached in the process for a minute."""
    import time

    now = time.monotonic()
    found: dict[tuple[str, str, str], int] = {}
    wanted: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # stored (kind, app_id, key) -> as given
    for given in identities:
        kind, key, app_id = given
        if kind == "phone":
            try:
                stored = ("phone", "", privacy.lookup_hash(privacy.normalize_phone(key)))
            except ValueError:
                continue
        else:
            stored = (kind, app_id if kind in ("openid", "app") else "", key)
        hit = _IDS_CACHE.get((brand_id, *stored))
        if hit is not None and now - hit[0] < _IDS_CACHE_SECONDS:
            found[given] = hit[1]
        else:
            wanted[stored] = given
    if not wanted:
        return found
    from siyu.members.models import Identity

    raw: dict[tuple[str, str, str], int] = {}
    keys = {k for _, _, k in wanted}
    for kind, app_id, key, customer_id in Identity.objects.filter(
        brand_id=brand_id, kind__in={k for k, _, _ in wanted}, key__in=keys
    ).values_list("kind", "app_id", "key", "customer_id"):
        if (kind, app_id, key) in wanted:
            raw[(kind, app_id, key)] = customer_id
    phones = {k for kind, _, k in wanted if kind == "phone" and ("phone", "", k) not in raw}
    if phones:
        for phone_hash, pk in Customer.objects.filter(brand_id=brand_id, phone_hash__in=phones).values_list(
            "phone_hash", "pk"
        ):
            raw.setdefault(("phone", "", phone_hash), pk)
    roots = _live_roots(set(raw.values()))
    if len(_IDS_CACHE) > _IDS_CACHE_MAX:
        _IDS_CACHE.clear()
    for stored, customer_id in raw.items():
        root = roots.get(customer_id)
        if root is not None:
            found[wanted[stored]] = root
            _IDS_CACHE[(brand_id, *stored)] = (now, root)
    return found


def _live_roots(customer_ids: set[int]) -> dict[int, int]:
    """Each customer's live root (the end of her merge chain); erased ones are left out."""
    roots: dict[int, int] = {}
    parent: dict[int, int | None] = {}
    erased: set[int] = set()
    frontier = set(customer_ids)
    while frontier:
        rows = Customer.objects.filter(pk__in=frontier).values_list("pk", "merged_into_id", "erased_at")
        frontier = set()
        for pk, merged_into, erased_at in rows:
            parent[pk] = merged_into
            if erased_at is not None:
                erased.add(pk)
            if merged_into is not None and merged_into not in parent:
                frontier.add(merged_into)
    for start in customer_ids:
        node, seen = start, set()
        while parent.get(node) is not None and node not in seen:
            seen.add(node)
            node = parent[node]  # type: ignore[assignment]
        if node in parent and node not in erased:
            roots[start] = node
    return roots


def customer_roots(brand_id: int, customer_ids: Iterable[int]) -> dict[int, int]:
    """Each given id of the brand's customers mapped to her live root; unknown, other brands' and
    erased customers are left out (read-only, batched)."""
    ids = set(Customer.objects.filter(brand_id=brand_id, pk__in=set(customer_ids)).values_list("pk", flat=True))
    return _live_roots(ids)


def forget_identity_cache() -> None:
    """Empty the process's identity cache (an erasure or a test's fresh database)."""
    _IDS_CACHE.clear()
