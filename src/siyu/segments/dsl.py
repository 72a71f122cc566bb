"""The segment definition language, version 1 (documented in ``docs/segments-dsl.md``).

A definition is JSON: ``{"version": 1, "root": <node>}``. A node is a group (``and`` / ``or`` with
``children``, ``not`` with ``child``) or a leaf (see :data:`LEAVES`). :func:`validate` checks a
definition and returns every problem as ``(path, message)`` — the path is JSON-pointer-like,
``root.children.1.window.last_days`` — so a form or an API client can point at the field. Pure:
no I/O; what needs the database (do the tags, stores, segments exist?) is checked by the service
through the ``known`` sets it passes in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
GROUPS = ("and", "or", "not")
LEAVES = (
    "attribute",
    "tags",
    "consent",
    "birthday",
    "event",
    "first_time",
    "last_time",
    "stopped",
    "rfm",
    "segment",
    "list",
    "bucket",
)
ATTRIBUTES = ("store", "region", "city", "guide", "tier", "lifecycle", "source")
ID_ATTRIBUTES = ("store", "region", "guide")
CHANNELS = ("wecom", "sms", "mini_program")
COMPARISONS = (">=", ">", "<=", "<", "=", "!=")
FILTER_OPS = (*COMPARISONS, "in")
EVENT_COLUMNS_FILTERABLE = ("store_id", "guide_id", "content_id", "product_id", "sku_id", "amount_fen", "quantity")
MAX_LIST = 200_000
MAX_DEPTH = 12
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# An event type as the events domain stores it: a built-in name, or "custom:<name>" (events/rules.py).
EVENT_TYPE = re.compile(r"^(?:[a-z][a-z0-9_.\-]{0,39}|custom:[a-z0-9][a-z0-9_.\-]{0,47})$")


@dataclass
class Known:
    """What exists in the brand, for the checks that need it (``None``: not checked)."""

    tags: set[int] | None = None
    stores: set[int] | None = None
    regions: set[int] | None = None
    guides: set[int] | None = None
    segments: dict[int, dict[str, Any]] | None = None  # id -> its current definition (for cycles)
    self_id: int | None = None  # the segment being edited


@dataclass
class Problems:
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


class InvalidDefinition(ValueError):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _positive(p: Problems, path: str, value: Any, *, maximum: int = 36_500, zero: bool = False) -> None:
    low = 0 if zero else 1
    if not _int(value) or not low <= value <= maximum:
        p.add(path, f"must be a whole number from {low} to {maximum}")


def _window(p: Problems, path: str, w: Any, *, required: bool = True) -> None:
    if w is None:
        if required:
            p.add(path, 'a window is required: {"last_days": N} or {"from": date, "to": date}')
        return
    if not isinstance(w, dict):
        p.add(path, "must be an object")
        return
    if "last_days" in w:
        _positive(p, f"{path}.last_days", w["last_days"])
        extra = set(w) - {"last_days"}
    else:
        start, end = _date(w.get("from")), _date(w.get("to"))
        if start is None:
            p.add(f"{path}.from", "must be a date (YYYY-MM-DD)")
        if end is None:
            p.add(f"{path}.to", "must be a date (YYYY-MM-DD)")
        if start and end and end < start:
            p.add(f"{path}.to", "must not be before from")
        extra = set(w) - {"from", "to"}
    for key in sorted(extra):
        p.add(f"{path}.{key}", "unknown field")


def _filters(p: Problems, path: str, filters: Any) -> None:
    if filters is None:
        return
    if not isinstance(filters, list):
        p.add(path, "must be a list of filters")
        return
    for i, f in enumerate(filters):
        here = f"{path}.{i}"
        if not isinstance(f, dict):
            p.add(here, "must be an object")
            continue
        if ("property" in f) == ("column" in f):
            p.add(here, "give either property (a key of the event's properties) or column")
        elif "property" in f and not (isinstance(f["property"], str) and NAME.match(f["property"])):
            p.add(f"{here}.property", "must be a name of letters, digits and _")
        elif "column" in f and f["column"] not in EVENT_COLUMNS_FILTERABLE:
            p.add(f"{here}.column", f"must be one of {', '.join(EVENT_COLUMNS_FILTERABLE)}")
        op = f.get("op", "=")
        if op not in FILTER_OPS:
            p.add(f"{here}.op", f"must be one of {' '.join(FILTER_OPS)}")
        value = f.get("value")
        if op == "in":
            if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
                p.add(f"{here}.value", "must be a non-empty list of texts or numbers")
        elif op in ("=", "!="):
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                p.add(f"{here}.value", "must be a text or a number")
        elif not _num(value):
            p.add(f"{here}.value", "must be a number")


def _event_type(p: Problems, path: str, value: Any) -> None:
    if not (isinstance(value, str) and EVENT_TYPE.match(value)):
        p.add(path, "must be an event type (view, share, order, … or a custom type in lower case)")


def _ids(p: Problems, path: str, values: Any, known: set[int] | None, what: str, *, maximum: int = 10_000) -> None:
    if not isinstance(values, list) or not values:
        p.add(path, "must be a non-empty list")
        return
    if len(values) > maximum:
        p.add(path, f"at most {maximum} values")
        return
    if not all(_int(v) for v in values):
        p.add(path, "must be a list of ids (whole numbers)")
        return
    if known is not None:
        missing = sorted(set(values) - known)
        if missing:
            p.add(path, f"unknown {what}: {', '.join(map(str, missing[:10]))}")


def _leaf(p: Problems, path: str, node: dict[str, Any], known: Known, seen: tuple[int, ...]) -> None:
    kind = node["type"]
    if kind == "attribute":
        name = node.get("field")
        if name not in ATTRIBUTES:
            p.add(f"{path}.field", f"must be one of {', '.join(ATTRIBUTES)}")
            return
        values = node.get("in")
        if name in ID_ATTRIBUTES:
            _ids(p, f"{path}.in", values, getattr(known, f"{name}s"), f"{name}s")
        elif not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            p.add(f"{path}.in", "must be a non-empty list of texts")
    elif kind == "tags":
        if node.get("match", "any") not in ("any", "all", "none"):
            p.add(f"{path}.match", "must be any, all or none")
        _ids(p, f"{path}.tags", node.get("tags"), known.tags, "tags")
    elif kind == "consent":
        if node.get("channel") not in CHANNELS:
            p.add(f"{path}.channel", f"must be one of {', '.join(CHANNELS)}")
        if not isinstance(node.get("granted", True), bool):
            p.add(f"{path}.granted", "must be true or false")
    elif kind == "birthday":
        if ("within_days" in node) == ("month" in node):
            p.add(path, "give either within_days or month")
        elif "within_days" in node:
            _positive(p, f"{path}.within_days", node["within_days"], maximum=366, zero=True)
        elif not _int(node["month"]) or not 1 <= node["month"] <= 12:
            p.add(f"{path}.month", "must be a month from 1 to 12")
    elif kind == "event":
        _event_type(p, f"{path}.event", node.get("event"))
        has_count, has_sum = "count" in node, "sum" in node
        if has_count == has_sum:
            p.add(path, "give either count or sum")
        elif has_count:
            c = node["count"]
            if not isinstance(c, dict) or c.get("op") not in COMPARISONS:
                p.add(f"{path}.count.op", f"must be one of {' '.join(COMPARISONS)}")
            elif not _int(c.get("value")) or c["value"] < 0:
                p.add(f"{path}.count.value", "must be a whole number, 0 or more")
        else:
            s = node["sum"]
            if not isinstance(s, dict):
                p.add(f"{path}.sum", "must be an object")
            else:
                of = s.get("of")
                if not isinstance(of, str) or not (of in ("amount_fen", "quantity") or of.startswith("properties.")):
                    p.add(f"{path}.sum.of", "must be amount_fen, quantity or properties.<name>")
                elif of.startswith("properties.") and not NAME.match(of.removeprefix("properties.")):
                    p.add(f"{path}.sum.of", "the property must be a name of letters, digits and _")
                if s.get("op") not in COMPARISONS:
                    p.add(f"{path}.sum.op", f"must be one of {' '.join(COMPARISONS)}")
                if not _num(s.get("value")):
                    p.add(f"{path}.sum.value", "must be a number")
        _window(p, f"{path}.window", node.get("window"), required=False)
        _filters(p, f"{path}.where", node.get("where"))
    elif kind in ("first_time", "last_time"):
        _event_type(p, f"{path}.event", node.get("event"))
        _window(p, f"{path}.window", node.get("window"))
        _filters(p, f"{path}.where", node.get("where"))
    elif kind == "stopped":
        _event_type(p, f"{path}.event", node.get("event"))
        _window(p, f"{path}.did", node.get("did"))
        _positive(p, f"{path}.not_in_last_days", node.get("not_in_last_days"))
        _filters(p, f"{path}.where", node.get("where"))
    elif kind == "rfm":
        if node.get("score") not in ("r", "f", "m"):
            p.add(f"{path}.score", "must be r, f or m")
        low, high = node.get("min", 0), node.get("max", 5)
        if not _int(low) or not 0 <= low <= 5:
            p.add(f"{path}.min", "must be a score from 0 to 5")
        if not _int(high) or not 0 <= high <= 5:
            p.add(f"{path}.max", "must be a score from 0 to 5")
        if _int(low) and _int(high) and low > high:
            p.add(f"{path}.max", "must not be below min")
    elif kind == "segment":
        ref = node.get("segment")
        if not _int(ref):
            p.add(f"{path}.segment", "must be a segment id")
        elif ref == known.self_id or ref in seen:
            p.add(f"{path}.segment", "a segment cannot contain itself (directly or through others)")
        elif known.segments is not None:
            if ref not in known.segments:
                p.add(f"{path}.segment", f"unknown segment {ref}")
            else:
                inner = Problems()
                _node(inner, "root", known.segments[ref].get("root"), known, (*seen, ref), 0)
                if any("contain itself" in m for _, m in inner.items):
                    p.add(f"{path}.segment", "a segment cannot contain itself (directly or through others)")
    elif kind == "list":
        _ids(p, f"{path}.customers", node.get("customers"), None, "customers", maximum=MAX_LIST)
    elif kind == "bucket":
        modulo = node.get("modulo")
        _positive(p, f"{path}.modulo", modulo, maximum=10_000)
        buckets = node.get("buckets")
        if not isinstance(buckets, list) or not buckets or not all(_int(b) for b in buckets):
            p.add(f"{path}.buckets", "must be a non-empty list of bucket numbers")
        elif _int(modulo) and any(not 0 <= b < modulo for b in buckets):
            p.add(f"{path}.buckets", "each bucket must be from 0 to modulo - 1")
        if not _int(node.get("salt", 0)) or not 0 <= node.get("salt", 0) < 1_000_000:
            p.add(f"{path}.salt", "must be a whole number from 0 to 999999")


def _node(p: Problems, path: str, node: Any, known: Known, seen: tuple[int, ...], depth: int) -> None:
    if depth > MAX_DEPTH:
        p.add(path, f"nested more than {MAX_DEPTH} levels")
        return
    if not isinstance(node, dict):
        p.add(path, "must be an object with a type")
        return
    kind = node.get("type")
    if kind in ("and", "or"):
        children = node.get("children")
        if not isinstance(children, list) or not children:
            p.add(f"{path}.children", "must be a non-empty list of conditions")
            return
        for i, child in enumerate(children):
            _node(p, f"{path}.children.{i}", child, known, seen, depth + 1)
    elif kind == "not":
        _node(p, f"{path}.child", node.get("child"), known, seen, depth + 1)
    elif kind in LEAVES:
        _leaf(p, path, node, known, seen)
    else:
        p.add(f"{path}.type", f"must be one of {', '.join(GROUPS + LEAVES)}")


def validate(definition: Any, known: Known | None = None) -> list[tuple[str, str]]:
    """Every problem of ``definition`` as ``(path, message)``; empty when it is valid."""
    p = Problems()
    if not isinstance(definition, dict):
        return [("", 'a definition is an object {"version": 1, "root": …}')]
    if definition.get("version") != VERSION:
        p.add("version", f"must be {VERSION}")
    if "root" not in definition:
        p.add("root", "is required")
    else:
        _node(p, "root", definition["root"], known or Known(), (), 0)
    return p.items


def check(definition: Any, known: Known | None = None) -> dict[str, Any]:
    """``definition`` when valid; raises :class:`InvalidDefinition` with every problem otherwise."""
    problems = validate(definition, known)
    if problems:
        raise InvalidDefinition(problems)
    return definition


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a (valid) tree, depth first."""
    yield node
    if node["type"] in ("and", "or"):
        for child in node["children"]:
            yield from walk(child)
    elif node["type"] == "not":
        yield from walk(node["child"])


def referenced_segments(definition: dict[str, Any]) -> set[int]:
    return {n["segment"] for n in walk(definition["root"]) if n["type"] == "segment"}


def bucket_of(customer_id: int, modulo: int, salt: int = 0) -> int:
    """The random bucket of a customer: a stable multiplicative hash, the same in every engine."""
    return ((customer_id + salt) * 2654435761) % 4294967296 % modulo
