"""REST endpoints of the store mall: a store's page and its product list, public (the mini-program
reads them without credentials), and the push of a page template to many stores (HQ). Money is
integer fen; distances are whole metres."""

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.catalog import storefront
from siyu.catalog.api import CardOut  # a product card priced at a store, as the catalog's search answers it
from siyu.org import services as org
from siyu.org.services import Perm, StoreInfo
from siyu.platform import clock
from siyu.platform.api import Input, PageQuery, answers, current_scope, page_of, public, requires

router = Router(tags=["mall"])


class HoursOut(Schema):
    opens: str = Field(description="Opening time, HH:MM.")
    closes: str = Field(description="Closing time, HH:MM (may be after midnight).")
    open_now: bool


class StoreHeadOut(Schema):
    code: str
    name: str
    city: str
    district: str
    address: str
    latitude: float
    longitude: float
    phone: str
    opening_hours: str
    hours: HoursOut | None = Field(description="Open now, and until when; null when the hours are not readable.")
    distance_m: int | None = Field(description="Great-circle distance from `lat`,`lng` when they were sent.")
    map_url: str = Field(description="A link that opens the store in AMap (高德).")


class GuideOut(Schema):
    id: int
    name: str = Field(description="The name she goes by in the mall.")
    initial: str = Field(description="Her avatar's initial.")


class BannerOut(Schema):
    id: int
    title: str
    subtitle: str
    image_url: str
    product_code: str = Field(description="The product it leads to; empty for none.")
    own: bool = Field(description="The store's own (else its template's).")


class FeaturedOut(Schema):
    id: int
    title: str
    own: bool
    product: CardOut


class StorePageOut(Schema):
    store: StoreHeadOut
    headline: str
    template: str = Field(description="The name of the template the page follows; empty for none.")
    guides: list[GuideOut]
    banners: list[BannerOut] = Field(description="In the order shown: the store's own first, then its template's.")
    featured: list[FeaturedOut]


class Place(Schema):
    brand: str | None = Field(None, description="The brand's code, needed only when two brands use the store code.")
    lat: float | None = Field(None, ge=-90, le=90, description="The customer's latitude, for the distance.")
    lng: float | None = Field(None, ge=-180, le=180, description="The customer's longitude.")


class ProductQuery(Schema):
    brand: str | None = Field(None, description="The brand's code, needed only when two brands use the store code.")
    q: str | None = Field(None, max_length=60, description="Words of a name, style code, SKU code or barcode.")
    category: str | None = Field(None, max_length=32, description="A category code.")


def _store(code: str, brand: str | None) -> StoreInfo:
    found = storefront.open_store(code, brand_hint=lambda: org.brand_by_code(brand) if brand else None)
    if found is None:
        raise Http404("not found")
    return found


@router.get(
    "/mall/stores/{store_code}",
    response=answers(StorePageOut),
    summary="A store's page in the mall",
    auth=None,
)
@public
def mall_store_page(request: HttpRequest, store_code: str, place: Query[Place]) -> dict[str, Any]:
    """The page of an open store: its header, headline, guides, banners and featured products (its
    own first, then its template's, in their time windows). 404 for a paused, closed or unknown store."""
    store = _store(store_code, place.brand)
    shown = storefront.face(store)
    near = (place.lat, place.lng) if place.lat is not None and place.lng is not None else None
    return {
        "store": {
            **store.__dict__,
            "hours": storefront.hours_at(store.opening_hours, clock.now()),
            "distance_m": storefront.distance_to(store, near),
            "map_url": storefront.map_link(store.latitude, store.longitude, store.name),
        },
        "headline": shown.headline,
        "template": shown.template,
        "guides": shown.guides,
        "banners": shown.banners,
        "featured": [{"id": f.id, "title": f.title, "own": f.own, "product": f.card} for f in shown.featured],
    }


@router.get(
    "/mall/stores/{store_code}/products",
    response=answers(page_of(CardOut)),
    summary="A store's products in the mall",
    auth=None,
)
@public
def mall_store_products(
    request: HttpRequest, store_code: str, filters: Query[ProductQuery], page: Query[PageQuery]
) -> dict[str, Any]:
    """The products on sale, priced at the store, newest first; search and category filter."""
    store = _store(store_code, filters.brand)
    found = storefront.search(
        store, q=filters.q or "", category=filters.category or "", limit=page.limit, offset=page.offset
    )
    return {"count": found.total, "limit": page.limit, "offset": page.offset, "items": found.cards}


class PushIn(Input):
    template_id: int
    every: bool = Field(False, description="Every store of the brand that is not closed.")
    region_ids: list[int] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    store_ids: list[int] = Field(default_factory=list)
    dry_run: bool = Field(False, description="Only say which stores would change.")


class PushLineOut(Schema):
    store_id: int
    store_code: str
    store_name: str
    city: str
    current_template: str = Field(description="The template it followed before; empty for none.")


class PushOut(Schema):
    template_id: int
    template: str
    pushed: bool = Field(description="False for a dry run.")
    changed: list[PushLineOut]
    unchanged: list[PushLineOut] = Field(description="Chosen stores that already followed the template.")


def _lines(lines: list[storefront.PushLine]) -> list[dict[str, Any]]:
    return [
        {
            "store_id": line.store.id,
            "store_code": line.store.code,
            "store_name": line.store.name,
            "city": line.store.city,
            "current_template": line.current,
        }
        for line in lines
    ]


@router.post("/store-pages/push", response=answers(PushOut), summary="Push a page template to stores")
@requires(Perm.CATALOG_MANAGE)
def store_page_push(request: HttpRequest, payload: PushIn) -> dict[str, Any]:
    """Make the chosen stores (every one, some regions, cities or stores; closed ones are left out)
    follow a template; their own headline, banners and featured products stay on top. One audit
    entry per store changed. ``dry_run`` only answers which stores would change."""
    scope = current_scope(request)
    selection = storefront.Selection(
        every=payload.every,
        region_ids=tuple(payload.region_ids),
        cities=tuple(payload.cities),
        store_ids=tuple(payload.store_ids),
    )
    verb = storefront.push_plan if payload.dry_run else storefront.push_template
    plan = verb(scope, payload.template_id, selection)
    return {
        "template_id": plan.template_id,
        "template": plan.template,
        "pushed": not payload.dry_run,
        "changed": _lines(plan.changing),
        "unchanged": _lines(plan.unchanged),
    }
