"""The process's own cache, keeping objects as they are (Django's ``LocMemCache`` pickles every value
on ``set`` and unpickles it on every ``get``).

The mall reads a handful of kept pieces on every page (a store's facts, its page version, the HTML
of the frame, the store's part and the product list); unpickling them was a fifth of a store page's
CPU. Here a ``get`` hands back the very object that was ``set``, so **a value read from the cache
must never be changed**: keep immutable values in it (strings, tuples, frozen dataclasses, lists
that nobody appends to). Everything else — expiry, the bounded size with culling, ``delete_many``,
one lock per cache — is ``LocMemCache``'s. Keys are not checked for memcached's rules (no memcached
here: keys are the code's own).
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache


class ObjectCache(LocMemCache):
    """``LocMemCache`` without pickling: values are shared, never copied (see the module)."""

    if TYPE_CHECKING:  # LocMemCache's own state and helpers, which django-stubs do not declare
        _cache: OrderedDict[str, Any]
        _lock: Lock

        def _has_expired(self, key: str) -> bool: ...
        def _set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> None: ...
        def _delete(self, key: str) -> bool: ...

    def make_and_validate_key(self, key: Any, version: int | None = None) -> str:
        return str(self.make_key(key, version=version))

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._set(key, value, timeout)
                return True
            return False

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                return default
            value = self._cache[key]
            self._cache.move_to_end(key, last=False)
        return value

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            self._set(key, value, timeout)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                raise ValueError(f"Key '{key}' not found")
            new_value = self._cache[key] + delta
            self._cache[key] = new_value
            self._cache.move_to_end(key, last=False)
        return new_value
