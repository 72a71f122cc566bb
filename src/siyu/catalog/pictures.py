"""What an uploaded product picture is, read from its bytes (never from its name or the type the
browser claims): PNG, JPEG or WebP, with its width and height. No image library needed: the
headers of the three formats say it. Pure functions, no I/O."""

from __future__ import annotations

import struct
from dataclasses import dataclass

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
