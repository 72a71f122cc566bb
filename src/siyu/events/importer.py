"""Bulk import of history: an NDJSON, CSV or Parquet file of events straight into the lake (ADR 0011).

No Python per row: DuckDB reads the file, checks every rule in SQL (the first problem of a row is
reported with its line and field), resolves customers, stores, guides, products and SKUs by joins
against tables loaded once, keeps each event id once within the file, registers the ids in the
dedupe index in bulk (multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``), and writes the new
rows as Parquet parts of their day partitions, committed through the compaction journal.

Columns (a header row in CSV; keys in NDJSON; columns in Parquet): ``event_id``, ``type``, ``at``
(ISO 8601 with its zone), ``customer_id`` or an identity (NDJSON: ``customer: {kind, key, app_id}``;
CSV and Parquet: ``customer_kind``, ``customer_key``, ``customer_app_id``), ``store`` (id or code),
``guide``, ``content_id``, ``product`` (id or code), ``sku`` (id or code), ``amount_fen``,
``quantity``, ``properties`` (a flat JSON object). An identity nobody holds is reported, not
created: history never makes customers.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.events import compaction, idstore, lake, rules
from siyu.members import services as members
from siyu.platform import clock, hooks

Progress = Callable[[str, int, int | None], None]
CHUNK = 5000
FIELDS = (
    "event_id",
    "type",
    "at",
    "customer_id",
    "customer_kind",
    "customer_key",
    "customer_app_id",
    "store",
    "guide",
    "content_id",
    "product",
    "sku",
    "amount_fen",
    "quantity",
    "properties",
)


class ImportError_(Exception):
    """The file cannot be read at all (its format, its header)."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0  # repeated within the file or already stored
    bad: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS
    files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


MAX_ERRORS = 10_000
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
)


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(path: Path) -> tuple[str, int]:
    """SQL reading the file with every column as text, and the line of its first row."""
    name = path.name.lower()
    if name.endswith((".ndjson", ".jsonl", ".json")):
        columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in (*FIELDS, "customer")) + "}"
        return (
            f"read_json({_q(str(path))}, format='newline_delimited', columns={columns}, ignore_errors=true, "
            "maximum_object_size=1048576)",
            1,
        )
    if name.endswith(".csv"):
        return f"read_csv({_q(str(path))}, all_varchar=true, header=true, quote='\"', escape='\"')", 2
    if name.endswith(".parquet"):
        return f"read_parquet({_q(str(path))}, file_row_number=true)", 1
    raise ImportError_(_("Give an .ndjson (.jsonl), .csv or .parquet file."))


_NUMBERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def _load(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, frozenset[str]]:
    """The view ``src`` of the file's rows as text, with their ``line``; how many rows and which of
    :data:`FIELDS` the file has (``customer`` for NDJSON's identity object). A Parquet file is read
    where it lies (its row numbers are the lines); NDJSON and CSV are copied in first."""
    reader, first_line = _reader(path)
    in_place = reader.startswith("read_parquet")
    try:
        con.execute(f"CREATE {'VIEW' if in_place else 'TABLE'} raw AS SELECT * FROM {reader}")
        types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE raw").fetchall()}
        present = set(types) - {"file_row_number"}
    except duckdb.Error as exc:
        raise ImportError_(_("The file cannot be read: %(reason)s") % {"reason": str(exc).splitlines()[0]}) from exc
    if "event_id" not in present:
        raise ImportError_(_("The file has no event_id column."))
    line = f"file_row_number + {first_line}" if in_place else f"rowid + {first_line}"

    def col(name: str) -> str:
        """The field as text without surrounding spaces, NULL when empty. A number's text has none;
        text is trimmed only when it starts or ends with a space (TRIM copies every string it is
        given, which costs more than the rest of reading a long column)."""
        if name not in present:
            return "CAST(NULL AS VARCHAR)"
        ref = f'"{name}"'
        if types[name] in _NUMBERS:
            return f"CAST({ref} AS VARCHAR)"
        if types[name] != "VARCHAR":
            ref = f"CAST({ref} AS VARCHAR)"
        return f"NULLIF(CASE WHEN starts_with({ref}, ' ') OR ends_with({ref}, ' ') THEN trim({ref}) ELSE {ref} END, '')"

    kind, key, app = col("customer_kind"), col("customer_key"), f"COALESCE({col('customer_app_id')}, '')"
    if "customer" in present:  # NDJSON's identity object
        kind = f"COALESCE({kind}, json_extract_string(customer, '$.kind'))"
        key = f"TRIM(COALESCE({key}, json_extract_string(customer, '$.key')))"
        app = f"COALESCE(TRIM({col('customer_app_id')}), TRIM(json_extract_string(customer, '$.app_id')), '')"
    all_null = " AND ".join(f'"{c}" IS NULL' for c in present)
    con.execute(
        f"CREATE VIEW src AS SELECT {line} AS line, ({all_null}) AS unreadable, "
        + ", ".join(
            [
                f'CAST("event_id" AS VARCHAR) AS event_id, {col("type")} AS type, {col("at")} AS at_text',
                f"{col('customer_id')} AS customer_id_text, {kind} AS c_kind, {key} AS c_key",
                f"{app} AS c_app, {col('store')} AS store_text, {col('guide')} AS guide_text",
                f"CAST({col('content_id')} AS VARCHAR) AS content_id, {col('product')} AS product_text",
                f"{col('sku')} AS sku_text, {col('amount_fen')} AS amount_text, {col('quantity')} AS quantity_text",
                f"{col('properties')} AS properties",
            ]
        )
        + " FROM raw"
    )
    row = con.execute("SELECT count(*) FROM raw").fetchone()
    return (int(row[0]) if row else 0), frozenset(present)


def _checks(now: dt.datetime) -> list[tuple[str, str, str]]:
    """(condition that makes a row bad, field, reason), in the order :func:`rules.check` reports."""
    types = ", ".join(_q(t) for t in rules.TYPES)
    kinds = ", ".join(_q(k) for k in rules.IDENTITY_KINDS)
    limit = (now.astimezone(dt.UTC) + rules.MAX_FUTURE).strftime("%Y-%m-%d %H:%M:%S")

    def ref(name: str) -> str:
        text = f"{name}_text"
        return f"{text} IS NOT NULL AND NOT (COALESCE(TRY_CAST({text} AS BIGINT), 0) > 0 OR length({text}) <= 64)"

    def whole(text: str, low: int, high: int) -> str:
        return f"{text} IS NOT NULL AND NOT COALESCE(TRY_CAST({text} AS BIGINT) BETWEEN {low} AND {high}, false)"

    ref_message = _("Give an id (a positive number) or a code of 1 to 64 characters.")
    return [
        ("unreadable", "", _("This line is not a JSON object.")),
        (
            f"event_id IS NULL OR length(event_id) > {rules.MAX_EVENT_ID}",
            "event_id",
            _("An event id is text of 1 to 64 characters."),
        ),
        (
            "contains(event_id, ':') AND ("
            + " OR ".join(f"starts_with(event_id, {_q(p)})" for p in rules.RESERVED_PREFIXES)
            + ")",
            "event_id",
            _("Ids starting with %(prefixes)s are the platform's own.")
            % {"prefixes": ", ".join(rules.RESERVED_PREFIXES)},
        ),
        (
            f"type IS NULL OR NOT (type IN ({types}) OR regexp_full_match(type, 'custom:[a-z0-9][a-z0-9_.-]{{0,47}}'))",
            "type",
            _("Unknown type: one of %(types)s or custom:<name>.") % {"types": ", ".join(rules.TYPES)},
        ),
        (
            "at_utc IS NULL",
            "at",
            _("A time in ISO 8601 with its zone, e.g. 2025-05-01T10:00:00+08:00."),
        ),
        (f"at_utc > TIMESTAMP '{limit}'", "at", _("The time is more than 5 minutes in the future.")),
        (
            "customer_id_text IS NOT NULL AND COALESCE(TRY_CAST(customer_id_text AS BIGINT), 0) <= 0",
            "customer_id",
            _("A customer id is a positive number."),
        ),
        (
            "customer_id_text IS NULL AND c_kind IS NULL",
            "customer",
            _("Say who: a customer_id or a customer identity {kind, key}."),
        ),
        (
            f"customer_id_text IS NULL AND c_kind NOT IN ({kinds})",
            "customer.kind",
            _("An identity kind is one of %(kinds)s.") % {"kinds": ", ".join(rules.IDENTITY_KINDS)},
        ),
        (
            "customer_id_text IS NULL AND (c_key IS NULL OR length(c_key) > 128)",
            "customer.key",
            _("An identity needs a value of 1 to 128 characters."),
        ),
        (
            "customer_id_text IS NULL AND c_kind = 'openid' AND c_app = ''",
            "customer.app_id",
            _("An openid belongs to one app: give its app_id."),
        ),
        (ref("store"), "store", ref_message),
        (
            "guide_text IS NOT NULL AND COALESCE(TRY_CAST(guide_text AS BIGINT), 0) <= 0",
            "guide",
            _("A guide is given by her id (a positive number)."),
        ),
        ("length(content_id) > 64", "content_id", _("A content id is text of 1 to 64 characters.")),
        (ref("product"), "product", ref_message),
        (ref("sku"), "sku", ref_message),
        (
            whole("amount_text", 0, rules.MAX_AMOUNT_FEN),
            "amount_fen",
            _("An amount is a whole number of fen, not negative."),
        ),
        (
            whole("quantity_text", 0, rules.MAX_QUANTITY),
            "quantity",
            _("A quantity is a whole number from 0 to 1,000,000."),
        ),
        (
            # Valid JSON that starts with "{" and has no "[" nor a second "{" is a flat object (one parse,
            # no copy); only the others need their type and structure.
            "properties IS NOT NULL AND NOT COALESCE(CASE WHEN starts_with(properties, '{') "
            "AND NOT contains(properties, '[') AND NOT properties LIKE '{%{%' THEN json_valid(properties) "
            "ELSE json_valid(properties) AND json_type(properties) = 'OBJECT' "
            "AND NOT regexp_matches(substr(CAST(json_structure(properties) AS VARCHAR), 2), '[\\[{]') END, false)",
            "properties",
            _("Properties are a flat JSON object (no nested objects or lists)."),
        ),
        (
            f"CASE WHEN strlen(properties) > {rules.MAX_PROPERTIES_BYTES} AND json_valid(properties) "
            f"THEN strlen(CAST(json(properties) AS VARCHAR)) > {rules.MAX_PROPERTIES_BYTES} ELSE false END",
            "properties",
            _("Properties take at most 4 KB."),
        ),
    ]


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
    """A DuckDB table from Python rows, through a CSV file (no per-row statements)."""
    con.execute(f"CREATE OR REPLACE TABLE {name} ({columns})")
    if not rows:
        return
    path = lake.write_temp(b"", suffix=".csv")
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        con.execute(
            f"INSERT INTO {name} SELECT * FROM read_csv({_q(str(path))}, header=false, columns={_spec(columns)})"
        )
    finally:
        path.unlink(missing_ok=True)


def _spec(columns: str) -> str:
    pairs = [c.strip().split(" ", 1) for c in columns.split(",")]
    return "{" + ", ".join(f"'{n}': '{t}'" for n, t in pairs) + "}"


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Lookups:
    """How the staging query resolves what the file names: its joins against the lookup tables, the
    checks that a reference found nothing (in the order they are reported), and the SQL of the
    lake's reference columns the file gives. A field the file lacks costs no join and no column."""

    joins: list[str] = field(default_factory=list)
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    def join(self, clause: str, missing: str, name: str, reason: str) -> None:
        """Join a lookup table; a row is bad (``name``: ``reason``) when ``missing`` holds."""
        self.joins.append(clause)
        self.checks.append((missing, name, reason))


# The app an identity is looked up with: only an openid's and an app user's identities belong to one.
_APP = "CASE WHEN {r}c_kind IN ('openid', 'app') THEN {r}c_app ELSE '' END"


def _lookups(con: duckdb.DuckDBPyConnection, brand_id: int, present: frozenset[str]) -> _Lookups:
    """Tables mapping what the file names to ids of the brand, each distinct value of the file
    looked up once (values a row's check refuses anyway are left out)."""
    from siyu.events import services

    found = _Lookups()
    if "customer_id" in present:
        ids = [
            int(r[0])
            for r in con.execute(
                "SELECT DISTINCT c FROM (SELECT TRY_CAST(customer_id_text AS BIGINT) AS c FROM src) WHERE c > 0"
            ).fetchall()
        ]
        roots: dict[int, int] = {}
        for chunk in _chunks(ids):
            roots.update(members.customer_roots(brand_id, chunk))
        _table(con, "by_id", "given BIGINT, customer_id BIGINT", list(roots.items()))
        found.join(
            "LEFT JOIN by_id bi ON bi.given = TRY_CAST(r.customer_id_text AS BIGINT)",
            "r.customer_id_text IS NOT NULL AND bi.customer_id IS NULL",
            "customer_id",
            _("No customer of this brand has this id."),
        )
        found.customers.append("bi.customer_id")
    if present & {"customer_kind", "customer"}:
        kinds = ", ".join(_q(k) for k in rules.IDENTITY_KINDS)
        identities = [
            (str(k), str(v), str(a))
            for k, v, a in con.execute(
                f"SELECT DISTINCT c_kind, c_key, {_APP.format(r='')} FROM src WHERE customer_id_text IS NULL "
                f"AND c_kind IN ({kinds}) AND c_key IS NOT NULL AND length(c_key) <= 128"
            ).fetchall()
        ]
        holders: dict[tuple[str, str, str], int] = {}
        for part in _chunks(identities):
            holders.update(members.customer_ids_for(brand_id, part))
        _table(
            con,
            "by_identity",
            "kind VARCHAR, key VARCHAR, app VARCHAR, customer_id BIGINT",
            [(k, v, a, c) for (k, v, a), c in holders.items()],
        )
        found.join(
            f"LEFT JOIN by_identity bx ON bx.kind = r.c_kind AND bx.key = r.c_key AND bx.app = {_APP.format(r='r.')}",
            "r.customer_id_text IS NULL AND bx.customer_id IS NULL",
            "customer",
            _("No customer of this brand has this identity."),
        )
        found.customers.append("bx.customer_id")
    if "store" in present:
        store_ids, store_codes = services._stores(brand_id)
        _table(con, "stores", "ref VARCHAR, id BIGINT", [(str(i), i) for i in store_ids] + list(store_codes.items()))
        found.join(
            "LEFT JOIN stores s ON s.ref = r.store_text",
            "r.store_text IS NOT NULL AND s.id IS NULL",
            "store",
            _(
                "No store of this brand has this id or code.",
            ),
        )
        found.columns["store_id"] = "s.id"
    if "guide" in present:
        _table(con, "guides", "id BIGINT", [(g,) for g in services._guides(brand_id)])
        found.join(
            "LEFT JOIN guides g ON g.id = TRY_CAST(r.guide_text AS BIGINT)",
            "r.guide_text IS NOT NULL AND g.id IS NULL",
            "guide",
            _(
                "No guide of this brand has this id.",
            ),
        )
    if "product" in present:
        product_ids, product_codes = services._products(brand_id)
        _table(
            con, "products", "ref VARCHAR, id BIGINT", [(str(i), i) for i in product_ids] + list(product_codes.items())
        )
        found.join(
            "LEFT JOIN products p ON p.ref = r.product_text",
            "r.product_text IS NOT NULL AND p.id IS NULL",
            "product",
            _("No product of this brand has this id or code."),
        )
        found.products.append("p.id")
    if "sku" in present:
        sku_refs = [
            str(r[0]) for r in con.execute("SELECT DISTINCT sku_text FROM src WHERE sku_text IS NOT NULL").fetchall()
        ]
        skus: list[tuple[str, int, int]] = []
        for part in _chunks(sku_refs):
            codes = catalog.sku_ids_by_code(brand_id, part)
            wanted = {int(s) for s in part if s.isdigit()} | set(codes.values())
            prices = catalog.sku_prices(brand_id, wanted)
            skus += [(code, sku, prices[sku].product_id) for code, sku in codes.items() if sku in prices]
            skus += [(str(sku), sku, p.product_id) for sku, p in prices.items()]
        _table(con, "skus", "ref VARCHAR, id BIGINT, product_id BIGINT", skus)
        found.join(
            "LEFT JOIN skus k ON k.ref = r.sku_text",
            "r.sku_text IS NOT NULL AND k.id IS NULL",
            "sku",
            _(
                "No SKU of this brand has this id or code.",
            ),
        )
        found.products.append("k.product_id")
        found.columns["sku_id"] = "k.id"
    if found.customers:
        found.columns["customer_id"] = f"COALESCE({', '.join(found.customers)})"
    if found.products:
        found.columns["product_id"] = f"COALESCE({', '.join(found.products)})"
    return found


def _stage(con: duckdb.DuckDBPyConnection, now: dt.datetime, present: frozenset[str], refs: _Lookups) -> None:
    """The table ``staged``: each row of ``src`` in one pass — read, checked, its references resolved
    by the joins of ``refs`` — as the lake's columns the file gives, with its ``line`` and ``bad``,
    the number of its first problem (the rules of :func:`_checks`, then a reference nobody holds;
    NULL when it has none); and ``checks``, what each number means. A bad row's columns are whatever
    the total expressions give (TRY_CAST): only good rows are stored."""
    # With its zone or not at all (strptime's %z requires one); "Z" is UTC. The usual form is tried
    # alone on the text as it is first: only what it refuses is rewritten and tried with every format.
    zoned = "CASE WHEN right(at_text, 1) IN ('Z', 'z') THEN left(at_text, -1) || '+00:00' ELSE at_text END"
    formats = ", ".join(_q(f) for f in TIME_FORMATS)
    usual = f"try_strptime(at_text, {_q(TIME_FORMATS[1])})"
    # The instant as UTC without a zone: its microseconds, not a CAST (which converts through the
    # session's time zone, most of the cost of reading the time).
    at = f"make_timestamp(epoch_us(COALESCE({usual}, try_strptime({zoned}, [{formats}]))))"
    checks = _checks(now) + refs.checks
    number = " ".join(f"WHEN {cond} THEN {n}" for n, (cond, _name, _reason) in enumerate(checks))
    given = {
        "guide_id": "TRY_CAST(r.guide_text AS BIGINT)" if "guide" in present else "",
        "content_id": "r.content_id" if "content_id" in present else "",
        "amount_fen": "TRY_CAST(r.amount_text AS BIGINT)" if "amount_fen" in present else "",
        "quantity": "TRY_CAST(r.quantity_text AS INTEGER)" if "quantity" in present else "",
        "properties": "CASE WHEN json_valid(r.properties) THEN CAST(json(r.properties) AS VARCHAR) END"
        if "properties" in present
        else "",
        **refs.columns,
    }
    columns = "".join(f'{given[name]} AS "{name}", ' for name in lake.COLUMN_NAMES if given.get(name))
    con.execute(
        f'CREATE TABLE staged AS SELECT r.line, r.event_id, r.type, r.at_utc AS "at", {columns}'
        f"CASE {number} END AS bad FROM (SELECT *, {at} AS at_utc FROM src) r {' '.join(refs.joins)}"
    )
    _table(
        con, "checks", "n INTEGER, field VARCHAR, reason VARCHAR", [(n, f, r) for n, (_c, f, r) in enumerate(checks)]
    )


def import_file(
    brand_id: int, path: Path, *, progress: Progress | None = None, now: dt.datetime | None = None
) -> ImportReport:
    """Import a file of events into the brand's lake; every bad row reported, the good ones kept."""
    import time

    step = progress or (lambda phase, done, total: None)
    report = ImportReport()
    now = now or clock.now()
    started = time.perf_counter()
    lap = started

    def timed(name: str) -> None:
        nonlocal lap
        at = time.perf_counter()
        report.seconds[name] = round(at - lap, 3)
        lap = at

    sweep_work()
    with work_dir("import") as work, duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        # Nothing here needs the file's order (lines are numbered, errors and repeats sorted by them):
        # without it DuckDB's partitioned COPY and table builds run on every core.
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET temp_directory = {_q(str(work / 'spill'))}")
        step("read", 0, None)
        report.rows, present = _load(con, Path(path))
        step("resolve", 0, report.rows)
        refs = _lookups(con, brand_id, present)
        step("resolve", report.rows, report.rows)
        timed("resolve")
        _stage(con, now, present, refs)
        step("read", report.rows, report.rows)
        con.execute(
            "CREATE TABLE errors AS SELECT line, COALESCE(field, '') AS field, reason "
            "FROM staged JOIN checks ON checks.n = staged.bad"
        )
        report.bad = _count(con, "errors")
        report.errors = [
            RowError(int(line), str(name), str(reason))
            for line, name, reason in con.execute(f"SELECT * FROM errors ORDER BY line LIMIT {MAX_ERRORS}").fetchall()
        ]
        timed("read_validate")
        _repeats(con, report.rows - report.bad)
        with compaction.exclusive():
            step("store", 0, None)
            stored, empty = _store(con, brand_id, work, now, report)
            step("store", report.accepted, report.accepted)
        timed("dedupe_write")
    if stored:
        heard = _Stored(brand_id, stored, now, report.accepted, empty)
        transaction.on_commit(lambda: hooks.events_recorded(brand_id, heard))
        timed("listeners")
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    return report


def _repeats(con: duckdb.DuckDBPyConnection, good: int) -> None:
    """The table ``repeats``: the good lines whose id a good line before them holds (each id once
    within the file, its first good line kept). The ids' 64-bit hashes are counted distinct first
    (cheap, and as many as the ``good`` rows in the usual file); only when some repeat are the rows of
    a hash seen twice compared by their text."""
    good_rows = "FROM staged WHERE bad IS NULL"
    distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT hash(event_id) {good_rows})").fetchone()
    if distinct and int(distinct[0]) == good:
        con.execute("CREATE TABLE repeats (line BIGINT)")
        return
    con.execute(
        f"CREATE TABLE repeats AS SELECT line {good_rows} AND hash(event_id) IN "
        f"(SELECT hash(event_id) {good_rows} GROUP BY 1 HAVING count(*) > 1) "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY line) > 1"
    )


# --- the work directories of imports: removed at the end, or by the next import if the process died --
WORK_KINDS = ("import", "generated")
LOCK = ".lock"
STALE_UNLOCKED = dt.timedelta(hours=1)  # a work directory without its lock file (made by an older version)


@contextmanager
def work_dir(kind: str) -> Iterator[Path]:
    """A fresh work directory under ``lake/tmp`` (DuckDB's spill, the parts before they move into
    the lake) held by an exclusive ``flock`` on its lock file for as long as the process uses it —
    so :func:`sweep_work` can tell a live one from one a killed process left — and removed at the end."""
    work = lake.root() / "tmp" / f"{kind}-{uuid.uuid4().hex}"
    work.mkdir(parents=True, exist_ok=True)
    lock = os.open(work / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock)


def sweep_work(now: dt.datetime | None = None) -> list[Path]:
    """Remove the work directories of imports whose process has died (nobody holds their lock; one
    without a lock file once it is an hour old); the directories removed."""
    base = lake.root() / "tmp"
    if not base.exists():
        return []
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    removed: list[Path] = []
    for work in base.iterdir():
        if not (work.is_dir() and work.name.split("-", 1)[0] in WORK_KINDS):
            continue
        try:
            fd = os.open(work / LOCK, os.O_RDWR)
        except FileNotFoundError:
            try:
                young = moment - work.stat().st_mtime < STALE_UNLOCKED.total_seconds()
            except FileNotFoundError:
                continue
            if young:
                continue
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive
            finally:
                os.close(fd)  # closing drops a lock we took
        shutil.rmtree(work, ignore_errors=True)
        removed.append(work)
    return removed


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _store(
    con: duckdb.DuckDBPyConnection, brand_id: int, work: Path, now: dt.datetime, report: ImportReport
) -> tuple[list[Path], frozenset[str]]:
    """Write the good rows whose ids are neither repeated within the file nor already stored on their
    day as imported Parquet parts of their days, committed through the journal (the caller holds
    :func:`compaction.exclusive`, so no compaction moves rows meanwhile); the parts written and
    the lake columns none of their rows sets.

    The ids are not registered in the dedupe index (:mod:`siyu.events.idstore`): the anti-join
    reads the id column of every part of the days the file touches — imported earlier or compacted
    from the WAL — and the brand's WAL rows not yet compacted; none of it when the brand has nothing
    stored on those days."""
    first, last = con.execute(
        'SELECT min("at")::DATE::VARCHAR, max("at")::DATE::VARCHAR FROM staged WHERE bad IS NULL'
    ).fetchone() or (None, None)
    on_disk = [d for d in lake.days(brand_id) if first is not None and last is not None and first <= d <= last]
    existing = [p for d in on_disk for p in lake.parts(brand_id, d)]
    stored = [f'SELECT event_id, CAST("at" AS DATE) AS day FROM {lake.parquet_reader(existing)}'] if existing else []
    pending = lake.pending_ndjson(brand_id)
    if pending:
        wal_rows = work / "pending.ndjson"
        wal_rows.write_bytes(pending)
        stored.append(f'SELECT event_id, CAST("at" AS DATE) AS day FROM {lake.json_reader(wal_rows)}')
    where = ["bad IS NULL"]
    if _count(con, "repeats"):
        where.append("line NOT IN (SELECT line FROM repeats)")
    if stored:
        con.execute("CREATE TABLE stored AS " + " UNION ALL ".join(stored))
        where.append(
            'NOT EXISTS (SELECT 1 FROM stored s WHERE s.event_id = g.event_id AND s.day = CAST(g."at" AS DATE))'
        )
    received = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    staged = {str(r[0]) for r in con.execute("DESCRIBE staged").fetchall()}
    given = {"brand_id": str(int(brand_id)), "received_at": f"TIMESTAMP '{received}'"}
    exprs = [given.get(name) or (f'"{name}"' if name in staged else "NULL") for name in lake.COLUMN_NAMES]
    source = "(SELECT * FROM staged g WHERE " + " AND ".join(where) + ")"
    parts, report.accepted = write_parts(con, brand_id, source, exprs, work, prefix=idstore.IMPORTED_PREFIX)
    report.duplicates = report.rows - report.bad - report.accepted
    return parts, frozenset(name for name, expr in zip(lake.COLUMN_NAMES, exprs, strict=True) if expr == "NULL")


# zstd's fastest level for the parts an import writes: a part is a day's share of one file, which
# compaction merges (at the default level) when the day next gets events; ~6 % larger (ADR 0022).
PART_ZSTD_LEVEL = 1


def write_parts(
    con: duckdb.DuckDBPyConnection, brand_id: int, table: str, exprs: list[str], work: Path, *, prefix: str = "part-"
) -> tuple[list[Path], int]:
    """Write the rows of ``table`` (a table or a parenthesised query; ``exprs``: one SQL expression per
    lake column, in order, ``"NULL"`` for a column no row sets) as Parquet parts of their day
    partitions — DuckDB's own partitioned ``COPY`` on every core, one file a day, the rows in the
    order they come (compaction sorts a day when it merges it) — committed through the journal (the
    caller holds :func:`compaction.exclusive`); the parts written and how many rows.

    A column whose expression is ``NULL`` is left out of the parts (ADR 0024): the partitioned write
    copies every value of every column into its day's buffer, NULLs too, and a file that lacks
    half the fields cost ~40 % more to write with them; readers take a missing column as NULL
    (:func:`siyu.events.lake.parquet_reader`)."""
    out = work / f"out-{uuid.uuid4().hex}"
    select = ", ".join(
        f'CAST({expr} AS {kind}) AS "{name}"'
        for (name, kind), expr in zip(lake.COLUMNS, exprs, strict=True)
        if expr != "NULL"
    )
    con.execute("SET partitioned_write_max_open_files = 4000")  # a file a day, for up to ten years at once
    written = con.execute(
        f'COPY (SELECT *, CAST("at" AS DATE) AS day FROM (SELECT {select} FROM {table})) '
        f"TO {_q(str(out))} (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd, "
        f"COMPRESSION_LEVEL {PART_ZSTD_LEVEL}, ROW_GROUP_SIZE 122880)"
    ).fetchone()
    plan = compaction.Plan()
    parts: list[Path] = []
    for part in sorted(out.glob("day=*/*.parquet")):
        day = part.parent.name.removeprefix("day=")
        # Beside its final name under the ``.tmp`` name a recovery removes unless a journal names it, and
        # on disk before the journal does (the work directory goes whatever happens next).
        tmp, final = compaction.new_part(brand_id, day, prefix)
        os.replace(part, tmp)
        plan.renames.append((str(tmp), str(final)))
        parts.append(final)
    compaction.fsync_all(tmp for tmp, _final in plan.renames)
    compaction.commit(plan)
    return parts, int(written[0]) if written else 0


class _Stored(Sequence[dict[str, Any]]):
    """The imported events as the listeners receive them, read from the lake only when a listener
    looks (a million dicts cost seconds; most imports have no listener that needs them).

    They are read as the rows of the import's days that carry its ``received_at``, from the days'
    parts as they are then, under the lake's writer lock: a compaction between the commit and a
    listener's look (the day got events and its small parts were merged) moves the rows to another
    file and keeps their columns, so they are still found, and only they (an API batch acknowledged
    in the same microsecond of the same brand and day would be the one exception)."""

    def __init__(
        self, brand_id: int, parts: list[Path], received: dt.datetime, count: int, empty: frozenset[str] = frozenset()
    ) -> None:
        from siyu.events import services

        self._brand_id, self._count = brand_id, count
        self._days = sorted({p.parent.name.removeprefix("day=") for p in parts})
        self._received_us = services.micros(received)
        self._empty = empty  # the columns no imported row sets (the file lacks those fields)
        self._rows: list[dict[str, Any]] | None = None

    def _read(self, where: str = "true", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        names = [n for n, _k in lake.COLUMNS]
        cols = ", ".join(f'epoch_us("{n}") AS "{n}"' if n in ("at", "received_at") else f'"{n}"' for n in names)
        with compaction.exclusive(), duckdb.connect() as con:
            parts = [p for day in self._days for p in lake.parts(self._brand_id, day)]
            if not parts:
                return []
            found = con.execute(
                f'SELECT {cols} FROM {lake.parquet_reader(parts)} WHERE epoch_us("received_at") = $received '
                f"AND ({where})",
                {**(params or {}), "received": self._received_us},
            ).fetchall()
        return [dict(zip(names, r, strict=True)) for r in found]

    def _load(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def where(self, types: Iterable[str], present: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Only the events of these types with these fields set, selected by DuckDB in the parts
        (:func:`siyu.platform.hooks.events_of`): a listener interested in shares does not make a dict
        of each of ten million views."""
        kinds = sorted(set(types))
        needed = list(present)
        if not kinds or any(f in self._empty for f in needed):
            return []
        known = set(lake.COLUMN_NAMES)
        where = "type IN (SELECT unnest($types))" + "".join(f' AND "{f}" IS NOT NULL' for f in needed if f in known)
        if self._rows is not None:
            return [e for e in self._rows if e["type"] in kinds and all(e.get(f) is not None for f in needed)]
        return self._read(where, {"types": kinds})

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        return self._load()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._load())
