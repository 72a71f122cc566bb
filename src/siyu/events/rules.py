"""Pure rules of an event: what a valid event is (ADR 0011). No I/O.

:func:`check` turns one event as a client sent it (a JSON object) into a :class:`Checked` event or a
list of :class:`Problem` (field, message). References (a customer's identity, a store code, a
product code) are only checked for shape here; the service resolves them in batches.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import orjson
from django.utils.translation import gettext as _

TYPES = (
    "view",
    "share",
    "click",
    "scan",
    "add_friend",
    "join_group",
    "message",
    "order",
    "refund",
    "sign_in",
)
_TYPES = frozenset(TYPES)
CUSTOM_PREFIX = "custom:"
CUSTOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,47}$")
IDENTITY_KINDS = ("phone", "unionid", "openid", "wecom", "pos_card", "app")
MAX_EVENT_ID = 64
# Ids of the platform's own events (server-side emits, the demo): a client may not take them, or it
# could make a real fact's event a "duplicate" and keep it out of the lake.
RESERVED_PREFIXES = ("order:", "touch:", "binding:", "demo:")
MAX_PROPERTIES_BYTES = 4096
_NESTED = (dict, list)
MAX_FUTURE = dt.timedelta(minutes=5)
ZERO = dt.timedelta(0)
MAX_AMOUNT_FEN = 10**12
MAX_QUANTITY = 1_000_000
MAX_BATCH = 1000
FIELDS = frozenset(
    {
        "event_id",
        "type",
        "at",
        "customer_id",
        "customer",
        "store",
        "guide",
        "content_id",
        "product",
        "sku",
        "amount_fen",
        "quantity",
        "properties",
    }
)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class Checked(msgspec.Struct):
    """A well-formed event; ``customer`` is ``(kind, key, app_id)`` when no ``customer_id`` was given;
    ``store``, ``product`` and ``sku`` are an id (int) or a code (str) still to resolve. A msgspec
    struct, not a dataclass: made a thousand times a request, its constructor in C costs less than
    half of a dataclass's ``__init__``."""

    event_id: str
    type: str
    at: dt.datetime  # UTC
    customer_id: int | None
    customer: tuple[str, str, str] | None
    store: int | str | None
    guide_id: int | None
    content_id: str | None
    product: int | str | None
    sku: int | str | None
    amount_fen: int | None
    quantity: int | None
    properties: str | None  # compact JSON


def is_type(value: str) -> bool:
    if value in TYPES:
        return True
    return value.startswith(CUSTOM_PREFIX) and bool(CUSTOM_NAME.match(value[len(CUSTOM_PREFIX) :]))


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _ref(value: Any, name: str, problems: list[Problem]) -> int | str | None:
    """A store, product or SKU: a positive id or a code of 1 to 64 characters."""
    if value is None:
        return None
    number = _int(value)
    if number is not None and number > 0:
        return number
    if isinstance(value, str) and 0 < len(value.strip()) <= 64:
        return value.strip()
    problems.append(Problem(name, _("Give an id (a positive number) or a code of 1 to 64 characters.")))
    return None


def parse_at(value: Any) -> dt.datetime | None:
    """An ISO 8601 time with its zone, in UTC; ``None`` when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    return at.astimezone(dt.UTC)


def check(raw: Any, now: dt.datetime, *, platform: bool = False) -> Checked | list[Problem]:
    """One event as sent: a :class:`Checked` event, or the problems that keep it out. Only the
    platform's own events (``platform``) may use the reserved id prefixes."""
    if not isinstance(raw, dict):
        return [Problem("", _("An event is a JSON object."))]
    problems: list[Problem] = []
    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        problems.append(Problem(str(unknown[0]), _("Unknown field.")))
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        problems.append(Problem("event_id", _("An event id is text of 1 to 64 characters.")))
        event_id = ""
    elif not platform and event_id.startswith(RESERVED_PREFIXES):
        problems.append(
            Problem(
                "event_id",
                _("Ids starting with %(prefixes)s are the platform's own.")
                % {"prefixes": ", ".join(RESERVED_PREFIXES)},
            )
        )
    kind = raw.get("type")
    if not isinstance(kind, str) or not is_type(kind):
        problems.append(
            Problem("type", _("Unknown type: one of %(types)s or custom:<name>.") % {"types": ", ".join(TYPES)})
        )
        kind = ""
    at = parse_at(raw.get("at"))
    if at is None:
        problems.append(Problem("at", _("A time in ISO 8601 with its zone, e.g. 2025-05-01T10:00:00+08:00.")))
    elif at > now + MAX_FUTURE:
        problems.append(Problem("at", _("The time is more than 5 minutes in the future.")))
    customer_id = None
    customer = None
    if raw.get("customer_id") is not None:
        customer_id = _int(raw.get("customer_id"))
        if customer_id is None or customer_id <= 0:
            problems.append(Problem("customer_id", _("A customer id is a positive number.")))
    elif raw.get("customer") is not None:
        customer = _identity(raw.get("customer"), problems)
    else:
        problems.append(Problem("customer", _("Say who: a customer_id or a customer identity {kind, key}.")))
    store = _ref(raw.get("store"), "store", problems)
    guide_id = None
    if raw.get("guide") is not None:
        guide_id = _int(raw.get("guide"))
        if guide_id is None or guide_id <= 0:
            problems.append(Problem("guide", _("A guide is given by her id (a positive number).")))
    content_id = raw.get("content_id")
    if content_id is not None and (not isinstance(content_id, str) or not 0 < len(content_id) <= 64):
        problems.append(Problem("content_id", _("A content id is text of 1 to 64 characters.")))
        content_id = None
    product = _ref(raw.get("product"), "product", problems)
    sku = _ref(raw.get("sku"), "sku", problems)
    amount_fen = None
    if raw.get("amount_fen") is not None:
        amount_fen = _int(raw.get("amount_fen"))
        if amount_fen is None or not 0 <= amount_fen <= MAX_AMOUNT_FEN:
            problems.append(Problem("amount_fen", _("An amount is a whole number of fen, not negative.")))
    quantity = None
    if raw.get("quantity") is not None:
        quantity = _int(raw.get("quantity"))
        if quantity is None or not 0 <= quantity <= MAX_QUANTITY:
            problems.append(Problem("quantity", _("A quantity is a whole number from 0 to 1,000,000.")))
    properties = _properties(raw.get("properties"), problems)
    if problems:
        return problems
    assert at is not None
    return Checked(
        event_id=event_id,
        type=kind,
        at=at,
        customer_id=customer_id,
        customer=customer,
        store=store,
        guide_id=guide_id,
        content_id=content_id,
        product=product,
        sku=sku,
        amount_fen=amount_fen,
        quantity=quantity,
        properties=properties,
    )


def check_many(raws: Sequence[Any], now: dt.datetime, *, platform: bool = False) -> list[Checked | list[Problem]]:
    """:func:`check` of each event of a batch, in order, with the same answers. The usual event (an
    object of known fields, a ``customer_id``, plain values of the right types) is checked inline
    here; any other, and every one with a problem, goes through :func:`check`, so the problems and
    their wording are :func:`check`'s alone. This is the API's hot path: no function call per field."""
    latest = now + MAX_FUTURE
    utc = dt.UTC
    parse = dt.datetime.fromisoformat
    out: list[Checked | list[Problem]] = []
    append = out.append
    for raw in raws:
        if type(raw) is not dict or not raw.keys() <= FIELDS:
            append(check(raw, now, platform=platform))
            continue
        get = raw.get
        event_id, kind, text, customer_id = get("event_id"), get("type"), get("at"), get("customer_id")
        store, guide_id, content_id, product = get("store"), get("guide"), get("content_id"), get("product")
        sku, amount_fen, quantity, properties = get("sku"), get("amount_fen"), get("quantity"), get("properties")
        at = None
        if type(text) is str and len(text) <= 40:
            try:  # noqa: SIM105 - a context manager per event costs more than the check
                at = parse(text)
            except ValueError:
                pass
        if (
            type(event_id) is not str
            or not 0 < len(event_id) <= MAX_EVENT_ID
            or (not platform and event_id.startswith(RESERVED_PREFIXES))
            or type(kind) is not str
            or (kind not in _TYPES and not is_type(kind))
            or at is None
            or at.tzinfo is None
            or type(customer_id) is not int
            or customer_id <= 0
            or not (store is None or (type(store) is int and store > 0) or type(store) is str)
            or not (guide_id is None or (type(guide_id) is int and guide_id > 0))
            or not (content_id is None or (type(content_id) is str and 0 < len(content_id) <= 64))
            or not (product is None or (type(product) is int and product > 0) or type(product) is str)
            or not (sku is None or (type(sku) is int and sku > 0) or type(sku) is str)
            or not (amount_fen is None or (type(amount_fen) is int and 0 <= amount_fen <= MAX_AMOUNT_FEN))
            or not (quantity is None or (type(quantity) is int and 0 <= quantity <= MAX_QUANTITY))
        ):
            append(check(raw, now, platform=platform))
            continue
        if at.utcoffset() is None:
            append(check(raw, now, platform=platform))
            continue
        at = at.astimezone(utc)
        if at > latest:
            append(check(raw, now, platform=platform))
            continue
        if type(store) is str:
            store = store.strip()
            if not 0 < len(store) <= 64:
                append(check(raw, now, platform=platform))
                continue
        problems: list[Problem] = []
        if type(product) is str or type(sku) is str:
            product = _ref(product, "product", problems)
            sku = _ref(sku, "sku", problems)
        if properties is not None and not problems:
            properties = _properties(properties, problems)
        if problems:
            append(check(raw, now, platform=platform))
            continue
        append(
            Checked(event_id, kind, at, customer_id, None, store, guide_id, content_id, product, sku, amount_fen,
                    quantity, properties)
        )  # fmt: skip
    return out


# --- a request's body in one C pass (msgspec) --------------------------------------------------------
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_ID)]
_Positive = Annotated[int, msgspec.Meta(gt=0)]
_Ref = _Positive | Annotated[str, msgspec.Meta(max_length=64)]
_NULL = msgspec.Raw(b"null")


class _Usual(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of an event :func:`check` accepts, as msgspec checks it while decoding (the rest —
    the type's name, the time, trimmed references, an identity, the properties' size — is checked
    after, in :func:`check_json`). The defaults stand for absent fields and ``null``."""

    event_id: _Id
    type: str
    at: Annotated[str, msgspec.Meta(max_length=40)]
    customer_id: _Positive | None = None
    customer: msgspec.Raw = _NULL  # only read when customer_id is absent, as check() does
    store: _Ref | None = None
    guide: _Positive | None = None
    content_id: _Id | None = None
    product: _Ref | None = None
    sku: _Ref | None = None
    amount_fen: Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT_FEN)] | None = None
    quantity: Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY)] | None = None
    properties: dict[str, str | int | float | bool | None] | None = None


class _Body(msgspec.Struct):
    events: list[_Usual]


_decode_body = msgspec.json.Decoder(_Body).decode


def _trimmed(ref: int | str | None) -> int | str | bool | None:
    """A store, product or SKU reference as :func:`_ref` keeps it; ``False`` for one it refuses."""
    if type(ref) is not str:
        return ref
    ref = ref.strip()
    return ref if ref else False


def check_json(body: bytes, now: dt.datetime, *, platform: bool = False) -> list[Checked] | None:
    """A request's body ``{"events": [...]}`` decoded and checked in one pass when every event in
    it is well-formed: each event's :class:`Checked`, exactly what :func:`check` makes of it.
    ``None`` when the body is anything else (not JSON, no list of events, an event with a problem):
    the caller then checks it event by event (:func:`check_many`), for the answers of each."""
    try:
        events = _decode_body(body).events
    except msgspec.DecodeError:
        return None
    latest = now + MAX_FUTURE
    utc = dt.UTC
    parse = dt.datetime.fromisoformat
    out: list[Checked] = []
    append = out.append
    for e in events:
        event_id, kind, customer_id = e.event_id, e.type, e.customer_id
        if (not platform and event_id.startswith(RESERVED_PREFIXES)) or (kind not in _TYPES and not is_type(kind)):
            return None
        try:
            at = parse(e.at)
        except ValueError:
            return None
        if at.tzinfo is None:  # fromisoformat's zones are fixed offsets: utcoffset() is never None then
            return None
        at = at.astimezone(utc)
        if at > latest:
            return None
        customer = None
        if customer_id is None:
            if e.customer == _NULL:
                return None
            problems: list[Problem] = []
            customer = _identity(msgspec.json.decode(e.customer), problems)
            if problems:
                return None
        store, product, sku = e.store, e.product, e.sku
        if type(store) is str or type(product) is str or type(sku) is str:
            store, product, sku = _trimmed(store), _trimmed(product), _trimmed(sku)
            if store is False or product is False or sku is False:
                return None
        properties = None
        if e.properties is not None:
            try:
                properties = orjson.dumps(e.properties).decode()
            except TypeError:  # an integer orjson cannot write
                return None
            if len(properties) > MAX_PROPERTIES_BYTES // 4 and len(properties.encode()) > MAX_PROPERTIES_BYTES:
                return None
        append(
            Checked(event_id, kind, at, customer_id, customer, store, e.guide, e.content_id, product, sku,
                    e.amount_fen, e.quantity, properties)
        )  # fmt: skip
    return out


def _identity(value: Any, problems: list[Problem]) -> tuple[str, str, str] | None:
    if not isinstance(value, dict):
        problems.append(Problem("customer", _("A customer identity is an object {kind, key, app_id}.")))
        return None
    kind, key, app_id = value.get("kind"), value.get("key"), value.get("app_id", "")
    if kind not in IDENTITY_KINDS:
        problems.append(
            Problem("customer.kind", _("An identity kind is one of %(kinds)s.") % {"kinds": ", ".join(IDENTITY_KINDS)})
        )
        return None
    if not isinstance(key, str) or not 0 < len(key.strip()) <= 128:
        problems.append(Problem("customer.key", _("An identity needs a value of 1 to 128 characters.")))
        return None
    if not isinstance(app_id, str) or len(app_id) > 64:
        problems.append(Problem("customer.app_id", _("An app id has at most 64 characters.")))
        return None
    if kind == "openid" and not app_id.strip():
        problems.append(Problem("customer.app_id", _("An openid belongs to one app: give its app_id.")))
        return None
    return str(kind), key.strip(), app_id.strip() if kind in ("openid", "app") else ""


def _properties(value: Any, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or any(isinstance(v, _NESTED) for v in value.values()):
        problems.append(Problem("properties", _("Properties are a flat JSON object (no nested objects or lists).")))
        return None
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        problems.append(Problem("properties", _("Properties are a flat JSON object (no nested objects or lists).")))
        return None
    if len(text.encode()) > MAX_PROPERTIES_BYTES:
        problems.append(Problem("properties", _("Properties take at most 4 KB.")))
        return None
    return text


def timestamp(at: dt.datetime) -> str:
    """A UTC time as the lake's NDJSON writes it."""
    if at.utcoffset() != ZERO:
        at = at.astimezone(dt.UTC)
    return at.isoformat(" ", "microseconds")[:26]  # strftime costs ten times as much
