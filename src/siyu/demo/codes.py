"""Identifiers the demo generator makes up, each valid by its real standard: unified social credit
codes (GB 32100-2015), EAN-13 barcodes and mainland mobile numbers that never repeat."""

from __future__ import annotations

import random

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_code(digits8: str) -> str:
    """The 9-character organisation code (GB 11714): 8 digits and their check character."""
    if len(digits8) != 8 or not digits8.isdigit():
        raise ValueError("an organisation code body is 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(digits8, _ORG_WEIGHTS, strict=True)) % 11
    return digits8 + {10: "X", 11: "0"}.get(check, str(check))


def credit_code_check(body17: str) -> str:
    """The 18th character of a unified social credit code, computed from the first 17."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(body17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code(division: str, rng: random.Random) -> str:
    """A unified social credit code of a company (registered with the market regulator: ``91``)
    in the given 6-digit administrative division."""
    body = "91" + division + organisation_code(f"{rng.randrange(10**8):08d}")
    return body + credit_code_check(body)


def valid_credit_code(code: str) -> bool:
    """Whether ``code`` is a well-formed unified social credit code with a digit organisation code
    (as the generator makes them): both check characters right."""
    if len(code) != 18 or any(c not in _CREDIT_CHARS for c in code):
        return False
    if credit_code_check(code[:17]) != code[17]:
        return False
    return code[8:16].isdigit() and organisation_code(code[8:16]) == code[8:17]


def ean13(body12: str) -> str:
    """An EAN-13 barcode: 12 digits and their check digit."""
    if len(body12) != 12 or not body12.isdigit():
        raise ValueError("an EAN-13 body is 12 digits")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


# Mobile prefixes the demo gives its customers. 138 and 139 are left out (the personas and the
# demo customer use them) and so is 177 (the demo brand's staff).
CUSTOMER_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "150", "151", "152", "155", "156", "157", "158",
    "159", "166", "176", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189", "198",
    "199",
)  # fmt: skip
STAFF_PREFIX = "177"


class PhoneNumbering:
    """A bijection from 0, 1, 2, ... onto mobile numbers, shuffled by the seed: row ``i`` always gets
    the same number and no two rows share one (an affine permutation of the 8 subscriber digits
    for each prefix). Room for 29 × 10⁸ customers; no memory kept."""

    SPACE = 10**8

    def __init__(self, seed: int | str, prefixes: tuple[str, ...] = CUSTOMER_PREFIXES) -> None:
        rng = random.Random(f"{seed}:phones")
        self.prefixes = prefixes
        # A multiplier coprime with 10^8 (odd, not a multiple of 5) makes i -> a*i+b a permutation.
        a = rng.randrange(10**7, self.SPACE)
        while a % 2 == 0 or a % 5 == 0:
            a += 1
        self.a = a
        self.b = rng.randrange(self.SPACE)
        self.offset = rng.randrange(len(prefixes))

    def __call__(self, i: int) -> str:
        n = len(self.prefixes)
        prefix = self.prefixes[(i + self.offset) % n]
        j = i // n
        if j >= self.SPACE:
            raise ValueError("out of phone numbers")
        return f"{prefix}{(self.a * j + self.b) % self.SPACE:08d}"
