"""Row-level tenancy and layered scoping (分层分权) in one place.

Every business model carries a ``brand`` and declares a :class:`ScopeRule`: the ORM lookups that
lead from one of its rows to a region, a store or a member of staff. A :class:`Scope` says how far
a viewer (a member of staff or an API token) reaches. :func:`restrict` turns the pair into a query
filter; every list, detail, export and API query goes through it (or :func:`get_scoped`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404

M = TypeVar("M", bound=models.Model)


class Level(StrEnum):
    """How far a viewer reaches inside its brand."""

    BRAND = "brand"  # HQ: the whole brand
    REGION = "region"  # a region / branch company and its stores
    STORE = "store"  # one store
    SELF = "self"  # a guide: her store's public facts and her own customers


@dataclass(frozen=True)
class Scope:
    """The reach and the permissions of one viewer. Built by the org domain from a staff member's
    role or an API token; the kernel only reads it."""

    brand_id: int
    level: Level
    region_id: int | None = None
    store_id: int | None = None
    staff_id: int | None = None
    perms: frozenset[str] = field(default_factory=frozenset)
    label: str = ""

    def can(self, perm: str) -> bool:
        return perm in self.perms


Lookups = str | tuple[str, ...] | None


def _as_tuple(lookups: Lookups) -> tuple[str, ...]:
    if lookups is None:
        return ()
    if isinstance(lookups, str):
        return (lookups,)
    return lookups


@dataclass(frozen=True)
class ScopeRule:
    """How a model's rows relate to the org tree.

    ``region`` / ``store``: lookups to a region id / store id (several are OR-ed).
    ``own_store``: at SELF level, rows whose store is the viewer's store.
    ``own``: at SELF level, rows that belong to the viewer herself (a staff id).
    A level whose lookups are all empty sees nothing of the model.
    """

    brand: str = "brand_id"
    shared: bool = False  # rows every viewer of the brand may see (the catalog, say)
    region: Lookups = None
    store: Lookups = None
    own_store: Lookups = None
    own: Lookups = None
    distinct: bool = False

    def condition(self, scope: Scope) -> Q | None:
        """The filter for ``scope`` inside its brand; ``None`` means "nothing"."""

        def any_of(lookups: Lookups, value: int | None) -> Q | None:
            names = _as_tuple(lookups)
            if not names or value is None:
                return None
            q = Q()
            for name in names:
                q |= Q(**{name: value})
            return q

        if scope.level is Level.BRAND or self.shared:
            return Q()
        if scope.level is Level.REGION:
            return any_of(self.region, scope.region_id)
        if scope.level is Level.STORE:
            return any_of(self.store, scope.store_id)
        parts = [q for q in (any_of(self.own_store, scope.store_id), any_of(self.own, scope.staff_id)) if q is not None]
        if not parts:
            return None
        combined = parts[0]
        for q in parts[1:]:
            combined |= q
        return combined


def rule_of(model: type[models.Model]) -> ScopeRule:
    rule = getattr(model, "scope_rule", None)
    if not isinstance(rule, ScopeRule):
        raise TypeError(f"{model.__name__} declares no scope_rule; every business model must")
    return rule


def restrict(source: type[M] | QuerySet[M], scope: Scope) -> QuerySet[M]:
    """Only the rows of ``source`` that ``scope`` may see: its brand, then its level."""
    qs: QuerySet[M] = source._default_manager.all() if isinstance(source, type) else source
    rule = rule_of(qs.model)
    qs = qs.filter(**{rule.brand: scope.brand_id})
    condition = rule.condition(scope)
    if condition is None:
        return qs.none()
    qs = qs.filter(condition)
    return qs.distinct() if rule.distinct and scope.level is not Level.BRAND else qs


def get_scoped(source: type[M] | QuerySet[M], scope: Scope, **lookup: Any) -> M:
    """One row the scope may see, or 404 — an out-of-scope row looks exactly like a missing one."""
    try:
        return restrict(source, scope).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc


def ids_in_scope(source: type[M] | QuerySet[M], scope: Scope, ids: Iterable[int]) -> set[int]:
    wanted = {int(i) for i in ids}
    return set(restrict(source, scope).filter(pk__in=wanted).values_list("pk", flat=True))
