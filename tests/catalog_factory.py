"""A small range of the demo brand for the catalog tests, made through the catalog services, and
picture bytes made by code (a PNG of any size, a WebP and a JPEG header)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from siyu.catalog import services as catalog
from siyu.org import services as org


def png(width: int = 80, height: int = 80, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG of one colour (any viewer opens it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, an APP0 (JFIF) segment, then the SOF0 frame header."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def webp_lossless_header(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@dataclass
class Range:
    hq: Any  # the HQ scope the range was made with
    shoes: Any
    tees: Any
    runner: Any  # FY-RUN-01 飞跃疾风跑鞋, traffic, ¥599, black/white × 41/42/40
    tee: Any  # FY-TEE-01 速干T恤, regular, ¥129, S/M/L/XL in black
    old: Any  # FY-OLD-01 经典帆布鞋, off sale
    rival: Any  # the rival brand's runner


def make_range(world: Any) -> Range:
    hq = org.hq_scope(world.brand.pk, "test")
    shoes = catalog.create_category(hq, code="SHOES", name="跑鞋")
    tees = catalog.create_category(hq, code="TEES", name="T恤")
    runner = catalog.create_product(
        hq,
        category_id=shoes.pk,
        code="FY-RUN-01",
        name="飞跃疾风跑鞋",
        price_fen=59900,
        role="traffic",
        description="轻量缓震，日常慢跑。",
        skus=[
            catalog.NewSku(code="FY-RUN-01-BLK-41", color="黑", size="41", barcode="6900000000011"),
            catalog.NewSku(code="FY-RUN-01-BLK-42", color="黑", size="42", barcode="6900000000028"),
            catalog.NewSku(code="FY-RUN-01-WHT-40", color="白", size="40", barcode="6900000000035"),
            catalog.NewSku(code="FY-RUN-01-WHT-42", color="白", size="42", barcode="6900000000042"),
        ],
    )
    tee = catalog.create_product(
        hq,
        category_id=tees.pk,
        code="FY-TEE-01",
        name="速干T恤",
        price_fen=12900,
        skus=[catalog.NewSku(code=f"FY-TEE-01-BLK-{s}", color="黑", size=s) for s in ("XL", "S", "M", "L")],
    )
    old = catalog.create_product(
        hq,
        category_id=shoes.pk,
        code="FY-OLD-01",
        name="经典帆布鞋",
        price_fen=19900,
        active=False,
        skus=[catalog.NewSku(code="FY-OLD-01-RED-39", color="红", size="39")],
    )
    rq = org.hq_scope(world.rival_brand.pk, "test")
    rival_cat = catalog.create_category(rq, code="SHOES", name="Shoes")
    rival = catalog.create_product(
        rq,
        category_id=rival_cat.pk,
        code="R-RUN",
        name="Rival 疾风 runner",
        price_fen=39900,
        skus=[catalog.NewSku(code="R-RUN-41", color="黑", size="41")],
    )
    return Range(hq=hq, shoes=shoes, tees=tees, runner=runner, tee=tee, old=old, rival=rival)
