"""Personal data at rest: AES-GCM encryption plus a keyed hash for exact lookup, and masking.

See docs/adr/0005-personal-data-at-rest.md. Keys derive from ``settings.SIYU_DATA_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_PHONE = re.compile(r"^1[3-9]\d{9}$")


@lru_cache(maxsize=4)
def _keys(material: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(("siyu-data-key:" + material).encode()).digest()
    enc = hmac.new(root, b"encrypt", hashlib.sha256).digest()
    look = hmac.new(root, b"lookup", hashlib.sha256).digest()
    return enc, look


def _aead() -> tuple[AESGCM, bytes]:
    enc, look = _keys(settings.SIYU_DATA_KEY)
    return AESGCM(enc), look


def normalize_phone(raw: str) -> str:
    """Digits of a mainland mobile number (strips +86, spaces, dashes). Raises ValueError."""
    digits = re.sub(r"[\s\-()]", "", str(raw))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE.match(digits):
        raise ValueError("a mobile number has 11 digits and starts with 13–19, e.g. 13812345678")
    return digits


def seal(plain: str) -> str:
    """Encrypt text; the result is ASCII, safe for any text column."""
    if plain == "":
        return ""
    aead, _ = _aead()
    nonce = os.urandom(12)
    return base64.b64encode(nonce + aead.encrypt(nonce, plain.encode(), None)).decode()


def unseal(token: str) -> str:
    if token == "":
        return ""
    aead, _ = _aead()
    raw = base64.b64decode(token)
    return aead.decrypt(raw[:12], raw[12:], None).decode()


def lookup_hash(value: str) -> str:
    """A keyed hash for equality search; not reversible without the key."""
    _, look = _aead()
    return hmac.new(look, value.encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_name(name: str) -> str:
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def sealer() -> Callable[[str], str]:
    """:func:`seal` for many values in a row (imports): the cipher is built once, not per value."""
    aead, _ = _aead()
    urandom, encrypt, b64 = os.urandom, aead.encrypt, base64.b64encode

    def seal_one(plain: str) -> str:
        if plain == "":
            return ""
        nonce = urandom(12)
        return b64(nonce + encrypt(nonce, plain.encode(), None)).decode()

    return seal_one


def batch_sealer() -> Callable[[list[str]], list[str]]:
    """:func:`seal` for a list of values at once (bulk imports): the same format, each value with its
    own random nonce, the nonces read from the OS in one call per list instead of one per value."""
    aead, _ = _aead()
    urandom, encrypt, b64 = os.urandom, aead.encrypt, base64.b64encode

    def seal_all(plains: list[str]) -> list[str]:
        nonces = urandom(12 * len(plains))
        out: list[str] = []
        for i, plain in enumerate(plains):
            if plain == "":
                out.append("")
                continue
            nonce = nonces[12 * i : 12 * i + 12]
            out.append(b64(nonce + encrypt(nonce, plain.encode(), None)).decode())
        return out

    return seal_all


def hasher() -> Callable[[str], str]:
    """:func:`lookup_hash` for many values in a row: HMAC-SHA256 with the key's inner and outer
    states computed once (RFC 2104), so a value costs two hash copies instead of a new HMAC."""
    _, look = _aead()
    if len(look) > 64:  # a key longer than SHA-256's block is hashed first (RFC 2104)
        look = hashlib.sha256(look).digest()
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in look.ljust(64, b"\0")))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in look.ljust(64, b"\0")))
    inner_copy, outer_copy = inner.copy, outer.copy

    def lookup(value: str) -> str:
        i = inner_copy()
        i.update(value.encode())
        o = outer_copy()
        o.update(i.digest())
        return o.hexdigest()

    return lookup
