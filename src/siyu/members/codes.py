"""Codes and scans: where each customer came from.

A :class:`~siyu.members.models.Code` is a scannable code or link with a random URL-safe token; its
QR image (PNG or SVG, made with ``segno``) encodes the absolute scan URL ``<SIYU_PUBLIC_URL>/c/<token>``.
Kinds: store and guide codes, campaign codes (渠道活码: a campaign name and an optional store or
guide to bind to), product codes (一物一码: a SKU code and one serial per item), share links (a
customer's referral link), live-session and POS codes.

:func:`scan` is what hitting a code does: it resolves the visitor to a customer
(:func:`siyu.members.identity.resolve`), binds her per the code and the brand's rules
(:func:`siyu.members.binding.bind`), records a :class:`~siyu.members.models.Touch` and counts the
scan. For a new customer the code is her first code and its kind her source. Scanning the same
code again changes nothing but the new touch (and the count).
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from siyu.members import binding
from siyu.members.identity import IdentityIn, resolve
from siyu.members.models import Channel, Code, CodeKind, Customer, Source, Touch, TouchKind
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

SCAN_APP_ID = "h5-sandbox"  # the mini-program stand-in's app id for the openids it issues
MAX_BATCH = 1000
CODE_FIELDS = ("kind", "name", "store", "guide", "campaign", "sku_code", "serial", "active", "expires_at")

SOURCE_OF_KIND = {
    CodeKind.STORE: Source.STORE_CODE,
    CodeKind.GUIDE: Source.GUIDE_CODE,
    CodeKind.CAMPAIGN: Source.CAMPAIGN,
    CodeKind.PRODUCT: Source.PRODUCT_CODE,
    CodeKind.SHARE: Source.SHARE_LINK,
    CodeKind.LIVE: Source.CAMPAIGN,
    CodeKind.POS: Source.POS,
}
TOUCH_OF_KIND = {
    CodeKind.SHARE: TouchKind.SHARE_VISIT,
    CodeKind.LIVE: TouchKind.LIVE,
    CodeKind.POS: TouchKind.POS,
}
# Kinds a region or store manager may create within her reach; HQ creates every kind.
LOCAL_KINDS = {CodeKind.STORE.value, CodeKind.GUIDE.value}


class CodeGone(Exception):
    """The code was deactivated or has expired."""


def new_token() -> str:
    return secrets.token_urlsafe(12)  # 16 URL-safe characters, 96 random bits


def public_base() -> str:
    return str(getattr(settings, "SIYU_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")


def scan_url(code: Code) -> str:
    return f"{public_base()}/c/{code.token}"


def code_image(code: Code, fmt: str = "png", *, scale: int = 8) -> bytes:
    """The code's QR image as PNG or SVG bytes, encoding its absolute scan URL."""
    if fmt not in ("png", "svg"):
        raise ValidationError({"fmt": _("Choose png or svg.")})
    qr = segno.make(scan_url(code), error="m")
    out = io.BytesIO()
    if fmt == "svg":
        qr.save(out, kind="svg", scale=scale, border=2, title=code.name, xmldecl=True)
    else:
        qr.save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def code_svg_inline(code: Code, scale: int = 6) -> str:
    """The QR as an inline ``<svg>`` element for pages (no XML declaration)."""
    out = io.BytesIO()
    segno.make(scan_url(code), error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def is_live(code: Code, now: dt.datetime | None = None) -> bool:
    return code.active and (code.expires_at is None or (now or clock.now()) < code.expires_at)


# --- Creating and managing codes --------------------------------------------------------------
class _Errors:
    """Every problem of one input, reported together (a form shows them all in one round)."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.found.setdefault(field, []).append(message)

    def catch(self, exc: ValidationError) -> None:
        for field, messages in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
            for message in messages:
                self.add(field, message)

    def has(self, field: str) -> bool:
        return field in self.found

    def raise_any(self) -> None:
        if self.found:
            raise ValidationError(self.found)


def _text(data: Mapping[str, object], name: str, max_length: int, errors: _Errors) -> str:
    value = str(data.get(name) or "").strip()
    if len(value) > max_length:
        errors.add(name, _("At most %(n)d characters.") % {"n": max_length})
        return ""
    return value


def _id(data: Mapping[str, object], name: str, errors: _Errors) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        errors.add(name, _("Choose one from the list."))
        return None


def _item_taken(brand_id: int, sku_code: str, serial: str) -> bool:
    return Code.objects.filter(brand_id=brand_id, kind=CodeKind.PRODUCT, sku_code=sku_code, serial=serial).exists()


def _item_has_its_code(code: Code) -> str:
    return _("Item %(serial)s of %(sku)s already has its code: one code per item.") % {
        "serial": code.serial,
        "sku": code.sku_code,
    }


def _prepare(scope: Scope, data: Mapping[str, object]) -> Code:
    """The code ``data`` describes, checked as a whole: every problem is reported at once, each on
    its field (a missing store and a duplicate item serial and a past expiry in one answer)."""
    errors = _Errors()
    kind = str(data.get("kind") or "")
    if kind not in CodeKind.values:
        errors.add("kind", _("Choose a kind of code."))
    elif kind == CodeKind.SHARE:
        errors.add("kind", _("A share link is made for a customer from her own page."))
    elif scope.level is not Level.BRAND and kind not in LOCAL_KINDS:
        errors.add("kind", _("Only HQ creates this kind of code; you may create store and guide codes."))
    code = Code(brand_id=scope.brand_id, kind=kind, token=new_token(), created_at=clock.now(), active=True)
    code.campaign = _text(data, "campaign", 60, errors)
    code.sku_code = _text(data, "sku_code", 40, errors)
    code.serial = _text(data, "serial", 40, errors)
    name = _text(data, "name", 100, errors)
    store_id, guide_id = _id(data, "store", errors), _id(data, "guide", errors)
    if guide_id is not None:
        try:
            guide = binding.receiver(scope.brand_id, guide_id, scope=scope)
            code.guide_id, code.store_id = guide.id, guide.store_id
        except ValidationError as exc:
            errors.catch(exc)
    if store_id is not None and code.guide_id is None:
        store = org.store_info(scope.brand_id, store_id, scope=scope)
        if store is None:
            errors.add("store", _("Choose a store that you may manage."))
        else:
            code.store_id = store.id
    expires = data.get("expires_at")
    if expires not in (None, ""):
        if not isinstance(expires, dt.datetime):
            errors.add("expires_at", _("Give a date and time."))
        elif expires <= clock.now():
            errors.add("expires_at", _("An expiry lies in the future."))
        else:
            code.expires_at = expires
    if kind == CodeKind.STORE and code.store_id is None and not errors.has("store"):
        errors.add("store", _("A store code belongs to a store."))
    if kind == CodeKind.GUIDE and code.guide_id is None and not errors.has("guide"):
        errors.add("guide", _("A guide code belongs to a guide."))
    if kind == CodeKind.CAMPAIGN and not code.campaign and not errors.has("campaign"):
        errors.add("campaign", _("Name the campaign."))
    if kind == CodeKind.PRODUCT and not code.sku_code and not errors.has("sku_code"):
        errors.add("sku_code", _("Give the SKU code of the product."))
    if kind == CodeKind.POS and code.store_id is None and not errors.has("store"):
        errors.add("store", _("A POS code belongs to a store."))
    if code.serial and kind != CodeKind.PRODUCT and kind in CodeKind.values:
        errors.add("serial", _("Only a product code carries an item serial."))
    if (
        kind == CodeKind.PRODUCT
        and code.sku_code
        and code.serial
        and _item_taken(scope.brand_id, code.sku_code, code.serial)
    ):
        errors.add("serial", _item_has_its_code(code))
    errors.raise_any()
    code.name = name or _default_name(code)
    return code


def check_code(scope: Scope, **data: object) -> None:
    """Check a code's data without making it: a ``ValidationError`` with every problem, or nothing
    (a form reports these next to its own field errors, all in one round)."""
    _require_codes(scope)
    _prepare(scope, data)


def _default_name(code: Code) -> str:
    parts = [str(CodeKind(code.kind).label)]
    if code.campaign:
        parts.append(code.campaign)
    if code.sku_code:
        parts.append(code.sku_code + (f" #{code.serial}" if code.serial else ""))
    if code.guide_id:
        info = org.staff_info(code.brand_id, code.guide_id)
        parts.append(info.name if info else "")
    elif code.store_id:
        store = org.store_info(code.brand_id, code.store_id)
        parts.append(f"{store.code} {store.name}" if store else "")
    return " · ".join(p for p in parts if p)[:100]


def _require_codes(scope: Scope) -> None:
    if not scope.can(Perm.MEMBERS_CODES):
        raise PermissionDenied(Perm.MEMBERS_CODES)


@transaction.atomic
def create_code(scope: Scope, **data: object) -> Code:
    """Create one code (``kind``, ``name``, ``store``, ``guide``, ``campaign``, ``sku_code``,
    ``serial``, ``expires_at``). Region and store managers create store and guide codes within
    their reach; HQ creates every kind."""
    _require_codes(scope)
    unknown = set(data) - {"kind", "name", "store", "guide", "campaign", "sku_code", "serial", "expires_at"}
    if unknown:
        raise ValidationError({n: _("This field cannot be set here.") for n in sorted(unknown)})
    code = _prepare(scope, data)
    try:
        with transaction.atomic():
            code.save()
    except IntegrityError:
        if code.kind == CodeKind.PRODUCT and _item_taken(scope.brand_id, code.sku_code, code.serial):
            # another request took the item between the check and the insert (constraint one_code_per_item)
            raise ValidationError({"serial": _item_has_its_code(code)}) from None
        raise
    audit.record_by(scope, "code.create", code, after=audit.snapshot(code, CODE_FIELDS))
    return code


@transaction.atomic
def create_product_codes(
    scope: Scope, *, sku_code: str, count: int, name: str = "", store: object = None
) -> list[Code]:
    """One code per item (一物一码): ``count`` new serials of ``sku_code`` (1 to 1,000 at once),
    numbered after the highest serial the SKU already has."""
    _require_codes(scope)
    errors = _Errors()
    if not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        errors.add("count", _("Make 1 to %(n)d codes at once.") % {"n": MAX_BATCH})
    try:
        template = _prepare(scope, {"kind": CodeKind.PRODUCT, "sku_code": sku_code, "name": name, "store": store})
    except ValidationError as exc:
        errors.catch(exc)
    errors.raise_any()
    serials = Code.objects.select_for_update().filter(
        brand_id=scope.brand_id, kind=CodeKind.PRODUCT, sku_code=template.sku_code
    )
    # numbered after the highest numbered serial, so a serial given by hand is never repeated
    start = max((int(s) for s in serials.values_list("serial", flat=True) if s.isdigit()), default=0)
    now = clock.now()
    codes = [
        Code(
            brand_id=scope.brand_id,
            kind=CodeKind.PRODUCT,
            token=new_token(),
            name=(name.strip() or template.sku_code)[:90] + f" #{start + n:06d}",
            store_id=template.store_id,
            sku_code=template.sku_code,
            serial=f"{start + n:06d}",
            created_at=now,
        )
        for n in range(1, count + 1)
    ]
    Code.objects.bulk_create(codes)
    audit.record_by(
        scope,
        "code.create_batch",
        codes[0],
        after={"sku_code": template.sku_code, "count": count, "first": codes[0].serial},
    )
    return codes


@transaction.atomic
def deactivate_code(scope: Scope, code_id: int) -> Code:
    _require_codes(scope)
    code = get_scoped(Code.objects.select_for_update(of=("self",)), scope, pk=code_id)
    if scope.level is not Level.BRAND and code.kind not in LOCAL_KINDS:
        raise PermissionDenied(_("Only HQ manages this kind of code."))
    if code.active:
        code.active = False
        code.save(update_fields=["active"])
        audit.record_by(scope, "code.deactivate", code, before={"active": True}, after={"active": False})
    return code


def share_link(customer: Customer) -> Code:
    """A customer's referral link (one per customer; made on first use)."""
    found = Code.objects.filter(brand_id=customer.brand_id, kind=CodeKind.SHARE, shared_by=customer).first()
    if found is not None:
        return found
    return Code.objects.create(
        brand_id=customer.brand_id,
        kind=CodeKind.SHARE,
        token=new_token(),
        name=_("Share link of customer #%(id)d") % {"id": customer.pk},
        store_id=customer.store_id,
        guide_id=customer.guide_id,
        shared_by=customer,
        created_at=clock.now(),
    )


def codes_of_staff(brand_id: int, guide_id: int) -> list[Code]:
    """A guide's own guide code and her store's code, made on first use (she shows them in store)."""
    info = org.staff_info(brand_id, guide_id)
    if info is None or info.store_id is None:
        return []
    found: list[Code] = []
    with transaction.atomic():
        mine = Code.objects.filter(brand_id=brand_id, kind=CodeKind.GUIDE, guide_id=guide_id, active=True).first()
        if mine is None and info.active:
            mine = Code.objects.create(
                brand_id=brand_id,
                kind=CodeKind.GUIDE,
                token=new_token(),
                name=f"{CodeKind.GUIDE.label} · {info.name}"[:100],
                store_id=info.store_id,
                guide_id=guide_id,
                created_at=clock.now(),
            )
        if mine is not None:
            found.append(mine)
        store_code = Code.objects.filter(
            brand_id=brand_id, kind=CodeKind.STORE, store_id=info.store_id, guide__isnull=True, active=True
        ).first()
        if store_code is None:
            store = org.store_info(brand_id, info.store_id)
            store_code = Code.objects.create(
                brand_id=brand_id,
                kind=CodeKind.STORE,
                token=new_token(),
                name=f"{CodeKind.STORE.label} · {store.code if store else ''} {store.name if store else ''}"[:100],
                store_id=info.store_id,
                created_at=clock.now(),
            )
        found.append(store_code)
    return found


def visible_codes(
    scope: Scope, *, kind: str | None = None, store_id: int | None = None, guide_id: int | None = None
) -> QuerySet[Code]:
    qs = restrict(Code, scope)
    if kind:
        qs = qs.filter(kind=kind)
    if store_id:
        qs = qs.filter(store_id=store_id)
    if guide_id:
        qs = qs.filter(guide_id=guide_id)
    return qs.order_by("-created_at", "-id")


def code_by_token(token: str) -> Code | None:
    if not token or len(token) > 32:
        return None
    return Code.objects.filter(token=token).first()


# --- Scanning ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanResult:
    customer: Customer
    created: bool
    bind: binding.BindResult | None
    touch: Touch | None  # None when the same visitor only completed her details


def consent_from_touchpoint(customer: Customer, consents: Mapping[str, bool]) -> None:
    """The visitor ticked (or unticked) channels on the scan page: record what changes what is in
    force, through the profile slice (her own consent, given herself)."""
    from siyu.members import profile

    in_force = {s.channel: s.granted for s in profile.consent_state(customer.pk)}
    for channel, granted in consents.items():
        if channel not in Channel.values:
            raise ValidationError({"consent": _("Unknown channel.")})
        if in_force.get(channel) is None and not granted:
            continue  # never asked and not granted now: nothing to record
        if in_force.get(channel) != granted:
            profile.record_own_consent(customer.pk, channel, granted)


def scan(
    code: Code,
    identities: Sequence[IdentityIn],
    *,
    name: str | None = None,
    consents: Mapping[str, bool] | None = None,
    at: dt.datetime | None = None,
    properties: Mapping[str, object] | None = None,
    count_scan: bool = True,
) -> ScanResult:
    """A visitor scanned ``code`` (hit its URL): find or create her, bind her, record the touch.

    ``count_scan=False`` is the same visitor completing her details on the page the scan opened
    (a phone, consent): identities, binding and consent as usual, but no second touch or scan."""
    now = at or clock.now()
    code = Code.objects.get(pk=code.pk)  # as it is now (deactivated a moment ago?)
    if not is_live(code, now):
        raise CodeGone(code.token)
    source = SOURCE_OF_KIND[CodeKind(code.kind)]
    with transaction.atomic():
        customer, created = resolve(code.brand_id, identities, source=source, name=name, at=now)
        guide_id, store_id = code.guide_id, code.store_id
        if code.kind == CodeKind.SHARE and code.shared_by_id is not None:
            referrer = Customer.objects.filter(pk=code.shared_by_id).first()
            if referrer is not None and referrer.guide_id is not None:
                guide_id, store_id = referrer.guide_id, referrer.store_id
        result = None
        if guide_id is not None and binding.can_receive(code.brand_id, guide_id):
            result = binding.bind(
                customer,
                guide_id=guide_id,
                source=binding.binding_source_for(source),
                code=code,
                at=now,
                actor_label=code.name,
            )
        elif store_id is not None:
            result = binding.bind(
                customer,
                store_id=store_id,
                source=binding.binding_source_for(Source.STORE_CODE),
                code=code,
                at=now,
                actor_label=code.name,
            )
        if created:
            Customer.objects.filter(pk=customer.pk).update(first_code=code, source=source)
            customer.refresh_from_db()
        props = dict(properties or {})
        if code.shared_by_id is not None:
            props["referrer"] = code.shared_by_id
        if code.sku_code:
            props.update({"sku_code": code.sku_code, "serial": code.serial})
        touch = None
        if count_scan:
            touch = Touch.objects.create(
                brand_id=code.brand_id,
                customer=customer,
                kind=TOUCH_OF_KIND.get(CodeKind(code.kind), TouchKind.SCAN),
                code=code,
                store_id=store_id,
                guide_id=guide_id,
                campaign=code.campaign,
                at=now,
                properties=props,
            )
            Code.objects.filter(pk=code.pk).update(scans=F("scans") + 1)
            _emit_touch(touch)
        if consents:
            consent_from_touchpoint(customer, consents)
    return ScanResult(customer=customer, created=created, bind=result, touch=touch)


def record_touch(
    scope: Scope,
    customer: Customer,
    *,
    kind: str,
    code: Code | None = None,
    store_id: int | None = None,
    guide_id: int | None = None,
    campaign: str = "",
    at: dt.datetime | None = None,
    properties: Mapping[str, object] | None = None,
) -> Touch:
    """A touch reported by a system (POS, ERP): no binding, just the moment."""
    if not scope.can(Perm.MEMBERS_REGISTER):
        raise PermissionDenied(Perm.MEMBERS_REGISTER)
    if kind not in TouchKind.values:
        raise ValidationError({"kind": _("Unknown kind of touch.")})
    if store_id is not None and org.store_info(scope.brand_id, store_id) is None:
        raise ValidationError({"store": _("Choose a store of the brand.")})
    if guide_id is not None and org.staff_info(scope.brand_id, guide_id) is None:
        raise ValidationError({"guide": _("Choose a guide of the brand.")})
    touch = Touch.objects.create(
        brand_id=customer.brand_id,
        customer=customer,
        kind=kind,
        code=code,
        store_id=store_id,
        guide_id=guide_id,
        campaign=campaign[:60],
        at=at or clock.now(),
        properties=dict(properties or {}),
    )
    _emit_touch(touch)
    return touch


def _emit_touch(touch: Touch) -> None:
    """The touch as a behaviour event, once the caller commits (ADR 0011)."""
    from siyu.events import services as events  # here: events reads members at import

    events.emit_touch(
        touch.brand_id, touch.pk, touch.kind, touch.customer_id, touch.at,
        store_id=touch.store_id, guide_id=touch.guide_id, properties=touch.properties,
    )  # fmt: skip
