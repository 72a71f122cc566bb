"""The audit log as people read it: names instead of ids, personal data masked.

An audit entry keeps what changed as plain JSON (ids for foreign keys, the values as they were).
Shown raw, a reader meets ``store: 17`` and a colleague's mobile number in full. :func:`readable`
turns each change into text for the page: stores, regions, franchisees and staff by name (one
query per kind for the whole page), customers as ``#id`` (a customer's name is never shown in the
log), and mobile numbers and the names of contact persons masked (``138****5678``, ``张**``) for
every viewer: the log answers *who changed what*, not *how to reach someone*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from siyu.org.models import Franchisee, Region, Staff, Store
from siyu.platform.models import AuditEntry
from siyu.platform.privacy import mask_name, mask_phone

# The keys of audit snapshots (every domain's) that hold an id of the organisation, or a customer.
STORE_KEYS = frozenset({"store", "store_id", "from_store", "to_store", "absorbed_store"})
REGION_KEYS = frozenset({"region", "region_id"})
FRANCHISEE_KEYS = frozenset({"franchisee", "franchisee_id"})
STAFF_KEYS = frozenset(
    {"guide", "guide_id", "to_guide", "from_guide", "to_guides", "previous_guide", "absorbed_guide", "staff"}
)
CUSTOMER_KEYS = frozenset({"customer", "customers", "survivor", "absorbed"})
PERSON_NAME_KEYS = frozenset({"contact_name"})  # a person outside the staff, e.g. a franchisee's contact
LIST_SHOWN = 8  # a long list of customers shows its first ids and how many more
DEFAULT_LABEL = re.compile(r"^\w+ object \(\d+\)$")  # str() of a model without a name of its own


def is_phone_key(key: str) -> bool:
    return key == "phone" or key.endswith("_phone")


@dataclass(frozen=True)
class Change:
    field: str
    old: str | None  # None: the value did not exist before
    new: str


@dataclass(frozen=True)
class Row:
    """An entry with its readable changes; reads through to the entry (``row.action``, ``row.at``)."""

    entry: AuditEntry
    changes: list[Change]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.entry, name)

    @property
    def object_name(self) -> str:
        """The object's own name; empty when the entry only kept Django's ``X object (id)``."""
        label = self.entry.object_label
        return "" if DEFAULT_LABEL.match(label) else label


class Names:
    """Names of the stores, regions, franchisees and staff that some entries mention."""

    def __init__(self, brand_id: int, entries: Sequence[AuditEntry]) -> None:
        wanted: dict[str, set[int]] = {"store": set(), "region": set(), "franchisee": set(), "staff": set()}
        for entry in entries:
            for key, value in (*(entry.before or {}).items(), *(entry.after or {}).items()):
                kind = _kind_of(key)
                if kind in wanted:
                    wanted[kind].update(_ids(value))
        self.stores = {
            s.pk: f"{s.code} {s.name}" for s in Store.objects.filter(brand_id=brand_id, pk__in=wanted["store"])
        }
        self.regions = dict(Region.objects.filter(brand_id=brand_id, pk__in=wanted["region"]).values_list("pk", "name"))
        self.franchisees = dict(
            Franchisee.objects.filter(brand_id=brand_id, pk__in=wanted["franchisee"]).values_list("pk", "name")
        )
        self.staff = dict(Staff.objects.filter(brand_id=brand_id, pk__in=wanted["staff"]).values_list("pk", "name"))

    def table(self, kind: str) -> dict[int, str]:
        return {"store": self.stores, "region": self.regions, "franchisee": self.franchisees, "staff": self.staff}[kind]


def _kind_of(key: str) -> str:
    if key in STORE_KEYS:
        return "store"
    if key in REGION_KEYS:
        return "region"
    if key in FRANCHISEE_KEYS:
        return "franchisee"
    if key in STAFF_KEYS:
        return "staff"
    if key in CUSTOMER_KEYS:
        return "customer"
    if is_phone_key(key):
        return "phone"
    if key in PERSON_NAME_KEYS:
        return "person"
    return ""


def _ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    return [int(v) for v in items if isinstance(v, int) or (isinstance(v, str) and v.isdigit())]


def _one(kind: str, value: Any, names: Names) -> str:
    if kind == "customer":
        return _("customer #%(id)s") % {"id": value}
    name = names.table(kind).get(int(value)) if _ids(value) else None
    return name or f"#{value}"  # a row of another kind of object, or gone since


def show(key: str, value: Any, names: Names) -> str:
    """One value of one key, as the log shows it."""
    if value is None or value == "":
        return "∅"
    kind = _kind_of(key)
    if kind == "phone":
        return mask_phone(str(value))
    if kind == "person":
        return mask_name(str(value))
    if kind in ("store", "region", "franchisee", "staff", "customer"):
        if isinstance(value, list):
            one = (lambda v: f"#{v}") if kind == "customer" else (lambda v: _one(kind, v, names))
            shown = [one(v) for v in value[:LIST_SHOWN]]
            more = len(value) - LIST_SHOWN
            return ", ".join(shown) + (_(" and %(n)d more") % {"n": more} if more > 0 else "")
        return _one(kind, value, names)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def readable(brand_id: int, entries: Iterable[AuditEntry]) -> list[Row]:
    """The entries with their changes ready to show (one query per kind of name for them all)."""
    entries = list(entries)
    names = Names(brand_id, entries)
    rows = []
    for entry in entries:
        changes = [
            Change(key, None if old is None else show(key, old, names), show(key, new, names))
            for key, old, new in entry.changes()
        ]
        rows.append(Row(entry, changes))
    return rows
