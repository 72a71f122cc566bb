"""One clock for the whole platform, so tests and the demo generator can set the time."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

# The frozen times in force, innermost last. Each block removes its own entry when it ends, so blocks
# that threads enter and leave in any order (concurrency tests freeze the clock in each thread) can
# never leave a time frozen behind them.
_frozen: list[tuple[object, dt.datetime]] = []
_lock = threading.Lock()


def now() -> dt.datetime:
    stack = _frozen
    return stack[-1][1] if stack else timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


@contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    token = object()
    with _lock:
        _frozen.append((token, at))
    try:
        yield
    finally:
        with _lock:
            _frozen[:] = [entry for entry in _frozen if entry[0] is not token]
