"""The API's authorisation matrix declarations (tests/access/api.py) hold: every operation has a
rule, and each rule is what every persona, anonymous caller and token actually gets.

(tests/test_access_matrix.py walks pages and API together; this checks the API rules on their own
so a wrong declaration is caught next to the API.)"""

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
from siyu.platform.api import routes
from tests.access.api import RULES
from tests.access.model import ROLES, Rule

pytestmark = pytest.mark.django_db


def test_every_api_route_has_a_rule_and_every_rule_a_route() -> None:
    from tests.test_access_matrix import declared_rules  # tests/access/api.py and one module per slice

    every = {key: rule for key, rule in declared_rules().items() if key[0].startswith("api:")}
    operations = {(r.url_name, r.method) for r in routes(api)}
    api_patterns = {f"api:{getattr(p, 'name', '')}" for p in api.urls[0]}
    assert {name for name, _ in every} == api_patterns
    assert operations <= set(every)
    assert {key for key in every if key not in operations} == {
        ("api:openapi-json", "GET"),
        ("api:openapi-view", "GET"),
        ("api:api-root", "GET"),
    }


def call(client: Client, rule: Rule, name: str, method: str, kwargs: dict[str, Any], world: Any, **extra: Any) -> Any:
    url = reverse(name, kwargs=kwargs) + (f"?{rule.query}" if rule.query else "")
    if method == "GET":
        return client.get(url, **extra)
    body = json.dumps(rule.data(world) if rule.data else {})
    return getattr(client, method.lower())(url, body, content_type="application/json", **extra)


def _other_perm(perm: str | None) -> str:
    return Perm.CATALOG_VIEW if perm != Perm.CATALOG_VIEW else Perm.ORG_VIEW


@pytest.mark.parametrize("key", sorted(RULES), ids=[f"{n}-{m}" for n, m in sorted(RULES)])
def test_the_rule_holds_for_every_caller(world: Any, key: tuple[str, str]) -> None:
    name, method = key
    rule = RULES[key]
    got: dict[str, int] = {}

    client = Client()
    got["anonymous"] = call(client, rule, name, method, rule.kwargs(world), world).status_code
    for persona in ROLES:
        client = world.login(Client(), persona)
        got[persona] = call(client, rule, name, method, rule.kwargs(world), world).status_code
        if persona in rule.out_of_scope:
            got[f"{persona}@out_of_scope"] = call(
                client, rule, name, method, rule.out_of_scope[persona](world), world
            ).status_code

    expected: dict[str, Any] = {"anonymous": rule.ok if rule.public else 401}
    for persona in ROLES:
        expected[persona] = rule.ok if (rule.public or persona in rule.roles) else "403/404"
        if persona in rule.out_of_scope:
            expected[f"{persona}@out_of_scope"] = 404
    actual = {k: ("403/404" if v in (403, 404) and expected[k] == "403/404" else v) for k, v in got.items()}
    assert actual == expected

    if rule.public:
        return
    issuer = Staff.objects.get(pk=world.staff["hq_admin"].pk).scope
    _, without = org.issue_token(issuer, name="matrix", perms=[_other_perm(rule.token_perm)])
    denied = call(Client(), rule, name, method, rule.kwargs(world), world, HTTP_AUTHORIZATION=f"Bearer {without}")
    assert denied.status_code == (rule.ok if rule.token_perm is None else 403)
    if rule.token_perm in TOKEN_PERMS:
        _, with_perm = org.issue_token(issuer, name="matrix", perms=[rule.token_perm])
        allowed = call(
            Client(), rule, name, method, rule.kwargs(world), world, HTTP_AUTHORIZATION=f"Bearer {with_perm}"
        )
        assert allowed.status_code == rule.ok, allowed.content
