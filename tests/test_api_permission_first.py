"""The API checks the caller's permission before it reads what she sent.

A caller without an operation's permission gets 403 whatever her path, query and body say: never a
422 about input she may not send (which would tell her the operation's schema and let her probe
it), and nothing is parsed or changed. One mechanism does it for every operation
(``siyu.platform.api.PermissionFirst``, installed by ``@requires``); the walk below calls every
operation of the API with a token that lacks its permission and with input that cannot parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.api import api
from siyu.org import services as org
from siyu.org.models import Staff
from siyu.org.rules import TOKEN_PERMS, Perm
from siyu.platform.access import AUTHENTICATED, PUBLIC
from siyu.platform.api import PermissionFirst, routes
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

# A body no operation accepts (request bodies refuse unknown fields; a list is no object) and a
# query no paged list accepts.
BAD_BODY = json.dumps([{"not-a-field": "x" * 5000}])
BAD_QUERY = "limit=0&offset=-1&store=not-a-number&joined_from=yesterday"


def _guarded() -> list[Any]:
    return [r for r in routes(api) if r.perm not in (None, AUTHENTICATED, PUBLIC)]


def _rules() -> dict[tuple[str, str], Any]:
    from tests.test_access_matrix import declared_rules

    return declared_rules()


@pytest.mark.parametrize("route", _guarded(), ids=lambda r: f"{r.url_name}-{r.method}")
def test_a_caller_without_the_permission_gets_403_before_her_input_is_read(world: Any, route: Any) -> None:
    rule = _rules()[(route.url_name, route.method)]
    issuer = Staff.objects.get(pk=world.staff["hq_admin"].pk).scope
    others = [str(p) for p in TOKEN_PERMS if str(p) != route.perm]
    _, secret = org.issue_token(issuer, name="permission first", perms=others)
    url = f"{reverse(route.url_name, kwargs=rule.kwargs(world))}?{BAD_QUERY}"
    entries = AuditEntry.objects.count()
    answer = Client().generic(
        route.method, url, BAD_BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert answer.status_code == 403, answer.content[:300]
    assert route.perm in answer.json()["detail"]
    assert AuditEntry.objects.count() == entries


def test_every_guarded_operation_runs_permission_first() -> None:
    operations = [op for view in _path_views() for op in view.operations]
    guarded = [op for op in operations if getattr(op.view_func, "siyu_access", None) not in (None, AUTHENTICATED)]
    assert guarded and all(isinstance(op, PermissionFirst) for op in guarded)


def _path_views() -> list[Any]:
    from ninja.operation import PathView

    from tests.test_access_matrix import _path_view, _walk

    found: dict[int, PathView] = {}
    for _ns, _route, pattern in _walk(api.urls[0]):
        view = _path_view(pattern.callback)
        if view is not None:
            found[id(view)] = view
    return list(found.values())


def test_a_guide_posting_nonsense_to_the_store_list_hears_403_and_hq_hears_what_is_wrong(world: Any) -> None:
    url = reverse("api:store_create")
    guide = world.login(Client(), "guide_a")
    refused = guide.post(url, json.dumps({"code": ""}), content_type="application/json")
    assert refused.status_code == 403
    hq = world.login(Client(), "hq_operator")
    invalid = hq.post(url, json.dumps({"code": ""}), content_type="application/json")
    assert invalid.status_code == 422 and invalid.json()["errors"]


def test_anonymous_callers_still_hear_401_first(world: Any) -> None:
    answer = Client().post(reverse("api:store_create"), BAD_BODY, content_type="application/json")
    assert answer.status_code == 401


def test_a_caller_with_the_permission_still_gets_her_input_checked(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    answer = client.get(f"{reverse('api:customer_list')}?limit=0")
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "limit"
    assert Perm.MEMBERS_VIEW in world.staff["hq_operator"].scope.perms
