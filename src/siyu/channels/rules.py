"""The rules of one-time phone codes, as pure functions (no I/O): how long a code lives, how often a
phone may be sent one, how many wrong tries lock it. SMS vendors in China apply the same kind of
flow control to verification texts (one a minute, five an hour per number)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=5)  # a code is valid for five minutes
SEND_WINDOW = dt.timedelta(hours=1)
MAX_SENDS_PER_WINDOW = 5  # at most five codes per phone per hour
RESEND_AFTER = dt.timedelta(seconds=60)  # and at most one a minute
MAX_ATTEMPTS = 5  # five wrong tries lock the code

_PURPOSE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
_CODE = re.compile(rf"^\d{{{CODE_DIGITS}}}$")


def new_code() -> str:
    """Six random digits (from the operating system's secure source)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def valid_purpose(purpose: str) -> bool:
    """A purpose names what a code is for, e.g. ``scan.phone`` or ``mall.checkout``."""
    return bool(_PURPOSE.match(purpose))


def looks_like_code(code: str) -> bool:
    return bool(_CODE.match(code))


def clean_code(raw: str) -> str:
    """What a person typed, without spaces (``123 456`` is ``123456``)."""
    return re.sub(r"\s+", "", str(raw or ""))


def next_send_at(sent: Sequence[dt.datetime], now: dt.datetime) -> dt.datetime | None:
    """When the phone may be sent another code, given when it was sent codes before: ``None`` for
    now, else the first moment both limits allow it."""
    recent = sorted(t for t in sent if t > now - SEND_WINDOW)
    waits = []
    if recent and now - recent[-1] < RESEND_AFTER:
        waits.append(recent[-1] + RESEND_AFTER)
    if len(recent) >= MAX_SENDS_PER_WINDOW:
        waits.append(recent[-MAX_SENDS_PER_WINDOW] + SEND_WINDOW)
    return max(waits) if waits else None


def sends_left(sent: Sequence[dt.datetime], now: dt.datetime) -> int:
    """How many more codes the phone may be sent within the hour."""
    return max(0, MAX_SENDS_PER_WINDOW - sum(1 for t in sent if t > now - SEND_WINDOW))


def usable(*, expires_at: dt.datetime, attempts: int, used: bool, now: dt.datetime) -> bool:
    """Whether a code may still be tried."""
    return not used and now < expires_at and attempts < MAX_ATTEMPTS
