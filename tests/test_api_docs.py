"""The API's contract: a complete OpenAPI schema and a docs page that loads nothing from outside."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from siyu.api import api
from siyu.platform.access import AUTHENTICATED, PUBLIC
from siyu.platform.api import routes
from siyu.platform.tenancy import Level, Scope

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = {
    # incentives (issue 6, helper-incapi): coins, the reward mall, leaderboards, benchmarks
    "/api/v1/incentives/coins/mine",
    "/api/v1/incentives/guides/{guide_id}/coins",
    "/api/v1/incentives/coin-entries/{entry_id}/reversal",
    "/api/v1/incentives/mall",
    "/api/v1/incentives/gifts",
    "/api/v1/incentives/gifts/{gift_id}",
    "/api/v1/incentives/gifts/{gift_id}/restock",
    "/api/v1/incentives/gifts/{gift_id}/movements",
    "/api/v1/incentives/redemptions",
    "/api/v1/incentives/redemptions/mine",
    "/api/v1/incentives/redemptions/{redemption_id}/received",
    "/api/v1/incentives/redemptions/{redemption_id}/decision",
    "/api/v1/incentives/redemptions/{redemption_id}/ship",
    "/api/v1/incentives/redemptions/{redemption_id}/delivered",
    "/api/v1/incentives/leaderboards",
    "/api/v1/incentives/leaderboards/mine",
    "/api/v1/incentives/benchmarks/wall",
    "/api/v1/incentives/benchmarks/mine",
    "/api/v1/incentives/benchmarks/{benchmark_id}/write-up",
    "/api/v1/incentives/benchmarks/pick",
    "/api/v1/incentives/benchmark-rules",
    "/api/v1/incentives/benchmark-rules/{rule_id}",
    # PK contests, the performance feed, learning (issue 6, helper-contests)
    "/api/v1/contests",
    "/api/v1/contests/mine",
    "/api/v1/contests/{contest_id}",
    "/api/v1/contests/{contest_id}/start",
    "/api/v1/contests/{contest_id}/settle",
    "/api/v1/feed",
    "/api/v1/feed/audience",
    "/api/v1/feed/{post_id}/like",
    "/api/v1/feed/{post_id}/comments",
    "/api/v1/feed/{post_id}/hide",
    "/api/v1/learning/articles",
    "/api/v1/learning/articles/{article_id}",
    "/api/v1/learning/articles/{article_id}/read",
    "/api/v1/learning/quizzes",
    "/api/v1/learning/quizzes/{quiz_id}/attempts",
    "/api/v1/learning/quizzes/{quiz_id}/ranking",
    "/api/v1/learning/attempts/{attempt_id}/submit",
    "/api/v1/me",
    # guide tasks (issue 6): design, preview, publish, close, remind, completion, a guide's work
    "/api/v1/tasks",
    "/api/v1/tasks/{task_id}",
    "/api/v1/tasks/{task_id}/preview",
    "/api/v1/tasks/{task_id}/publish",
    "/api/v1/tasks/{task_id}/close",
    "/api/v1/tasks/{task_id}/remind",
    "/api/v1/task-completion",
    "/api/v1/task-overdue",
    "/api/v1/my-tasks",
    "/api/v1/my-tasks/shares",
    "/api/v1/my-tasks/follow-ups/{follow_up_id}",
    "/api/v1/task-photos/{submission_id}/decision",
    # segments (issue 4): definitions, live count, count, members, overlap, materialise
    "/api/v1/events",
    "/api/v1/customers/{customer_id}/events",
    "/api/v1/stores/{store_id}/events",
    "/api/v1/segments",
    "/api/v1/segment-count",
    "/api/v1/segments/{segment_id}",
    "/api/v1/segments/{segment_id}/count",
    "/api/v1/segments/{segment_id}/members",
    "/api/v1/segments/{segment_id}/overlap/{other_id}",
    "/api/v1/segments/{segment_id}/materialise",
    "/api/v1/regions",
    "/api/v1/regions/{region_id}",
    "/api/v1/franchisees",
    "/api/v1/franchisees/{franchisee_id}",
    "/api/v1/stores",
    "/api/v1/stores/{store_id}",
    "/api/v1/stores/{store_id}/status",
    "/api/v1/staff",
    "/api/v1/staff/{staff_id}",
    "/api/v1/staff/{staff_id}/move",
    "/api/v1/staff/{staff_id}/leave",
    "/api/v1/audit",
    "/api/v1/customers",
    "/api/v1/customers/{customer_id}",
    "/api/v1/catalog/products",
    "/api/v1/catalog/products/{product_id}",
    "/api/v1/catalog/products/{product_id}/images",
    "/api/v1/catalog/search",
    "/api/v1/catalog/store-prices",
    "/api/v1/catalog/categories",
    "/api/v1/codes",
    "/api/v1/codes/{code_id}",
    "/api/v1/codes/{code_id}/image.png",
    "/api/v1/codes/{code_id}/image.svg",
    "/api/v1/customers/merge",
    "/api/v1/customers/resolve",
    "/api/v1/customers/tags/bulk",
    "/api/v1/customers/{customer_id}/consent",
    "/api/v1/customers/{customer_id}/data",
    "/api/v1/customers/{customer_id}/erase",
    "/api/v1/customers/{customer_id}/guide",
    "/api/v1/customers/{customer_id}/identities",
    "/api/v1/customers/{customer_id}/notes",
    "/api/v1/customers/{customer_id}/tags/{tag_id}",
    "/api/v1/imports",
    "/api/v1/imports/{run_id}",
    "/api/v1/member-policies",
    "/api/v1/merges/{merge_id}/undo",
    "/api/v1/tag-groups",
    "/api/v1/tags",
    "/api/v1/touches",
    "/api/v1/transfers",
    "/api/v1/transfers/{transfer_id}/refuse",
    "/api/v1/mall/stores/{store_code}",
    "/api/v1/mall/stores/{store_code}/products",
    "/api/v1/store-pages/push",
    "/api/v1/stock/pos-sync",  # POS systems (helper-stock-orders)
    "/api/v1/stock/receipts",
    "/api/v1/pos/orders",
    "/api/v1/orders",  # the orders API (helper-orders-mall)
    "/api/v1/orders/{number}",
    "/api/v1/orders/{number}/pay",
    "/api/v1/customers/{customer_id}/orders",
}


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get(reverse("api:openapi-json"))
    assert response.status_code == 200
    return response.json()


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_the_schema_has_every_path_and_every_ref_resolves(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "siyu API"
    assert set(schema["paths"]) == EXPECTED_PATHS
    components = schema["components"]["schemas"]
    for ref in _refs(schema):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in components, ref
    # Readable names: no generated ``Page_StoreOut_``, no bare ``State``.
    assert {"StorePage", "StaffPage", "CustomerPage", "ErrorOut"} <= set(components)
    assert not [name for name in components if "_" in name or name in {"State", "Status", "Kind"}]
    assert set(schema["components"]["securitySchemes"]) == {"SystemToken", "StaffSession"}


def test_every_operation_is_named_documented_and_declares_its_permission(schema: dict[str, Any]) -> None:
    seen_ids = set()
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            name = op["operationId"]
            assert name not in seen_ids
            seen_ids.add(name)
            assert op["summary"] and op["tags"], name
            assert op["x-siyu-permission"], name
            # every operation needs a token or a session, but the public reads of the store mall
            assert op.get("security") or op["x-siyu-permission"] == PUBLIC, name
            assert {"401", "403", "422"} <= set(op["responses"]), name
            kwargs = {p["name"]: 1 for p in op.get("parameters", []) if p["in"] == "path"}
            try:
                assert reverse(f"api:{name}", kwargs=kwargs) == path.format(**kwargs)
            except NoReverseMatch:  # pragma: no cover - the message is the point
                pytest.fail(f"operation id {name} is not the URL name of {method.upper()} {path}")


def test_every_route_declares_its_permission_on_the_view() -> None:
    """``requires(...)`` on each operation: the declared permission is the one the view enforces."""
    declared = {(r.url_name, r.method): r.perm for r in routes(api)}
    # + 7: the catalog (search, product create/update, image, store prices, categories); + 3: store pages
    # + 3: POS stock sync, receipts, POS orders; + 4: orders API; + 9: segments
    # ... + events + tasks + contests, feed, learning + incentives
    assert len(declared) == 55 + 7 + 3 + 3 + 4 + 9 + 3 + 14 + 21 + 29
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                perm = getattr(operation.view_func, "siyu_access", None)
                assert perm is not None, operation.view_func.__name__
                name = operation.view_func.__name__  # its URL name and operation id (SiyuAPI)
                assert declared[(f"api:{name}", operation.methods[0])] == perm


def test_a_scope_without_the_permission_is_refused_by_the_view(world: Any, rf: Any) -> None:
    """The view itself checks the permission, whatever auth let the caller in."""
    from django.core.exceptions import PermissionDenied

    from siyu.org.api import StoreFilter, store_list
    from siyu.platform.api import PageQuery

    request = rf.get("/api/v1/stores")
    request.siyu_scope = Scope(brand_id=world.brand.pk, level=Level.BRAND, perms=frozenset({"catalog.view"}))
    with pytest.raises(PermissionDenied):
        store_list(request, filters=StoreFilter(), page=PageQuery())
    request.siyu_scope = Scope(brand_id=world.brand.pk, level=Level.BRAND, perms=frozenset({AUTHENTICATED}))
    with pytest.raises(PermissionDenied):  # "authenticated" is a declaration, never a grant
        store_list(request, filters=StoreFilter(), page=PageQuery())


def test_the_docs_page_uses_only_local_assets(client: Client) -> None:
    response = client.get(reverse("api:openapi-view"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads its scripts and styles"
    for url in assets:
        assert not re.match(r"^(https?:)?//", url), f"{url} would load from another host"
        fetched = client.get(url)
        assert fetched.status_code == 200, url
    assert "cdn" not in html.lower()


def test_the_docs_need_no_sign_in(client: Client) -> None:
    assert client.get(reverse("api:openapi-json")).status_code == 200
    assert client.get(reverse("api:openapi-view")).status_code == 200
