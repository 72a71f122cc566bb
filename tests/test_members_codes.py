"""Codes: creation per kind and reach, product code batches, QR images, scans (services)."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from typing import Any
from xml.etree import ElementTree

import pytest
import segno
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from siyu.members.codes import (
    CodeGone,
    code_image,
    codes_of_staff,
    create_code,
    create_product_codes,
    deactivate_code,
    scan,
    scan_url,
    share_link,
)
from siyu.members.identity import IdentityIn
from siyu.members.models import Code, Customer, Touch
from siyu.platform import clock

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)


def oid(key: str) -> list[IdentityIn]:
    return [IdentityIn("openid", key, app_id="h5-sandbox")]


def test_hq_creates_every_kind_and_managers_only_local_ones(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    campaign = create_code(hq, kind="campaign", campaign="618 大促", guide=world.staff["guide_a"].pk)
    assert (campaign.store_id, campaign.guide_id) == (world.flagship.pk, world.staff["guide_a"].pk)
    assert "618" in campaign.name and len(campaign.token) >= 16
    sm = scope_of(world.staff["store_manager"])
    assert create_code(sm, kind="store", store=world.flagship.pk).store_id == world.flagship.pk
    with pytest.raises(ValidationError) as exc:
        create_code(sm, kind="campaign", campaign="x")
    assert "kind" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        create_code(sm, kind="store", store=world.sh2.pk)  # outside her reach
    assert "store" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        create_code(scope_of(world.staff["guide_a"]), kind="guide", guide=world.staff["guide_a"].pk)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "nope"}, "kind"),
        ({"kind": "store"}, "store"),
        ({"kind": "guide"}, "guide"),
        ({"kind": "campaign"}, "campaign"),
        ({"kind": "product"}, "sku_code"),
        ({"kind": "pos"}, "store"),
        ({"kind": "share"}, "kind"),
        ({"kind": "live", "name": "x" * 101}, "name"),
        ({"kind": "live", "bogus": 1}, "bogus"),
    ],
)
def test_bad_code_input_names_the_field_and_creates_nothing(
    world: Any, scope_of: Any, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        create_code(scope_of(world.staff["hq_admin"]), **data)
    assert field in exc.value.message_dict
    assert not Code.objects.exists()


def test_product_codes_come_in_batches_of_numbered_serials(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    first = create_product_codes(hq, sku_code="RUN-001-BLK-42", count=3)
    more = create_product_codes(hq, sku_code="RUN-001-BLK-42", count=2)
    assert [c.serial for c in first + more] == ["000001", "000002", "000003", "000004", "000005"]
    assert len({c.token for c in first + more}) == 5
    with pytest.raises(ValidationError):
        create_product_codes(hq, sku_code="RUN-001", count=0)
    with pytest.raises(ValidationError):
        create_product_codes(hq, sku_code="RUN-001", count=1001)


def test_the_database_refuses_a_second_code_for_one_item(world: Any, scope_of: Any) -> None:
    """一物一码 holds in the database too (constraint one_code_per_item), not only in the service."""
    hq = scope_of(world.staff["hq_admin"])
    (first,) = create_product_codes(hq, sku_code="RUN-001-BLK-42", count=1)
    twin = {"brand_id": first.brand_id, "sku_code": first.sku_code, "serial": first.serial, "name": "twin"}
    with pytest.raises(IntegrityError), transaction.atomic():
        Code.objects.create(kind="product", token="twin-token-0001", created_at=T0, **twin)
    # another SKU's item, or a code that is not a product code, may carry the same serial
    Code.objects.create(kind="product", token="twin-token-0002", created_at=T0, **(twin | {"sku_code": "RUN-002"}))
    Code.objects.create(kind="campaign", token="twin-token-0003", created_at=T0, **twin)
    # product codes of a SKU without an item serial are not items
    for n in (4, 5):
        Code.objects.create(kind="product", token=f"twin-token-000{n}", created_at=T0, **(twin | {"serial": ""}))
    # the service answers on the field (the same check, before the database's)
    with pytest.raises(ValidationError) as exc:
        create_code(hq, kind="product", sku_code=first.sku_code, serial=first.serial)
    assert "serial" in exc.value.message_dict


def _png_modules(png: bytes, scale: int, border: int) -> list[list[bool]]:
    """Decode a 1-bit greyscale PNG (what segno writes) with the standard library: chunk CRCs are
    checked, rows unfiltered, and each module read at its centre (True = dark)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (1, 0) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = (width + 7) // 8
    rows, prev, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        at += 1 + stride
        for i in range(stride):  # PNG filters 0-2 (segno uses 0); 1 byte per pixel group
            left = line[i - 1] if i else 0
            line[i] = (line[i] + (left if kind == 1 else prev[i] if kind == 2 else 0)) & 0xFF
        assert kind in (0, 1, 2)
        rows.append(line)
        prev = line
    n = width // scale - 2 * border

    def dark(x: int, y: int) -> bool:
        px, py = (x + border) * scale + scale // 2, (y + border) * scale + scale // 2
        return not (rows[py][px // 8] >> (7 - px % 8)) & 1

    return [[dark(x, y) for x in range(n)] for y in range(n)]


def test_images_are_valid_png_and_svg_encoding_the_scan_url(world: Any, scope_of: Any, settings: Any) -> None:
    settings.SIYU_PUBLIC_URL = "https://siyu.example.com"
    code = create_code(scope_of(world.staff["hq_admin"]), kind="store", store=world.flagship.pk)
    url = scan_url(code)
    assert url == f"https://siyu.example.com/c/{code.token}"
    expected = [[bool(v) for v in row] for row in segno.make(url, error="m").matrix]
    assert _png_modules(code_image(code, "png"), scale=8, border=2) == expected
    svg = ElementTree.fromstring(code_image(code, "svg"))
    assert svg.tag.endswith("svg") and svg.find("{http://www.w3.org/2000/svg}path") is not None
    with pytest.raises(ValidationError):
        code_image(code, "gif")


def test_scanning_a_guide_code_creates_binds_and_attributes_the_new_customer(world: Any, scope_of: Any) -> None:
    code = create_code(scope_of(world.staff["hq_admin"]), kind="guide", guide=world.staff["guide_a"].pk)
    with clock.frozen(T0):
        r = scan(code, oid("visitor-1"), consents={"wecom": True})
    assert r.created
    c = Customer.objects.get(pk=r.customer.pk)
    assert (c.guide_id, c.store_id, c.first_code_id, c.source) == (
        world.staff["guide_a"].pk,
        world.flagship.pk,
        code.pk,
        "guide_code",
    )
    assert Touch.objects.get(customer=c).code_id == code.pk
    assert Code.objects.get(pk=code.pk).scans == 1
    # the same code again: a new touch and a count, nothing else
    with clock.frozen(T0 + dt.timedelta(hours=1)):
        again = scan(code, oid("visitor-1"), consents={"wecom": True})
    assert again.customer.pk == c.pk and not again.created
    assert Touch.objects.filter(customer=c).count() == 2
    assert Code.objects.get(pk=code.pk).scans == 2
    assert c.consents.count() == 1


def test_a_protected_customer_scanning_another_guides_code_stays(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    mine = create_code(hq, kind="guide", guide=world.staff["guide_a"].pk)
    theirs = create_code(hq, kind="guide", guide=world.other_guide.pk)
    with clock.frozen(T0):
        scan(mine, oid("visitor-2"))
    with clock.frozen(T0 + dt.timedelta(days=2)):
        r = scan(theirs, oid("visitor-2"))
    assert r.bind is not None and r.bind.outcome == "protected"
    assert Customer.objects.get(pk=r.customer.pk).guide_id == world.staff["guide_a"].pk
    assert Touch.objects.filter(customer=r.customer).count() == 2


def test_inactive_and_expired_codes_are_gone(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    code = create_code(hq, kind="campaign", campaign="春季", expires_at=clock.now() + dt.timedelta(days=1))
    with pytest.raises(CodeGone):
        scan(code, oid("v"), at=clock.now() + dt.timedelta(days=2))
    deactivate_code(hq, code.pk)
    with pytest.raises(CodeGone):
        scan(code, oid("v"))
    assert not Customer.objects.filter(source="campaign").exists()


def test_a_share_link_binds_the_visitor_to_the_referrers_guide(world: Any) -> None:
    referrer = Customer.objects.get(pk=world.customers["liu.guide"][0])
    link = share_link(referrer)
    assert share_link(referrer).pk == link.pk
    r = scan(link, oid("friend"))
    assert Customer.objects.get(pk=r.customer.pk).guide_id == referrer.guide_id
    assert r.touch.kind == "share_visit" and r.touch.properties["referrer"] == referrer.pk


def test_a_guide_gets_her_guide_code_and_her_store_code(world: Any) -> None:
    codes = codes_of_staff(world.brand.pk, world.staff["guide_a"].pk)
    assert [c.kind for c in codes] == ["guide", "store"]
    assert [c.pk for c in codes_of_staff(world.brand.pk, world.staff["guide_a"].pk)] == [c.pk for c in codes]
    b = codes_of_staff(world.brand.pk, world.staff["guide_b"].pk)
    assert b[1].pk == codes[1].pk  # one store code per store
