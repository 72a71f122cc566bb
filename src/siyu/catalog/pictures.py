"""What an uploaded product picture is, read from its bytes (never from its name or the type the
browser claims): PNG, JPEG or WebP, with its width and height. No image library needed: the
headers of the three formats say it. Pure functions, no I/O."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from xml.sax.saxutils import escape

MAX_BYTES = 5 * 1024 * 1024  # 5 MB: a phone photo, not a print master
MIN_SIDE, MAX_SIDE = 64, 8000  # pixels


@dataclass(frozen=True)
class ImageFacts:
    kind: str  # "png", "jpeg" or "webp": also the file's extension
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return f"image/{self.kind}"


def sniff(data: bytes) -> ImageFacts | None:
    """The format and size of a PNG, JPEG or WebP picture; ``None`` for anything else (or a file
    whose header is cut short)."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return ImageFacts("png", width, height)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError):
        return None
    return None


# Start-of-frame markers carry the size; C4 (Huffman table), C8 (reserved) and CC (arithmetic
# coding conditioning) share the range but are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageFacts | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return ImageFacts("jpeg", width, height)
        if marker == 0xDA or length < 2:  # image data began before any frame header
            return None
        i += 2 + length
    return None


def _webp(data: bytes) -> ImageFacts | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageFacts("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return ImageFacts("webp", 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return ImageFacts("webp", width, height)
    return None


# --- Placeholder pictures drawn by code (the demo, products still without a photo) -------------
# A flat silhouette of the kind of product in its colour, with its name and style code: an SVG the
# catalog writes itself from the product's own facts (every text escaped), never a file from outside.

COLOUR_HEX = {
    "黑": "#22252a", "白": "#f4f4f2", "灰": "#9aa0a6", "藏青": "#1f3a5f", "红": "#c8102e", "蓝": "#2f80c9",
    "绿": "#2e5e4e", "橙": "#ff7a1a", "粉": "#f4a7b9", "米": "#e6d8bf", "黄": "#f2d13c", "紫": "#6b4c9a",
    "棕": "#7b5236", "卡其": "#c3b091", "金": "#d4af37", "银": "#c0c0c0",
}  # fmt: skip

_SHAPES = {
    # a shoe in profile: sole, upper, collar
    "shoe": "M70 380 C70 330 110 300 170 290 L260 200 C285 178 320 182 340 205 L380 250 C420 280 480 290 "
    "520 305 C555 318 560 360 540 385 Z M70 385 L540 385 C545 405 530 420 505 420 L95 420 C75 420 65 405 70 385 Z",
    # a T-shirt / jacket: body and sleeves
    "top": "M230 120 C250 150 350 150 370 120 L470 160 L530 260 L460 290 L440 250 L440 480 L160 480 L160 250 "
    "L140 290 L70 260 L130 160 Z",
    # trousers
    "pants": "M190 110 L410 110 L440 490 L340 490 L300 250 L260 490 L160 490 Z",
    # a sock
    "sock": "M250 100 L370 100 L370 340 L470 400 C510 425 500 490 440 490 L300 490 C260 490 250 460 250 430 Z",
    # a backpack
    "bag": "M200 170 C200 110 400 110 400 170 L440 200 L440 470 C440 490 420 500 400 500 L200 500 C180 500 160 "
    "490 160 470 L160 200 Z M240 170 C240 140 360 140 360 170 Z",
}


def colour_hex(colour: str) -> str:
    """A colour name (中国红, 湖蓝, 黑色…) as a hex colour: the first known word in it, else a colour
    drawn from its text (the same name always gives the same colour)."""
    for word in sorted(COLOUR_HEX, key=len, reverse=True):
        if word in colour:
            return COLOUR_HEX[word]
    digest = sum((i + 1) * ord(ch) for i, ch in enumerate(colour)) % 360
    return f"hsl({digest}, 55%, 45%)"


def shape_of(text: str) -> str:
    """Which silhouette suits a product, from its category and name (鞋 shoe, 裤 pants, 袜 sock,
    包 bag, else a top)."""
    for key, words in (("sock", "袜"), ("pants", "裤"), ("bag", "包"), ("shoe", "鞋")):
        if any(w in text for w in words):
            return key
    return "top"


def draw_svg(*, name: str, code: str, colour: str, kind_text: str) -> bytes:
    """A 600×600 SVG picture of the product: its silhouette in its colour, its name and code."""
    fill = colour_hex(colour)
    dark = fill in {"#f4f4f2", "#e6d8bf", "#f2d13c", "#c0c0c0"}
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600">
<rect width="600" height="600" fill="#f1f3f5"/>
<circle cx="300" cy="300" r="250" fill="#ffffff"/>
<path d="{_SHAPES[shape_of(kind_text)]}" fill="{fill}" stroke="{"#555" if dark else "#1c1f23"}" stroke-width="6"
 stroke-linejoin="round" fill-rule="evenodd"/>
<text x="300" y="545" text-anchor="middle" font-family="PingFang SC, Noto Sans CJK SC, Microsoft YaHei, sans-serif"
 font-size="34" font-weight="600" fill="#1c1f23">{escape(name[:18])}</text>
<text x="300" y="580" text-anchor="middle" font-family="monospace" font-size="20"
 fill="#6b7280">{escape(code)} · {escape(colour)}</text>
</svg>
"""
    return svg.encode()
