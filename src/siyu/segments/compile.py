"""Compile a (valid) segment definition to one SQL query over the lake's tables.

The query reads four tables — ``customers``, ``customer_tags``, ``consents`` (the facts snapshot)
and ``events`` — that the engine exposes for one brand (``siyu.segments.engine``), and returns the
``customer_id`` of every member. It is generated once per definition and run on DuckDB or Spark
SQL; the two :class:`Dialect` objects differ only in parameter markers, JSON access and timestamp
literals. Texts from a definition are always bound parameters; numbers, ids and timestamps are
inlined only after the validation (``siyu.segments.dsl``) proved them numbers, ids and dates.

Semantics that matter for correctness:

* Rolling windows end at ``now`` (the compile time, pinned by the caller) and start ``N`` days
  before it; date windows cover whole days in the brand's time zone (``to`` inclusive).
* A behaviour condition that zero events satisfy (``count <= 2``, ``sum < 100``, ``count = 0``)
  includes the customers with no such event: it compiles to ``NOT IN`` (customers whose aggregate
  breaks it) rather than ``IN``.
* Membership of another segment inlines that segment's current definition (no cycles: the
  validation refuses them), so it is always as fresh as the query itself.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HASH_MULTIPLIER = 2654435761
HASH_SPACE = 4294967296


@dataclass(frozen=True)
class Dialect:
    name: str

    def param(self, key: str) -> str:
        return f"${key}" if self.name == "duckdb" else f":{key}"

    def json_text(self, column: str, prop: str) -> str:
        fn = "json_extract_string" if self.name == "duckdb" else "get_json_object"
        return f"{fn}({column}, '$.{prop}')"

    @property
    def at(self) -> str:
        """The events' time column (``at`` is a keyword in DuckDB: quoted)."""
        return '"at"' if self.name == "duckdb" else "`at`"

    def timestamp(self, value: dt.datetime) -> str:
        kind = "TIMESTAMP" if self.name == "duckdb" else "TIMESTAMP_NTZ"
        return f"{kind} '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")
DIALECTS = {"duckdb": DUCKDB, "spark": SPARK}


@dataclass(frozen=True)
class Summarised:
    """A table of the behaviour summary a query reads (ADR 0020): the summary rows of one event
    type on the summarised days that hold hours from ``first`` (``None``: from the first day) to
    ``last`` (exclusive) — the whole hours of a window. The engine binds ``table`` to those days'
    files of that type only; the query still filters the rows by type and hour."""

    table: str
    type: str
    first: dt.datetime | None
    last: dt.datetime

    @property
    def first_day(self) -> str | None:
        return None if self.first is None else self.first.date().isoformat()

    @property
    def last_day(self) -> str:
        return (self.last - dt.timedelta(microseconds=1)).date().isoformat()


@dataclass(frozen=True)
class Query:
    sql: str
    params: dict[str, Any]
    dialect: str
    since_day: str | None = None  # the first day partition the query can need (None: every day)
    types: frozenset[str] | None = None  # the event types it reads (None: any)
    # the days whose events it reads for partial hours (a window's ends): never from the summary
    raw_days: frozenset[str] = frozenset()
    summaries: tuple[Summarised, ...] = ()  # the summary tables it reads


ATTRIBUTE_COLUMN = {
    "store": "store_id",
    "region": "region_id",
    "city": "city",
    "guide": "guide_id",
    "tier": "tier",
    "lifecycle": "lifecycle",
    "source": "source",
}

_OPS = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "=": "=", "!=": "<>"}


def _zero_satisfies(op: str, value: float) -> bool:
    return {
        ">=": value <= 0,
        ">": value < 0,
        "<=": value >= 0,
        "<": value > 0,
        "=": value == 0,
        "!=": value != 0,
    }[op]


def _event_op(n: dict[str, Any]) -> tuple[str, float]:
    test = n["count"] if "count" in n else n["sum"]
    return test["op"], test["value"]


def _at_least_one(n: dict[str, Any]) -> bool:
    """A count condition every customer with one such event meets (``count >= 1``, ``count > 0``)."""
    if "count" not in n:
        return False
    op, value = n["count"]["op"], n["count"]["value"]
    return (op == ">=" and value <= 1) or (op == ">" and value <= 0)


SUMMARY_MEASURES = ("amount_fen", "quantity")  # the sums the behaviour summary holds (segments.summary)
FACT_LEAVES = frozenset({"attribute", "tags", "consent", "birthday", "rfm", "list", "bucket"})
EVENT_LEAVES = frozenset({"event", "first_time", "last_time", "stopped", "segment"})


def _summable(n: dict[str, Any]) -> bool:
    """A count or a sum of a summarised column, without filters: the summary can answer it."""
    return not n.get("where") and ("sum" not in n or n["sum"]["of"] in SUMMARY_MEASURES)


def _facts_only(n: dict[str, Any]) -> bool:
    """A condition on the customer's facts alone (attributes, tags, consent...): no event read."""
    if n["type"] in ("and", "or"):
        return all(_facts_only(child) for child in n["children"])
    if n["type"] == "not":
        return _facts_only(n["child"])
    return n["type"] in FACT_LEAVES


def _facts_free(n: dict[str, Any]) -> bool:
    """No condition on the customer's row: only her id is read (events, other segments)."""
    return not any(node["type"] in FACT_LEAVES for node in _walk(n))


def _reads_events(n: dict[str, Any]) -> bool:
    return any(node["type"] in EVENT_LEAVES for node in _walk(n))


def _floor_hour(value: dt.datetime) -> dt.datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(value: dt.datetime) -> dt.datetime:
    floor = _floor_hour(value)
    return floor if floor == value else floor + dt.timedelta(hours=1)


def _floor_day(value: dt.datetime) -> dt.datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(value: dt.datetime) -> dt.datetime:
    floor = _floor_day(value)
    return floor if floor == value else floor + dt.timedelta(days=1)


def _num(value: float) -> str:
    return str(int(value)) if isinstance(value, int) or float(value).is_integer() else repr(float(value))


@dataclass
class _Compiler:
    dialect: Dialect
    now: dt.datetime  # UTC, naive
    tz: dt.tzinfo
    resolve: Callable[[int], dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    aliases: int = 0
    ctes: list[tuple[str, str]] = field(default_factory=list)  # (name, query) of candidate sets
    within: list[str] = field(default_factory=list)  # the candidate sets enclosing the node compiled now
    depth: int = 0  # how deep in segments inlined in segments the select compiled now is
    raw_days: set[str] = field(default_factory=set)  # days of partial hours read (Query.raw_days)
    negated: int = 0  # how many ``not`` enclose the node compiled now, within its select
    summaries: dict[tuple[str, dt.datetime | None, dt.datetime], Summarised] = field(default_factory=dict)

    # --- helpers ---
    def bind(self, value: Any) -> str:
        key = f"p{len(self.params)}"
        self.params[key] = value
        return self.dialect.param(key)

    def ts(self, value: dt.datetime) -> str:
        return self.dialect.timestamp(value)

    def _utc(self, day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(), tzinfo=self.tz)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    def window(self, w: dict[str, Any] | None) -> list[str]:
        at = self.dialect.at
        if w is None:
            return [f"{at} <= {self.ts(self.now)}"]
        if "last_days" in w:
            return [f"{at} >= {self.ts(self.now - dt.timedelta(days=w['last_days']))}", f"{at} <= {self.ts(self.now)}"]
        start = self._utc(dt.date.fromisoformat(w["from"]))
        end = self._utc(dt.date.fromisoformat(w["to"]) + dt.timedelta(days=1))
        return [f"{at} >= {self.ts(start)}", f"{at} < {self.ts(end)}"]

    def filters(self, where: list[dict[str, Any]] | None) -> list[str]:
        out = []
        for f in where or []:
            op, value = f.get("op", "="), f["value"]
            values = value if op == "in" else [value]
            numeric = all(isinstance(v, int | float) for v in values)
            if "column" in f:
                column = f["column"]
                text_column = column == "content_id"
                if text_column or not numeric:
                    expr = column if text_column else f"CAST({column} AS VARCHAR)"
                    rendered = [self.bind(str(v)) for v in values]
                else:
                    expr, rendered = column, [_num(v) for v in values]
            else:
                text = self.dialect.json_text("properties", f["property"])
                if numeric:
                    expr, rendered = f"TRY_CAST({text} AS DOUBLE)", [_num(v) for v in values]
                else:
                    expr, rendered = text, [self.bind(str(v)) for v in values]
            if op == "in":
                out.append(f"{expr} IN ({', '.join(rendered)})")
            else:
                out.append(f"{expr} {_OPS[op]} {rendered[0]}")
        return out

    def restrict(self) -> list[str]:
        """Inside an ``and`` with conditions on the facts: only its candidates' events matter (who
        is not a candidate is out whatever her events), so the subqueries read no one else's."""
        return [f"customer_id IN (SELECT customer_id FROM {self.within[-1]})"] if self.within else []

    def events_where(self, node: dict[str, Any], window: dict[str, Any] | None, *, use_window: bool = True) -> str:
        parts = ["customer_id IS NOT NULL", f"type = {self.bind(node['event'])}"]
        if use_window:
            parts += self.window(window)
        parts += self.filters(node.get("where"))
        parts += self.restrict()
        return " AND ".join(parts)

    def summary_table(self, kind: str, first: dt.datetime | None, last: dt.datetime) -> str:
        """The name of the summary table of ``kind``'s rows in the hours ``[first, last)`` (one per
        type and span, shared by the conditions that read the same)."""
        key = (kind, first, last)
        if key not in self.summaries:
            self.summaries[key] = Summarised(f"event_days_{len(self.summaries) + 1}", kind, first, last)
        return self.summaries[key].table

    def bounds(self, w: dict[str, Any] | None) -> tuple[dt.datetime | None, dt.datetime, bool]:
        """A window as (start or ``None``, end, whether the end is included)."""
        if w is None:
            return None, self.now, True
        if "last_days" in w:
            return self.now - dt.timedelta(days=w["last_days"]), self.now, True
        start = self._utc(dt.date.fromisoformat(w["from"]))
        return start, self._utc(dt.date.fromisoformat(w["to"]) + dt.timedelta(days=1)), False

    def event_rows(self, nodes: list[dict[str, Any]]) -> str | None:
        """The rows ``(customer_id, n, <sums>)`` of the events ``nodes`` count or sum (they share
        type, window and filters), read from the behaviour summary where it can answer (ADR 0020):
        the whole hours of the window from summary tables (:meth:`summary_reads`: the type's rows
        on the days of those hours that have a current summary), and the whole window from
        ``events_unsummarised`` (every other day's events, and the WAL's) — which holds the partial
        hours at its ends, their days being :attr:`Query.raw_days` (the engine never reads those
        days from the summary). Exact whichever days are summarised. ``None`` when the summary
        cannot answer (filters, sums of properties, under an hour)."""
        if not all(_summable(n) for n in nodes):
            return None
        window = nodes[0].get("window")
        start, end, included = self.bounds(window)
        first = None if start is None else _ceil_hour(start)
        last = _floor_hour(end + dt.timedelta(microseconds=1)) if included else _floor_hour(end)
        if first is not None and first >= last:
            return None
        if start is not None and first is not None and start < first:  # the hour it starts in
            self.raw_days.add(start.date().isoformat())
        if last < end or (included and last == end):  # the hour it ends in
            self.raw_days.add(last.date().isoformat())
        measures = sorted({n["sum"]["of"] for n in nodes if "sum" in n})
        summed = ", ".join(["customer_id", "events AS n", *measures])
        raw = ", ".join(["customer_id", "CAST(1 AS BIGINT) AS n", *measures])

        def select(table: str, columns: str, conditions: list[str]) -> str:
            where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            return f"SELECT {columns} FROM {table}{where}"

        # a summary table holds one type's rows, all with a customer
        parts = [select(t, summed, hours + self.restrict()) for t, hours in self.summary_reads(nodes[0], first, last)]
        who = ["customer_id IS NOT NULL", f"type = {self.bind(nodes[0]['event'])}"]
        parts.append(select("events_unsummarised", raw, who + self.window(window) + self.restrict()))
        return " UNION ALL ".join(parts)

    def summary_reads(
        self, n: dict[str, Any], first: dt.datetime | None, last: dt.datetime
    ) -> list[tuple[str, list[str]]]:
        """The summary tables of the whole hours ``[first, last)`` of ``n``'s event type, each
        with the conditions on ``hour`` it needs: the whole days in one table read without any
        (every row of those days is in the window; the engines then see no filter to estimate, and
        build their hash tables on the candidates, not on the rows), the hours of the first and
        last day each in a table of that day alone, filtered."""
        kind = n["event"]

        def hour(op: str, value: dt.datetime) -> str:
            return f"hour {op} {self.ts(value)}"

        body_first = None if first is None else _ceil_day(first)
        body_last = _floor_day(last)
        if first is not None and body_first is not None and body_first > body_last:  # within one day
            return [(self.summary_table(kind, first, last), [hour(">=", first), hour("<", last)])]
        reads = []
        if first is not None and body_first is not None and first < body_first:
            reads.append((self.summary_table(kind, first, body_first), [hour(">=", first)]))
        if body_first is None or body_first < body_last:
            reads.append((self.summary_table(kind, body_first, body_last), []))
        if body_last < last:
            reads.append((self.summary_table(kind, body_last, last), [hour("<", last)]))
        return reads

    # --- nodes ---
    def node(self, n: dict[str, Any], c: str) -> str:
        kind = n["type"]
        narrowed = self.narrowed(n, c)
        if narrowed is not None:
            name, joined = narrowed
            return f"({c}.customer_id IN (SELECT customer_id FROM {name}) AND {joined})"
        if kind in ("and", "or"):
            joined = f" {kind.upper()} ".join(self.children(n["children"], kind, c))
            return f"({joined})"
        if kind == "not":
            self.negated += 1
            try:
                return f"(NOT {self.node(n['child'], c)})"
            finally:
                self.negated -= 1
        method: Callable[[dict[str, Any], str], str] = getattr(self, f"leaf_{kind}")
        return method(n, c)

    def known(self, test: str) -> str:
        """A test of a facts column that may be NULL, as a condition: false where the column is
        NULL. Outside any ``not`` a NULL already leaves the row out of its select, so the bare test
        is kept — the engines prune the facts' row groups by it (a ``COALESCE`` hides it from
        them); under a ``not``, ``COALESCE(…, FALSE)`` keeps ``NOT`` of it true."""
        return f"COALESCE({test}, FALSE)" if self.negated else test

    def leaf_attribute(self, n: dict[str, Any], c: str) -> str:
        column = f"{c}.{ATTRIBUTE_COLUMN[n['field']]}"
        if n["field"] in ("store", "region", "guide"):
            values = ", ".join(str(int(v)) for v in n["in"])
        else:
            values = ", ".join(self.bind(v) for v in n["in"])
        return self.known(f"{column} IN ({values})")

    def leaf_tags(self, n: dict[str, Any], c: str) -> str:
        tags = sorted(set(n["tags"]))
        ids = ", ".join(str(int(t)) for t in tags)
        match = n.get("match", "any")
        if match == "all":
            sub = (
                f"SELECT customer_id FROM customer_tags WHERE tag_id IN ({ids}) "
                f"GROUP BY customer_id HAVING COUNT(DISTINCT tag_id) = {len(tags)}"
            )
        else:
            sub = f"SELECT customer_id FROM customer_tags WHERE tag_id IN ({ids})"
        return f"({c}.customer_id {'NOT IN' if match == 'none' else 'IN'} ({sub}))"

    def leaf_consent(self, n: dict[str, Any], c: str) -> str:
        sub = f"SELECT customer_id FROM consents WHERE channel = {self.bind(n['channel'])} AND granted"
        return f"({c}.customer_id {'IN' if n.get('granted', True) else 'NOT IN'} ({sub}))"

    def leaf_birthday(self, n: dict[str, Any], c: str) -> str:
        if "month" in n:
            return self.known(f"{c}.birth_month = {int(n['month'])}")
        today = self.now.replace(tzinfo=dt.UTC).astimezone(self.tz).date()
        days = sorted({(d.month, d.day) for d in (today + dt.timedelta(days=i) for i in range(n["within_days"] + 1))})
        if (2, 28) in days and not _leap(today.year) and (3, 1) in days:
            days.append((2, 29))  # a 29 February birthday is kept on 28 February–1 March in a common year
        codes = ", ".join(str(m * 100 + d) for m, d in days)
        return self.known(f"({c}.birth_month * 100 + {c}.birth_day) IN ({codes})")

    def children(self, nodes: list[dict[str, Any]], kind: str, c: str) -> list[str]:
        """The predicates of a group's children. Behaviour conditions on the same events (same
        type, window and filters) that each need an event (``IN``) share one pass over the events:
        ``IN (… HAVING a) AND IN (… HAVING b)`` is ``IN (… HAVING a AND b)`` (``OR`` alike), as a
        hand-written query would do it."""
        out: list[str | list[dict[str, Any]]] = []
        shared: dict[str, list[dict[str, Any]]] = {}
        for child in nodes:
            if child["type"] == "event" and not _zero_satisfies(*_event_op(child)):
                key = json.dumps([child["event"], child.get("window"), child.get("where")], sort_keys=True)
                if key in shared:
                    shared[key].append(child)
                    continue
                shared[key] = [child]
                out.append(shared[key])
            else:
                out.append(self.node(child, c))
        return [part if isinstance(part, str) else self.events_in(part, kind, c) for part in out]

    def narrowed(self, n: dict[str, Any], c: str) -> tuple[str, str] | None:
        """An ``and`` with conditions on the facts and others that read events: the candidate set
        of the former and the predicates of the latter, narrowed to it (``None`` otherwise)."""
        if n["type"] != "and":
            return None
        facts = [child for child in n["children"] if _facts_only(child)]
        rest = [child for child in n["children"] if not _facts_only(child)]
        if not facts or not any(_reads_events(child) for child in rest):
            return None
        name = self.candidates(facts)
        self.within.append(name)
        try:
            return name, " AND ".join(self.children(rest, "and", c))
        finally:
            self.within.pop()

    def candidates(self, facts: list[dict[str, Any]]) -> str:
        """A named set (a CTE of the query) of the customers meeting the facts conditions of an
        ``and``: evaluated once, it narrows every events subquery inside that ``and``."""
        self.aliases += 1
        a = f"c{self.aliases}"
        name = f"siyu_cand{len(self.ctes) + 1}"
        negated, self.negated = self.negated, 0  # the set's own WHERE: a positive context
        try:
            where = " AND ".join(self.node(f, a) for f in facts)
        finally:
            self.negated = negated
        self.ctes.append((name, f"SELECT {a}.customer_id FROM customers {a} WHERE {where}"))
        return name

    def summed_test(self, n: dict[str, Any]) -> str:
        """:meth:`event_test` over :meth:`event_rows` (each row a count ``n`` and sums)."""
        agg = "SUM(n)" if "count" in n else f"COALESCE(SUM({n['sum']['of']}), 0)"
        op, value = _event_op(n)
        return f"{agg} {_OPS[op]} {_num(value)}"

    def event_test(self, n: dict[str, Any]) -> str:
        if "count" in n:
            agg = "COUNT(*)"
        else:
            of = n["sum"]["of"]
            if of.startswith("properties."):
                measure = f"TRY_CAST({self.dialect.json_text('properties', of.removeprefix('properties.'))} AS DOUBLE)"
            else:
                measure = of
            agg = f"COALESCE(SUM({measure}), 0)"
        op, value = _event_op(n)
        return f"{agg} {_OPS[op]} {_num(value)}"

    def events_in(self, nodes: list[dict[str, Any]], kind: str, c: str) -> str:
        """Customers with events meeting every (``and``) or any (``or``) of ``nodes``' tests, which
        share their events (type, window, filters) and all need at least one event."""
        rows = self.event_rows(nodes)
        if rows is not None:
            if all(_at_least_one(n) for n in nodes):
                return f"({c}.customer_id IN (SELECT customer_id FROM ({rows}) e))"
            tests = f" {kind.upper()} ".join(f"({self.summed_test(n)})" for n in nodes)
            return f"({c}.customer_id IN (SELECT customer_id FROM ({rows}) e GROUP BY customer_id HAVING {tests}))"
        where = self.events_where(nodes[0], nodes[0].get("window"))
        if all(_at_least_one(n) for n in nodes):  # "did it at all": no grouping needed
            return f"({c}.customer_id IN (SELECT customer_id FROM events WHERE {where}))"
        tests = f" {kind.upper()} ".join(f"({self.event_test(n)})" for n in nodes)
        sub = f"SELECT customer_id FROM events WHERE {where} GROUP BY customer_id HAVING {tests}"
        return f"({c}.customer_id IN ({sub}))"

    def leaf_event(self, n: dict[str, Any], c: str) -> str:
        op, value = _event_op(n)
        if not _zero_satisfies(op, value):
            return self.events_in([n], "and", c)
        rows = self.event_rows([n])
        if rows is not None:
            sub = f"SELECT customer_id FROM ({rows}) e GROUP BY customer_id HAVING NOT ({self.summed_test(n)})"
            return f"({c}.customer_id NOT IN ({sub}))"
        where = self.events_where(n, n.get("window"))
        sub = f"SELECT customer_id FROM events WHERE {where} GROUP BY customer_id HAVING NOT ({self.event_test(n)})"
        return f"({c}.customer_id NOT IN ({sub}))"

    def _first_last(self, n: dict[str, Any], c: str, fn: str) -> str:
        where = self.events_where(n, None, use_window=False)
        at = self.dialect.at
        bounds = [f"{fn}({at}){b.removeprefix(at)}" for b in self.window(n["window"])]
        sub = f"SELECT customer_id FROM events WHERE {where} GROUP BY customer_id HAVING {' AND '.join(bounds)}"
        return f"({c}.customer_id IN ({sub}))"

    def leaf_first_time(self, n: dict[str, Any], c: str) -> str:
        return self._first_last(n, c, "MIN")

    def leaf_last_time(self, n: dict[str, Any], c: str) -> str:
        # the last time so far: events after now (clock skew) do not count
        where = self.events_where(n, None)
        at = self.dialect.at
        bounds = [f"MAX({at}){b.removeprefix(at)}" for b in self.window(n["window"])]
        sub = f"SELECT customer_id FROM events WHERE {where} GROUP BY customer_id HAVING {' AND '.join(bounds)}"
        return f"({c}.customer_id IN ({sub}))"

    def leaf_stopped(self, n: dict[str, Any], c: str) -> str:
        did = self.events_where(n, n["did"])
        since = self.events_where(n, {"last_days": n["not_in_last_days"]})
        return (
            f"({c}.customer_id IN (SELECT customer_id FROM events WHERE {did}) "
            f"AND {c}.customer_id NOT IN (SELECT customer_id FROM events WHERE {since}))"
        )

    def leaf_rfm(self, n: dict[str, Any], c: str) -> str:
        column = f"{c}.rfm_{n['score']}"
        return f"({column} BETWEEN {int(n.get('min', 0))} AND {int(n.get('max', 5))})"

    def leaf_segment(self, n: dict[str, Any], c: str) -> str:
        inner = self.resolve(n["segment"])
        return f"({c}.customer_id IN ({self.select(inner['root'])}))"

    def leaf_list(self, n: dict[str, Any], c: str) -> str:
        ids = ", ".join(str(int(i)) for i in sorted(set(n["customers"])))
        return f"({c}.customer_id IN ({ids}))"

    def leaf_bucket(self, n: dict[str, Any], c: str) -> str:
        salt, modulo = int(n.get("salt", 0)), int(n["modulo"])
        buckets = ", ".join(str(int(b)) for b in sorted(set(n["buckets"])))
        return f"(((({c}.customer_id + {salt}) * {HASH_MULTIPLIER}) % {HASH_SPACE}) % {modulo} IN ({buckets}))"

    def select(self, root: dict[str, Any]) -> str:
        self.aliases += 1
        c = f"c{self.aliases}"
        known = len(self.ctes)
        self.depth += 1
        negated, self.negated = self.negated, 0  # a select's WHERE: its own positive context
        try:
            rest = root["children"] if root["type"] == "and" else []
            narrowed = self.narrowed(root, c) if all(_facts_free(r) for r in rest if not _facts_only(r)) else None
            if narrowed is not None:  # the candidates are the rows: no second pass over the customers
                body = f"SELECT {c}.customer_id FROM {narrowed[0]} {c} WHERE {narrowed[1]}"
            else:
                body = f"SELECT {c}.customer_id FROM customers {c} WHERE {self.node(root, c)}"
        finally:
            self.depth -= 1
            self.negated = negated
        if self.depth == 0 and len(self.ctes) > known:  # the candidate sets, at the top of the query
            named = ", ".join(f"{name} AS ({sql})" for name, sql in self.ctes[known:])
            return f"WITH {named} {body}"
        return body


@dataclass(frozen=True)
class Behaviour:
    types: frozenset[str]  # the event types read
    since: dt.datetime | None  # the earliest event time that matters (None: all history)
    rolling: tuple[tuple[str, int], ...]  # (type, days) of every rolling boundary


def read_by(
    definition: dict[str, Any], now: dt.datetime, tz: dt.tzinfo, resolve: Callable[[int], dict[str, Any]]
) -> Behaviour:
    """What the events part of ``definition`` reads at ``now`` (UTC, naive): the event types, the
    earliest event time any condition can see (``None``: all history) and the rolling boundaries.
    Events before that time cannot change the members, so an engine may leave those days unread."""
    types: set[str] = set()
    starts: list[dt.datetime | None] = []
    rolling: set[tuple[str, int]] = set()

    def start(w: dict[str, Any] | None, kind: str) -> dt.datetime | None:
        if w is None:
            return None
        if "last_days" in w:
            rolling.add((kind, int(w["last_days"])))
            return now - dt.timedelta(days=int(w["last_days"]))
        local = dt.datetime.combine(dt.date.fromisoformat(w["from"]), dt.time(), tzinfo=tz)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    def visit(root: dict[str, Any], seen: tuple[int, ...]) -> None:
        for n in _walk(root):
            kind = n["type"]
            if kind == "segment" and n["segment"] not in seen:
                visit(resolve(n["segment"])["root"], (*seen, n["segment"]))
            elif kind in ("event", "last_time"):
                types.add(n["event"])
                starts.append(start(n.get("window"), n["event"]))
            elif kind == "first_time":  # the first time ever: all history
                types.add(n["event"])
                start(n["window"], n["event"])
                starts.append(None)
            elif kind == "stopped":
                types.add(n["event"])
                starts.append(start(n["did"], n["event"]))
                starts.append(start({"last_days": n["not_in_last_days"]}, n["event"]))

    visit(definition["root"], ())
    since = None if not starts or any(s is None for s in starts) else min(s for s in starts if s is not None)
    return Behaviour(frozenset(types), since, tuple(sorted(rolling)))


def _walk(node: dict[str, Any]) -> Any:
    yield node
    if node["type"] in ("and", "or"):
        for child in node["children"]:
            yield from _walk(child)
    elif node["type"] == "not":
        yield from _walk(node["child"])


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def compile_definitions(
    definitions: list[dict[str, Any]],
    *,
    dialect: str = "duckdb",
    now: dt.datetime,
    tz: dt.tzinfo | str = "Asia/Shanghai",
    resolve: Callable[[int], dict[str, Any]] | None = None,
) -> tuple[list[str], dict[str, Any], tuple[Summarised, ...]]:
    """Several definitions compiled with one set of parameters (an overlap runs them together), and
    the summary tables they name."""

    def _missing(segment_id: int) -> dict[str, Any]:
        raise LookupError(f"segment {segment_id} is referred to but no resolver was given")

    zone = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    compiler = _Compiler(DIALECTS[dialect], now, zone, resolve or _missing)
    sqls = [compiler.select(d["root"]) for d in definitions]
    return sqls, compiler.params, tuple(compiler.summaries.values())


def compile_definition(
    definition: dict[str, Any],
    *,
    dialect: str = "duckdb",
    now: dt.datetime,
    tz: dt.tzinfo | str = "Asia/Shanghai",
    resolve: Callable[[int], dict[str, Any]] | None = None,
) -> Query:
    """The members query of a valid ``definition`` for ``dialect`` (``duckdb`` or ``spark``).
    ``resolve(segment_id)`` gives the current definition of a segment it refers to."""

    zone = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    utc_now = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo is not None else now
    compiler = _Compiler(DIALECTS[dialect], utc_now, zone, resolve or _no_segments)
    sql, params = compiler.select(definition["root"]), compiler.params
    utc = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo is not None else now
    reads = read_by(definition, utc, zone, resolve or _no_segments)
    since = reads.since
    # day partitions are UTC days; one more day before keeps any rounding on the safe side
    since_day = None if since is None else (since - dt.timedelta(days=1)).date().isoformat()
    return Query(
        sql, params, dialect, since_day, reads.types, frozenset(compiler.raw_days), tuple(compiler.summaries.values())
    )


def _no_segments(segment_id: int) -> dict[str, Any]:
    raise LookupError(f"segment {segment_id} is referred to but no resolver was given")
