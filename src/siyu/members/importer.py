"""Import members from CSV or Excel: a dry run that reports every bad row, and an idempotent real run
applied in batches, each batch in one transaction (ADR 0008).

The file is read twice, streamed, never held in memory:

1. **Check** — every row is parsed and validated (phone, store code, guide, tier, tags, dates,
   duplicates within the file) and, batch by batch, looked up in the database (one query per batch)
   to count the rows that would be added and those already there. A bad row is reported as
   ``(line, column, reason)`` with the line a person sees in the file (the header is line 1). A dry
   run stops here and changes nothing (it records an :class:`ImportRun` of status ``checked``).
2. **Apply** — only when the check found no bad row, or ``skip_bad`` is set (bad rows are then
   skipped). Rows are applied in batches: under one transaction the batch's phone hashes and
   identity keys are looked up again; rows whose phone, unionid or POS card already belongs to a
   customer are counted ``unchanged`` and left alone; the others are inserted with ids allocated up
   front (SQLite: ``MAX(id)`` under the write lock; PostgreSQL: a ``nextval`` range) by one
   ``executemany`` per table: the customer, her identities (phone — the keyed hash, verified —,
   unionid, POS card), her binding (source ``import``), her tags and her consents. The run's counts
   are updated in the same transaction, so a batch is applied whole or not at all, and a failed run
   re-run later continues where it stopped (rows already there are ``unchanged``).

Other domains reach the importer through :mod:`siyu.members.services`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
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
from siyu.platform import audit, clock, privacy
from siyu.platform.jobs import job
from siyu.platform.tenancy import Scope, get_scoped, restrict

BATCH_SIZE = 5000
MAX_STORED_ERRORS = 1000  # an ImportRun keeps the first 1,000 bad rows; the CLI can write them all
SQLITE_CACHE_KIB = 128 * 1024  # page cache while importing: bounded, whatever the file's size
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
_ALIAS = {alias: canonical for canonical, aliases in COLUMNS.items() for alias in aliases}

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
NAME_MAX = 60


class ImportFailed(Exception):
    """The file cannot be imported at all (unreadable, no phone column), or a batch failed; the
    message says what to do. Nothing of a failed batch is applied."""


@dataclass(frozen=True)
class BadRow:
    line: int  # as a person sees it in the file: the header is line 1
    column: str  # the column's header as written in the file ("" for the whole row)
    reason: str


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


Progress = Callable[[str, int, int | None], None]  # (phase "check" | "import", rows done, rows in all)


# --- Reading files ---------------------------------------------------------------------------
@dataclass
class Sheet:
    headers: list[str]
    rows: Iterator[tuple[int, Sequence[Any]]]  # (line, cells)
    encoding: str
    notices: list[str]


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_sheet(path: Path) -> Sheet:
    notices: list[str] = []
    if _decodes(path, "utf-8"):
        encoding = "utf-8-sig"
    elif _decodes(path, "gb18030"):
        encoding = "gb18030"
        notices.append(_("The file is not UTF-8; it was read as GBK (GB18030). Save it as “CSV UTF-8” to be sure."))
    else:
        raise ImportFailed(_("The file is neither UTF-8 nor GBK text. Save it from your spreadsheet as “CSV UTF-8”."))
    f = path.open(encoding=encoding, newline="")
    reader = csv.reader(f)

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            while True:
                line = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                yield line, cells
        except csv.Error as exc:
            raise ImportFailed(
                _("Line %(line)s is not valid CSV (%(why)s).") % {"line": reader.line_num, "why": exc}
            ) from exc
        finally:
            f.close()

    it = rows()
    first = next(it, None)
    if first is None:
        f.close()
        raise ImportFailed(_("The file is empty: the first line names the columns, e.g. phone,name,store_code."))
    return Sheet([str(h) for h in first[1]], it, encoding.removesuffix("-sig"), notices)


def _excel_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value
    return str(value)


def _excel_sheet(path: Path) -> Sheet:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ImportFailed(_("The file is not a readable Excel workbook (.xlsx).")) from exc
    sheet = book.worksheets[0]

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [_excel_cell(v) for v in values]
        finally:
            book.close()

    it = rows()
    first = next(it, None)
    if first is None:
        book.close()
        raise ImportFailed(_("The sheet is empty: the first row names the columns, e.g. phone, name, store_code."))
    headers = [str(h) for h in first[1]]
    while headers and not headers[-1]:
        headers.pop()
    return Sheet(headers, it, "xlsx", [])


def open_sheet(path: Path, file_name: str | None = None) -> Sheet:
    suffix = Path(file_name or path.name).suffix.lower()
    if suffix == ".xlsx":
        return _excel_sheet(path)
    if suffix in {".csv", ".txt", ""}:
        return _csv_sheet(path)
    if suffix == ".xls":
        raise ImportFailed(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or as CSV UTF-8."))
    raise ImportFailed(_("Import a .csv or .xlsx file, not %(suffix)s.") % {"suffix": suffix})


def _columns(headers: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Canonical column -> index, and the header names that were ignored."""
    found: dict[str, int] = {}
    ignored: list[str] = []
    for i, header in enumerate(headers):
        key = re.sub(r"[\s\-]+", "_", str(header).strip().lstrip("\ufeff").lower())
        canonical = _ALIAS.get(key)
        if canonical is None:
            if key:
                ignored.append(str(header).strip())
            continue
        if canonical in found:
            raise ImportFailed(
                _("The columns “%(a)s” and “%(b)s” both mean %(column)s; keep one.")
                % {"a": headers[found[canonical]], "b": header, "column": canonical}
            )
        found[canonical] = i
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
        self.hash = privacy.hasher()

    def _header(self, column: str) -> str:
        return str(self.headers[self.columns[column]]).strip()

    def check(self, line: int, cells: Sequence[Any]) -> Member | list[BadRow] | None:
        """A valid member, the row's problems, or ``None`` for a blank row."""
        cols = self.columns
        n = len(cells)

        def cell(column: str) -> Any:
            i = cols.get(column)
            if i is None or i >= n:
                return ""
            v = cells[i]
            return v.strip() if isinstance(v, str) else v

        if not any((c.strip() if isinstance(c, str) else c) for c in cells):
            return None
        bad: list[BadRow] = []

        def problem(column: str, reason: str) -> None:
            bad.append(BadRow(line, self._header(column) if column in cols else column, reason))

        refs = self.refs
        raw_phone = cell("phone")
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

        name = str(cell("name"))
        if len(name) > NAME_MAX:
            problem("name", _("The name is longer than %(max)s characters.") % {"max": NAME_MAX})

        raw_gender = cell("gender")
        gender = _GENDER.get(str(raw_gender).lower())
        if gender is None:
            problem("gender", _("“%(value)s” is not a gender (use 男/女 or m/f).") % {"value": raw_gender})
            gender = ""

        birthday: dt.date | None = None
        raw_birthday = cell("birthday")
        if raw_birthday:
            try:
                birthday = _parse_datetime(raw_birthday, self.tz).date()
                if birthday > self.today or birthday.year < 1900:
                    problem("birthday", _("The birthday %(value)s is not plausible.") % {"value": birthday})
            except ValueError:
                problem(
                    "birthday",
                    _("“%(value)s” is not a date (write 1990-05-17 or 1990/5/17).") % {"value": raw_birthday},
                )

        joined_at: dt.datetime | None = None
        raw_joined = cell("joined_at")
        if raw_joined:
            try:
                joined_at = _parse_datetime(raw_joined, self.tz)
                if joined_at > self.now + dt.timedelta(days=1) or joined_at.year < 1990:
                    problem("joined_at", _("The joining time %(value)s is not plausible.") % {"value": raw_joined})
            except ValueError:
                problem(
                    "joined_at",
                    _("“%(value)s” is not a date and time (write 2023-05-17 14:30 or 2023/5/17).")
                    % {"value": raw_joined},
                )

        store_id: int | None = None
        code = str(cell("store_code"))
        if code:
            store = refs.stores.get(code.upper())
            if store is None:
                problem("store_code", _("There is no store with the code %(value)s.") % {"value": code})
            elif store.status == "closed":
                problem("store_code", _("The store %(value)s is closed.") % {"value": code})
            else:
                store_id = store.id

        guide_id: int | None = None
        login = str(cell("guide"))
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
        raw_tier = str(cell("tier"))
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
        raw_tags = str(cell("tags"))
        if raw_tags:
            exclusive_groups: set[int] = set()
            for part in re.split(r"[;；]", raw_tags):
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

        unionid = str(cell("unionid"))
        if unionid:
            if not _UNIONID.match(unionid):
                problem("unionid", _("“%(value)s” is not a WeChat unionid.") % {"value": unionid})
                unionid = ""
            elif unionid in self.seen_unionids:
                problem("unionid", _("The unionid %(value)s appears on an earlier line.") % {"value": unionid})
                unionid = ""
            else:
                self.seen_unionids.add(unionid)

        card = str(cell("pos_card"))
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
        for column in ("consent_sms", "consent_wecom"):
            raw_consent = str(cell(column)).lower()
            if not raw_consent:
                consents.append(None)
            elif raw_consent in _YES:
                consents.append(True)
            elif raw_consent in _NO:
                consents.append(False)
            else:
                problem(column, _("“%(value)s” is neither yes nor no.") % {"value": raw_consent})
                consents.append(None)

        if bad:
            return bad
        return Member(
            line=line,
            phone=phone,
            name=name,
            gender=gender,
            birthday=birthday,
            store_id=store_id,
            guide_id=guide_id,
            tier=tier,
            tag_ids=tuple(tag_ids),
            joined_at=joined_at,
            unionid=unionid,
            pos_card=card,
            consent_sms=consents[0],
            consent_wecom=consents[1],
            phone_hash=self.hash(phone),
        )


# --- Writing in bulk -------------------------------------------------------------------------
class Table:
    """A raw, batched ``INSERT`` into a model's table: the given fields in order, then every other
    concrete field at its default (so a column added later with a default does not break imports)."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        meta = model._meta
        self.table = meta.db_table
        given = [meta.get_field(name) for name in fields]
        rest = [f for f in meta.concrete_fields if f.name not in fields and not f.primary_key]
        self.constants = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        columns: list[str] = ["id", *(str(f.column) for f in given), *(str(f.column) for f in rest)]  # type: ignore[union-attr]
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
            # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so MAX(id) is ours.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(self.table)}")
            start = int(cursor.fetchone()[0]) + 1
            return list(range(start, start + n))

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


class Writer:
    """Applies batches of valid members for one brand (see the module docstring)."""

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
        self.adapt_dt = connection.ops.adapt_datetimefield_value
        self.adapt_date = connection.ops.adapt_datefield_value
        self.seal = privacy.sealer()
        self.hash = privacy.hasher()

    def unchanged(self, batch: Sequence[Member]) -> list[bool]:
        """For each member of the batch: does her phone, unionid or POS card belong to a customer?"""
        there = self.existing(batch)
        return [
            ("phone", m.phone_hash) in there
            or bool(m.unionid and ("unionid", m.unionid) in there)
            or bool(m.pos_card and ("pos_card", m.pos_card) in there)
            for m in batch
        ]

    def existing(self, batch: Sequence[Member]) -> set[tuple[str, str]]:
        """Which of the batch's phones and identities already belong to a customer: one query."""
        hashes = [m.phone_hash for m in batch]
        keys = hashes + [m.unionid for m in batch if m.unionid] + [m.pos_card for m in batch if m.pos_card]
        # One SQL text per batch size (padded with a key no identity has): the driver's statement cache
        # then holds one prepared statement, not one per batch (each with thousands of parameters).
        keys += [""] * (3 * len(hashes) - len(keys))
        qn = connection.ops.quote_name
        sql = (
            f"SELECT 'phone', phone_hash FROM {qn(Customer._meta.db_table)} "
            f"WHERE brand_id = %s AND phone_hash IN ({', '.join(['%s'] * len(hashes))}) AND NOT (phone_hash = %s) "
            f"UNION ALL SELECT kind, {qn('key')} FROM {qn(Identity._meta.db_table)} "
            f"WHERE brand_id = %s AND app_id = '' AND kind IN ('phone', 'unionid', 'pos_card') "
            f"AND {qn('key')} IN ({', '.join(['%s'] * len(keys))})"
        )
        with connection.cursor() as cursor:
            # NOT (phone_hash = '') lets SQLite use the partial unique index one_customer_per_phone
            cursor.execute(sql, [self.brand_id, *hashes, "", self.brand_id, *keys])
            return {(str(kind), str(key)) for kind, key in cursor.fetchall()}

    def apply(self, batch: Sequence[Member], now: dt.datetime) -> tuple[int, int]:
        """Insert the batch's new members (inside the caller's transaction): (added, unchanged)."""
        new = [m for m, there in zip(batch, self.unchanged(batch), strict=True) if not there]
        if not new:
            return 0, len(batch)
        brand, label, adapt_dt, adapt_date = self.brand_id, self.actor_label, self.adapt_dt, self.adapt_date
        at = adapt_dt(now)
        seal, lookup = self.seal, self.hash
        ids = self.customers.ids(len(new))
        customers, identities, bindings, tags, consents = [], [], [], [], []
        for cid, m in zip(ids, new, strict=True):
            bound = m.guide_id is not None or m.store_id is not None
            customers.append(
                (
                    cid, brand, m.store_id, m.guide_id, seal(m.phone), m.phone_hash, seal(m.name),
                    lookup(m.name) if m.name else "", m.gender, adapt_date(m.birthday), Source.IMPORT, m.tier,
                    Lifecycle.NEW, adapt_dt(m.joined_at) if m.joined_at else at, at if bound else None,
                )
            )  # fmt: skip
            identities.append((brand, cid, cid, IdentityKind.PHONE, "", m.phone_hash, True, Source.IMPORT, at))
            if m.unionid:
                identities.append((brand, cid, cid, IdentityKind.UNIONID, "", m.unionid, False, Source.IMPORT, at))
            if m.pos_card:
                identities.append((brand, cid, cid, IdentityKind.POS_CARD, "", m.pos_card, False, Source.IMPORT, at))
            if bound:
                bindings.append((brand, cid, m.guide_id, m.store_id, BindingSource.IMPORT, label, at))
            for tag_id in m.tag_ids:
                tags.append((brand, cid, tag_id, label, "import", at))
            if m.consent_sms is not None:
                consents.append((brand, cid, Channel.SMS, m.consent_sms, "import", at))
            if m.consent_wecom is not None:
                consents.append((brand, cid, Channel.WECOM, m.consent_wecom, "import", at))
        self.customers.insert(customers)
        for table, rows in (
            (self.identities, identities),
            (self.bindings, bindings),
            (self.tags, tags),
            (self.consents, consents),
        ):
            table.insert([(i, *r) for i, r in zip(table.ids(len(rows)), rows, strict=True)])
        return len(new), len(batch) - len(new)


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


# --- Running an import -----------------------------------------------------------------------
def _require(scope: Scope) -> None:
    if not scope.can(Perm.MEMBERS_IMPORT):
        raise PermissionDenied(_("This needs the permission '%(perm)s'.") % {"perm": Perm.MEMBERS_IMPORT})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def imports_dir() -> Path:
    return Path(settings.SIYU_HOME) / "imports"


def stored_path(sha256: str, file_name: str) -> Path:
    """Where an uploaded file is kept: ``SIYU_HOME/imports/<sha256><suffix>``."""
    suffix = Path(file_name).suffix.lower()
    return imports_dir() / f"{sha256}{suffix if suffix in {'.csv', '.txt', '.xlsx'} else '.csv'}"


def store_upload(chunks: Iterable[bytes], file_name: str) -> tuple[Path, str]:
    """Keep an uploaded file under its sha256 (the same file uploaded twice is stored once)."""
    folder = imports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = folder / f".upload-{clock.now().timestamp():.6f}"
    with tmp.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    sha = digest.hexdigest()
    final = stored_path(sha, file_name)
    tmp.replace(final)
    return final, sha


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


def _batches(members: Iterator[Member], size: int) -> Iterator[list[Member]]:
    batch: list[Member] = []
    for m in members:
        batch.append(m)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    recorded as failed; earlier batches stay applied, re-running continues) and ``PermissionDenied``
    without ``members.import``. Bad rows are reported, all of them to ``on_bad``, the first 1,000 in
    the report; a real run with bad rows applies nothing unless ``skip_bad``."""
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
    with tempfile.TemporaryFile(prefix="siyu-import-") as spool:  # the checked rows, between the passes
        try:
            _check(
                scope, path, file_name, report, writer, now, batch_size, progress, on_bad, None if dry_run else spool
            )
            if dry_run:
                report.status = ImportRun.Status.CHECKED.value
            elif report.rows_bad and not skip_bad:
                report.refused = True
                report.rows_added = report.rows_unchanged = 0  # nothing was applied
                report.status = ImportRun.Status.FAILED.value
                report.message = _(
                    "%(bad)s bad rows: nothing was imported. Correct them and import again, or skip them."
                ) % {"bad": report.rows_bad}
            else:
                report.rows_added = report.rows_unchanged = 0
                with _fast_writes():
                    _apply(report, writer, run, now, progress, spool)
                report.status = ImportRun.Status.DONE.value
        except ImportFailed as exc:
            report.status = ImportRun.Status.FAILED.value
            report.message = str(exc)
            _finish(scope, run, report)
            raise
    _finish(scope, run, report)
    return report


def _reader(path: Path, file_name: str, brand_id: int, now: dt.datetime) -> tuple[Sheet, Checker]:
    sheet = open_sheet(path, file_name)
    columns, _ignored = _columns(sheet.headers)
    if _ignored:
        sheet.notices.append(
            _("These columns were ignored: %(columns)s.") % {"columns": ", ".join(_ignored)},
        )
    return sheet, Checker(References.load(brand_id), columns, sheet.headers, now)


def _check(
    scope: Scope,
    path: Path,
    file_name: str,
    report: Report,
    writer: Writer,
    now: dt.datetime,
    batch_size: int,
    progress: Progress | None,
    on_bad: Callable[[BadRow], None] | None,
    spool: IO[bytes] | None,
) -> None:
    sheet, checker = _reader(path, file_name, scope.brand_id, now)
    report.notices = sheet.notices

    def good() -> Iterator[Member]:
        for line, cells in sheet.rows:
            result = checker.check(line, cells)
            if result is None:
                continue
            report.rows_total += 1
            if isinstance(result, Member):
                yield result
                continue
            report.rows_bad += 1
            for bad in result:
                if len(report.errors) < MAX_STORED_ERRORS:
                    report.errors.append(bad)
                if on_bad is not None:
                    on_bad(bad)

    for batch in _batches(good(), batch_size):
        unchanged = sum(writer.unchanged(batch))
        report.rows_unchanged += unchanged
        report.rows_added += len(batch) - unchanged
        if spool is not None:
            pickle.dump([tuple(m) for m in batch], spool, protocol=pickle.HIGHEST_PROTOCOL)
        if progress is not None:
            progress("check", report.rows_total, None)


def _spooled(spool: IO[bytes]) -> Iterator[list[Member]]:
    spool.seek(0)
    while True:
        try:
            rows = pickle.load(spool)
        except EOFError:
            return
        yield [Member._make(r) for r in rows]


def _apply(
    report: Report,
    writer: Writer,
    run: ImportRun,
    now: dt.datetime,
    progress: Progress | None,
    spool: IO[bytes],
) -> None:
    total = report.rows_total
    ImportRun.objects.filter(pk=run.pk).update(rows_total=total, rows_bad=report.rows_bad)
    for batch in _spooled(spool):
        first, last = batch[0].line, batch[-1].line
        try:
            with transaction.atomic():
                added, unchanged = writer.apply(batch, now)
                ImportRun.objects.filter(pk=run.pk).update(
                    rows_added=report.rows_added + added,
                    rows_unchanged=report.rows_unchanged + unchanged,
                    rows_done=report.rows_added + report.rows_unchanged + added + unchanged,
                )
        except DatabaseError as exc:
            raise ImportFailed(
                _(
                    "The batch of lines %(first)s–%(last)s could not be written (%(why)s); it was rolled back, "
                    "%(added)s rows before it were imported. Fix the cause and import the file again: rows "
                    "already imported are left as they are."
                )
                % {"first": first, "last": last, "why": str(exc).strip().splitlines()[0], "added": report.rows_added}
            ) from exc
        report.rows_added += added
        report.rows_unchanged += unchanged
        if progress is not None:
            progress("import", report.rows_added + report.rows_unchanged, total - report.rows_bad)


@contextmanager
def _fast_writes() -> Iterator[None]:
    """SQLite: a larger page cache while importing (random keys land in big indexes), restored after."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
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
