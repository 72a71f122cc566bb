"""Plain batch readers of the customer tables for the analytics lake (``siyu.segments.facts``):
live customers (neither erased nor merged away), their tags and the consent in force per channel,
read in id order a chunk at a time so memory stays bounded. Other domains reach these through
``siyu.members.services``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from siyu.members.models import Consent, Customer, CustomerTag, Tag
from siyu.platform import privacy

CHUNK = 20_000


@dataclass(frozen=True)
class CustomerFact:
    id: int
    store_id: int | None
    guide_id: int | None
    tier: str
    lifecycle: str
    source: str
    joined_at: dt.datetime
    birthday: dt.date | None
    rfm_r: int
    rfm_f: int
    rfm_m: int
    orders_count: int
    total_spent_fen: int
    last_purchase_at: dt.datetime | None


_FIELDS = (
    "id",
    "store_id",
    "guide_id",
    "tier",
    "lifecycle",
    "source",
    "joined_at",
    "birthday",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "orders_count",
    "total_spent_fen",
    "last_purchase_at",
)


def _live(brand_id: int) -> Iterable[Customer]:
    return Customer.objects.filter(brand_id=brand_id, erased_at__isnull=True, merged_into__isnull=True)


def customer_facts(brand_id: int, *, chunk: int = CHUNK) -> Iterator[list[CustomerFact]]:
    """The brand's live customers, ``chunk`` at a time in id order."""
    last = 0
    while True:
        rows = list(_live(brand_id).filter(id__gt=last).order_by("id").values_list(*_FIELDS)[:chunk])  # type: ignore[attr-defined]
        if not rows:
            return
        yield [CustomerFact(*r) for r in rows]
        last = rows[-1][0]


def customer_tag_facts(brand_id: int, *, chunk: int = CHUNK) -> Iterator[list[tuple[int, int]]]:
    """``(customer_id, tag_id)`` of the brand's live customers, in chunks."""
    last = 0
    qs = CustomerTag.objects.filter(
        brand_id=brand_id, customer__erased_at__isnull=True, customer__merged_into__isnull=True
    )
    while True:
        rows = list(qs.filter(id__gt=last).order_by("id").values_list("id", "customer_id", "tag_id")[:chunk])
        if not rows:
            return
        yield [(c, t) for _, c, t in rows]
        last = rows[-1][0]


def consent_facts(brand_id: int, *, chunk: int = CHUNK) -> Iterator[list[tuple[int, str, bool, dt.datetime]]]:
    """The consent in force — the latest row per customer and channel — as ``(customer_id, channel,
    granted, at)``, in chunks of customers."""
    last = 0
    while True:
        ids = list(_live(brand_id).filter(id__gt=last).order_by("id").values_list("id", flat=True)[:chunk])  # type: ignore[attr-defined]
        if not ids:
            return
        rows = (
            Consent.objects.filter(customer_id__in=ids)
            .order_by("customer_id", "channel", "-at", "-id")
            .values_list("customer_id", "channel", "granted", "at")
        )
        seen: set[tuple[int, str]] = set()
        out = []
        for customer_id, channel, granted, at in rows:
            if (customer_id, channel) not in seen:
                seen.add((customer_id, channel))
                out.append((customer_id, channel, granted, at))
        yield out
        last = ids[-1]


def tag_labels(brand_id: int) -> dict[int, str]:
    """Every tag of the brand as ``{id: "group / name"}``."""
    return {t.pk: f"{t.group.name} / {t.name}" for t in Tag.objects.filter(brand_id=brand_id).select_related("group")}


def live_customer_ids(brand_id: int, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are live customers of the brand."""
    wanted = list({int(i) for i in ids})
    found: set[int] = set()
    for start in range(0, len(wanted), 5000):
        found |= set(_live(brand_id).filter(id__in=wanted[start : start + 5000]).values_list("id", flat=True))  # type: ignore[attr-defined]
    return found


def customer_ids_by_phones(brand_id: int, phones: Iterable[str]) -> tuple[set[int], list[str]]:
    """The live customers of the given phone numbers, and the numbers that matched nobody (or are
    not phone numbers)."""
    hashes: dict[str, str] = {}
    unknown: list[str] = []
    for phone in phones:
        try:
            hashes[privacy.lookup_hash(privacy.normalize_phone(phone))] = phone
        except ValueError:
            unknown.append(phone)
    found: dict[str, int] = {}
    keys = list(hashes)
    for start in range(0, len(keys), 5000):
        found.update(
            _live(brand_id).filter(phone_hash__in=keys[start : start + 5000]).values_list("phone_hash", "id")  # type: ignore[attr-defined]
        )
    unknown += [hashes[h] for h in keys if h not in found]
    return set(found.values()), unknown


def customer_ids_of_guide(brand_id: int, guide_id: int) -> set[int]:
    """The live customers bound to a guide now."""
    return set(_live(brand_id).filter(guide_id=guide_id).values_list("id", flat=True))  # type: ignore[attr-defined]
