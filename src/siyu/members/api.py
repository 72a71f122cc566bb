"""REST endpoints of customers: read through :mod:`siyu.members.services`, which scopes every
query and masks phone and name unless the caller is the customer's own guide."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.members import profile, services
from siyu.members.api_profile import router as profile_router
from siyu.members.models import Lifecycle, Source
from siyu.org.services import Perm  # permissions are org knowledge, reached through its services
from siyu.platform.api import PageQuery, answers, current_scope, page_of, paginate, requires

router = Router()


class CustomerOut(Schema):
    """A customer as the caller may see her: ``masked`` tells whether phone and name are masked."""

    id: int
    phone: str
    name: str
    masked: bool
    store_id: int | None
    guide_id: int | None
    tier: str
    lifecycle: Lifecycle
    source: str
    joined_at: dt.datetime
    last_purchase_at: dt.datetime | None
    orders_count: int
    total_spent_fen: int = Field(description="Money is an integer number of fen (1 CNY = 100 fen).")


class CustomerFilter(Schema):
    store: int | None = Field(None, description="A store id.")
    guide: int | None = Field(None, description="The id of the bound guide.")
    lifecycle: Lifecycle | None = None
    phone: str | None = Field(None, description="An exact mobile number, e.g. 13812345678.")
    name: str | None = Field(None, max_length=40, description="An exact full name.")
    tier: str | None = Field(None, max_length=20, description="A tier code.")
    tag: int | None = Field(None, description="A tag id: customers holding it.")
    source: Source | None = None
    joined_from: dt.date | None = Field(None, description="Joined on or after this day.")
    joined_to: dt.date | None = Field(None, description="Joined on or before this day.")


@router.get(
    "/customers",
    response=answers(page_of(CustomerOut)),
    summary="List customers",
    description="A guide sees her own customers, a store manager the store's, a region its stores', HQ all.",
    tags=["customers"],
)
@requires(Perm.MEMBERS_VIEW)
def customer_list(request: HttpRequest, filters: Query[CustomerFilter], page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    qs = services.visible_customers(
        scope, store_id=filters.store, guide_id=filters.guide, lifecycle=filters.lifecycle, phone=filters.phone
    )
    qs = profile.filter_customers(
        qs,
        {
            "q": filters.name,
            "tier": filters.tier,
            "tag": filters.tag,
            "source": filters.source,
            "joined_from": filters.joined_from,
            "joined_to": filters.joined_to,
        },
    )
    return paginate(qs, page, lambda c: services.to_row(scope, c))


@router.get(
    "/customers/{int:customer_id}",
    response=answers(CustomerOut),
    summary="Get a customer",
    tags=["customers"],
)
@requires(Perm.MEMBERS_VIEW)
def customer_detail(request: HttpRequest, customer_id: int) -> services.CustomerRow:
    return services.customer_row(current_scope(request), customer_id)


router.add_router("", profile_router)


from siyu.members.api_identity import router as identity_router  # noqa: E402

router.add_router("", identity_router)

from siyu.members.api_import import router as import_router  # noqa: E402  (helper-import)

router.add_router("", import_router)
