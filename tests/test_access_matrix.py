"""The authorisation matrix: every URL and every API operation, for every role.

1. Walk Django's URL resolver (namespaces included) and collect every route and method: for
   django-ninja routes the methods its operations serve; for plain views the methods declared in
   ``tests/access/pages.py``. Fail, with a list, on a route or method that has no :class:`Rule`, on
   a rule for a route that no longer exists, and on a view or API operation that does not declare
   its access (``siyu_access``, set by ``@access`` and by the API's ``@requires``).
2. Request each route + method as ``anonymous`` and as every persona of ``tests/access/model.ROLES``:
   allowed -> ``rule.ok``; not allowed -> 403; anonymous -> 302 to a sign-in page (pages) or 401
   (API); out-of-scope arguments -> 404; and no answer ever shows the rival brand. A forbidden or
   out-of-scope call writes no audit entry. API routes are also called with a system token that
   holds ``rule.token_perm`` (-> ``ok``) and with one that does not (-> 403).

Each call runs inside a savepoint that is rolled back, so every persona meets the same world.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path, resolve, reverse

from tests.access.model import ROLES, Rule

# Every module of tests/access/ but the model declares RULES: pages.py, api.py, and one per slice.
DECLARATIONS = tuple(
    f"tests.access.{p.stem}"
    for p in sorted((Path(__file__).parent / "access").glob("*.py"))
    if p.stem not in {"__init__", "model"}
)
ANONYMOUS = "anonymous"
BODY_METHODS = {"POST", "PUT", "PATCH"}


# --- 1. What the URL resolver serves ------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name, e.g. "hq:store_list" or "api:store_detail"
    route: str  # the URL pattern, e.g. "hq/stores/<int:pk>/"
    kind: str  # "page" (a Django view) or "api" (django-ninja)
    methods: tuple[str, ...]  # for API routes: what the operation serves; for pages: ()
    access: str | None  # the view's or operation's declared access (siyu_access)
    where: str  # the function, for messages


def _qualname(func: Any) -> str:
    func = inspect.unwrap(func) if callable(func) else func
    target = getattr(func, "func", func)  # functools.partial
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _path_view(callback: Any) -> Any | None:
    """The django-ninja PathView behind a URL callback, if it is one."""
    try:
        from ninja.operation import PathView
    except ImportError:  # pragma: no cover
        return None
    if not inspect.isfunction(callback) or not callback.__closure__:
        return None
    owner = inspect.getclosurevars(callback).nonlocals.get("self")
    return owner if isinstance(owner, PathView) else None


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(n for n in (namespace, entry.namespace or "") if n)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield namespace, prefix + str(entry.pattern), entry


def collect_routes() -> tuple[list[Route], list[str]]:
    """Every route of siyu, and the problems found while collecting (unnamed routes)."""
    routes: list[Route] = []
    problems: list[str] = []
    seen_ops: dict[int, int] = {}  # PathView -> how many of its operations were met so far
    for namespace, route, pattern in _walk(get_resolver().url_patterns):
        if not pattern.name:
            problems.append(f"/{route} ({_qualname(pattern.callback)}) has no URL name, so no rule can name it")
            continue
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        view = _path_view(pattern.callback)
        if view is not None:
            # django-ninja yields one URL pattern per operation of a path, in order.
            index = seen_ops.get(id(view), 0)
            seen_ops[id(view)] = index + 1
            operation = view.operations[index]
            routes.append(
                Route(
                    name=name,
                    route=route,
                    kind="api",
                    methods=tuple(sorted(operation.methods)),
                    access=getattr(operation.view_func, "siyu_access", None),
                    where=_qualname(operation.view_func),
                )
            )
        else:
            kind = "api" if namespace.split(":")[0] == "api" else "page"
            methods = ("GET",) if kind == "api" else ()  # django-ninja's own docs views answer GET
            routes.append(
                Route(
                    name=name,
                    route=route,
                    kind=kind,
                    methods=methods,
                    access=getattr(pattern.callback, "siyu_access", None),
                    where=_qualname(pattern.callback),
                )
            )
    return routes, problems


def declared_rules() -> dict[tuple[str, str], Rule]:
    """The rules of every declaration module present (the walker works before they all exist)."""
    rules: dict[tuple[str, str], Rule] = {}
    for module_name in DECLARATIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for key, rule in module.RULES.items():
            assert key not in rules, f"{key} is declared twice"
            assert isinstance(rule, Rule), f"{module_name}.RULES[{key}] is not a Rule"
            rules[key] = rule
    return rules


def route_methods(route: Route, rules: dict[tuple[str, str], Rule]) -> tuple[str, ...]:
    if route.kind == "api":
        return route.methods
    return tuple(sorted(method for (name, method) in rules if name == route.name))


def test_every_route_and_method_has_a_declared_rule() -> None:
    routes, problems = collect_routes()
    rules = declared_rules()
    missing = []
    for route in routes:
        methods = route_methods(route, rules)
        if not methods:
            missing.append(f"{route.name}  /{route.route}  ({route.where}): no rule for any method")
        missing += [
            f"{route.name} {m}  /{route.route}  ({route.where})" for m in methods if (route.name, m) not in rules
        ]
    assert not problems and not missing, (
        "Every route needs a Rule in tests/access/pages.py (pages) or tests/access/api.py (API):\n  "
        + "\n  ".join(problems + missing)
    )


def test_every_rule_names_a_route_that_exists() -> None:
    routes, _ = collect_routes()
    served = {(r.name, m) for r in routes for m in (r.methods or ())}
    page_names = {r.name for r in routes if r.kind == "page"}
    stale = sorted(
        f"{name} {method}"
        for (name, method) in declared_rules()
        if (name, method) not in served and name not in page_names
    )
    assert not stale, "rules for routes or methods that do not exist:\n  " + "\n  ".join(stale)


def test_every_view_and_operation_declares_its_access() -> None:
    routes, _ = collect_routes()
    # django-ninja's own root view (it only makes the API's base path reversible) is not ours to
    # decorate; it still needs a Rule, and the matrix checks what it answers.
    undeclared = sorted(
        f"{r.name}  /{r.route}  ({r.where})" for r in routes if not r.access and not r.where.startswith("ninja.")
    )
    assert not undeclared, (
        "Declare who may use each page with @access(perm) (siyu.platform.access) and each API "
        "operation with @requires(perm) (siyu.platform.api):\n  " + "\n  ".join(undeclared)
    )


# --- 2. Each route, as each role ------------------------------------------------------------------
def _cases() -> list[Any]:
    routes, _ = collect_routes()
    rules = declared_rules()
    cases = []
    for route in routes:
        for method in route_methods(route, rules):
            if (route.name, method) in rules:
                cases.append(pytest.param(route, method, id=f"{route.name}-{method}"))
    return cases


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    body: str
    audit_entries_written: int


def _call(
    world: Any,
    route: Route,
    method: str,
    rule: Rule,
    *,
    persona: str | None,
    kwargs: Callable[[Any], dict[str, Any]],
    token: str | None = None,
) -> Answer:
    """One request, in a savepoint rolled back afterwards."""
    from siyu.platform.models import AuditEntry

    with transaction.atomic():
        client = Client()
        if persona is not None:
            world.login(client, persona)
        url = reverse(route.name, kwargs=kwargs(world))
        if rule.query:
            url += "?" + rule.query
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = rule.data(world) if rule.data is not None else None
        entries_before = AuditEntry.objects.count()
        if method in BODY_METHODS and route.kind == "api":
            response = client.generic(method, url, json.dumps(data or {}), content_type="application/json", **headers)
        elif method == "POST":
            response = client.post(url, data or {}, **headers)
        elif method in BODY_METHODS:
            response = client.generic(method, url, json.dumps(data or {}), content_type="application/json")
        else:
            response = client.generic(method, url, **headers)
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        answer = Answer(
            status=response.status_code,
            location=response.get("Location", ""),
            body=body.decode("utf-8", errors="replace"),
            audit_entries_written=AuditEntry.objects.count() - entries_before,
        )
        transaction.set_rollback(True)
    return answer


def _is_sign_in(location: str) -> bool:
    try:
        match = resolve(urlsplit(location).path)
    except Exception:
        return False
    return match.url_name == "login"


def _expect(who: str, rule: Rule, route: Route, allowed: bool) -> int:
    if rule.public or allowed:
        return rule.ok
    if who == ANONYMOUS:
        return 302 if route.kind == "page" else 401
    return 403


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _cases())
def test_each_role_gets_exactly_its_answer(world: Any, route: Route, method: str) -> None:
    rule = declared_rules()[(route.name, method)]
    rivals = [n for n in (world.rival_store.name, world.rival_guide.name, world.rival_brand.name) if n]
    wrong: list[str] = []

    def check(who: str, expected: int | set[int], answer: Answer, *, writes_allowed: bool) -> None:
        if answer.status not in (expected if isinstance(expected, set) else {expected}):
            wrong.append(f"{who}: expected {expected}, got {answer.status} {answer.body[:300]!r}")
        if expected == 302 and who == ANONYMOUS and not rule.public and not _is_sign_in(answer.location):
            wrong.append(f"{who}: redirected to {answer.location!r}, not to a sign-in page")
        if not writes_allowed and answer.audit_entries_written:
            wrong.append(f"{who}: a refused call changed data ({answer.audit_entries_written} audit entries)")
        shown = [name for name in rivals if name in answer.body]
        if shown:
            wrong.append(f"{who}: the answer shows the rival brand ({', '.join(shown)})")

    for who in (ANONYMOUS, *ROLES):
        allowed = who in rule.roles
        expected: int | set[int] = _expect(who, rule, route, allowed)
        if expected == 403 and who in rule.out_of_scope:
            # Refused for her reach rather than her permission: the object may look missing.
            expected = {403, 404}
        answer = _call(world, route, method, rule, persona=None if who == ANONYMOUS else who, kwargs=rule.kwargs)
        check(who, expected, answer, writes_allowed=expected == rule.ok)
        if who in rule.out_of_scope:
            outside = _call(world, route, method, rule, persona=who, kwargs=rule.out_of_scope[who])
            check(f"{who} (out of scope)", 404, outside, writes_allowed=False)

    if route.kind == "api" and not rule.public:
        for label, token, expected in _tokens(world, rule):
            answer = _call(world, route, method, rule, persona=None, kwargs=rule.kwargs, token=token)
            check(label, expected, answer, writes_allowed=expected == rule.ok)

    assert not wrong, f"{route.name} {method} /{route.route}:\n  " + "\n  ".join(wrong)


def _tokens(world: Any, rule: Rule) -> list[tuple[str, str, int]]:
    """System tokens to call an API route with: (label, secret, expected status)."""
    from siyu.org import services
    from siyu.org.rules import TOKEN_PERMS

    hq = world.staff["hq_admin"].scope  # tokens are issued by a member of HQ
    grantable = [str(p) for p in TOKEN_PERMS]
    tokens = []
    if rule.token_perm is None:
        _, secret = services.issue_token(hq, name="matrix: every permission", perms=grantable)
        tokens.append(("token with every permission", secret, rule.ok))
        return tokens
    if rule.token_perm in grantable:
        _, secret = services.issue_token(hq, name="matrix: with", perms=[rule.token_perm])
        tokens.append((f"token with {rule.token_perm}", secret, rule.ok))
    others = [p for p in grantable if p != rule.token_perm]
    _, secret = services.issue_token(hq, name="matrix: without", perms=others)
    tokens.append((f"token without {rule.token_perm}", secret, 403))
    return tokens


# --- The walker itself ------------------------------------------------------------------------------
def test_the_walker_finds_pages_and_every_api_operation_with_its_method() -> None:
    routes, _ = collect_routes()
    by_name = {r.name: r for r in routes}
    assert {"root", "hq:login", "hq:home", "guide:home"} <= set(by_name)
    assert by_name["hq:home"].kind == "page" and by_name["hq:home"].access == "hq.console"
    from siyu.api import api

    schema = api.get_openapi_schema()
    operations = {
        (f"api:{spec['operationId']}", method.upper())
        for methods in schema["paths"].values()
        for method, spec in methods.items()
    }
    walked = {(r.name, m) for r in routes if r.kind == "api" for m in r.methods}
    assert operations <= walked, f"operations the walker missed: {sorted(operations - walked)}"


def _undeclared_probe(request: Any) -> Any:  # a view that forgot @access
    from django.http import HttpResponse

    return HttpResponse("probe")


# A URLconf with one new, undeclared page: the walker must catch it (see the test below).
urlpatterns = [path("probe/", include(([path("new/", _undeclared_probe, name="new")], "probe")))]


def test_the_walker_catches_a_new_route_without_rule_or_access(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__
    routes, problems = collect_routes()
    assert problems == []
    assert [(r.name, r.route, r.kind, r.access) for r in routes] == [("probe:new", "probe/new/", "page", None)]
    with pytest.raises(AssertionError, match=r"probe:new  /probe/new/ .*no rule"):
        test_every_route_and_method_has_a_declared_rule()
    with pytest.raises(AssertionError, match=r"probe:new .*_undeclared_probe"):
        test_every_view_and_operation_declares_its_access()
