"""Use-cases of the events domain (ADR 0011): ingest a batch (validate, resolve, dedupe, WAL, then
acknowledge), server-side events from other domains (:func:`emit`), compaction, erasure, retention,
and the reads the explorer makes.

Other domains call :func:`emit` after their commit; nothing else here is theirs to call.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.events import compaction, group, idstore, lake, rules, wal
from siyu.events.models import EventKey, RetentionPolicy
from siyu.members import services as members
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock, hooks
from siyu.platform.tenancy import Scope

# The lake's contract for the analytics engines (segments): its columns, and a brand's events as one
# DuckDB relation including those still in the write-ahead log.
LAKE_COLUMNS = lake.COLUMNS
relation = lake.relation
customers_relation = lake.customers_relation
events_dir = lake.brand_dir  # where a brand's Parquet day partitions live (engines that read files: Spark)
lake_brands = lake.brands  # the brands with day partitions
lake_days = lake.days  # a brand's day partitions (YYYY-MM-DD)
day_parts = lake.parts  # a brand's Parquet files (of one day); never changed in place, only replaced
day_part_names = lake.part_names  # the names of several days' Parquet files, a listing a day
parts_reader = lake.parquet_reader  # SQL reading Parquet files by name, a column a part lacks NULL (ADR 0024)

log = logging.getLogger(__name__)

# Where a customer first seen through an event is said to come from.
SOURCE_OF_KIND = {"pos_card": "pos", "wecom": "wecom"}
DEFAULT_SOURCE = "mini_program"
REF_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class EventIn:
    """A server-side event (a binding, a paid order, a refund): what :func:`emit` takes."""

    event_id: str
    type: str
    at: dt.datetime
    customer_id: int
    store_id: int | None = None
    guide_id: int | None = None
    content_id: str | None = None
    product_id: int | None = None
    sku_id: int | None = None
    amount_fen: int | None = None
    quantity: int | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class EventError:
    index: int
    event_id: str | None
    field: str
    message: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[EventError] = field(default_factory=list)


def lake_root() -> Path:
    """The lake's directory (``SIYU_LAKE``, else ``SIYU_HOME/lake``): events and the segments'
    facts snapshots live under it."""
    return lake.root()


# --- the process's WAL writer ------------------------------------------------------------------------
_writers: dict[Path, wal.Writer] = {}
_writers_lock = threading.Lock()


def _writer() -> wal.Writer:
    directory = lake.wal_dir()
    with _writers_lock:
        found = _writers.get(directory)
        if found is None:
            found = _writers[directory] = wal.Writer(directory)
        return found


def close_writers() -> None:
    """Close the process's WAL files (tests, and a process about to exit cleanly)."""
    with _writers_lock:
        for writer in _writers.values():
            writer.close()
        _writers.clear()


# --- reference look-ups, cached a minute per process ----------------------------------------------------
_refs: dict[tuple[str, int], tuple[float, Any]] = {}


def _cached(kind: str, brand_id: int, load: Any) -> Any:
    now = time.monotonic()
    hit = _refs.get((kind, brand_id))
    if hit is not None and now - hit[0] < REF_CACHE_SECONDS:
        return hit[1]
    value = load()
    _refs[(kind, brand_id)] = (now, value)
    return value


def _stores(brand_id: int) -> tuple[set[int], dict[str, int]]:
    def load() -> tuple[set[int], dict[str, int]]:
        rows = org.stores(brand_id)
        return {s.id for s in rows}, {s.code: s.id for s in rows}

    return _cached("stores", brand_id, load)


def _guides(brand_id: int) -> set[int]:
    return _cached("guides", brand_id, lambda: {g.id for g in org.guides(brand_id, active_only=False)})


def _products(brand_id: int) -> tuple[set[int], dict[str, int]]:
    def load() -> tuple[set[int], dict[str, int]]:
        rows = catalog.price_list(brand_id, active_only=False)
        return {p.product_id for p in rows}, {p.code: p.product_id for p in rows}

    return _cached("products", brand_id, load)


_root_cache: dict[int, dict[int, tuple[float, int]]] = {}  # brand -> customer id -> (read at, root)


def _roots(brand_id: int, ids: set[int]) -> dict[int, int]:
    """Each known customer id mapped to her live root, cached a minute per process like the members
    domain's identity cache (an id the brand does not know is asked again every time). A dict per
    brand keyed by the id: a batch looks up a thousand ids, with no key tuple made for each."""
    now = time.monotonic()
    oldest = now - REF_CACHE_SECONDS
    cache = _root_cache.setdefault(brand_id, {})
    found: dict[int, int] = {}
    missing = []
    for cid in ids:
        hit = cache.get(cid)
        if hit is not None and hit[0] > oldest:
            found[cid] = hit[1]
        else:
            missing.append(cid)
    if missing:
        fresh = members.customer_roots(brand_id, missing)
        if sum(len(c) for c in _root_cache.values()) > 500_000:
            _root_cache.clear()
            cache = _root_cache.setdefault(brand_id, {})
        for cid, root in fresh.items():
            cache[cid] = (now, root)
        found.update(fresh)
    return found


def _forget(kind: str, brand_id: int) -> None:
    _refs.pop((kind, brand_id), None)


def forget_caches() -> None:
    _refs.clear()
    _root_cache.clear()
    members.forget_identity_cache()


# --- ingestion ---------------------------------------------------------------------------------------
def ingest(
    brand_id: int, events: Sequence[Any], *, now: dt.datetime | None = None, platform: bool = False
) -> IngestResult:
    """Validate a batch, resolve who, where and what, keep each event id once, append the new events
    to the WAL and ``fsync`` it, register their ids, and only then return (the acknowledgement).
    Bad events are reported per event and the good ones kept."""
    if len(events) > rules.MAX_BATCH:
        raise ValidationError({"events": _("At most %(n)d events a request.") % {"n": rules.MAX_BATCH}})
    now = now or clock.now()
    return _ingest(brand_id, rules.check_many(events, now, platform=platform), events, now)


def ingest_json(brand_id: int, body: bytes, *, now: dt.datetime | None = None) -> IngestResult:
    """:func:`ingest` of a request's body ``{"events": [...]}`` (the API). A body of well-formed
    events is decoded and checked in one pass (:func:`rules.check_json`); any other is parsed and
    checked event by event, so every bad event gets its own errors."""
    now = now or clock.now()
    checked = rules.check_json(body, now)
    if checked is not None and len(checked) <= rules.MAX_BATCH:
        return _ingest(brand_id, checked, (), now)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationError({"events": _("The body is not JSON.")}) from None
    events = parsed.get("events") if isinstance(parsed, dict) else None
    if not isinstance(events, list):
        raise ValidationError({"events": _('Send {"events": [...]}.')})
    return ingest(brand_id, events, now=now)


def _ingest(
    brand_id: int, checks: Sequence[rules.Checked | list[rules.Problem]], events: Sequence[Any], now: dt.datetime
) -> IngestResult:
    """The rest of :func:`ingest` once each event is checked (``events``: as sent, for the ids of
    those with problems)."""
    result = IngestResult()
    good: list[tuple[int, rules.Checked]] = []
    seen: set[str] = set()
    for index, checked in enumerate(checks):
        if isinstance(checked, list):
            raw = events[index]
            event_id = raw.get("event_id") if isinstance(raw, dict) and isinstance(raw.get("event_id"), str) else None
            result.errors += [EventError(index, event_id, p.field, p.message) for p in checked]
        elif checked.event_id in seen:
            result.duplicates += 1
        else:
            seen.add(checked.event_id)
            good.append((index, checked))
    rows = _resolve(brand_id, good, result, received=rules.timestamp(now))
    if rows:
        _store(brand_id, rows, now, result)
    result.errors.sort(key=lambda e: e.index)
    return result


def _error(result: IngestResult, index: int, event: rules.Checked, name: str, message: str) -> None:
    result.errors.append(EventError(index, event.event_id, name, message))


def _refs_of(refs: set[Any], ids: set[int], codes: dict[str, int]) -> dict[Any, int]:
    """Each distinct store or product reference of a batch (an id or a code) mapped to its id; those
    that name nothing of the brand are left out."""
    found: dict[Any, int] = {}
    for ref in refs:
        hit = ref if isinstance(ref, int) and ref in ids else codes.get(str(ref))
        if hit is not None:
            found[ref] = hit
    return found


def _resolve(
    brand_id: int, good: list[tuple[int, rules.Checked]], result: IngestResult, *, received: str
) -> list[dict[str, Any]]:
    """The lake rows of the good events whose references resolve (``at`` a UTC datetime); the
    others reported. Each distinct customer, store, guide, product and SKU of the batch is looked up
    once (the reference caches), then every event is a few dictionary look-ups."""
    if not good:
        return []
    identities = {e.customer for _, e in good if e.customer is not None}
    by_identity = members.customer_ids_for(brand_id, identities) if identities else {}
    given_ids = {e.customer_id for _, e in good if e.customer_id is not None}
    by_id: dict[int, int] = _roots(brand_id, given_ids) if given_ids else {}
    store_refs = {e.store for _, e in good if e.store is not None}
    store_of = _refs_of(store_refs, *_stores(brand_id)) if store_refs else {}
    if len(store_of) < len(store_refs):
        _forget("stores", brand_id)  # a store opened within the cache's minute
        store_of = _refs_of(store_refs, *_stores(brand_id))
    guide_refs = {e.guide_id for _, e in good if e.guide_id is not None}
    guide_ids = _guides(brand_id) if guide_refs else set()
    if not guide_refs <= guide_ids:
        _forget("guides", brand_id)
        guide_ids = _guides(brand_id)
    product_refs = {e.product for _, e in good if e.product is not None}
    product_of = _refs_of(product_refs, *_products(brand_id)) if product_refs else {}
    if len(product_of) < len(product_refs):
        _forget("products", brand_id)
        product_of = _refs_of(product_refs, *_products(brand_id))
    sku_refs = {e.sku for _, e in good if e.sku is not None}
    sku_product: dict[int, int] = {}
    sku_codes: dict[str, int] = {}
    if sku_refs:
        sku_codes = catalog.sku_ids_by_code(brand_id, [s for s in sku_refs if isinstance(s, str)])
        wanted = {s for s in sku_refs if isinstance(s, int)} | set(sku_codes.values())
        sku_product = {k: v.product_id for k, v in catalog.sku_prices(brand_id, wanted).items()}
    rows: list[dict[str, Any]] = []
    for index, e in good:
        if e.customer is not None:
            customer_id = by_identity.get(e.customer)
            if customer_id is None:
                customer_id = _first_seen(brand_id, e, index, result)
                if customer_id is None:
                    continue
                by_identity[e.customer] = customer_id
        else:
            customer_id = by_id.get(e.customer_id or 0)
            if customer_id is None:
                _error(result, index, e, "customer_id", _("No customer of this brand has this id."))
                continue
        store_id = None
        if e.store is not None:
            store_id = store_of.get(e.store)
            if store_id is None:
                _error(result, index, e, "store", _("No store of this brand has this id or code."))
                continue
        if e.guide_id is not None and e.guide_id not in guide_ids:
            _error(result, index, e, "guide", _("No guide of this brand has this id."))
            continue
        product_id = None
        if e.product is not None:
            product_id = product_of.get(e.product)
            if product_id is None:
                _error(result, index, e, "product", _("No product of this brand has this id or code."))
                continue
        sku_id = None
        if e.sku is not None:
            sku_id = e.sku if isinstance(e.sku, int) else sku_codes.get(e.sku)
            if sku_id is None or sku_id not in sku_product:
                _error(result, index, e, "sku", _("No SKU of this brand has this id or code."))
                continue
            product_id = product_id or sku_product[sku_id]
        rows.append(
            {
                "event_id": e.event_id,
                "brand_id": brand_id,
                "type": e.type,
                "at": e.at,  # orjson writes it (ISO 8601, UTC) ten times faster than isoformat()
                "customer_id": customer_id,
                "store_id": store_id,
                "guide_id": e.guide_id,
                "content_id": e.content_id,
                "product_id": product_id,
                "sku_id": sku_id,
                "amount_fen": e.amount_fen,
                "quantity": e.quantity,
                "properties": e.properties,
                "received_at": received,
            },
        )
    return rows


def _first_seen(brand_id: int, e: rules.Checked, index: int, result: IngestResult) -> int | None:
    """A customer for an identity nobody holds yet, created through the members domain."""
    assert e.customer is not None
    kind, key, app_id = e.customer
    try:
        customer, _created = members.resolve(
            brand_id,
            [members.IdentityIn(kind=kind, key=key, app_id=app_id)],
            source=SOURCE_OF_KIND.get(kind, DEFAULT_SOURCE),
            at=e.at,
        )
    except ValidationError as exc:
        messages = [str(m) for m in exc.messages] or [_("This identity cannot be used.")]
        _error(result, index, e, "customer", messages[0])
        return None
    return int(customer.pk)


def _register(brand_id: int, keys: Sequence[tuple[str, dt.date]], *, chunk: int = 1000) -> set[str]:
    """Insert ``(event_id, day)`` into the dedupe index (in the caller's transaction), one statement
    per ``chunk`` keys; the ids new to it. The only index work is the table's own: one entry of its
    one B-tree per new id (ADR 0023), nothing for a duplicate (``ON CONFLICT DO NOTHING``)."""
    fresh: set[str] = set()
    for start in range(0, len(keys), chunk):
        fresh.update(_insert_keys(brand_id, keys[start : start + chunk]))
    return fresh


_KEYS_TABLE = EventKey._meta.db_table


def _insert_keys(brand_id: int, keys: Sequence[tuple[str, dt.date]]) -> list[str]:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING``: on PostgreSQL the keys go as two arrays
    (``unnest``, three parameters whatever the batch); on SQLite as ``VALUES`` rows on the driver's
    own cursor (Django's wrapper would rewrite the 3,000 placeholders and adapt each date on every
    request; the statement text of a full batch is the same every time, so SQLite keeps it compiled)."""
    table = connection.ops.quote_name(_KEYS_TABLE)
    tail = "ON CONFLICT (brand_id, event_id) DO NOTHING RETURNING event_id"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (brand_id, event_id, day) SELECT %s, k.id, k.day "
                f"FROM unnest(%s::varchar[], %s::date[]) AS k(id, day) {tail}",
                [brand_id, [k for k, _ in keys], [d for _, d in keys]],
            )
            return [r[0] for r in cursor.fetchall()]
    params: list[Any] = []
    days: dict[Any, str] = {}  # one isoformat a day of the batch, not one a key
    for event_id, day in keys:
        text = days.get(day)
        if text is None:
            text = days[day] = day.isoformat()
        params += (brand_id, event_id, text)
    connection.ensure_connection()
    values = ", ".join(["(?, ?, ?)"] * len(keys))
    sql = f"INSERT INTO {table} (brand_id, event_id, day) VALUES {values} {tail}"
    found = connection.connection.execute(sql, params)
    return [r[0] for r in found.fetchall()]


def micros(at: dt.datetime) -> int:
    """Microseconds since the epoch (UTC): how listeners receive ``at`` and ``received_at``."""
    return (at - EPOCH) // ONE_MICROSECOND


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MICROSECOND = dt.timedelta(microseconds=1)


class _Heard(Sequence[dict[str, Any]]):
    """New events as listeners receive them (``at`` and ``received_at`` in microseconds). A row is
    made ready only when a listener takes it — all of them when one iterates, only those of some
    types through ``where`` (:func:`hooks.events_of`) — in place: the rows are this batch's own and
    already in the WAL. A batch without listeners, or whose events none wants, pays nothing. Each
    listener asks ``where``; the batch is read once per type index and once per field asked about
    (``guide_id``, that most listeners want set and most events lack), not once per question."""

    def __init__(self, rows: list[dict[str, Any]], received: dt.datetime) -> None:
        self._rows, self._received = rows, micros(received)
        self._ready = False
        self._by_type: dict[str, list[int]] | None = None  # made by the first ``where``
        self._having: dict[str, set[int]] = {}  # field -> the indexes of the rows where it is set

    def _take(self, row: dict[str, Any]) -> dict[str, Any]:
        at = row["at"]
        if type(at) is not int:
            row["at"] = micros(at)
            row["received_at"] = self._received
        return row

    def _make(self) -> list[dict[str, Any]]:
        if not self._ready:
            take = self._take
            for row in self._rows:
                take(row)
            self._ready = True
        return self._rows

    def where(self, types: frozenset[str], present: tuple[str, ...]) -> list[dict[str, Any]]:
        """The events of these types whose ``present`` fields are set."""
        by_type = self._by_type
        if by_type is None:  # one pass for every listener's question
            by_type = self._by_type = {}
            for index, row in enumerate(self._rows):
                by_type.setdefault(row["type"], []).append(index)
        found = [by_type[kind] for kind in types if kind in by_type]
        if present and found:
            having = set.intersection(*(self._set(name) for name in present))
            found = [[i for i in part if i in having] for part in found] if having else []
        indexes = found[0] if len(found) == 1 else sorted(i for part in found for i in part)  # the batch's order
        rows, take = self._rows, self._take
        return [take(rows[i]) for i in indexes]

    def _set(self, name: str) -> set[int]:
        """The indexes of the rows whose field ``name`` is set (not ``None``)."""
        having = self._having.get(name)
        if having is None:
            having = self._having[name] = {i for i, row in enumerate(self._rows) if row.get(name) is not None}
        return having

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        return self._make()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._make())


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    """Rows (each starting with ``event_id``, values scalars) as NDJSON, in one ``orjson`` call: the
    JSON array's row boundaries ``},{"event_id":`` become newlines. The sequence cannot occur inside
    a value (a string's quotes are escaped), so nothing else is touched."""
    if not rows:
        return b""
    array = orjson.dumps(rows)
    return array[1:-1].replace(b'},{"event_id":', b'}\n{"event_id":') + b"\n"


def _store(brand_id: int, rows: list[dict[str, Any]], now: dt.datetime, result: IngestResult) -> None:
    """Keep each event id once (ADR 0023): leave out the ids an import stored on their day, append
    the rest to the WAL and ``fsync`` it, *then* register their ids — a registered id always has
    its event on disk — and keep the rows whose ids were new; then the listeners. Outside a
    transaction (a request) the ids go through the process's group commit
    (:mod:`siyu.events.group`); inside the caller's transaction they are registered there, and the
    listeners hear of the batch once that commits."""
    keys = [(row["event_id"], row["at"].date()) for row in rows]
    imported = idstore.stored(brand_id, keys)  # imports keep their ids out of the index (ADR 0011)
    if imported:
        rows = [row for row in rows if row["event_id"] not in imported]
        keys = [key for key in keys if key[0] not in imported]
    batch = group.Batch(brand_id, rows, keys)
    if rows:
        # Durable before registered: a crash after this leaves events whose ids compaction registers,
        # never a registered id without its event. A row whose id turns out to be stored already is
        # in the WAL too; the lake's readers and compaction keep each id's first copy.
        _writer().append(brand_id, ndjson(rows))
        if connection.in_atomic_block:
            _register_group([batch], lock=False)  # the caller's transaction may hold SQLite's lock already
        else:
            group.committer(_register_group).submit(batch)
    result.duplicates += len(imported) + len(rows) - len(batch.rows)
    result.accepted += len(batch.rows)
    if batch.rows:
        heard = _Heard(batch.rows, now)
        transaction.on_commit(lambda: hooks.events_recorded(brand_id, heard))  # at once outside a transaction


def _register_group(batches: list[group.Batch], *, lock: bool = True) -> None:
    """One transaction registering the ids of a group of batches (already in the WAL): each batch
    keeps the rows whose ids were new (a batch's id another batch of the group registered first is
    its duplicate). On SQLite the transaction holds the processes' writer lock
    (:func:`group.sqlite_writer`), so a leader waiting for it sleeps in the kernel."""
    writer: AbstractContextManager[None] = (
        group.sqlite_writer(lake.root()) if lock and connection.vendor == "sqlite" else nullcontext()
    )
    with writer, transaction.atomic():
        for batch in batches:
            fresh = _register(batch.brand_id, batch.keys)
            if len(fresh) < len(batch.rows):
                batch.rows = [row for row in batch.rows if row["event_id"] in fresh]


def emit(brand_id: int, events: Iterable[EventIn]) -> IngestResult:
    """Record the platform's own facts as events (called by other domains after their commit). Never
    raises into the caller: a failure is logged, the business action stands."""
    batch = [_as_raw(e) for e in events]
    try:
        result = IngestResult()
        for start in range(0, len(batch), rules.MAX_BATCH):
            part = ingest(brand_id, batch[start : start + rules.MAX_BATCH], platform=True)
            result.accepted += part.accepted
            result.duplicates += part.duplicates
            result.errors += part.errors
        for error in result.errors:
            log.warning("server-side event %s refused: %s %s", error.event_id, error.field, error.message)
        return result
    except Exception:  # the fact is already committed; its event must not undo it
        log.exception("server-side events of brand %s not recorded", brand_id)
        return IngestResult()


def emit_on_commit(brand_id: int, events: Iterable[EventIn]) -> None:
    """:func:`emit` once the caller's transaction commits (at once outside one)."""
    batch = list(events)
    transaction.on_commit(lambda: emit(brand_id, batch))


# What a touch of the members domain is as an event (purchases arrive from orders as "order").
TOUCH_TYPES = {
    "scan": "scan",
    "share_visit": "click",
    "wecom_add": "add_friend",
    "live": "custom:live",
    "register": "custom:register",
}


def _flat(properties: Any) -> dict[str, Any]:
    """Only the scalar properties (the lake keeps a flat object)."""
    return {str(k): v for k, v in dict(properties or {}).items() if isinstance(v, str | int | float | bool)}


def emit_touch(
    brand_id: int,
    touch_id: int,
    kind: str,
    customer_id: int,
    at: dt.datetime,
    *,
    store_id: int | None = None,
    guide_id: int | None = None,
    properties: Any = None,
) -> None:
    """members: a touch was recorded (a code scanned, the guide added on WeCom, a share link opened);
    its event (``touch:<id>``) once the caller commits. Purchases, imports and POS touches are left
    to the orders' own events."""
    kind_of_event = TOUCH_TYPES.get(str(kind))
    if kind_of_event is None:
        return
    props = _flat(properties) | {"touch": str(kind)}
    event = EventIn(f"touch:{touch_id}", kind_of_event, at, customer_id, store_id, guide_id, properties=props)
    emit_on_commit(brand_id, [event])


def emit_binding(
    brand_id: int,
    binding_id: int,
    customer_id: int,
    at: dt.datetime,
    *,
    store_id: int | None,
    guide_id: int | None,
    source: str,
    previous_guide_id: int | None = None,
) -> None:
    """members: a customer was bound to a guide or a store (made or changed): ``custom:bind``
    (``binding:<id>``) once the caller commits."""
    props: dict[str, Any] = {"source": source}
    if previous_guide_id is not None:
        props["previous_guide"] = previous_guide_id
    event = EventIn(f"binding:{binding_id}", "custom:bind", at, customer_id, store_id, guide_id, properties=props)
    emit_on_commit(brand_id, [event])


def emit_order(
    brand_id: int,
    order_id: int,
    customer_id: int,
    at: dt.datetime,
    *,
    amount_fen: int,
    refund: bool = False,
    store_id: int | None = None,
    guide_id: int | None = None,
    number: str = "",
    channel: str = "",
) -> None:
    """orders: an order was paid (``order``, id ``order:<id>:paid``) or refunded (``refund``, id
    ``order:<id>:refund``), with its amount in fen, once the caller commits; a retry of the same
    fact is a duplicate, never a second event."""
    props = {k: v for k, v in {"number": number, "channel": channel}.items() if v}
    event = EventIn(
        f"order:{order_id}:{'refund' if refund else 'paid'}",
        "refund" if refund else "order",
        at,
        customer_id,
        store_id,
        guide_id,
        amount_fen=amount_fen,
        properties=props or None,
    )
    emit_on_commit(brand_id, [event])


def _as_raw(e: EventIn) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event_id": e.event_id,
        "type": e.type,
        "at": e.at.isoformat(),
        "customer_id": e.customer_id,
    }
    optional = {
        "store": e.store_id,
        "guide": e.guide_id,
        "content_id": e.content_id,
        "product": e.product_id,
        "sku": e.sku_id,
        "amount_fen": e.amount_fen,
        "quantity": e.quantity,
        "properties": e.properties,
    }
    raw.update({k: v for k, v in optional.items() if v is not None})
    return raw


# --- generated history (the demo) --------------------------------------------------------------------
GENERATED_PREFIX = "part-demo-"


def write_generated(brand_id: int, con: Any, table: str, *, received: dt.datetime) -> int:
    """Write generated events (ids under the reserved ``demo:`` prefix, which no client may send, so
    they are not registered one by one in the dedupe index) from a DuckDB table with the columns
    ``event_id, type, ts, customer_id, store_id, guide_id, content_id, product_id, amount,
    properties`` straight into the brand's day partitions; how many were written."""
    from siyu.events import importer

    stamp = rules.timestamp(received)
    exprs = [
        "event_id", str(int(brand_id)), "type", "ts", "customer_id", "store_id", "guide_id", "content_id",
        "product_id", "NULL", "amount", "NULL", "properties", f"TIMESTAMP '{stamp}'",
    ]  # fmt: skip
    bad = con.execute(f"SELECT count(*) FROM {table} WHERE NOT starts_with(event_id, 'demo:')").fetchone()
    if bad and int(bad[0]):
        raise ValueError("generated events carry ids under the reserved demo: prefix")
    with importer.work_dir("generated") as work, compaction.exclusive():
        _parts, written = importer.write_parts(con, brand_id, table, exprs, work, prefix=GENERATED_PREFIX)
    return written


def has_generated_events(brand_id: int) -> bool:
    return any(p.name.startswith(GENERATED_PREFIX) for p in lake.parts(brand_id))


# --- compaction, erasure, retention ----------------------------------------------------------------------
compact = compaction.compact


def forget_customers(brand_id: int, customer_ids: list[int]) -> None:
    """The erase hook (:mod:`siyu.platform.hooks`): once the erasure commits, a job removes the
    customers' events from the lake and their ids from the dedupe index."""
    from siyu.events import jobs as events_jobs  # jobs imports this module

    ids = list(customer_ids)
    _root_cache.clear()  # an erased customer's id resolves no more, in this process at once
    transaction.on_commit(lambda: events_jobs.erase_from_lake_job(brand_id, ids))


def erase_from_lake(brand_id: int, customer_ids: list[int]) -> int:
    """Remove every event of these customers from the lake (WAL compacted first, the affected
    Parquet files rewritten) and from the dedupe index; how many events went."""
    if not customer_ids:
        return 0
    marks = ", ".join("?" for _ in customer_ids)
    removed = compaction.rewrite_without(brand_id, f"customer_id IN ({marks})", [int(c) for c in customer_ids])
    for start in range(0, len(removed), 500):
        EventKey.objects.filter(brand_id=brand_id, event_id__in=removed[start : start + 500]).delete()
    return len(removed)


def retention_days(brand_id: int) -> int:
    policy = RetentionPolicy.objects.filter(brand_id=brand_id).first()
    return policy.days if policy else RetentionPolicy._meta.get_field("days").default


def set_retention(scope: Scope, days: int) -> RetentionPolicy:
    """HQ sets how many days the brand keeps its events (30 to 3,650)."""
    if not scope.can(Perm.MEMBERS_POLICY):
        raise PermissionDenied(Perm.MEMBERS_POLICY)
    if isinstance(days, bool) or not isinstance(days, int) or not 30 <= days <= 3650:
        raise ValidationError({"days": _("Keep events for 30 to 3,650 days.")})
    policy = RetentionPolicy.objects.filter(brand_id=scope.brand_id).first()
    before = {"days": policy.days} if policy else None
    policy, _created = RetentionPolicy.objects.update_or_create(
        brand_id=scope.brand_id, defaults={"days": days, "updated_at": clock.now()}
    )
    audit.record_by(scope, "events.retention", policy, before=before, after={"days": days})
    return policy


def apply_retention(brand_id: int, *, now: dt.datetime | None = None) -> int:
    """Drop the brand's day partitions older than its retention, and their ids; how many days went."""
    cutoff = ((now or clock.now()).astimezone(dt.UTC) - dt.timedelta(days=retention_days(brand_id))).date()
    dropped = compaction.drop_days_before(brand_id, cutoff.isoformat())
    forget_keys_before(brand_id, cutoff)
    return dropped


RETENTION_CHUNK = 50_000


def forget_keys_before(brand_id: int, cutoff: dt.date, *, chunk: int = RETENTION_CHUNK) -> int:
    """Remove the brand's ids kept on days before ``cutoff`` from the dedupe index; how many went.
    The index has no entry by day (ADR 0023), so the brand's keys are walked in their own order,
    ``chunk`` at a time, each range deleted in a short transaction of its own: ingestion, which
    registers ids one process at a time, waits for one chunk at most, never for the whole walk."""
    removed, after = 0, ""
    mine = EventKey.objects.filter(brand_id=brand_id)
    while True:
        edge = (
            mine.filter(event_id__gt=after).order_by("event_id").values_list("event_id", flat=True)[chunk : chunk + 1]
        )
        upto = next(iter(edge), None)
        span = mine.filter(event_id__gt=after, day__lt=cutoff)
        if upto is not None:
            span = span.filter(event_id__lte=upto)
        removed += span.delete()[0]
        if upto is None:
            return removed
        after = upto


# --- reads (the explorer, the API) ------------------------------------------------------------------------
@dataclass(frozen=True)
class EventRow:
    event_id: str
    type: str
    at: dt.datetime
    customer_id: int
    store_id: int | None
    guide_id: int | None
    content_id: str | None
    product_id: int | None
    sku_id: int | None
    amount_fen: int | None
    quantity: int | None
    properties: dict[str, Any]


def recent_events(
    brand_id: int, *, customer_ids: Iterable[int] | None = None, store_id: int | None = None, limit: int = 50
) -> list[EventRow]:
    """The latest events of some customers (a merged cluster) or of a store, newest first."""
    import duckdb

    where, params = _filter(customer_ids, store_id)
    with duckdb.connect() as con:
        lake.relation(con, brand_id).create_view("rel")
        found = con.execute(
            'SELECT event_id, type, "at", customer_id, store_id, guide_id, content_id, product_id, sku_id, '
            f'amount_fen, quantity, properties FROM rel WHERE {where} ORDER BY "at" DESC, event_id LIMIT ?',
            [*params, int(limit)],
        ).fetchall()
    return [
        EventRow(
            event_id=r[0],
            type=r[1],
            at=r[2].replace(tzinfo=dt.UTC),
            customer_id=r[3],
            store_id=r[4],
            guide_id=r[5],
            content_id=r[6],
            product_id=r[7],
            sku_id=r[8],
            amount_fen=r[9],
            quantity=r[10],
            properties=orjson.loads(r[11]) if r[11] else {},
        )
        for r in found
    ]


def counts_by_type(
    brand_id: int,
    *,
    days: int = 14,
    customer_ids: Iterable[int] | None = None,
    store_id: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, dict[dt.date, int]]:
    """How many events of each type per day (UTC) over the last ``days`` days."""
    import duckdb

    since = ((now or clock.now()).astimezone(dt.UTC) - dt.timedelta(days=days)).replace(tzinfo=None)
    where, params = _filter(customer_ids, store_id)
    with duckdb.connect() as con:
        lake.relation(con, brand_id).create_view("rel")
        found = con.execute(
            f'SELECT type, CAST("at" AS DATE) AS day, count(*) FROM rel WHERE {where} AND "at" >= ? GROUP BY 1, 2',
            [*params, since],
        ).fetchall()
    out: dict[str, dict[dt.date, int]] = {}
    for kind, day, n in found:
        out.setdefault(kind, {})[day] = int(n)
    return out


def _filter(customer_ids: Iterable[int] | None, store_id: int | None) -> tuple[str, list[Any]]:
    clauses, params = ["true"], []
    if customer_ids is not None:
        ids = [int(c) for c in customer_ids] or [0]
        clauses.append(f"customer_id IN ({', '.join('?' for _ in ids)})")
        params += ids
    if store_id is not None:
        clauses.append("store_id = ?")
        params.append(int(store_id))
    return " AND ".join(clauses), params


@dataclass(frozen=True)
class GuideShare:
    """A share event a guide sent (what guide tasks verify forward work from)."""

    event_id: str
    guide_id: int
    customer_id: int
    content_id: str | None
    at: dt.datetime
    channel: str | None  # ``properties.channel`` when the touchpoint said (moments, group, one_to_one)


def guide_shares(
    brand_id: int, guide_ids: Iterable[int], since: dt.datetime, until: dt.datetime, *, content_id: str | None = None
) -> list[GuideShare]:
    """The ``share`` events of these guides between ``since`` and ``until`` (of one piece of content
    when given), oldest first: the facts a forward task's progress is recomputed from."""
    import duckdb

    ids = sorted({int(g) for g in guide_ids})
    if not ids:
        return []
    lo = since.astimezone(dt.UTC).replace(tzinfo=None)
    hi = until.astimezone(dt.UTC).replace(tzinfo=None)
    where = f'type = \'share\' AND guide_id IN ({", ".join("?" for _ in ids)}) AND "at" >= ? AND "at" < ?'
    params: list[Any] = [*ids, lo, hi]
    if content_id:
        where += " AND content_id = ?"
        params.append(content_id)
    with duckdb.connect() as con:
        lake.relation(con, brand_id).create_view("rel")
        found = con.execute(
            f'SELECT event_id, guide_id, customer_id, content_id, "at", properties FROM rel WHERE {where} '
            'ORDER BY "at", event_id',
            params,
        ).fetchall()
    out = []
    for event_id, guide_id, customer_id, content, at, props in found:
        channel = orjson.loads(props).get("channel") if props else None
        out.append(
            GuideShare(
                event_id=event_id,
                guide_id=int(guide_id),
                customer_id=int(customer_id),
                content_id=content,
                at=at.replace(tzinfo=dt.UTC),
                channel=str(channel) if channel else None,
            )
        )
    return out
