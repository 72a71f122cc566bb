"""The store pages of the mall (千店千面): one page per store, made of the store's own banners and
featured products shown first, then those of the template HQ pushed to it.

Reads (public, for the mall pages and the mini-program API) return plain dataclasses; they are
fast because what they read is cached (:data:`CACHE_SECONDS`) under a key that holds the versions
of the store's page and of its template, so a change made here shows at once and a change made
elsewhere (a product's name or price, a guide joining) within the cache time. Time windows are
applied to every request, never cached.

Writes take the viewer's :class:`Scope`: templates and pushes belong to HQ (``catalog.manage`` at
brand level); a store's own headline, banners and featured products belong to whoever has
``catalog.store_page`` and reaches the store (its manager, its region's manager, HQ). Each write
validates, runs in one transaction, moves the version of what it changed and leaves an audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.catalog.models import Category, PageTemplate, Placement, StorePage, StorePrice
from siyu.org import services as org
from siyu.org.services import Perm, StoreInfo
from siyu.platform import audit, clock, geo, validation
from siyu.platform.tenancy import Level, Scope

CACHE_SECONDS = 30  # how long a page's pieces are reused before they are read again
STORE_SECONDS = 30  # how long a store's facts (open or not, hours, address) are reused
PRODUCTS_PER_PAGE = 20
MAX_PLACEMENTS = 30  # per template or store page: a phone screen, not a catalog

TEMPLATE_FIELDS = ("name",)
PAGE_FIELDS = ("template", "headline")
PLACEMENT_FIELDS = ("kind", "product", "title", "subtitle", "position", "starts_at", "ends_at")


# --- Pure rules ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hours:
    """A store's opening hours (``HH:MM-HH:MM``; closing may pass midnight) at one moment."""

    opens: str
    closes: str
    open_now: bool


def hours_at(text: str, at: dt.datetime) -> Hours | None:
    """Whether a store with opening hours ``text`` is open at ``at`` (read in the site's time zone);
    ``None`` when the hours are not written as ``HH:MM-HH:MM``. ``22:00-02:00`` is open after 22:00
    and before 02:00; ``24:00`` closes at midnight."""
    found = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)", (text or "").strip())
    if not found:
        return None
    oh, om, ch, cm = (int(g) for g in found.groups())
    opens, closes = oh * 60 + om, ch * 60 + cm
    local = timezone.localtime(at)
    now = local.hour * 60 + local.minute
    if opens == closes:
        return None
    is_open = opens <= now < closes if opens < closes else (now >= opens or now < closes)
    return Hours(opens=f"{oh:02d}:{om:02d}", closes=f"{ch:02d}:{cm:02d}", open_now=is_open)


def shown_at(starts_at: dt.datetime | None, ends_at: dt.datetime | None, at: dt.datetime) -> bool:
    """A placement is shown from ``starts_at`` (inclusive) until ``ends_at`` (exclusive); an empty
    end is open."""
    return (starts_at is None or starts_at <= at) and (ends_at is None or at < ends_at)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "司徒",
    "夏侯",
    "公孙",
    "长孙",
    "宇文",
)


def guide_face(name: str) -> tuple[str, str]:
    """How the mall shows a guide: the name she goes by and the initial of her avatar. A Chinese
    name drops its surname when two or more characters remain (王小明 → 小明, 欧阳娜娜 → 娜娜) and
    otherwise stays whole (陈静); the avatar shows the surname's first character. A Latin name shows
    its first word (Anna Li → Anna, avatar A)."""
    name = (name or "").strip()
    if not name:
        return "", ""
    if _CJK.match(name):
        surname = 2 if name.startswith(_COMPOUND_SURNAMES) else 1
        given = name[surname:]
        return (given if len(given) >= 2 else name), name[0]
    first = name.split()[0]
    return first, first[0].upper()


def map_link(lat: float, lng: float, name: str) -> str:
    """A link that opens the store in AMap (高德) — a link only: nothing is loaded into the page.
    AMap reads ``position`` as longitude,latitude."""
    from urllib.parse import urlencode

    query = urlencode({"position": f"{lng:.6f},{lat:.6f}", "name": name, "src": "siyu", "coordinate": "wgs84"})
    return f"https://uri.amap.com/marker?{query}"


# --- What the mall reads -------------------------------------------------------------------------
@dataclass(frozen=True)
class Guide:
    id: int
    name: str  # the name she goes by in the mall (see guide_face)
    initial: str


@dataclass(frozen=True)
class Banner:
    id: int
    title: str
    subtitle: str
    image_url: str  # "" when it has no picture (the page draws its title on a colour)
    product_code: str  # the product it leads to, "" for none
    own: bool  # the store's own (else its template's)


@dataclass(frozen=True)
class Featured:
    id: int
    title: str  # a line over the product, "" for none
    card: catalog.ProductCard
    own: bool


@dataclass(frozen=True)
class Face:
    """What a store page shows above its product list, as it is at one moment."""

    store: StoreInfo
    headline: str
    template: str  # the template's name, "" for none
    banners: list[Banner]
    featured: list[Featured]
    guides: list[Guide]
    key: str  # changes whenever any of the above may have changed


@dataclass(frozen=True)
class _Row:
    """A placement as the cache keeps it (time windows are applied on every read)."""

    id: int
    kind: str
    own: bool
    product_id: int | None
    title: str
    subtitle: str
    image: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


@dataclass(frozen=True)
class _Version:
    page_id: int | None
    headline: str
    template_id: int | None
    template: str
    stamp: str  # the page's and the template's update times


def open_store(code: str, *, brand_hint: Callable[[], int | None] | None = None) -> StoreInfo | None:
    """The open store whose mall address is ``/m/<code>/``. A code used by several brands is
    resolved with ``brand_hint()`` (the brand the visitor came with; asked only then) and is
    otherwise unknown. A paused or closed store has no page (read again every
    :data:`STORE_SECONDS`: a store closed in the organisation leaves the mall within them)."""
    key = f"mall:store:{code}"
    found: list[StoreInfo] | None = cache.get(key)
    if found is None:
        found = [s for s in org.stores_with_code(code) if s.status == "open"]
        cache.set(key, found, STORE_SECONDS)
    if len(found) > 1 and brand_hint is not None:
        brand_id = brand_hint()
        found = [s for s in found if s.brand_id == brand_id]
    return found[0] if len(found) == 1 else None


def _version_key(store_id: int) -> str:
    return f"mall:version:{store_id}"


def _version(store_id: int) -> _Version:
    """The store page's headline, template and update times (cached until a write here forgets it)."""
    key = _version_key(store_id)
    found: _Version | None = cache.get(key)
    if found is not None:
        return found
    row = (
        StorePage.objects.filter(store_id=store_id)
        .values_list("pk", "headline", "updated_at", "template_id", "template__name", "template__updated_at")
        .first()
    )
    if row is None:
        found = _Version(None, "", None, "", "none")
    else:
        page_id, headline, updated, template_id, template, template_updated = row
        stamp = f"{updated.timestamp():.6f}/{template_id}:{template_updated.timestamp() if template_updated else 0:.6f}"
        found = _Version(page_id, headline, template_id, template or "", stamp)
    cache.set(key, found, CACHE_SECONDS)
    return found


def _forget(store_ids: Iterable[int]) -> None:
    """Pages changed: their next read sees it. Forgotten now and again once the change commits, so
    a read between the two cannot keep the old version."""
    keys = [k for i in store_ids for k in (_version_key(i), f"mall:facekey:{i}")]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def _rows(version: _Version) -> list[_Row]:
    """Every placement of the page and of its template, own first, each in its order (cached)."""
    if version.page_id is None:
        return []
    key = f"mall:rows:{version.page_id}:{version.stamp}"
    found: list[_Row] | None = cache.get(key)
    if found is None:
        owner = Q(page_id=version.page_id)
        if version.template_id is not None:
            owner |= Q(template_id=version.template_id)
        placements = Placement.objects.filter(owner).order_by("position", "id")
        found = [
            _Row(
                id=p.pk,
                kind=p.kind,
                own=p.page_id is not None,
                product_id=p.product_id,
                title=p.title,
                subtitle=p.subtitle,
                image=p.image.name or "",
                starts_at=p.starts_at,
                ends_at=p.ends_at,
            )
            for p in placements
        ]
        found.sort(key=lambda r: not r.own)  # the store's own first; each part keeps its order
        cache.set(key, found, CACHE_SECONDS)
    return found


def _shown(store: StoreInfo, at: dt.datetime) -> tuple[str, _Version, list[_Row]]:
    version = _version(store.id)
    rows = [r for r in _rows(version) if shown_at(r.starts_at, r.ends_at, at)]
    key = "mall:face:" + _digest(f"{store}|{version}|{','.join(str(r.id) for r in rows)}")
    return key, version, rows


def face_key(store: StoreInfo, *, at: dt.datetime | None = None) -> str:
    """A key that changes whenever what :func:`face` shows at ``at`` may change (a cache key for
    whole pages); read from the cache, without the database once it is warm. It is kept until the
    next start or end of a placement's time window (or :data:`CACHE_SECONDS`)."""
    at = at or clock.now()
    memo_key = f"mall:facekey:{store.id}"
    memo = cache.get(memo_key)
    if memo is not None and memo[1] == store and memo[2] <= at < memo[3]:
        return str(memo[0])
    key, version, _rows_shown = _shown(store, at)
    edges = [t for r in _rows(version) for t in (r.starts_at, r.ends_at) if t is not None]
    since = max((t for t in edges if t <= at), default=dt.datetime.min.replace(tzinfo=dt.UTC))
    until = min([t for t in edges if t > at] + [at + dt.timedelta(seconds=CACHE_SECONDS)])
    cache.set(memo_key, (key, store, since, until), CACHE_SECONDS)
    return key


def face(store: StoreInfo, *, at: dt.datetime | None = None) -> Face:
    """The page of an open store at ``at`` (now): headline, banners and featured products in their
    time windows (the store's own first, a product featured twice only once, products off sale left
    out) and the store's active guides."""
    key, version, rows = _shown(store, at or clock.now())
    found: Face | None = cache.get(key)
    if found is not None:
        return found
    featured_rows: list[_Row] = []
    seen: set[int] = set()
    for r in rows:
        if r.kind == Placement.Kind.FEATURED and r.product_id is not None and r.product_id not in seen:
            seen.add(r.product_id)
            featured_rows.append(r)
    banner_rows = [r for r in rows if r.kind == Placement.Kind.BANNER]
    wanted = [r.product_id for r in (*featured_rows, *banner_rows) if r.product_id is not None]
    cards = {c.id: c for c in catalog.product_cards(store.brand_id, wanted, store_id=store.id)}
    found = Face(
        store=store,
        headline=version.headline,
        template=version.template,
        banners=[
            Banner(
                id=r.id,
                title=r.title,
                subtitle=r.subtitle,
                image_url=catalog.media_url(r.image),
                product_code=cards[r.product_id].code if r.product_id in cards and cards[r.product_id].on_sale else "",
                own=r.own,
            )
            for r in banner_rows
        ],
        featured=[
            Featured(id=r.id, title=r.title, card=cards[r.product_id], own=r.own)
            for r in featured_rows
            if r.product_id in cards and cards[r.product_id].on_sale
        ],
        guides=[Guide(g.id, *guide_face(g.name)) for g in org.guides(store.brand_id, store_id=store.id)],
        key=key,
    )
    cache.set(key, found, CACHE_SECONDS)
    return found


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str


def categories(brand_id: int) -> list[CategoryInfo]:
    """The brand's categories that have a product on sale, in code order (cached)."""
    key = f"mall:categories:{brand_id}"
    found: list[CategoryInfo] | None = cache.get(key)
    if found is None:
        found = [
            CategoryInfo(code, name)
            for code, name in Category.objects.filter(brand_id=brand_id, products__active=True)
            .values_list("code", "name")
            .distinct()
            .order_by("code")
        ]
        cache.set(key, found, CACHE_SECONDS)
    return found


def price_group(store: StoreInfo) -> str:
    """What sets the store's product prices apart: "brand" when HQ set no store price for it, else a
    digest of its store prices. Stores of one group see the same product list (cached)."""
    key = f"mall:prices:{store.id}"
    found: str | None = cache.get(key)
    if found is None:
        rows = list(StorePrice.objects.filter(store_id=store.id).order_by("sku_id").values_list("sku_id", "price_fen"))
        found = _digest(repr(rows)) if rows else "brand"
        cache.set(key, found, CACHE_SECONDS)
    return found


@dataclass(frozen=True)
class Listing:
    """One page of a store's product list."""

    cards: list[catalog.ProductCard]
    total: int
    page: int
    pages: int
    q: str
    category: str


def search(store: StoreInfo, *, q: str = "", category: str = "", limit: int, offset: int) -> catalog.ProductResults:
    """The products on sale, priced at the store, newest first: those matching ``q`` (name, style
    code, SKU code or barcode) in ``category`` (a code), ``limit`` of them from ``offset``."""
    return catalog.search_products(
        store.brand_id,
        (q or "").strip()[:60],
        category=(category or "").strip()[:32] or None,
        limit=limit,
        offset=offset,
        store_id=store.id,
    )


def listing(store: StoreInfo, *, q: str = "", category: str = "", page: int = 1) -> Listing:
    """Page ``page`` (of :data:`PRODUCTS_PER_PAGE` products) of :func:`search`."""
    q, category, page = (q or "").strip()[:60], (category or "").strip()[:32], max(1, page)
    found = search(store, q=q, category=category, limit=PRODUCTS_PER_PAGE, offset=(page - 1) * PRODUCTS_PER_PAGE)
    pages = max(1, -(-found.total // PRODUCTS_PER_PAGE))
    return Listing(cards=found.cards, total=found.total, page=page, pages=pages, q=q, category=category)


def mall_brand_ids() -> list[int]:
    """The brands that have store pages in the mall."""
    return sorted(set(StorePage.objects.values_list("brand_id", flat=True).distinct()))


@dataclass(frozen=True)
class NearStore:
    store: StoreInfo
    distance_m: int | None


def open_stores(brand_id: int, *, city: str | None = None, near: tuple[float, float] | None = None) -> list[NearStore]:
    """The brand's open stores (of ``city``), nearest first from ``near`` (lat, lng) when given, else
    by city and code."""
    stores = [s for s in org.stores(brand_id, open_only=True) if city is None or s.city == city]
    if near is None:
        return [NearStore(s, None) for s in sorted(stores, key=lambda s: (s.city, s.code))]
    by_id = {s.id: s for s in stores}
    ranked = geo.by_distance(((s.id, s.latitude, s.longitude) for s in stores), near)
    return [NearStore(by_id[n.key], n.distance_m) for n in ranked]


def cities(brand_id: int) -> list[tuple[str, int]]:
    """The cities with an open store of the brand, with how many, most stores first."""
    count: dict[str, int] = {}
    for s in org.stores(brand_id, open_only=True):
        count[s.city] = count.get(s.city, 0) + 1
    return sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))


def distance_to(store: StoreInfo, near: tuple[float, float] | None) -> int | None:
    if near is None:
        return None
    return geo.distance_m(near[0], near[1], store.latitude, store.longitude)


@dataclass(frozen=True)
class Holder:
    """A store of the city that holds a SKU, and how far it is."""

    store: StoreInfo
    available: int
    distance_m: int | None


@dataclass(frozen=True)
class Availability:
    """City-wide stock of a product's SKUs as the product page shows it."""

    city: str
    city_units: dict[int, int]  # SKU id -> units the city's open stores can sell
    here: dict[int, int]  # SKU id -> units this store can sell
    stores_with_any: int  # how many of the city's open stores hold any SKU of the product
    holders: list[Holder]  # stores holding the chosen SKU, nearest first ([] when none chosen)


def availability(
    store: StoreInfo, sku_ids: Sequence[int], *, chosen: int | None = None, near: tuple[float, float] | None = None
) -> Availability:
    """What the city's open stores can sell of ``sku_ids`` now (on hand minus held by checkouts), this
    store's part, and the stores holding ``chosen`` nearest first — from ``near`` (the customer's
    location) when known, else from this store."""
    from siyu.inventory import services as inventory  # stock is the inventory domain's

    rows = inventory.stock_by_store(store.brand_id, store.city, sku_ids)
    city_units: dict[int, int] = {}
    here: dict[int, int] = {}
    holding: set[int] = set()
    for r in rows:
        if r.available <= 0:
            continue
        city_units[r.sku_id] = city_units.get(r.sku_id, 0) + r.available
        holding.add(r.store_id)
        if r.store_id == store.id:
            here[r.sku_id] = r.available
    holders: list[Holder] = []
    if chosen is not None:
        units = {r.store_id: r.available for r in rows if r.sku_id == chosen and r.available > 0}
        if units:
            stores = {s.id: s for s in org.stores(store.brand_id, open_only=True) if s.id in units}
            origin = near or (store.latitude, store.longitude)
            ranked = geo.by_distance(((s.id, s.latitude, s.longitude) for s in stores.values()), origin)
            holders = [Holder(stores[n.key], units[n.key], n.distance_m) for n in ranked]
    return Availability(store.city, city_units, here, len(holding), holders)


# --- HQ and store managers: templates, store pages, placements, pushes ----------------------------
def _require_hq(scope: Scope) -> None:
    if scope.level is not Level.BRAND or not scope.can(Perm.CATALOG_MANAGE):
        raise PermissionDenied(_("Only HQ may change page templates."))


def _store_in_reach(scope: Scope, store_id: Any) -> StoreInfo:
    if not scope.can(Perm.STORE_PAGE):
        raise PermissionDenied(Perm.STORE_PAGE)
    try:
        pk = int(store_id)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"store": _("Choose a store you may manage.")}) from exc
    found = org.store_info(scope.brand_id, pk, scope=scope)
    if found is None:
        raise ValidationError({"store": _("Choose a store you may manage.")})
    return found


def _page_for(brand_id: int, store_id: int, *, lock: bool = False) -> StorePage:
    qs = StorePage.objects.select_for_update(of=("self",)) if lock else StorePage.objects
    page = qs.filter(store_id=store_id).first()
    if page is None:
        page = StorePage.objects.create(brand_id=brand_id, store_id=store_id, updated_at=clock.now())
    return page


@transaction.atomic
def create_template(scope: Scope, *, name: str) -> PageTemplate:
    _require_hq(scope)
    now = clock.now()
    template = PageTemplate(brand_id=scope.brand_id, name=(name or "").strip(), created_at=now, updated_at=now)
    validation.full_clean(template)
    template.save()
    audit.record_by(scope, "page_template.create", template, after=audit.snapshot(template, TEMPLATE_FIELDS))
    return template


def _template(scope: Scope, template_id: Any, *, lock: bool = False) -> PageTemplate:
    _require_hq(scope)
    qs = PageTemplate.objects.select_for_update(of=("self",)) if lock else PageTemplate.objects
    try:
        found = qs.filter(brand_id=scope.brand_id, pk=int(template_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise ValidationError({"template": _("Choose a page template of this brand.")})
    return found


@transaction.atomic
def rename_template(scope: Scope, template_id: int, *, name: str) -> PageTemplate:
    template = _template(scope, template_id, lock=True)
    before = audit.snapshot(template, TEMPLATE_FIELDS)
    template.name = (name or "").strip()
    validation.full_clean(template)
    _touch(template)
    template.save()
    audit.record_by(scope, "page_template.update", template, before=before, after=audit.snapshot(template, ("name",)))
    return template


@transaction.atomic
def delete_template(scope: Scope, template_id: int) -> None:
    """Delete a template no store uses (its placements go with it)."""
    template = _template(scope, template_id, lock=True)
    used = StorePage.objects.filter(template=template).count()
    if used:
        raise ValidationError(
            {"template": _("%(n)d store(s) use this template: push another one to them first.") % {"n": used}}
        )
    files = list(Placement.objects.filter(template=template).exclude(image="").values_list("image", flat=True))
    audit.record_by(scope, "page_template.delete", template, before=audit.snapshot(template, TEMPLATE_FIELDS))
    template.delete()
    _delete_files_on_commit(files)


@transaction.atomic
def set_headline(scope: Scope, store_id: int, headline: str) -> StorePage:
    """The line under a store's name on its page, written by the store (or its region, or HQ)."""
    store = _store_in_reach(scope, store_id)
    page = _page_for(scope.brand_id, store.id, lock=True)
    before = audit.snapshot(page, PAGE_FIELDS)
    page.headline = (headline or "").strip()
    page.updated_at = clock.now()
    validation.full_clean(page)
    page.save()
    _forget([store.id])
    audit.record_by(scope, "store_page.headline", page, before=before, after=audit.snapshot(page, PAGE_FIELDS))
    return page


@dataclass(frozen=True)
class Owner:
    """Where a placement lives: a template (HQ) or one store's page."""

    template_id: int | None = None
    store_id: int | None = None


def _owner_filter(scope: Scope, owner: Owner, *, lock: bool = False) -> tuple[Q, PageTemplate | StorePage]:
    """The placements of ``owner`` (checking the viewer may change them) and the row whose version
    moves when they change."""
    if (owner.template_id is None) == (owner.store_id is None):
        raise ValidationError({"owner": _("A placement belongs to a template or to a store's page.")})
    if owner.template_id is not None:
        template = _template(scope, owner.template_id, lock=lock)
        return Q(template=template), template
    store = _store_in_reach(scope, owner.store_id)
    page = _page_for(scope.brand_id, store.id, lock=lock)
    return Q(page=page), page


def _snapshot(placement: Placement) -> dict[str, Any]:
    where = {"template": placement.template_id} if placement.template_id else {"page": placement.page_id}
    return {**where, **audit.snapshot(placement, PLACEMENT_FIELDS), "image": placement.image.name or ""}


def _touch(holder: PageTemplate | StorePage) -> None:
    holder.updated_at = clock.now()
    holder.save(update_fields=["updated_at"])
    if isinstance(holder, StorePage):
        _forget([holder.store_id])
    else:
        _forget(StorePage.objects.filter(template=holder).values_list("store_id", flat=True))


def _product(brand_id: int, product_id: Any) -> int | None:
    if product_id in (None, ""):
        return None
    try:
        pk = int(product_id)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"product": _("Choose a product of this brand that is on sale.")}) from exc
    card = catalog.product_card(brand_id, pk)
    if card is None or not card.on_sale:
        raise ValidationError({"product": _("Choose a product of this brand that is on sale.")})
    return card.id


def _store_image(data: bytes) -> str:
    facts = catalog._check_image(data)  # one check of uploaded pictures for the whole catalog
    return default_storage.save(f"catalog/banners/{uuid.uuid4().hex}.{facts.kind}", ContentFile(data))


def _delete_files_on_commit(names: Iterable[str]) -> None:
    for name in [n for n in names if n]:
        transaction.on_commit(lambda name=name: default_storage.delete(name))  # type: ignore[misc]


@dataclass(frozen=True)
class PlacementIn:
    """What a form or the API sends for a placement. ``image`` is the bytes of an uploaded picture
    (``None``: keep the current one); ``drop_image`` removes it."""

    kind: str
    product_id: int | None = None
    title: str = ""
    subtitle: str = ""
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    image: bytes | None = None
    drop_image: bool = False


def _check_placement(brand_id: int, data: PlacementIn, *, has_image: bool) -> int | None:
    if data.kind not in Placement.Kind.values:
        raise ValidationError({"kind": _("Choose a banner or a featured product.")})
    product_id = _product(brand_id, data.product_id)
    if data.kind == Placement.Kind.FEATURED and product_id is None:
        raise ValidationError({"product": _("Choose the product to feature.")})
    if data.kind == Placement.Kind.BANNER and not has_image and not (data.title or "").strip():
        raise ValidationError({"title": _("A banner needs a picture or a title.")})
    if data.kind == Placement.Kind.FEATURED and (data.image is not None):
        raise ValidationError({"image": _("A featured product shows the product's own picture.")})
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise ValidationError({"ends_at": _("The end comes after the start.")})
    return product_id


@transaction.atomic
def add_placement(scope: Scope, owner: Owner, data: PlacementIn) -> Placement:
    """A banner or a featured product at the end of a template or of a store's own page."""
    where, holder = _owner_filter(scope, owner, lock=True)
    product_id = _check_placement(scope.brand_id, data, has_image=bool(data.image))
    count = Placement.objects.filter(where).count()
    if count >= MAX_PLACEMENTS:
        raise ValidationError(
            {"kind": _("A page holds at most %(n)d banners and featured products.") % {"n": MAX_PLACEMENTS}}
        )
    last = Placement.objects.filter(where).aggregate(m=Max("position"))["m"]
    placement = Placement(
        brand_id=scope.brand_id,
        template=holder if isinstance(holder, PageTemplate) else None,
        page=holder if isinstance(holder, StorePage) else None,
        kind=data.kind,
        product_id=product_id,
        title=(data.title or "").strip(),
        subtitle=(data.subtitle or "").strip(),
        position=0 if last is None else last + 1,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
    )
    validation.full_clean(placement, exclude=["image"])
    if data.image:
        placement.image.name = _store_image(data.image)
    placement.save()
    _touch(holder)
    audit.record_by(scope, "placement.create", placement, after=_snapshot(placement))
    return placement


def _placement(scope: Scope, owner: Owner, placement_id: Any) -> tuple[Placement, PageTemplate | StorePage]:
    where, holder = _owner_filter(scope, owner, lock=True)
    try:
        found = Placement.objects.select_for_update(of=("self",)).filter(where, pk=int(placement_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise ValidationError({"placement": _("This banner or featured product is not on this page.")})
    return found, holder


@transaction.atomic
def update_placement(scope: Scope, owner: Owner, placement_id: int, data: PlacementIn) -> Placement:
    placement, holder = _placement(scope, owner, placement_id)
    before = _snapshot(placement)
    keeps_image = bool(placement.image) and not data.drop_image
    data = PlacementIn(**{**data.__dict__, "kind": placement.kind})  # a placement keeps its kind
    placement.product_id = _check_placement(scope.brand_id, data, has_image=keeps_image or bool(data.image))
    placement.title, placement.subtitle = (data.title or "").strip(), (data.subtitle or "").strip()
    placement.starts_at, placement.ends_at = data.starts_at, data.ends_at
    validation.full_clean(placement, exclude=["image"])
    old = placement.image.name or ""
    if data.image:
        placement.image.name = _store_image(data.image)
    elif data.drop_image:
        placement.image.name = ""
    placement.save()
    if old and old != placement.image.name:
        _delete_files_on_commit([old])
    _touch(holder)
    audit.record_by(scope, "placement.update", placement, before=before, after=_snapshot(placement))
    return placement


@transaction.atomic
def move_placement(scope: Scope, owner: Owner, placement_id: int, step: int) -> None:
    """Move a placement ``step`` places up (negative) or down within its page; positions are
    renumbered 0, 1, 2… in the new order."""
    placement, holder = _placement(scope, owner, placement_id)
    where = Q(template=placement.template_id) if placement.template_id else Q(page=placement.page_id)
    ordered = list(Placement.objects.filter(where).order_by("position", "id"))
    index = next(i for i, p in enumerate(ordered) if p.pk == placement.pk)
    target = max(0, min(len(ordered) - 1, index + int(step)))
    if target == index:
        return
    ordered.insert(target, ordered.pop(index))
    changed = []
    for position, p in enumerate(ordered):
        if p.position != position:
            p.position = position
            changed.append(p)
    Placement.objects.bulk_update(changed, ["position"])
    _touch(holder)
    audit.record_by(
        scope, "placement.move", placement, before={"position": index}, after={"position": target, "step": int(step)}
    )


@transaction.atomic
def delete_placement(scope: Scope, owner: Owner, placement_id: int) -> None:
    placement, holder = _placement(scope, owner, placement_id)
    audit.record_by(scope, "placement.delete", placement, before=_snapshot(placement))
    name = placement.image.name or ""
    placement.delete()
    _touch(holder)
    _delete_files_on_commit([name])


# --- Pushing a template to many stores ----------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """Which stores a push reaches: every store, or those of some regions, cities or codes (any
    mix; a store in any of them is chosen). Closed stores are never chosen."""

    every: bool = False
    region_ids: tuple[int, ...] = ()
    cities: tuple[str, ...] = ()
    store_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.every or self.region_ids or self.cities or self.store_ids)


@dataclass(frozen=True)
class PushLine:
    store: StoreInfo
    current: str  # the template the store follows now, "" for none
    changes: bool


@dataclass(frozen=True)
class PushPlan:
    template_id: int
    template: str
    lines: list[PushLine] = field(default_factory=list)

    @property
    def changing(self) -> list[PushLine]:
        return [line for line in self.lines if line.changes]

    @property
    def unchanged(self) -> list[PushLine]:
        return [line for line in self.lines if not line.changes]


def _chosen(brand_id: int, selection: Selection) -> list[StoreInfo]:
    if selection.empty:
        raise ValidationError({"stores": _("Choose the stores: all, some regions, some cities or some stores.")})
    every = [s for s in org.stores(brand_id) if s.status != "closed"]
    regions, cities_, ids = set(selection.region_ids), set(selection.cities), set(selection.store_ids)
    return [s for s in every if selection.every or s.region_id in regions or s.city in cities_ or s.id in ids]


def push_plan(scope: Scope, template_id: int, selection: Selection) -> PushPlan:
    """Which stores a push would change (and which already follow the template): the preview."""
    template = _template(scope, template_id)
    stores = _chosen(scope.brand_id, selection)
    current = dict(
        StorePage.objects.filter(brand_id=scope.brand_id, store_id__in=[s.id for s in stores]).values_list(
            "store_id", "template_id"
        )
    )
    names = dict(PageTemplate.objects.filter(brand_id=scope.brand_id).values_list("pk", "name"))
    lines = [
        PushLine(store=s, current=names.get(current.get(s.id) or 0, ""), changes=current.get(s.id) != template.pk)
        for s in stores
    ]
    return PushPlan(template_id=template.pk, template=template.name, lines=lines)


@transaction.atomic
def push_template(scope: Scope, template_id: int, selection: Selection) -> PushPlan:
    """Make the chosen stores follow the template (their own headline and placements stay, on top);
    returns what it changed. Stores already following it are left alone. One audit entry per store
    changed, so each store's history shows when its page changed."""
    plan = push_plan(scope, template_id, selection)
    template = _template(scope, template_id, lock=True)
    now = clock.now()
    for line in plan.changing:
        page = _page_for(scope.brand_id, line.store.id, lock=True)
        before = audit.snapshot(page, PAGE_FIELDS)
        page.template = template
        page.pushed_at = now
        page.updated_at = now
        page.save(update_fields=["template", "pushed_at", "updated_at"])
        audit.record_by(scope, "store_page.push", page, before=before, after=audit.snapshot(page, PAGE_FIELDS))
    _forget(line.store.id for line in plan.changing)
    return plan


# --- Reading pages for the HQ screens -----------------------------------------------------------
@dataclass(frozen=True)
class PageRow:
    store: StoreInfo
    template_id: int | None
    template: str
    headline: str
    own_count: int
    pushed_at: dt.datetime | None


def page_rows(scope: Scope, stores: Sequence[StoreInfo]) -> list[PageRow]:
    """The store pages of ``stores`` (already within the viewer's reach) with their template."""
    if not scope.can(Perm.STORE_PAGE):
        raise PermissionDenied(Perm.STORE_PAGE)
    from django.db.models import Count

    pages: dict[int, dict[str, Any]] = {
        p["store_id"]: dict(p)
        for p in StorePage.objects.filter(brand_id=scope.brand_id, store_id__in=[s.id for s in stores])
        .annotate(own=Count("placements"))
        .values("store_id", "template_id", "template__name", "headline", "own", "pushed_at")
    }
    rows = []
    for s in stores:
        p = pages.get(s.id, {})
        rows.append(
            PageRow(
                store=s,
                template_id=p.get("template_id"),
                template=p.get("template__name") or "",
                headline=p.get("headline", ""),
                own_count=p.get("own", 0),
                pushed_at=p.get("pushed_at"),
            )
        )
    return rows


@dataclass(frozen=True)
class PlacementView:
    id: int
    kind: str
    kind_label: str
    product_id: int | None
    product: str  # "code name", "" for none
    title: str
    subtitle: str
    image_url: str
    position: int
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    shown_now: bool


def placements_of(scope: Scope, owner: Owner) -> list[PlacementView]:
    """The placements of a template or of a store's own page, in order, for its editor (or, for a
    template, for the store managers whose pages show it: templates are brand-wide)."""
    if not (scope.can(Perm.STORE_PAGE) or scope.can(Perm.CATALOG_MANAGE)):
        raise PermissionDenied(Perm.STORE_PAGE)
    if owner.template_id is not None:
        where = Q(template_id=owner.template_id, brand_id=scope.brand_id)
    else:
        store = _store_in_reach(scope, owner.store_id)
        where = Q(page__store_id=store.id, brand_id=scope.brand_id)
    rows = list(Placement.objects.filter(where).select_related("product").order_by("position", "id"))
    now = clock.now()
    return [
        PlacementView(
            id=p.pk,
            kind=p.kind,
            kind_label=str(Placement.Kind(p.kind).label),
            product_id=p.product_id,
            product=f"{p.product.code} {p.product.name}" if p.product is not None else "",
            title=p.title,
            subtitle=p.subtitle,
            image_url=catalog.media_url(p.image.name or ""),
            position=p.position,
            starts_at=p.starts_at,
            ends_at=p.ends_at,
            shown_now=shown_at(p.starts_at, p.ends_at, now),
        )
        for p in rows
    ]


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    stores: int  # how many store pages follow it
    placements: int
    updated_at: dt.datetime


def templates(scope: Scope) -> list[TemplateInfo]:
    """The brand's page templates (every viewer with ``catalog.store_page`` may see their names)."""
    if not (scope.can(Perm.STORE_PAGE) or scope.can(Perm.CATALOG_MANAGE)):
        raise PermissionDenied(Perm.STORE_PAGE)
    from django.db.models import Count

    return [
        TemplateInfo(t.pk, t.name, t.n_pages, t.n_placements, t.updated_at)
        for t in PageTemplate.objects.filter(brand_id=scope.brand_id)
        .annotate(n_pages=Count("pages", distinct=True), n_placements=Count("placements", distinct=True))
        .order_by("name")
    ]


def template_name(scope: Scope, template_id: int) -> str:
    return _template(scope, template_id).name


def page_of(scope: Scope, store_id: int) -> PageRow:
    store = _store_in_reach(scope, store_id)
    return page_rows(scope, [store])[0]


def products_to_feature(brand_id: int) -> list[tuple[int, str]]:
    """Products on sale to pick from: (id, "code name"), by code."""
    from siyu.catalog.models import Product

    return [
        (pk, f"{code} {name}")
        for pk, code, name in Product.objects.filter(brand_id=brand_id, active=True)
        .order_by("code")
        .values_list("pk", "code", "name")
    ]
