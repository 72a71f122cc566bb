"""Import members from CSV or Excel: a dry run that reports every bad row, and an idempotent real run
that never half-applies a batch (ADR 0008 and its amendment).

The file is streamed, never held in memory, and checked row by row: phone, store code, guide, tier,
tags, dates, duplicates within the file. A bad row is reported as ``(line, column, reason)`` with the
line a person sees in the file (the header is line 1). For a large file the check runs in a worker
process (:func:`_scanned`) beside the one that writes, and for a real run it also builds the rows
(phone and name sealed, keyed hashes, database values; :meth:`Writer.prepare`).

A real run is written one of two ways:

- **In batches** (PostgreSQL; small files; brands with many customers). The check pass counts the
  rows that would be added and those already there (one lookup per batch; none in a brand without
  customers) and spools the built rows to a temporary file. A dry run, or a real run with bad rows
  and no ``skip_bad``, stops there. Then each batch is one transaction: its phone hashes and
  identity keys are looked up again, rows already a customer's are counted ``unchanged``, the others
  inserted with ids allocated up front (SQLite: above the table's highest id, under the write lock;
  PostgreSQL: a ``nextval`` range) by one ``executemany`` / ``COPY`` per table, and the run's counts
  updated in the same transaction. A failed run re-run later continues where it stopped.
- **In bulk** (SQLite, a file of 20,000 rows or more into an empty or small brand;
  :func:`_import_in_bulk`): check and write in one pass and one transaction, the indexes of the
  tables dropped first and built again at the end, inside the transaction. Bad rows (without
  ``skip_bad``) or any error roll everything back, indexes included: nothing applied.

Per new member: the customer, her identities (phone — the keyed hash, verified —, unionid, POS card),
her binding (source ``import``) when she has a store or guide, her tags and her consents.

Other domains reach the importer through :mod:`siyu.members.services`.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import multiprocessing
import pickle
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import chain
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.members.models import (
    Binding,
    BindingSource,
    Channel,
    Consent,
    Customer,
    CustomerTag,
    Identity,
    IdentityKind,
    ImportRun,
    Lifecycle,
    Source,
    Tag,
    TierLevel,
)
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock, privacy, sheets
from siyu.platform.jobs import job
from siyu.platform.tenancy import Scope, get_scoped, restrict

BATCH_SIZE = 5000
MAX_STORED_ERRORS = 1000  # an ImportRun keeps the first 1,000 bad rows; the CLI can write them all
SQLITE_CACHE_KIB = 128 * 1024  # page cache while importing in batches: bounded, whatever the file's size
SQLITE_BULK_CACHE_KIB = 64 * 1024  # ... in bulk (and the sorter's memory for each index it builds)
BULK_MIN_ROWS = 20_000  # SQLite: from this many new rows, one transaction with the indexes built at the end
BULK_TABLE_RATIO = 1  # ... unless the customer table already holds more rows than the file adds, times this
BULK_SMALL_BRAND = 100_000  # ... or the brand has more customers than this (their keys are held in memory)
WORKER_MIN_ROWS = 20_000  # from this many rows the check runs in a worker process, beside the writing
BUILT_BY_WORKER = 4  # a bulk import's worker builds every 4th batch of rows, the database process the others
INLINE_BYTES = 2 * 1024 * 1024  # pages run smaller files inline, larger ones as a job

# Canonical column -> the header names it may have (compared lower-case, spaces and '-' as '_').
COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "手机号", "手机", "手机号码"),
    "name": ("name", "姓名"),
    "gender": ("gender", "性别"),
    "birthday": ("birthday", "生日"),
    "store_code": ("store_code", "store", "门店编码", "门店"),
    "guide": ("guide", "导购"),
    "tier": ("tier", "等级", "会员等级"),
    "tags": ("tags", "标签"),
    "joined_at": ("joined_at", "注册时间"),
    "unionid": ("unionid",),
    "pos_card": ("pos_card", "会员卡号"),
    "consent_sms": ("consent_sms", "短信同意"),
    "consent_wecom": ("consent_wecom", "企微同意"),
}

_YES = frozenset({"yes", "y", "true", "1", "是", "同意"})
_NO = frozenset({"no", "n", "false", "0", "否", "不同意"})
_GENDER = {
    "f": "f", "female": "f", "w": "f", "女": "f",
    "m": "m", "male": "m", "男": "m",
    "": "", "unknown": "", "未知": "",
}  # fmt: skip
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_UNIONID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_POS_CARD = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_TIER = re.compile(r"^[a-z0-9_-]{1,20}$")
_FAST_PHONE = re.compile(r"^1[3-9]\d{9}$")
_TAG_SPLIT = re.compile(r"[;；]")
NAME_MAX = 60


class ImportFailed(Exception):
    """The file cannot be imported at all (unreadable, no phone column), or a batch failed; the
    message says what to do. Nothing of a failed batch is applied."""


BadRow = sheets.BadRow  # (line as a person sees it, column as written, reason)


@dataclass
class Report:
    run_id: int
    dry_run: bool
    status: str
    file_name: str
    rows_total: int = 0
    rows_added: int = 0  # a dry run: rows that would be added
    rows_unchanged: int = 0
    rows_bad: int = 0
    errors: list[BadRow] = field(default_factory=list)  # the first MAX_STORED_ERRORS
    notices: list[str] = field(default_factory=list)
    refused: bool = False  # a real run with bad rows and no skip_bad: nothing applied
    message: str = ""
    bulk: bool = False  # written in bulk: one transaction, the indexes built at the end (SQLite, ADR 0008)


Progress = Callable[[str, int, int | None], None]  # (phase "check" | "import", rows done, rows in all)


# --- Reading files (platform.sheets) ----------------------------------------------------------
def open_sheet(path: Path, file_name: str | None = None) -> sheets.Sheet:
    """The file as a :class:`siyu.platform.sheets.Sheet` (CSV in UTF-8 or GBK, or .xlsx)."""
    try:
        return sheets.open_sheet(path, file_name)
    except sheets.SheetError as exc:
        raise ImportFailed(str(exc)) from exc


def _columns(headers: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Canonical column -> index, and the header names that were ignored."""
    try:
        found, ignored = sheets.map_columns(headers, COLUMNS)
    except sheets.SheetError as exc:
        raise ImportFailed(str(exc)) from exc
    if "phone" not in found:
        raise ImportFailed(
            _("No phone column: the first line must name a column phone (or 手机号). Columns found: %(found)s.")
            % {"found": ", ".join(str(h) for h in headers) or "-"}
        )
    return found, ignored


# --- Validating rows -------------------------------------------------------------------------
class Member(NamedTuple):
    """A valid row, ready to write (kept as a plain tuple between the passes)."""

    line: int
    phone: str
    name: str
    gender: str
    birthday: dt.date | None
    store_id: int | None
    guide_id: int | None
    tier: str
    tag_ids: tuple[int, ...]
    joined_at: dt.datetime | None
    unionid: str
    pos_card: str
    consent_sms: bool | None
    consent_wecom: bool | None
    phone_hash: str


@dataclass
class References:
    """What rows may name, read once per run: stores by code, guides by login, tiers, tags."""

    stores: dict[str, org.StoreInfo]
    store_codes: dict[int, str]
    guides: dict[str, org.StaffInfo]
    tiers: dict[str, str]  # code or name (lower-case) -> code
    default_tier: str
    tags_by_group: dict[tuple[str, str], tuple[int, int, bool]]  # (group, tag) lower -> (tag, group, exclusive)
    tags_by_name: dict[str, list[tuple[int, int, bool]]]

    def ids(self) -> set[tuple[str, int]]:
        """Every store, guide and tag a row may name, as (kind, id)."""
        return (
            {("store", s.id) for s in self.stores.values()}
            | {("staff", g.id) for g in self.guides.values()}
            | {("tag", t[0]) for t in self.tags_by_group.values()}
        )

    @classmethod
    def load(cls, brand_id: int) -> References:
        stores = {s.code.upper(): s for s in org.stores(brand_id)}
        levels = list(TierLevel.objects.filter(brand_id=brand_id).order_by("rank"))
        tiers = {lvl.code.lower(): lvl.code for lvl in levels} | {lvl.name.lower(): lvl.code for lvl in levels}
        by_group: dict[tuple[str, str], tuple[int, int, bool]] = {}
        by_name: dict[str, list[tuple[int, int, bool]]] = {}
        for tag_id, tag_name, group_id, group_name, exclusive in Tag.objects.filter(brand_id=brand_id).values_list(
            "pk", "name", "group_id", "group__name", "group__exclusive"
        ):
            entry = (tag_id, group_id, exclusive)
            by_group[(group_name.lower(), tag_name.lower())] = entry
            by_name.setdefault(tag_name.lower(), []).append(entry)
        return cls(
            stores=stores,
            store_codes={s.id: s.code for s in stores.values()},
            guides=org.guides_by_login(brand_id),
            tiers=tiers,
            default_tier=levels[0].code if levels else "regular",
            tags_by_group=by_group,
            tags_by_name=by_name,
        )


def _parse_datetime(value: Any, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0, 0), tzinfo=tz)
    text = str(value).strip()
    m = _DATE.match(text) or _COMPACT_DATE.match(text)
    if m is None:
        raise ValueError(text)
    parts = [int(p) if p else 0 for p in m.groups()] + [0, 0, 0]
    return dt.datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], tzinfo=tz)


class Checker:
    """Validates rows one at a time; remembers the phones, unionids and POS cards it has seen so a
    repeat within the file is a bad row (memory: tens of bytes a row; see ADR 0008)."""

    def __init__(self, refs: References, columns: dict[str, int], headers: Sequence[str], now: dt.datetime) -> None:
        self.refs = refs
        self.columns = columns
        self.headers = headers
        self.now = now
        self.tz = timezone.get_default_timezone()
        self.seen_phones: set[int] = set()
        self.seen_unionids: set[str] = set()
        self.seen_cards: set[str] = set()
        self.today = timezone.localdate(now)
        self.latest = now.astimezone(self.tz) + dt.timedelta(days=1)  # in the rows' zone: compared as is, fast
        self.hash = privacy.hasher()
        # Where each canonical column is in a row; an absent one reads the padding cell after the last header.
        self.width = len(headers)
        self.positions = [columns.get(c, self.width) for c in COLUMNS]
        self.birthdays: dict[str, dt.date | None] = {}  # text -> date (None: not a date); a few thousand at most

    def _header(self, column: str) -> str:
        return str(self.headers[self.columns[column]]).strip()

    def _cells(self, cells: Sequence[Any]) -> list[Any] | None:
        """The row's canonical columns in ``COLUMNS`` order, stripped; ``None`` for a blank row."""
        try:
            if not "".join(cells).strip():  # a CSV row: every cell is text
                return None
        except TypeError:  # an Excel row: numbers, dates
            if not any((c.strip() if isinstance(c, str) else c) for c in cells):
                return None
        width = self.width
        row = [*cells, ""] if len(cells) == width else [*cells[:width], *([""] * (width + 1 - min(len(cells), width)))]
        return [v.strip() if v.__class__ is str else v for v in map(row.__getitem__, self.positions)]

    def _birthday(self, raw: Any) -> dt.date:
        if not isinstance(raw, str):
            return _parse_datetime(raw, self.tz).date()
        if raw in self.birthdays:
            found = self.birthdays[raw]
        else:
            try:
                found = _parse_datetime(raw, self.tz).date()
            except ValueError:
                found = None
            if len(self.birthdays) > 50_000:  # bounded, whatever the file
                self.birthdays.clear()
            self.birthdays[raw] = found
        if found is None:
            raise ValueError(raw)
        return found

    def check(self, line: int, cells: Sequence[Any]) -> Member | list[BadRow] | None:
        """A valid member, the row's problems, or ``None`` for a blank row."""
        values = self._cells(cells)
        if values is None:
            return None
        (
            raw_phone, raw_name, raw_gender, raw_birthday, raw_code, raw_login, raw_tier, raw_tags, raw_joined,
            raw_unionid, raw_card, raw_sms, raw_wecom,
        ) = values  # fmt: skip
        cols = self.columns
        bad: list[BadRow] = []

        def problem(column: str, reason: str) -> None:
            bad.append(BadRow(line, self._header(column) if column in cols else column, reason))

        refs = self.refs
        phone = ""
        if not raw_phone:
            problem("phone", _("The mobile number is missing."))
        else:
            raw = str(raw_phone)
            if _FAST_PHONE.match(raw):
                phone = raw
            else:
                try:
                    phone = privacy.normalize_phone(raw)
                except ValueError:
                    problem("phone", _("“%(value)s” is not a mobile number (11 digits, 13–19…).") % {"value": raw})
            if phone:
                as_int = int(phone)
                if as_int in self.seen_phones:
                    problem("phone", _("The mobile number %(value)s appears on an earlier line.") % {"value": phone})
                    phone = ""
                else:
                    self.seen_phones.add(as_int)

        name = str(raw_name)
        if len(name) > NAME_MAX:
            problem("name", _("The name is longer than %(max)s characters.") % {"max": NAME_MAX})

        gender = _GENDER.get(str(raw_gender).lower())
        if gender is None:
            problem("gender", _("“%(value)s” is not a gender (use 男/女 or m/f).") % {"value": raw_gender})
            gender = ""

        birthday: dt.date | None = None
        if raw_birthday:
            try:
                birthday = self._birthday(raw_birthday)
                if birthday > self.today or birthday.year < 1900:
                    problem("birthday", _("The birthday %(value)s is not plausible.") % {"value": birthday})
            except ValueError:
                problem(
                    "birthday",
                    _("“%(value)s” is not a date (write 1990-05-17 or 1990/5/17).") % {"value": raw_birthday},
                )

        joined_at: dt.datetime | None = None
        if raw_joined:
            try:
                joined_at = _parse_datetime(raw_joined, self.tz)
                if joined_at > self.latest or joined_at.year < 1990:
                    problem("joined_at", _("The joining time %(value)s is not plausible.") % {"value": raw_joined})
            except ValueError:
                problem(
                    "joined_at",
                    _("“%(value)s” is not a date and time (write 2023-05-17 14:30 or 2023/5/17).")
                    % {"value": raw_joined},
                )

        store_id: int | None = None
        code = str(raw_code)
        if code:
            store = refs.stores.get(code.upper())
            if store is None:
                problem("store_code", _("There is no store with the code %(value)s.") % {"value": code})
            elif store.status == "closed":
                problem("store_code", _("The store %(value)s is closed.") % {"value": code})
            else:
                store_id = store.id

        guide_id: int | None = None
        login = str(raw_login)
        if login:
            guide = refs.guides.get(login.lower()) or refs.guides.get(login)
            if guide is None:
                problem("guide", _("There is no guide with the username or mobile %(value)s.") % {"value": login})
            elif not guide.active:
                problem("guide", _("The guide %(value)s has left the brand.") % {"value": login})
            elif code and store_id is not None and guide.store_id != store_id:
                problem(
                    "guide",
                    _("The guide %(value)s works at another store (%(store)s), not at %(code)s.")
                    % {"value": login, "store": refs.store_codes.get(guide.store_id or 0, "-"), "code": code},
                )
            else:
                guide_id = guide.id
                if store_id is None:
                    store_id = guide.store_id

        tier = refs.default_tier
        raw_tier = str(raw_tier)
        if raw_tier:
            if refs.tiers:
                found_tier = refs.tiers.get(raw_tier.lower())
                if found_tier is None:
                    problem(
                        "tier",
                        _("There is no tier %(value)s (the tiers are %(tiers)s).")
                        % {"value": raw_tier, "tiers": ", ".join(sorted(set(refs.tiers.values())))},
                    )
                else:
                    tier = found_tier
            elif _TIER.match(raw_tier.lower()):
                tier = raw_tier.lower()
            else:
                problem("tier", _("“%(value)s” is not a tier code.") % {"value": raw_tier})

        tag_ids: list[int] = []
        raw_tags = str(raw_tags)
        if raw_tags:
            exclusive_groups: set[int] = set()
            for part in _TAG_SPLIT.split(raw_tags):
                text = part.strip()
                if not text:
                    continue
                group_name, sep, tag_name = text.replace("：", ":").partition(":")
                entry: tuple[int, int, bool] | None
                if sep:
                    entry = refs.tags_by_group.get((group_name.strip().lower(), tag_name.strip().lower()))
                    if entry is None:
                        problem("tags", _("There is no tag “%(value)s”.") % {"value": text})
                        continue
                else:
                    entries = refs.tags_by_name.get(text.lower(), [])
                    if not entries:
                        problem("tags", _("There is no tag “%(value)s”.") % {"value": text})
                        continue
                    if len(entries) > 1:
                        problem(
                            "tags",
                            _("The tag “%(value)s” is in several groups; write it as group:tag.") % {"value": text},
                        )
                        continue
                    entry = entries[0]
                tag_id, group_id, exclusive = entry
                if exclusive:
                    if group_id in exclusive_groups:
                        problem("tags", _("“%(value)s”: its group allows one tag at a time.") % {"value": text})
                        continue
                    exclusive_groups.add(group_id)
                if tag_id not in tag_ids:
                    tag_ids.append(tag_id)

        unionid = str(raw_unionid)
        if unionid:
            if not _UNIONID.match(unionid):
                problem("unionid", _("“%(value)s” is not a WeChat unionid.") % {"value": unionid})
                unionid = ""
            elif unionid in self.seen_unionids:
                problem("unionid", _("The unionid %(value)s appears on an earlier line.") % {"value": unionid})
                unionid = ""
            else:
                self.seen_unionids.add(unionid)

        card = str(raw_card)
        if card:
            if not _POS_CARD.match(card):
                problem("pos_card", _("“%(value)s” is not a member card number.") % {"value": card})
                card = ""
            elif card in self.seen_cards:
                problem("pos_card", _("The member card %(value)s appears on an earlier line.") % {"value": card})
                card = ""
            else:
                self.seen_cards.add(card)

        consents: list[bool | None] = []
        for column, raw_consent in (("consent_sms", raw_sms), ("consent_wecom", raw_wecom)):
            text = str(raw_consent).lower()
            if not text:
                consents.append(None)
            elif text in _YES:
                consents.append(True)
            elif text in _NO:
                consents.append(False)
            else:
                problem(column, _("“%(value)s” is neither yes nor no.") % {"value": text})
                consents.append(None)

        if bad:
            return bad
        return Member(
            line,
            phone,
            name,
            gender,
            birthday,
            store_id,
            guide_id,
            tier,
            tuple(tag_ids),
            joined_at,
            unionid,
            card,
            consents[0],
            consents[1],
            self.hash(phone),
        )


# --- Writing in bulk -------------------------------------------------------------------------
class Spooled(NamedTuple):
    """A checked batch as the check pass spools it for a real run: every table's rows built already
    (phone and name sealed, keyed hashes, values as the database stores them), the customer's id left
    as ``k``, the row's number among the file's good rows (1, 2, ...), so the writing pass only turns
    ``k`` into ids. The spool holds plain tuples in this order; no plain phone or name is written."""

    keys: list[tuple[int, str, str, str]]  # (line, phone hash, unionid, POS card) of each row, in order
    customers: list[tuple[Any, ...]]  # (k, then the fields of Writer.customers)
    identities: list[tuple[Any, ...]]  # the fields of Writer.identities, customer and origin = k
    bindings: list[tuple[Any, ...]]  # the fields of Writer.bindings, customer = k
    tags: list[tuple[Any, ...]]  # likewise
    consents: list[tuple[Any, ...]]  # likewise


Keys = tuple[str, str, str]  # (phone hash, unionid, POS card): what says a row is already there


class Table:
    """A raw, batched ``INSERT`` into a model's table: the given fields in order, then every other
    concrete field at its default (so a column added later with a default does not break imports)."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        meta = model._meta
        self.table = meta.db_table
        self.fields = list(fields)
        given = [meta.get_field(name) for name in fields]
        rest = [f for f in meta.concrete_fields if f.name not in fields and not f.primary_key]
        self.constants = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        self.given_columns: list[str] = [str(f.column) for f in given]  # type: ignore[union-attr]
        self.rest_columns: list[str] = [str(f.column) for f in rest]
        columns = ["id", *self.given_columns, *self.rest_columns]
        qn = connection.ops.quote_name
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            qn(self.table), ", ".join(qn(c) for c in columns), ", ".join(["%s"] * len(columns))
        )
        self.copy_sql = "COPY {} ({}) FROM STDIN".format(qn(self.table), ", ".join(qn(c) for c in columns))

    def ids(self, n: int) -> list[int]:
        """``n`` new primary keys, allocated inside the caller's transaction."""
        if n == 0:
            return []
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [connection.ops.quote_name(self.table), n],
                )
                return [row[0] for row in cursor.fetchall()]
        start = self.last_id() + 1
        return list(range(start, start + n))

    def last_id(self) -> int:
        """SQLite: the highest id the table has used (the transaction holds the write lock, BEGIN
        IMMEDIATE, so the ids after it are ours). AUTOINCREMENT remembers ids of deleted rows too."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {connection.ops.quote_name(self.table)}), 0), "
                "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                [self.table],
            )
            return int(cursor.fetchone()[0])

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        constants = self.constants
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY: one stream instead of a statement per row
                with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                    for r in rows:
                        copy.write_row(r + constants)
                return
            cursor.executemany(self.sql, [r + constants for r in rows])

    def literals(self) -> list[str]:
        """SQLite: the defaults as SQL literals, quoted by SQLite itself."""
        if not self.constants:
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(['quote(%s)'] * len(self.constants))}", list(self.constants))
            return [str(v).replace("%", "%%") for v in cursor.fetchone()]

    @property
    def columns_sql(self) -> str:
        """The table's columns but the id, quoted, in the order of :class:`Offset`."""
        return ", ".join(connection.ops.quote_name(c) for c in [*self.given_columns, *self.rest_columns])


def _sqlite_datetime(tz: dt.tzinfo) -> Callable[[dt.datetime], str]:
    """Django's SQLite value of an aware datetime (naive, in the connection's time zone), without
    the per-call settings lookups of ``adapt_datetimefield_value``."""
    return lambda value: str(value.astimezone(tz).replace(tzinfo=None))


class Writer:
    """Turns checked members into rows and applies batches of them for one brand (see the module
    docstring)."""

    def __init__(self, brand_id: int, actor_label: str) -> None:
        self.brand_id = brand_id
        self.actor_label = actor_label[:120]
        self.customers = Table(
            Customer,
            [
                "brand", "store", "guide", "phone_sealed", "phone_hash", "name_sealed", "name_hash", "gender",
                "birthday", "source", "tier", "lifecycle", "joined_at", "bound_at",
            ],
        )  # fmt: skip
        self.identities = Table(
            Identity, ["brand", "customer", "origin", "kind", "app_id", "key", "verified", "source", "created_at"]
        )
        self.bindings = Table(Binding, ["brand", "customer", "guide", "store", "source", "actor_label", "at"])
        self.coded_bindings = Table(
            Binding, ["brand", "customer", "guide", "store", "source", "actor_label", "at", "code"]
        )
        self.tags = Table(CustomerTag, ["brand", "customer", "tag", "added_by_label", "source", "at"])
        self.consents = Table(Consent, ["brand", "customer", "channel", "granted", "source", "at"])
        self.sqlite = connection.vendor == "sqlite"
        self.adapt_dt: Callable[[Any], Any] = connection.ops.adapt_datetimefield_value
        self.db_datetime: Callable[[dt.datetime], Any] = self.adapt_dt
        self.db_date: Callable[[dt.date], Any] = connection.ops.adapt_datefield_value
        if self.sqlite and settings.USE_TZ:
            self.db_datetime = _sqlite_datetime(connection.timezone or dt.UTC)
            self.db_date = dt.date.isoformat
        self.seal_all = privacy.batch_sealer()
        self.hash = privacy.hasher()
        self.analyzed_at = 0  # rows this run had added when it last refreshed the statistics

    @property
    def tables(self) -> list[str]:
        """The tables an import writes."""
        return [t.table for t in (self.customers, self.identities, self.bindings, self.tags, self.consents)]

    def brand_is_empty(self) -> bool:
        """No customer (hence no identity) of the brand yet: no row of a file can be there already."""
        return not Customer.objects.filter(brand_id=self.brand_id).exists()

    def prepare(self, batch: Sequence[Member], k0: int, now: dt.datetime) -> Spooled:
        """The batch's rows for every table (see :class:`Spooled`); its first member is the file's
        good row number ``k0``. Phone and name are sealed here (ADR 0005)."""
        brand, label, db_dt, db_date, lookup = (
            self.brand_id,
            self.actor_label,
            self.db_datetime,
            self.db_date,
            self.hash,
        )
        # Plain values, not the models' choices (str subclasses) nor bools on SQLite: the driver binds plain
        # str and int at once, and looks every other type up in its adapters first (a tenth of the writing).
        yes, no = (1, 0) if self.sqlite else (True, False)
        source, new, import_source = str(Source.IMPORT.value), str(Lifecycle.NEW.value), "import"
        by_phone, by_unionid, by_card = (
            str(k.value) for k in (IdentityKind.PHONE, IdentityKind.UNIONID, IdentityKind.POS_CARD)
        )
        imported, sms, wecom = str(BindingSource.IMPORT.value), str(Channel.SMS.value), str(Channel.WECOM.value)
        at = db_dt(now)
        sealed = self.seal_all([v for m in batch for v in (m.phone, m.name)])
        batch_out = Spooled([], [], [], [], [], [])
        keys, customers, identities, bindings, tags, consents = batch_out
        for k, m in enumerate(batch, start=k0):
            i = 2 * (k - k0)
            bound = m.guide_id is not None or m.store_id is not None
            keys.append((m.line, m.phone_hash, m.unionid, m.pos_card))
            customers.append(
                (
                    k, brand, m.store_id, m.guide_id, sealed[i], m.phone_hash, sealed[i + 1],
                    lookup(m.name) if m.name else "", m.gender, None if m.birthday is None else db_date(m.birthday),
                    source, m.tier, new, at if m.joined_at is None else db_dt(m.joined_at), at if bound else None,
                )
            )  # fmt: skip
            identities.append((brand, k, k, by_phone, "", m.phone_hash, yes, source, at))
            if m.unionid:
                identities.append((brand, k, k, by_unionid, "", m.unionid, no, source, at))
            if m.pos_card:
                identities.append((brand, k, k, by_card, "", m.pos_card, no, source, at))
            if bound:
                bindings.append((brand, k, m.guide_id, m.store_id, imported, label, at))
            for tag_id in m.tag_ids:
                tags.append((brand, k, tag_id, label, import_source, at))
            if m.consent_sms is not None:
                consents.append((brand, k, sms, yes if m.consent_sms else no, import_source, at))
            if m.consent_wecom is not None:
                consents.append((brand, k, wecom, yes if m.consent_wecom else no, import_source, at))
        return batch_out

    def unchanged(self, keys: Sequence[Keys]) -> list[bool]:
        """For each row's keys: does her phone, unionid or POS card belong to a customer?"""
        return _hits(keys, self.existing(keys))

    def brand_keys(self) -> set[tuple[str, str]]:
        """Every phone hash, unionid and POS card of the brand's customers (a small brand's: the bulk
        import looks rows up here once its indexes are gone)."""
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 'phone', phone_hash FROM {qn(Customer._meta.db_table)} "
                "WHERE brand_id = %s AND NOT (phone_hash = '') "
                f"UNION ALL SELECT kind, {qn('key')} FROM {qn(Identity._meta.db_table)} "
                "WHERE brand_id = %s AND app_id = '' AND kind IN ('phone', 'unionid', 'pos_card')",
                [self.brand_id, self.brand_id],
            )
            return {(str(kind), str(value)) for kind, value in cursor.fetchall()}

    def existing(self, keys: Sequence[Keys]) -> set[tuple[str, str]]:
        """Which of the rows' phones and identities already belong to a customer: one query."""
        hashes = [k[0] for k in keys]
        others = [k[1] for k in keys if k[1]] + [k[2] for k in keys if k[2]]
        qn = connection.ops.quote_name
        customers, identities, key = qn(Customer._meta.db_table), qn(Identity._meta.db_table), qn("key")
        # NOT (phone_hash = '') lets the database use the partial unique index one_customer_per_phone.
        if not self.sqlite:  # PostgreSQL: two array parameters, one plan for every batch
            sql = (
                f"SELECT 'phone', phone_hash FROM {customers} "
                "WHERE brand_id = %s AND phone_hash = ANY(%s) AND NOT (phone_hash = '') "
                f"UNION ALL SELECT kind, {key} FROM {identities} "
                f"WHERE brand_id = %s AND app_id = '' AND kind IN ('phone', 'unionid', 'pos_card') AND {key} = ANY(%s)"
            )
            params: list[Any] = [self.brand_id, hashes, self.brand_id, hashes + others]
        else:
            # One SQL text per batch size (padded with a key no identity has): the driver's statement cache
            # then holds one prepared statement, not one per batch (each with thousands of parameters).
            padded = hashes + others + [""] * (2 * len(hashes) - len(others))
            sql = (
                f"SELECT 'phone', phone_hash FROM {customers} "
                f"WHERE brand_id = %s AND phone_hash IN ({', '.join(['%s'] * len(hashes))}) AND NOT (phone_hash = '') "
                f"UNION ALL SELECT kind, {key} FROM {identities} "
                f"WHERE brand_id = %s AND app_id = '' AND kind IN ('phone', 'unionid', 'pos_card') "
                f"AND {key} IN ({', '.join(['%s'] * len(padded))})"
            )
            params = [self.brand_id, *hashes, self.brand_id, *padded]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {(str(kind), str(value)) for kind, value in cursor.fetchall()}

    def refresh_statistics(self, added: int) -> None:
        """PostgreSQL: ``ANALYZE`` the tables the lookups read each time this run has doubled what it
        added (from 10,000 rows on). Their statistics would otherwise describe them as they were — empty,
        for a new brand — and the planner reads every row of the brand for each batch's lookup."""
        if self.sqlite or added < max(10_000, 2 * self.analyzed_at):
            return
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {qn(Customer._meta.db_table)}, {qn(Identity._meta.db_table)}")
        self.analyzed_at = added

    def apply(self, batch: Spooled, new: Sequence[bool] | None = None) -> tuple[int, int]:
        """Insert the batch's new members (inside the caller's transaction): (added, unchanged).
        ``new`` says which rows to add; without it the batch is looked up first."""
        if new is None:
            new = [not there for there in self.unchanged([k[1:] for k in batch.keys])]
        ks = [row[0] for row, add in zip(batch.customers, new, strict=True) if add]
        if not ks:
            return 0, len(new)
        cid = dict(zip(ks, self.customers.ids(len(ks)), strict=True))
        self.customers.insert([(cid[row[0]], *row[1:]) for row in batch.customers if row[0] in cid])
        self.identities.insert(
            _numbered(self.identities, [(b, c, c, *rest) for b, k, _o, *rest in batch.identities if (c := cid.get(k))])
        )
        for table, rows in ((self.bindings, batch.bindings), (self.tags, batch.tags), (self.consents, batch.consents)):
            table.insert(_numbered(table, [(b, c, *rest) for b, k, *rest in rows if (c := cid.get(k))]))
        return len(ks), len(new) - len(ks)

    def apply_offset(self, batch: Spooled, into: dict[str, Offset], there: set[tuple[str, str]]) -> tuple[int, int]:
        """SQLite bulk import: the spooled rows (in chunks, see :func:`_chunked`) go to the database as
        they are, through each table's :class:`Offset` statements (a customer's id is ``k`` plus the
        base); rows whose keys are in ``there`` (the brand's customers before the import) are left
        out. Returns (added, unchanged)."""
        tables = [
            (self.customers, batch.customers),
            (self.identities, batch.identities),
            (self.bindings, batch.bindings),
            (self.tags, batch.tags),
            (self.consents, batch.consents),
        ]
        skip: set[int] = set()
        hits = _hits([k[1:] for k in batch.keys], there) if there else []
        if any(hits):
            customers = _rows(batch.customers, into[self.customers.table].width)
            skip = {row[0] for row, hit in zip(customers, hits, strict=True) if hit}
        with connection.cursor() as cursor:
            for table, chunks in tables:
                into[table.table].insert(cursor, chunks, skip)
        return len(batch.keys) - len(skip), len(skip)

    def offsets(self, base: int, identities_into: str) -> dict[str, Offset]:
        """For :meth:`apply_offset`: each table's statements with customer ids ``k + base``; the
        identities go to the staging table ``identities_into``."""
        return {
            self.customers.table: Offset(self.customers, base, [], with_id=True),
            self.identities.table: Offset(self.identities, base, ["customer", "origin"], into=identities_into),
            **{t.table: Offset(t, base, ["customer"]) for t in (self.bindings, self.tags, self.consents)},
        }


CHUNK = 50  # rows a bulk import's INSERT takes at once: a third less work for the driver and SQLite


def _chunked(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as flat tuples of ``CHUNK`` rows each (the last one shorter), for :class:`Offset`."""
    return [tuple(chain.from_iterable(rows[i : i + CHUNK])) for i in range(0, len(rows), CHUNK)]


def _rows(chunks: list[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    """The rows of :func:`_chunked` chunks again."""
    return [chunk[i : i + width] for chunk in chunks for i in range(0, len(chunk), width)]


class Offset:
    """A bulk import's ``INSERT`` into one table (SQLite): takes :func:`_chunked` rows as they are,
    ``offset`` added to the ``shifted`` fields (``k`` becomes the customer's id), the defaults written
    as literals, the id the first value plus ``offset`` (``with_id``) or left to the table
    (AUTOINCREMENT); ``into`` names another table with the same columns (a staging table)."""

    def __init__(
        self, table: Table, offset: int, shifted: Sequence[str], *, with_id: bool = False, into: str = ""
    ) -> None:
        qn = connection.ops.quote_name
        plus = f"%s + {int(offset)}"
        values = [plus if name in shifted else "%s" for name in table.fields]
        columns = [*table.given_columns, *table.rest_columns]
        if with_id:
            columns, values = ["id", *columns], [plus, *values]
        self.width = len(values)  # values a row takes
        self.key = 0 if with_id else table.fields.index("customer")  # where a row has its k
        self.head = "INSERT INTO {} ({}) VALUES ".format(into or qn(table.table), ", ".join(qn(c) for c in columns))
        self.row = "({})".format(", ".join([*values, *table.literals()]))
        self.sql: dict[int, str] = {}

    def statement(self, rows: int) -> str:
        if rows not in self.sql:
            self.sql[rows] = self.head + ", ".join([self.row] * rows)
        return self.sql[rows]

    def insert(self, cursor: Any, chunks: list[tuple[Any, ...]], skip: set[int]) -> None:
        """Insert the chunks' rows but those of the customers ``k`` in ``skip``."""
        if skip:
            chunks = _chunked([r for r in _rows(chunks, self.width) if r[self.key] not in skip])
        if not chunks:
            return
        full = CHUNK * self.width
        whole = chunks if len(chunks[-1]) == full else chunks[:-1]
        if whole:
            cursor.executemany(self.statement(CHUNK), whole)
        if len(chunks[-1]) != full:
            cursor.execute(self.statement(len(chunks[-1]) // self.width), chunks[-1])


def _hits(keys: Sequence[Keys], there: set[tuple[str, str]]) -> list[bool]:
    """For each row's keys: is her phone, unionid or POS card among ``there``?"""
    return [
        ("phone", phone_hash) in there
        or bool(unionid and ("unionid", unionid) in there)
        or bool(card and ("pos_card", card) in there)
        for phone_hash, unionid, card in keys
    ]


def _numbered(table: Table, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(i, *r) for i, r in zip(table.ids(len(rows)), rows, strict=True)]


# --- Attaching identities and bindings to existing customers in bulk (the demo generator) -------
@dataclass(frozen=True)
class Attach:
    """Identities and the first binding of a customer who has neither yet."""

    customer_id: int
    phone_hash: str
    at: dt.datetime
    guide_id: int | None = None
    store_id: int | None = None
    binding_source: str = ""  # a BindingSource; "" for no binding
    code_id: int | None = None
    unionid: str = ""
    openid: str = ""
    openid_app: str = ""
    pos_card: str = ""


def bulk_attach(brand_id: int, rows: Iterable[Attach], *, actor_label: str, batch_size: int = BATCH_SIZE) -> int:
    """Give existing customers their identities (a verified phone, unionid, openid, POS card) and
    their first binding, in batches of one transaction each, with the importer's raw inserts. For
    seeding (the demo): the caller vouches the customers have none yet. Returns the rows written."""
    writer = Writer(brand_id, actor_label)
    adapt = writer.adapt_dt
    written = 0
    it = iter(rows)
    while True:
        batch = [r for _i, r in zip(range(batch_size), it, strict=False)]
        if not batch:
            return written
        identities: list[tuple[Any, ...]] = []
        bindings: list[tuple[Any, ...]] = []
        for r in batch:
            at = adapt(r.at)
            c = r.customer_id
            if r.phone_hash:
                identities.append((brand_id, c, c, IdentityKind.PHONE, "", r.phone_hash, True, Source.IMPORT, at))
            if r.unionid:
                identities.append((brand_id, c, c, IdentityKind.UNIONID, "", r.unionid, False, "", at))
            if r.openid:
                identities.append((brand_id, c, c, IdentityKind.OPENID, r.openid_app, r.openid, False, "", at))
            if r.pos_card:
                identities.append((brand_id, c, c, IdentityKind.POS_CARD, "", r.pos_card, False, "", at))
            if r.binding_source:
                bindings.append(
                    (brand_id, c, r.guide_id, r.store_id, r.binding_source, writer.actor_label, at, r.code_id)
                )
        with transaction.atomic():
            writer.identities.insert(
                [(i, *t) for i, t in zip(writer.identities.ids(len(identities)), identities, strict=True)]
            )
            table = writer.coded_bindings
            table.insert([(i, *t) for i, t in zip(table.ids(len(bindings)), bindings, strict=True)])
        written += len(identities) + len(bindings)


class NewTouch(NamedTuple):
    """A touch of an existing customer, for :func:`bulk_add_touches` (seeding: the demo's history;
    a tuple, as hundreds of thousands are made at once)."""

    customer_id: int
    kind: str  # a TouchKind
    at: dt.datetime
    code_id: int | None = None
    store_id: int | None = None
    guide_id: int | None = None
    campaign: str = ""
    properties: dict[str, Any] | None = None


def bulk_add_touches(brand_id: int, rows: Iterable[NewTouch], *, batch_size: int = BATCH_SIZE) -> int:
    """Write touches of the brand's customers in batches of one transaction each, with the importer's
    raw inserts, then count each code's scans again and give customers without a first code the code
    of their first touch. For seeding (the demo): the caller vouches the customers are the brand's.
    Returns the touches written."""
    from siyu.members.models import Touch

    table = Table(Touch, ["brand", "customer", "kind", "code", "store", "guide", "campaign", "at", "properties"])
    adapt = connection.ops.adapt_datetimefield_value
    written = 0
    it = iter(rows)
    while batch := [r for _i, r in zip(range(batch_size), it, strict=False)]:
        with transaction.atomic():
            ids = table.ids(len(batch))
            table.insert(
                [
                    (i, brand_id, t.customer_id, t.kind, t.code_id, t.store_id, t.guide_id, t.campaign, adapt(t.at),
                     json.dumps(t.properties or {}))
                    for i, t in zip(ids, batch, strict=True)
                ]
            )  # fmt: skip
        written += len(batch)
    count_code_scans(brand_id)
    return written


def count_code_scans(brand_id: int) -> None:
    """Each code's ``scans`` counted again from its touches, and each customer without a first code
    given the code of her first touch (when that touch came through a code)."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from siyu.members.models import Code, Touch

    per_code = Touch.objects.filter(code=OuterRef("pk")).values("code").annotate(n=Count("pk")).values("n")
    Code.objects.filter(brand_id=brand_id).update(scans=Coalesce(Subquery(per_code), 0))
    first = Touch.objects.filter(customer=OuterRef("pk")).order_by("at", "id").values("code")[:1]
    Customer.objects.filter(brand_id=brand_id, first_code__isnull=True).update(first_code=Subquery(first))


# --- Running an import -----------------------------------------------------------------------
def _require(scope: Scope) -> None:
    if not scope.can(Perm.MEMBERS_IMPORT):
        raise PermissionDenied(_("This needs the permission '%(perm)s'.") % {"perm": Perm.MEMBERS_IMPORT})


file_sha256 = sheets.file_sha256


def imports_dir() -> Path:
    return Path(settings.SIYU_HOME) / "imports"


def stored_path(sha256: str, file_name: str) -> Path:
    """Where an uploaded file is kept: ``SIYU_HOME/imports/<sha256><suffix>``."""
    return sheets.stored_path(imports_dir(), sha256, file_name)


def store_upload(chunks: Iterable[bytes], file_name: str) -> tuple[Path, str]:
    """Keep an uploaded file under its sha256 (the same file uploaded twice is stored once)."""
    return sheets.store_upload(chunks, file_name, imports_dir())


def start_run(scope: Scope, *, file_name: str, sha256: str, dry_run: bool, skip_bad: bool = False) -> ImportRun:
    """Record an import about to run (a job picks it up by id for large files)."""
    _require(scope)
    return ImportRun.objects.create(
        brand_id=scope.brand_id,
        file_name=file_name[:200],
        file_sha256=sha256,
        dry_run=dry_run,
        skip_bad=skip_bad,
        status=ImportRun.Status.RUNNING,
        actor_label=(scope.label or "system")[:120],
        started_at=clock.now(),
    )


class Scanned(NamedTuple):
    """What the check found since the previous batch: the rows read, their problems, and the good
    rows — their keys, and for a real run the pickled :class:`Spooled` batch."""

    rows: int  # rows read (blank ones not counted)
    bad_rows: int  # how many of them are bad
    bad: list[BadRow]
    good: int  # how many are good
    keys: list[tuple[int, str, str, str]]  # a dry run: (line, phone hash, unionid, POS card) of each good row
    spooled: bytes  # a real run: the pickled Spooled batch of the good rows (their keys in it), else b""
    # (a bulk import: the pickled good rows as plain Member tuples, for the database process to build)


def _scan(
    sheet: sheets.Sheet,
    checker: Checker,
    writer: Writer,
    now: dt.datetime,
    batch_size: int,
    prepare: bool,
    unbuilt: bool,
) -> Iterator[Scanned]:
    """Check the sheet's rows in batches of ``batch_size`` good rows (or as many bad ones), and for
    a real run (``prepare``) build their rows (:meth:`Writer.prepare`), or with ``unbuilt`` (the bulk
    import) build only every ``BUILT_BY_WORKER``-th batch and hand the others on as they are, for the
    database process to build (:func:`_built`). Pure computation, no database: it runs in the worker
    process for a large file."""
    rows = bad_rows = 0
    bad: list[BadRow] = []
    members: list[Member] = []
    k = 1  # the first good row's number (see Spooled)
    batches = 0

    def flush() -> Scanned:
        nonlocal rows, bad_rows, bad, members, k, batches
        spooled, keys = b"", []
        batches += 1
        if unbuilt and members and batches % BUILT_BY_WORKER:  # built on the other side (see _built)
            spooled = pickle.dumps([tuple(m) for m in members], protocol=pickle.HIGHEST_PROTOCOL)
        elif prepare and members:
            spooled = pickle.dumps(tuple(writer.prepare(members, k, now)), protocol=pickle.HIGHEST_PROTOCOL)
        elif not prepare:
            keys = [(m.line, m.phone_hash, m.unionid, m.pos_card) for m in members]
        out = Scanned(rows, bad_rows, bad, len(members), keys, spooled)
        k += len(members)
        rows = bad_rows = 0
        bad, members = [], []
        return out

    check = checker.check
    for line, cells in _rows_of(sheet):
        result = check(line, cells)
        if result is None:
            continue
        rows += 1
        if isinstance(result, Member):
            members.append(result)
            if len(members) >= batch_size:
                yield flush()
        else:
            bad_rows += 1
            bad.extend(result)
            if len(bad) >= batch_size:
                yield flush()
    if rows:
        yield flush()


def _rows_of(sheet: sheets.Sheet) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        yield from sheet.rows
    except sheets.SheetError as exc:  # a line that is not CSV
        raise ImportFailed(str(exc)) from exc


def _scanned(
    sheet: sheets.Sheet,
    checker: Checker,
    writer: Writer,
    now: dt.datetime,
    batch_size: int,
    prepare: bool,
    unbuilt: bool,
) -> Iterator[Scanned]:
    """:func:`_scan`, in a worker process for a large file (the check and the row building on one
    core, the database on the other), else here."""
    if sheet.size_hint < WORKER_MIN_ROWS or "fork" not in multiprocessing.get_all_start_methods():
        yield from _scan(sheet, checker, writer, now, batch_size, prepare, unbuilt)
        return
    context = multiprocessing.get_context("fork")  # the worker inherits the open sheet and the references
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_scan_worker, args=(sender, sheet, checker, writer, now, batch_size, prepare, unbuilt), daemon=True
    )
    worker.start()
    sender.close()
    try:
        while True:
            try:
                kind, body = pickle.loads(receiver.recv_bytes())
            except EOFError:
                worker.join(5)
                raise ImportFailed(
                    _("The check of the file stopped unexpectedly (exit code %(code)s); nothing was imported.")
                    % {"code": worker.exitcode}
                ) from None
            if kind == "done":
                return
            if kind == "failed":
                raise ImportFailed(body)
            yield Scanned._make(body)
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        receiver.close()


def _scan_worker(
    sender: Connection,
    sheet: sheets.Sheet,
    checker: Checker,
    writer: Writer,
    now: dt.datetime,
    batch_size: int,
    prepare: bool,
    unbuilt: bool,
) -> None:
    """The worker process: sends each :class:`Scanned` batch, then ``done`` (or ``failed`` with the
    reason). The pipe's small buffer keeps it at most a batch ahead of the database."""
    dumps, send = pickle.dumps, sender.send_bytes
    gc.disable()  # see _without_cycle_collection; this process ends with the scan
    try:
        for scanned in _scan(sheet, checker, writer, now, batch_size, prepare, unbuilt):
            send(dumps(("batch", tuple(scanned)), protocol=pickle.HIGHEST_PROTOCOL))
        send(dumps(("done", None)))
    except ImportFailed as exc:
        send(dumps(("failed", str(exc))))
    except Exception as exc:  # reported to the run, whatever it is
        send(dumps(("failed", _("The check of the file failed (%(why)s).") % {"why": f"{type(exc).__name__}: {exc}"})))
    finally:
        sender.close()


def import_members(
    scope: Scope,
    path: Path,
    *,
    file_name: str | None = None,
    dry_run: bool = True,
    skip_bad: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    on_bad: Callable[[BadRow], None] | None = None,
    run: ImportRun | None = None,
) -> Report:
    """Check (``dry_run``) or import the members of a CSV or Excel file for the scope's brand.

    Raises :class:`ImportFailed` when the file cannot be read or a batch fails (the run is then
    recorded as failed; earlier batches stay applied, re-running continues — a bulk import is applied
    whole or not at all) and ``PermissionDenied`` without ``members.import``. Bad rows are reported,
    all of them to ``on_bad``, the first 1,000 in the report; a real run with bad rows applies
    nothing unless ``skip_bad``."""
    _require(scope)
    if not 1 <= batch_size <= BATCH_SIZE:
        raise ValueError(f"batch_size is 1 to {BATCH_SIZE}")
    path = Path(path)
    file_name = file_name or path.name
    if run is None:
        run = start_run(scope, file_name=file_name, sha256=file_sha256(path), dry_run=dry_run, skip_bad=skip_bad)
    report = Report(run_id=run.pk, dry_run=dry_run, status=run.status, file_name=file_name)
    writer = Writer(scope.brand_id, run.actor_label)
    now = clock.now()
    try:
        with _without_cycle_collection():
            _run(report, writer, run, path, file_name, scope.brand_id, now, batch_size, progress, on_bad, skip_bad)
    except ImportFailed as exc:
        report.status = ImportRun.Status.FAILED.value
        report.message = str(exc)
        _finish(scope, run, report)
        raise
    _finish(scope, run, report)
    return report


def _run(
    report: Report,
    writer: Writer,
    run: ImportRun,
    path: Path,
    file_name: str,
    brand_id: int,
    now: dt.datetime,
    batch_size: int,
    progress: Progress | None,
    on_bad: Callable[[BadRow], None] | None,
    skip_bad: bool,
) -> None:
    sheet, checker = _reader(path, file_name, brand_id, now)
    report.notices = sheet.notices
    pass_ = _Pass(report, writer, run, sheet, checker, now, batch_size, progress, on_bad)
    if report.dry_run:
        _check(pass_, None)
        report.status = ImportRun.Status.CHECKED.value
        return
    if not _import_in_bulk(pass_, skip_bad):
        with tempfile.TemporaryFile(prefix="siyu-import-") as spool:  # the checked rows, between the passes
            _check(pass_, spool)
            if _refuse(report, skip_bad):
                return
            report.rows_added = report.rows_unchanged = 0
            with _fast_writes():
                _apply(pass_, spool)
    if not report.refused:
        report.status = ImportRun.Status.DONE.value


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while importing: the rows are plain tuples and lists, freed by
    reference counting, and the collector would otherwise walk the growing batches again and again
    (two thirds of the time spent unpickling a batch)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Pass:
    """What the passes of one run share."""

    report: Report
    writer: Writer
    run: ImportRun
    sheet: sheets.Sheet
    checker: Checker
    now: dt.datetime
    batch_size: int
    progress: Progress | None
    on_bad: Callable[[BadRow], None] | None

    def scanned(self, prepare: bool, unbuilt: bool = False) -> Iterator[Scanned]:
        return _scanned(self.sheet, self.checker, self.writer, self.now, self.batch_size, prepare, unbuilt)

    def take(self, scanned: Scanned) -> None:
        """Count a checked batch and report its bad rows."""
        report = self.report
        report.rows_total += scanned.rows
        report.rows_bad += scanned.bad_rows
        for bad in scanned.bad:
            if len(report.errors) < MAX_STORED_ERRORS:
                report.errors.append(bad)
            if self.on_bad is not None:
                self.on_bad(bad)
        if self.progress is not None:
            self.progress("check", report.rows_total, None)

    def written(self, added: int, unchanged: int, *, live: bool = False) -> None:
        """Count a written batch; ``live``: in a progress file too (a bulk import, see :func:`progress_of`)."""
        report = self.report
        report.rows_added += added
        report.rows_unchanged += unchanged
        if live:
            _live(self.run, report)
        if self.progress is not None:
            self.progress("import", report.rows_added + report.rows_unchanged, report.rows_total - report.rows_bad)


def _refuse(report: Report, skip_bad: bool) -> bool:
    """A real run with bad rows and no ``skip_bad`` applies nothing: say so in the report."""
    if not report.rows_bad or skip_bad:
        return False
    report.refused = True
    report.rows_added = report.rows_unchanged = 0  # nothing was applied
    report.status = ImportRun.Status.FAILED.value
    report.message = _("%(bad)s bad rows: nothing was imported. Correct them and import again, or skip them.") % {
        "bad": report.rows_bad
    }
    return True


def _reader(path: Path, file_name: str, brand_id: int, now: dt.datetime) -> tuple[sheets.Sheet, Checker]:
    sheet = open_sheet(path, file_name)
    columns, _ignored = _columns(sheet.headers)
    if _ignored:
        sheet.notices.append(
            _("These columns were ignored: %(columns)s.") % {"columns": ", ".join(_ignored)},
        )
    return sheet, Checker(References.load(brand_id), columns, sheet.headers, now)


def _check(pass_: _Pass, spool: IO[bytes] | None) -> None:
    """The check pass: count the rows that would be added and those already there (one lookup per
    batch; none in a brand without customers), and spool the good rows of a real run."""
    report, writer = pass_.report, pass_.writer
    look_up = not writer.brand_is_empty()
    for scanned in pass_.scanned(prepare=spool is not None):
        pass_.take(scanned)
        keys = scanned.keys
        if spool is not None and scanned.spooled:
            spool.write(scanned.spooled)
            if look_up:
                keys = Spooled._make(pickle.loads(scanned.spooled)).keys
        unchanged = sum(writer.unchanged([k[1:] for k in keys])) if look_up and keys else 0
        report.rows_unchanged += unchanged
        report.rows_added += scanned.good - unchanged


def _spooled(spool: IO[bytes]) -> Iterator[Spooled]:
    """The spooled batches, in file order."""
    spool.seek(0)
    while True:
        try:
            yield Spooled._make(pickle.load(spool))
        except EOFError:
            return


def _apply(pass_: _Pass, spool: IO[bytes]) -> None:
    """The writing pass, batch by batch, each in its own transaction."""
    report, writer, run = pass_.report, pass_.writer, pass_.run
    ImportRun.objects.filter(pk=run.pk).update(rows_total=report.rows_total, rows_bad=report.rows_bad)
    for batch in _spooled(spool):
        writer.refresh_statistics(report.rows_added)
        try:
            with transaction.atomic():
                added, unchanged = writer.apply(batch)
                _count(run, report, added, unchanged)
        except DatabaseError as exc:
            raise ImportFailed(
                _(
                    "The batch of lines %(first)s–%(last)s could not be written (%(why)s); it was rolled back, "
                    "%(added)s rows before it were imported. Fix the cause and import the file again: rows "
                    "already imported are left as they are."
                )
                % {"first": batch.keys[0][0], "last": batch.keys[-1][0], "why": _why(exc), "added": report.rows_added}
            ) from exc
        pass_.written(added, unchanged)


def _why(exc: DatabaseError) -> str:
    return str(exc).strip().splitlines()[0]


def _count(run: ImportRun, report: Report, added: int, unchanged: int) -> None:
    """The run's counters, in the transaction of the rows they count."""
    ImportRun.objects.filter(pk=run.pk).update(
        rows_total=report.rows_total,
        rows_bad=report.rows_bad,
        rows_added=report.rows_added + added,
        rows_unchanged=report.rows_unchanged + unchanged,
        rows_done=report.rows_added + report.rows_unchanged + added + unchanged,
    )


class _Refused(Exception):
    """A bulk import found bad rows and may not skip them: roll everything back."""


STAGED_IDENTITIES = "siyu_import_identities"


def _import_in_bulk(pass_: _Pass, skip_bad: bool) -> bool:
    """SQLite, a large file into an empty or small brand (ADR 0008, amendment): check and write in
    one pass and one transaction. The indexes of the tables the import writes are dropped first and
    built again at the end (one sort each instead of a random insert per row and index); identities
    go to a staging table and into theirs sorted by their unique key. The rows of a small brand are
    looked up in memory, in the set of its keys read before the indexes go. A bad row (without
    ``skip_bad``) stops the writing and, once the check has reported every bad row, rolls back; so
    does any error. Rolled back, nothing is applied and every index is as before. Readers keep their
    snapshot, indexes included, until the commit; other writers wait for it.

    Returns False, having done nothing, when the bulk path does not fit: another database, a small
    file, a brand with many customers, or tables that already hold more rows than the file."""
    report, writer, run = pass_.report, pass_.writer, pass_.run
    if not writer.sqlite or pass_.sheet.size_hint < BULK_MIN_ROWS:
        return False
    first = last = 0
    try:
        # Foreign keys are not checked row by row (outside a transaction only; restored after): every row
        # names the brand, its stores, guides and tags, seen to exist under the write lock, or a customer
        # this import writes.
        with _fast_writes(SQLITE_BULK_CACHE_KIB), connection.constraint_checks_disabled(), transaction.atomic():
            if not _bulk_fits(writer, pass_.sheet.size_hint):
                return False
            if not pass_.checker.refs.ids() <= References.load(writer.brand_id).ids():
                raise ImportFailed(
                    _("A store, guide or tag was removed while the import started; import the file again.")
                )
            report.bulk = True
            there = writer.brand_keys()
            offsets = writer.offsets(writer.customers.last_id(), f"temp.{STAGED_IDENTITIES}")
            indexes = _drop_indexes(writer.tables)
            _stage(writer.identities)
            k = 1  # the next good row's number (see Spooled)
            for scanned in pass_.scanned(prepare=True, unbuilt=True):
                pass_.take(scanned)
                k += scanned.good
                if report.rows_bad and not skip_bad:
                    continue  # nothing more is written; the check goes on to report every bad row
                if scanned.spooled:
                    batch = _built(writer, scanned, k - scanned.good, pass_.now)
                    first, last = batch.keys[0][0], batch.keys[-1][0]
                    pass_.written(*writer.apply_offset(batch, offsets, there), live=True)
            if _refuse(report, skip_bad):
                raise _Refused
            first = last = 0
            _unstage(writer.identities)
            _create_indexes(indexes)
            _count(run, report, 0, 0)
    except _Refused:
        pass
    except DatabaseError as exc:
        report.rows_added = report.rows_unchanged = 0
        if first:
            raise ImportFailed(
                _(
                    "The batch of lines %(first)s–%(last)s could not be written (%(why)s). The import ran as one "
                    "transaction (a bulk import): nothing of it was applied. Fix the cause and import the file again."
                )
                % {"first": first, "last": last, "why": _why(exc)}
            ) from exc
        raise ImportFailed(
            _(
                "The import could not be completed (%(why)s). It ran as one transaction (a bulk import): nothing "
                "of it was applied. Fix the cause and import the file again."
            )
            % {"why": _why(exc)}
        ) from exc
    finally:
        _live(run, None)
    return True


def _built(writer: Writer, scanned: Scanned, k0: int, now: dt.datetime) -> Spooled:
    """A bulk import's batch, as :class:`Offset` takes it. The worker reads and checks the file and
    builds one batch in ``BUILT_BY_WORKER``; this process seals the phones and names and builds the
    rows of the others, beside writing them: so the two cores share the work (with the worker
    building every batch, this process waited for it most of the time; building all of them here, it
    was the slower one). The plain rows pass through the pipe between the processes only, never to
    a file."""
    body = pickle.loads(scanned.spooled)
    if isinstance(body, tuple):  # built by the worker
        ready = Spooled._make(body)
    else:
        ready = writer.prepare([Member._make(row) for row in body], k0, now)
    return Spooled(ready.keys, *(_chunked(rows) for rows in ready[1:]))


def _bulk_fits(writer: Writer, size_hint: int) -> bool:
    """Under the write lock: is the brand small and the customer table no larger than the file?"""
    with connection.cursor() as cursor:
        qn = connection.ops.quote_name
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {qn(writer.customers.table)} WHERE brand_id = %s LIMIT %s)",
            [writer.brand_id, BULK_SMALL_BRAND + 1],
        )
        if int(cursor.fetchone()[0]) > BULK_SMALL_BRAND:
            return False
        cursor.execute(f"SELECT COUNT(*) FROM {qn(writer.customers.table)}")
        return int(cursor.fetchone()[0]) <= size_hint * BULK_TABLE_RATIO


def _stage(table: Table) -> None:
    """A staging table with ``table``'s columns and no index (in SQLite's temporary database)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGED_IDENTITIES}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGED_IDENTITIES} AS SELECT {table.columns_sql} "
            f"FROM {connection.ops.quote_name(table.table)} WHERE 0"
        )


def _unstage(table: Table) -> None:
    """Move the staged rows into ``table`` sorted by its unique key, so its index grows at one end."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(table.table)} ({table.columns_sql}) SELECT {table.columns_sql} "
            f"FROM temp.{STAGED_IDENTITIES} ORDER BY brand_id, kind, app_id, {qn('key')}"
        )
        cursor.execute(f"DROP TABLE temp.{STAGED_IDENTITIES}")


def _drop_indexes(tables: Sequence[str]) -> list[tuple[str, str]]:
    """Drop the named indexes of ``tables`` (inside the caller's transaction); returns their names
    and the SQL that made them. The constraints declared in a table's own definition stay."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join(['%s'] * len(tables))}) ORDER BY name",
            list(tables),
        )
        indexes = [(str(name), str(sql)) for name, sql in cursor.fetchall()]
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return indexes


def _create_indexes(indexes: Sequence[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        for _name, sql in indexes:
            cursor.execute(sql)


def _live_path(run: ImportRun) -> Path:
    return imports_dir() / f"run-{run.pk}.progress"


def _live(run: ImportRun, report: Report | None) -> None:
    """A bulk import's progress, where the pages can read it before the commit (``None``: over)."""
    path = _live_path(run)
    if report is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{report.rows_total} {report.rows_added + report.rows_unchanged}")


def progress_of(run: ImportRun) -> tuple[int, int]:
    """(rows checked, rows written) of a run: its committed counters, or while a bulk import runs
    (one transaction, so nothing is committed until the end) what it wrote to its progress file."""
    if run.status == ImportRun.Status.RUNNING:
        with suppress(OSError, ValueError):
            total, done = (int(n) for n in _live_path(run).read_text().split())
            return total, done
    return run.rows_total, run.rows_done


@contextmanager
def _fast_writes(kib: int = SQLITE_CACHE_KIB) -> Iterator[None]:
    """SQLite: the page cache while importing, restored after: larger for batches (random keys land in
    big indexes), small for a bulk import (rows appended, indexes built by sorting)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-kib}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")


def _finish(scope: Scope, run: ImportRun, report: Report) -> None:
    with transaction.atomic():
        run.status = report.status
        run.rows_total = report.rows_total
        run.rows_added = report.rows_added
        run.rows_unchanged = report.rows_unchanged
        run.rows_bad = report.rows_bad
        run.rows_done = report.rows_total if report.status == ImportRun.Status.DONE else run.rows_done
        run.errors = [{"line": e.line, "column": e.column, "reason": e.reason} for e in report.errors]
        run.message = report.message
        run.notices = report.notices
        run.finished_at = clock.now()
        run.save()
        if not report.dry_run:
            audit.record_by(
                scope,
                "members.import",
                run,
                after={
                    "file": run.file_name,
                    "sha256": run.file_sha256,
                    "status": run.status,
                    "added": run.rows_added,
                    "unchanged": run.rows_unchanged,
                    "bad": run.rows_bad,
                    "skip_bad": run.skip_bad,
                },
            )


# --- Reading runs ----------------------------------------------------------------------------
def visible_runs(scope: Scope) -> QuerySet[ImportRun]:
    _require(scope)
    return restrict(ImportRun, scope)


def get_run(scope: Scope, run_id: int) -> ImportRun:
    return get_scoped(visible_runs(scope), scope, pk=run_id)


def process(scope: Scope, run: ImportRun, path: Path) -> bool:
    """Run a recorded run's file: inline when it is small, else as a job (``siyu worker``); returns
    whether it was queued. A failure is recorded on the run (status ``failed``, ``message``)."""
    if path.stat().st_size > INLINE_BYTES:
        import_job(run.pk)
        return True
    with suppress(ImportFailed):
        import_members(scope, path, file_name=run.file_name, dry_run=run.dry_run, skip_bad=run.skip_bad, run=run)
    run.refresh_from_db()
    return False


def bad_rows(run: ImportRun) -> list[BadRow]:
    return [BadRow(int(e["line"]), str(e["column"]), str(e["reason"])) for e in run.errors]


@job()
def import_job(run_id: int) -> str:
    """Run a recorded import (queued by the HQ page or the API for a large file). Idempotent: a run
    that is no longer ``running`` is left alone, and re-applying rows changes nothing."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None or run.status != ImportRun.Status.RUNNING:
        return "skipped"
    scope = org.hq_scope(run.brand_id, run.actor_label)  # the permission was checked when it was queued
    path = stored_path(run.file_sha256, run.file_name)
    if not path.exists():
        run.status, run.message, run.finished_at = ImportRun.Status.FAILED, _("The uploaded file is gone."), clock.now()
        run.save()
        return "failed"
    try:
        import_members(scope, path, file_name=run.file_name, dry_run=run.dry_run, skip_bad=run.skip_bad, run=run)
    except ImportFailed:
        return "failed"
    return "done"
