"""The authorisation matrix: what every URL and API operation allows, per role.

Every route of siyu must have a declared :class:`Rule` keyed by ``(url_name, method)`` in one of
the declaration modules (``tests/access/pages.py`` for HTML pages, ``tests/access/api.py`` for the
REST API). ``tests/test_access_matrix.py`` walks the URL resolver and fails on any route without a
rule, then requests each one as every role and checks the answer.

Roles walked: ``anonymous`` and the persona keys of ``World.staff`` that hold a console or
workbench: ``hq_admin``, ``hq_operator``, ``region_manager``, ``store_manager``, ``guide_a``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = ("hq_admin", "hq_operator", "region_manager", "store_manager", "guide_a")
HQ = frozenset({"hq_admin", "hq_operator"})
CONSOLE = frozenset({"hq_admin", "hq_operator", "region_manager", "store_manager"})
WORKBENCH = frozenset({"store_manager", "guide_a"})
EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()

World = Any
Kwargs = Callable[[World], dict[str, Any]]


def no_kwargs(world: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    """Who may use one route with one method, and how to call it.

    roles: personas who get ``ok``; every other persona gets 403 (or 404 for an object outside her
        reach, see ``out_of_scope``); anonymous gets a redirect to sign-in (pages) or 401 (API).
    public: anyone, signed in or not, gets ``ok``.
    kwargs: URL arguments, built from the test world (an object every allowed role may reach).
    data: a valid body for POST/PATCH/PUT (form fields for pages, JSON for the API).
    ok: the status an allowed role gets (200 for pages, 302 after a successful form post, 201...).
    out_of_scope: persona -> URL arguments of an object of the same brand she may not reach; she
        must get 404 there (an out-of-scope row looks exactly like a missing one).
    token_perm: for API routes, the permission a system token needs (a token without it gets 403).
    """

    roles: frozenset[str]
    public: bool = False
    kwargs: Kwargs = no_kwargs
    data: Callable[[World], dict[str, Any]] | None = None
    query: str = ""
    ok: int = 200
    out_of_scope: dict[str, Kwargs] = field(default_factory=dict)
    token_perm: str | None = None
