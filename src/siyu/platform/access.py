"""Access declarations: every page and API endpoint says who may use it.

``@access("org.view")`` lets in any viewer whose :class:`~siyu.platform.tenancy.Scope` holds the
permission; ``@access(PUBLIC)`` marks a page anyone may open (the login page). The authorisation
matrix test walks every URL and fails on a view that declares nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect

from siyu.platform.tenancy import Scope

PUBLIC = "public"
AUTHENTICATED = "authenticated"
F = TypeVar("F", bound=Callable[..., Any])


def scope_of(request: HttpRequest) -> Scope | None:
    """The viewer's scope: set by API token auth, or derived from the logged-in staff member."""
    scope = getattr(request, "siyu_scope", None)
    if isinstance(scope, Scope):
        return scope
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        user_scope = getattr(user, "scope", None)
        if isinstance(user_scope, Scope):
            request.siyu_scope = user_scope  # type: ignore[attr-defined]
            return user_scope
    return None


def require_scope(request: HttpRequest) -> Scope:
    scope = scope_of(request)
    if scope is None:
        raise PermissionDenied("not signed in")
    return scope


def access(perm: str, *, login_url: str = "hq:login") -> Callable[[F], F]:
    """Declare and enforce who may open a page."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if perm != PUBLIC:
                scope = scope_of(request)
                if scope is None:
                    back = QueryDict(mutable=True)
                    back["next"] = request.get_full_path()  # the query string survives: /hq/?q=a&b=c
                    return redirect(f"{_resolve(login_url)}?{back.urlencode(safe='/')}")
                if perm != AUTHENTICATED and not scope.can(perm):
                    raise PermissionDenied(perm)
            return view(request, *args, **kwargs)

        wrapped.siyu_access = perm  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def _resolve(name: str) -> str:
    from django.urls import reverse

    return reverse(name)
