"""The events API: ingest a batch (``events.ingest``), read a customer's or a store's recent events.

The batch is decoded and checked straight from the body (``services.ingest_json``: msgspec in one C
pass, or orjson and a check per event when something is wrong; no schema object per event: 1,000
events a request at 100,000 a second leave no room for one); the OpenAPI document still describes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from siyu.events import rules, services
from siyu.members import services as members
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.api import answers, current_scope, requires

router = Router()

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "type", "at"],
    "properties": {
        "event_id": {"type": "string", "maxLength": 64, "description": "Yours; stored once per brand."},
        "type": {"type": "string", "description": f"{', '.join(rules.TYPES)} or custom:<name>"},
        "at": {"type": "string", "format": "date-time", "description": "With its zone; ≤ 5 min ahead."},
        "customer_id": {"type": "integer"},
        "customer": {
            "type": "object",
            "description": "An identity instead of customer_id: {kind, key, app_id}",
            "properties": {"kind": {"enum": list(rules.IDENTITY_KINDS)}, "key": {"type": "string"}},
        },
        "store": {"description": "A store's id or code"},
        "guide": {"type": "integer"},
        "content_id": {"type": "string"},
        "product": {"description": "A product's id or code"},
        "sku": {"description": "A SKU's id or code"},
        "amount_fen": {"type": "integer", "minimum": 0},
        "quantity": {"type": "integer", "minimum": 0},
        "properties": {"type": "object", "description": "Flat, at most 4 KB"},
    },
}


class EventErrorOut(Schema):
    index: int
    event_id: str | None
    field: str
    message: str


class IngestOut(Schema):
    accepted: int
    duplicates: int
    errors: list[EventErrorOut]


class EventOut(Schema):
    event_id: str
    type: str
    at: dt.datetime
    customer_id: int
    store_id: int | None
    guide_id: int | None
    content_id: str | None
    product_id: int | None
    sku_id: int | None
    amount_fen: int | None
    quantity: int | None
    properties: dict[str, Any]


@router.post(
    "/events",
    response=answers(IngestOut),
    summary="Ingest a batch of behaviour events (at most 1,000)",
    tags=["events"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["events"],
                        "properties": {"events": {"type": "array", "maxItems": rules.MAX_BATCH, "items": EVENT_SCHEMA}},
                    }
                }
            },
        }
    },
)
@requires(Perm.EVENTS_INGEST)
def events_ingest(request: HttpRequest) -> dict[str, Any]:
    scope = current_scope(request)
    result = services.ingest_json(scope.brand_id, request.body)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "errors": [e.__dict__ for e in result.errors],
    }


@router.get(
    "/customers/{customer_id}/events",
    response=answers(list[EventOut]),
    summary="A customer's recent events",
    tags=["events"],
)
@requires(Perm.MEMBERS_VIEW)
def customer_events(request: HttpRequest, customer_id: int, limit: int = 50) -> list[services.EventRow]:
    scope = current_scope(request)
    members.customer_row(scope, customer_id)  # 404 out of reach
    ids = members.cluster_ids(customer_id)
    return services.recent_events(scope.brand_id, customer_ids=ids, limit=max(1, min(limit, 500)))


@router.get(
    "/stores/{store_id}/events",
    response=answers(list[EventOut]),
    summary="A store's recent events (HQ)",
    tags=["events"],
)
@requires(Perm.HQ_CONSOLE)
def store_events(request: HttpRequest, store_id: int, limit: int = 50) -> list[services.EventRow]:
    scope = current_scope(request)
    if org.store_info(scope.brand_id, store_id, scope=scope) is None:
        from django.http import Http404

        raise Http404
    return services.recent_events(scope.brand_id, store_id=store_id, limit=max(1, min(limit, 500)))
