"""The kernel of the REST API: a NinjaAPI factory, JSON errors, permission declarations, staff
session auth and limit/offset pages. No business rules; each domain adds a router (``api.py``).

Every error is JSON and says what is wrong:

=====================================  ======  ============================================
raised                                 status  body
=====================================  ======  ============================================
Django ``ValidationError`` (services)  422     ``{"detail", "errors": [{"field", "message"}]}``
request does not parse (ninja/pydantic) 422    the same shape; ``field`` is the parameter path
``Http404`` (``get_scoped``)           404     ``{"detail": "not found"}``
``PermissionDenied``                   403     ``{"detail": ...}``
no or bad credentials                  401     ``{"detail": ...}`` and ``WWW-Authenticate``
=====================================  ======  ============================================

Module note: no ``from __future__ import annotations`` in API modules: django-ninja reads the
annotations of (wrapped) view functions at import time.
"""

import enum
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError
from ninja.openapi.docs import Swagger
from ninja.operation import Operation
from ninja.security import SessionAuth
from ninja.utils import contribute_operation_callback
from pydantic import ConfigDict, WithJsonSchema

from siyu.platform.access import AUTHENTICATED, PUBLIC, require_scope, scope_of
from siyu.platform.tenancy import Scope

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
M = TypeVar("M", bound=Model)

# Where a request parameter came from; dropped from the field path of a parse error.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


# --- Errors ----------------------------------------------------------------------------------
class FieldError(Schema):
    field: str = Field(description="The input field, e.g. `latitude` or `items.0.qty`; `__all__` for the whole input.")
    message: str


class ErrorOut(Schema):
    """Every error the API answers with."""

    detail: str = Field(description="What is wrong, in the caller's language.")
    errors: list[FieldError] | None = Field(None, description="Per-field problems (422 only).")


def _invalid(api: NinjaAPI, request: HttpRequest, errors: list[dict[str, str]]) -> HttpResponse:
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    detail = _("The input is not valid (%(summary)s).") % {"summary": summary}
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


def field_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    """A Django ``ValidationError`` as ``[{"field", "message"}]``, fields in a stable order."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": name, "message": str(message)}
            for name, messages in sorted(exc.message_dict.items())
            for message in messages
        ]
    return [{"field": NON_FIELD_ERRORS, "message": str(message)} for message in exc.messages]


def _field_path(loc: Sequence[Any], request_params: Sequence[str]) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    # A whole-body schema parameter (``payload``) is not part of what the caller wrote.
    if len(parts) > 1 and parts[0] in request_params:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or NON_FIELD_ERRORS


def install_error_handlers(api: NinjaAPI, *, body_params: Sequence[str] = ("payload",)) -> None:
    """Answer every known failure as JSON that says what is wrong (see the module docstring)."""

    def on_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return _invalid(api, request, field_errors(exc))

    def on_request_validation(request: HttpRequest, exc: RequestValidationError) -> HttpResponse:
        errors = [
            {"field": _field_path(e.get("loc", ()), body_params), "message": str(e.get("msg", ""))} for e in exc.errors
        ]
        return _invalid(api, request, errors)

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, {"detail": _("not found")}, status=404)

    def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        detail = str(exc) or _("You may not do this.")
        return api.create_response(request, {"detail": detail}, status=403)

    def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = _("Sign in, or send an API token as 'Authorization: Bearer siyu_…'.")
        if exc.message and exc.message != AuthenticationError().message:
            detail = exc.message
        response = api.create_response(request, {"detail": detail}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="siyu"'
        return response

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 401:
            return on_unauthenticated(request, AuthenticationError(401, exc.message))
        detail = exc.message
        if exc.status_code == 400 and detail.startswith("Cannot parse request body"):  # django-ninja's words
            detail = _("The request body is not valid JSON.")
        return api.create_response(request, {"detail": detail}, status=exc.status_code)

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (DjangoValidationError, on_django_validation),
        (RequestValidationError, on_request_validation),
        (Http404, on_not_found),
        (PermissionDenied, on_forbidden),
        (AuthenticationError, on_unauthenticated),
        (HttpError, on_http_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


class Input(Schema):
    """A request body. A field the operation does not know is refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


ERROR_STATUSES = (401, 403, 404, 422)
Created = Status


def answers(schema: Any, status: int = 200) -> dict[int, Any]:
    """The ``response=`` of an operation: its schema on success and :class:`ErrorOut` otherwise."""
    return {status: schema, **{code: ErrorOut for code in ERROR_STATUSES}}


def created(obj: T) -> "Status[T]":
    """Answer 201 with ``obj``."""
    return Status(201, obj)


@contextmanager
def fields_named(names: Mapping[str, str]) -> Iterator[None]:
    """Report a service's field errors under the API's names (``region`` -> ``region_id``)."""
    try:
        yield
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise DjangoValidationError({names.get(k, k): v for k, v in exc.error_dict.items()}) from exc


# --- Auth and permissions --------------------------------------------------------------------
class StaffSession(SessionAuth):
    """A signed-in member of staff (the console and workbench call the API with their session).
    Django's CSRF check applies to unsafe methods; a request without a session cookie is simply
    not this kind of caller (so an anonymous POST gets 401, not a CSRF failure)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Scope | None:
        if key is None:
            return None
        return scope_of(request)  # also sets request.siyu_scope


def current_scope(request: HttpRequest) -> Scope:
    """The caller's scope, as set by the API's auth (token or session)."""
    return require_scope(request)


def requires(perm: str) -> Callable[[F], F]:
    """Declare and enforce the permission an operation needs.

    Marks the view with ``siyu_access`` (the authorisation matrix reads it), documents it in the
    OpenAPI schema (``x-siyu-permission``) and checks ``scope.can(perm)`` on the caller's scope.
    ``AUTHENTICATED`` lets in any caller the API's auth accepted.

    The check runs right after authentication and **before** django-ninja parses the path, query
    and body (:class:`PermissionFirst`): a caller without the permission hears 403 whatever she
    sent, never 422 about a body she may not send, and nothing is parsed or changed. The view
    checks once more (a view called directly, e.g. by another operation, stays protected)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            _check_permission(request, perm)
            return view(request, *args, **kwargs)

        wrapped.siyu_access = perm  # type: ignore[attr-defined]
        contribute_operation_callback(wrapped, functools.partial(_document_permission, perm=perm))
        contribute_operation_callback(wrapped, PermissionFirst.install)
        return wrapped  # type: ignore[return-value]

    return decorate


def _check_permission(request: HttpRequest, perm: str) -> None:
    if perm not in (AUTHENTICATED, PUBLIC) and not current_scope(request).can(perm):
        raise PermissionDenied(_("This needs the permission '%(perm)s'.") % {"perm": perm})


class PermissionFirst(Operation):
    """A django-ninja operation that checks the permission its view declares (``siyu_access``,
    set by :func:`requires`) together with authentication, before any parameter is parsed.

    django-ninja builds every operation as a plain ``Operation``; :func:`requires` turns each of
    its operations into this class when it is made (``install``). The class survives django-ninja's
    cloning of operations when a router is mounted (``clone`` keeps the class), so every operation
    of every router gets the same order: authenticate, check the permission, then parse."""

    @staticmethod
    def install(operation: Operation) -> None:
        if operation.is_async:  # pragma: no cover - siyu's operations are synchronous
            raise TypeError("PermissionFirst supports synchronous operations only")
        operation.__class__ = PermissionFirst

    def _run_checks(self, request: HttpRequest) -> HttpResponse | None:
        error = super()._run_checks(request)
        if error is not None:
            return error
        perm = getattr(self.view_func, "siyu_access", AUTHENTICATED)
        try:
            _check_permission(request, perm)
        except PermissionDenied as exc:
            return self.api.on_exception(request, exc)
        return None


def public(view: F) -> F:
    """Declare an operation anyone may call, signed in or not (the store mall's reads for the
    mini-program). Give the operation ``auth=None`` on its router so no credentials are asked for;
    the matrix reads ``siyu_access`` and the OpenAPI schema says it is public."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    wrapped.siyu_access = PUBLIC  # type: ignore[attr-defined]
    contribute_operation_callback(wrapped, _document_public)
    contribute_operation_callback(wrapped, PermissionFirst.install)
    return wrapped  # type: ignore[return-value]


def _document_public(operation: Any) -> None:
    operation.openapi_extra = {**(operation.openapi_extra or {}), "x-siyu-permission": PUBLIC}
    note = "Public: no credentials needed."
    operation.description = f"{operation.description}\n\n{note}".strip() if operation.description else note


def _document_permission(operation: Any, *, perm: str) -> None:
    extra = dict(operation.openapi_extra or {})
    extra["x-siyu-permission"] = perm
    operation.openapi_extra = extra
    # Developer documentation, written once in English (like the rest of the OpenAPI schema).
    note = "Any signed-in caller or token." if perm == AUTHENTICATED else f"Requires the permission `{perm}`."
    operation.description = f"{operation.description}\n\n{note}".strip() if operation.description else note


def named_choices(choices: type[enum.Enum], name: str) -> WithJsonSchema:
    """An enum's OpenAPI schema under a readable name (``Store.State`` -> ``StoreStatus``):
    ``status: Annotated[Store.State, named_choices(Store.State, "StoreStatus")]``."""
    return WithJsonSchema({"title": name, "type": "string", "enum": [c.value for c in choices]})


# --- Pages -----------------------------------------------------------------------------------
class PageQuery(Schema):
    """``limit``/``offset`` paging; ``limit`` above ``NINJA_PAGINATION_MAX_LIMIT`` is refused (422)."""

    limit: int = Field(
        settings.NINJA_PAGINATION_PER_PAGE,
        ge=1,
        le=settings.NINJA_PAGINATION_MAX_LIMIT,
        description="How many items (1 to NINJA_PAGINATION_MAX_LIMIT).",
    )
    offset: int = Field(0, ge=0, description="How many items to skip.")


class Page(Schema, Generic[T]):
    """One page of a list: ``count`` is the number of items in the whole list."""

    count: int
    limit: int
    offset: int
    items: list[T]


@functools.cache
def page_of(schema: type[Schema]) -> type[Page[Any]]:
    """The page schema of ``schema`` under a readable name: ``page_of(StoreOut)`` is ``StorePage``."""
    name = schema.__name__.removesuffix("Out") + "Page"
    doc = f"One page of {schema.__name__} items; `count` is the number of items in the whole list."
    return type(name, (Page[schema],), {"__module__": schema.__module__, "__doc__": doc})  # type: ignore[valid-type]


def paginate(qs: QuerySet[M], page: PageQuery, row: Callable[[M], Any] | None = None) -> dict[str, Any]:
    """One page of ``qs`` (already scoped and ordered), each item passed through ``row``."""
    items = list(qs[page.offset : page.offset + page.limit])
    count = qs.count() if len(items) == page.limit or page.offset else len(items)
    return {
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
        "items": [row(i) for i in items] if row is not None else items,
    }


# --- The API ---------------------------------------------------------------------------------
def _public(view: F) -> F:
    """The OpenAPI schema and the docs page are public: the contract is no secret."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    wrapped.siyu_access = PUBLIC  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


class SiyuAPI(NinjaAPI):
    """One name per operation: its function's name is both its URL name (ninja's default) and its
    OpenAPI operation id, so neither is written out at each operation."""

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__


def build_api(*, title: str, version: str, description: str, auth: Sequence[Callable[..., Any]]) -> NinjaAPI:
    """A NinjaAPI with siyu's errors and docs. Swagger UI is served from django-ninja's own static
    files (``ninja`` is an installed app), never from a CDN."""
    api = SiyuAPI(
        title=title,
        version=version,
        description=description,
        urls_namespace="api",
        auth=list(auth),
        docs=Swagger(settings={"persistAuthorization": True}),
        docs_decorator=_public,
    )
    install_error_handlers(api)
    return api


@dataclass(frozen=True)
class Route:
    """One API operation: its URL name (namespaced), HTTP method, path and declared permission."""

    url_name: str
    method: str
    path: str
    perm: str | None


def routes(api: NinjaAPI) -> list[Route]:
    """Every operation of ``api``, from its OpenAPI schema (operation ids are the URL names)."""
    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            found.append(
                Route(
                    url_name=f"{api.urls_namespace}:{spec['operationId']}",
                    method=method.upper(),
                    path=path,
                    perm=spec.get("x-siyu-permission"),
                )
            )
    return sorted(found, key=lambda r: (r.path, r.method))
