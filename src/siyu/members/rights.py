"""A customer's rights over her personal data (PIPL): a copy of everything, and erasure.

* :func:`export_customer_data` gathers every row about her (and every customer merged into her),
  decrypted, as a JSON-ready ``dict``.
* :func:`erase_customer` anonymises her everywhere, history included, irreversibly: phone and name
  (sealed values and lookup hashes) cleared so she can register afresh, birthday, gender and
  preferences cleared, identities deleted, touches' properties emptied, notes' text emptied, tags
  removed; ``erased_at`` set. Counts (orders, spend, touches, bindings, tier changes, consent
  history) are kept for the brand's aggregates. A cluster of merged customers is erased whole. The
  audit entry names no personal data. Erasing again changes nothing.

Staff need ``members.privacy``; the customer herself acts on her own profile page in the store
mall (``erase_own_data`` / ``export_own_data``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.channels import services as channels
from siyu.members.identity import cluster_ids, root_of
from siyu.members.models import (
    Binding,
    Consent,
    Customer,
    CustomerTag,
    Identity,
    IdentityKind,
    Note,
    TierChange,
    Touch,
)
from siyu.org.services import Perm
from siyu.platform import audit, clock, hooks, privacy
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

SELF_LABEL = "the customer herself"


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _data_of(customer: Customer) -> dict[str, Any]:
    ids = cluster_ids(customer)
    members = list(Customer.objects.filter(pk__in=ids).order_by("pk"))
    phones = {c.phone_hash: privacy.unseal(c.phone_sealed) for c in members if c.phone_hash}

    def identity(i: Identity) -> dict[str, Any]:
        key = phones.get(i.key, "") if i.kind == IdentityKind.PHONE else i.key
        return {
            "kind": i.kind,
            "app_id": i.app_id,
            "value": key,
            "verified": i.verified,
            "added_at": _when(i.created_at),
        }

    return {
        "customer": {
            "id": customer.pk,
            "phone": privacy.unseal(customer.phone_sealed),
            "name": privacy.unseal(customer.name_sealed),
            "gender": customer.gender,
            "birthday": _when(customer.birthday),
            "preferences": customer.preferences,
            "source": customer.source,
            "tier": customer.tier,
            "lifecycle": customer.lifecycle,
            "joined_at": _when(customer.joined_at),
            "last_purchase_at": _when(customer.last_purchase_at),
            "orders_count": customer.orders_count,
            "total_spent_fen": customer.total_spent_fen,
            "store_id": customer.store_id,
            "guide_id": customer.guide_id,
        },
        "merged_records": [
            {"id": c.pk, "phone": privacy.unseal(c.phone_sealed), "name": privacy.unseal(c.name_sealed)}
            for c in members
            if c.pk != customer.pk
        ],
        "identities": [identity(i) for i in Identity.objects.filter(customer_id__in=ids).order_by("created_at", "pk")],
        "bindings": [
            {"at": _when(b.at), "guide_id": b.guide_id, "store_id": b.store_id, "source": b.source}
            for b in Binding.objects.filter(customer_id__in=ids).order_by("at", "pk")
        ],
        "touches": [
            {
                "at": _when(t.at),
                "kind": t.kind,
                "store_id": t.store_id,
                "guide_id": t.guide_id,
                "campaign": t.campaign,
                "properties": t.properties,
            }
            for t in Touch.objects.filter(customer_id__in=ids).order_by("at", "pk")
        ],
        "tags": [
            {"group": link.tag.group.name, "tag": link.tag.name, "at": _when(link.at)}
            for link in CustomerTag.objects.filter(customer_id__in=ids).select_related("tag__group").order_by("at")
        ],
        "notes": [
            {
                "kind": n.kind,
                "text": privacy.unseal(n.text_sealed),
                "due_on": _when(n.due_on),
                "done_at": _when(n.done_at),
                "at": _when(n.at),
            }
            for n in Note.objects.filter(customer_id__in=ids).order_by("at", "pk")
        ],
        "consent": [
            {"channel": c.channel, "granted": c.granted, "source": c.source, "at": _when(c.at)}
            for c in Consent.objects.filter(customer_id__in=ids).order_by("at", "pk")
        ],
        "tier_changes": [
            {"from": t.from_tier, "to": t.to_tier, "reason": t.reason, "at": _when(t.at)}
            for t in TierChange.objects.filter(customer_id__in=ids).order_by("at", "pk")
        ],
        "exported_at": _when(clock.now()),
    }


def export_customer_data(scope: Scope, customer_id: int) -> dict[str, Any]:
    """Everything about one customer in reach, decrypted (``members.privacy``); audited."""
    if not scope.can(Perm.MEMBERS_PRIVACY):
        raise PermissionDenied(Perm.MEMBERS_PRIVACY)
    customer = get_scoped(restrict(Customer, scope).filter(erased_at__isnull=True), scope, pk=customer_id)
    data = _data_of(customer)
    audit.record_by(scope, "customer.data_export", customer, after={"by": "staff"})
    return data


def export_own_data(customer_id: int) -> dict[str, Any]:
    """The customer's own copy, asked for on her profile page."""
    customer = Customer.objects.get(pk=customer_id, erased_at__isnull=True)
    return _data_of(customer)


def _erase(customer: Customer, at: dt.datetime) -> int:
    """Anonymise the whole cluster of ``customer``; returns how many customer records it covered."""
    root = root_of(customer)
    ids = cluster_ids(root)
    phones = set(Identity.objects.filter(customer_id__in=ids, kind=IdentityKind.PHONE).values_list("key", flat=True))
    phones |= set(Customer.objects.filter(pk__in=ids).exclude(phone_hash="").values_list("phone_hash", flat=True))
    channels.forget_phones(root.brand_id, phones)  # the codes texted to her numbers, the SMS sandbox's copies
    Identity.objects.filter(customer_id__in=ids).delete()
    Identity.objects.filter(origin_id__in=ids).delete()
    Touch.objects.filter(customer_id__in=ids).exclude(properties={}).update(properties={})
    Note.objects.filter(customer_id__in=ids).update(text_sealed="")
    CustomerTag.objects.filter(customer_id__in=ids).delete()
    Customer.objects.filter(pk__in=ids).update(
        phone_sealed="",
        phone_hash="",
        name_sealed="",
        name_hash="",
        gender="",
        birthday=None,
        preferences={},
        protected_until=None,
    )
    Customer.objects.filter(pk__in=ids, erased_at__isnull=True).update(erased_at=at)
    hooks.customers_erased(root.brand_id, ids)  # the event lake forgets her too (after commit)
    return len(ids)


@transaction.atomic
def erase_customer(scope: Scope, customer_id: int, reason: str) -> bool:
    """Erase a customer in reach (``members.privacy``) and every customer merged with her.
    ``True`` if this call erased her, ``False`` if she already was (nothing changes then)."""
    if not scope.can(Perm.MEMBERS_PRIVACY):
        raise PermissionDenied(Perm.MEMBERS_PRIVACY)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why (e.g. the customer asked on 1 May by phone).")})
    if len(reason) > 200:
        raise ValidationError({"reason": _("At most %(n)d characters.") % {"n": 200}})
    customer = get_scoped(restrict(Customer.objects.select_for_update(of=("self",)), scope), scope, pk=customer_id)
    if customer.erased_at is not None:
        return False
    covered = _erase(customer, clock.now())
    # The reason is the staff member's words about the request; the entry names no personal data.
    audit.record_by(scope, "customer.erase", customer, after={"records": covered, "reason": reason})
    return True


@transaction.atomic
def erase_own_data(customer_id: int) -> bool:
    """The customer erases her own data from her profile page."""
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None or customer.erased_at is not None:
        return False
    covered = _erase(customer, clock.now())
    scope = Scope(brand_id=customer.brand_id, level=Level.BRAND, label=SELF_LABEL)
    audit.record_by(scope, "customer.erase", customer, after={"records": covered, "reason": "self-service"})
    return True
