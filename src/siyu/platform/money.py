"""Money is an integer number of fen (分). Never a float; see docs/adr/0002-money-as-integer-fen.md."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

Fen = int

_YUAN = re.compile(r"^-?\d+(\.\d{1,2})?$")


def yuan_to_fen(text: str | int | Decimal) -> Fen:
    """Parse an amount written in yuan ("12.5", "12.50", 12) into fen, exactly.

    Raises ``ValueError`` for anything that is not a plain amount with at most two decimals.
    """
    if isinstance(text, bool):
        raise ValueError("an amount must be a number of yuan, e.g. 12.50")
    if isinstance(text, float):  # 0.1 + 0.2 is not 0.3: money never passes through a float
        raise ValueError("an amount must be text, an integer or a Decimal, never a float")
    if isinstance(text, int):
        return text * 100
    raw = str(text).strip().replace(",", "")
    if not _YUAN.match(raw):
        raise ValueError(f"{text!r} is not an amount in yuan with at most two decimals, e.g. 12.50")
    try:
        return int((Decimal(raw) * 100).to_integral_exact())
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValueError(f"{text!r} is not an amount") from exc


def fen_to_yuan(fen: Fen) -> str:
    """Format fen as yuan with two decimals: 12345 -> "123.45"."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money is an integer number of fen")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_cny(fen: Fen) -> str:
    yuan = fen_to_yuan(fen)
    sign = "-" if yuan.startswith("-") else ""
    whole, _, cents = yuan.lstrip("-").partition(".")
    return f"{sign}¥{int(whole):,}.{cents}"
