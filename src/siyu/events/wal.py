"""The write-ahead log: the accepted events of a request are appended here and ``fsync``-ed before
the request is acknowledged (ADR 0011).

One file per process under ``SIYU_HOME/lake/wal/``, named ``<pid>-<uuid>.wal``; its writer holds an
exclusive ``flock`` on it for as long as it lives, so the compactor can tell a live file (lock
refused) from the file of a process that ended or was killed (lock granted). A record is::

    magic b"SYW1" | payload length (u32) | CRC-32 of brand id and payload (u32) | brand id (i64) | payload

and its payload is NDJSON, one event row per line (the lake's columns, times in UTC). A record cut
short by a killed process (its length runs past the end of the file, or its CRC does not match) ends
the readable part of the file: it was never acknowledged, because the acknowledgement waits for the
``fsync`` of the whole record.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SYW1"
HEADER = struct.Struct("<4sIIq")
ROTATE_BYTES = 64 * 1024 * 1024  # a writer starts a new file past this size


@dataclass(frozen=True)
class Record:
    brand_id: int
    payload: bytes
    end: int  # offset just past this record


def _crc(brand_id: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<q", brand_id)))


def encode(brand_id: int, payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), _crc(brand_id, payload), brand_id) + payload


def read_records(path: Path, start: int = 0) -> Iterator[Record]:
    """The whole records of a WAL file from ``start`` on; stops at a torn or corrupt record."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return
    pos = 0
    while pos + HEADER.size <= len(data):
        magic, length, crc, brand_id = HEADER.unpack_from(data, pos)
        body = pos + HEADER.size
        if magic != MAGIC or body + length > len(data):
            return
        payload = data[body : body + length]
        if _crc(brand_id, payload) != crc:
            return
        pos = body + length
        yield Record(brand_id=brand_id, payload=payload, end=start + pos)


class Writer:
    """The process's appender, shared by a threaded server's threads. Reopens after a fork (each
    server worker process gets its own file).

    **Group commit**: a call writes its record under the lock, then waits until an ``fsync`` has
    covered it; the first thread to find its record unsynced runs the ``fsync`` for every record
    written so far, so concurrent requests share one. :meth:`append` returns only once its record
    is on disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # the file, its offset
        self._sync_lock = threading.Lock()  # one fsync at a time
        self._fd: int | None = None
        self._pid = 0
        self._size = 0
        self._written = 0  # bytes written by this writer, over every file it had
        self._synced = 0  # of which known to be on disk
        self.fsyncs = 0  # how many fsyncs ran (group commit shows as fewer than appends)
        self.path: Path | None = None

    def _open(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.wal"
        # Locked under a name the compactor does not read, then renamed: it never sees an unlocked
        # live file (which it would take for a dead one and delete).
        fresh = self.path.with_suffix(".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(fresh, self.path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name is durable too
        finally:
            os.close(dir_fd)
        if self._pid != os.getpid():  # a forked child starts its own count
            self._written = self._synced = 0
        self._fd, self._pid, self._size = fd, os.getpid(), 0
        return fd

    def append(self, brand_id: int, payload: bytes) -> None:
        """Append one record and return once it is on disk."""
        data = encode(brand_id, payload)
        with self._lock:
            fd = self._fd
            if fd is None or self._pid != os.getpid():
                fd = self._open()
            elif self._size >= ROTATE_BYTES:
                os.fsync(fd)  # everything written to the old file is on disk before it is let go
                self._synced = self._written
                os.close(fd)  # releases the lock: the compactor may now take the whole file
                fd = self._open()
            written = os.write(fd, data)
            if written != len(data):  # pragma: no cover - a full disk
                raise OSError(f"short write to the event WAL ({written} of {len(data)} bytes)")
            self._size += written
            self._written += written
            mine = self._written
        self._wait_synced(mine)

    def _wait_synced(self, upto: int) -> None:
        with self._sync_lock:
            if self._synced >= upto:  # another thread's fsync covered this record
                return
            with self._lock:
                if self._synced >= upto:
                    return
                assert self._fd is not None
                fd = os.dup(self._fd)  # survives a rotation closing the original meanwhile
                covered = self._written
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.fsyncs += 1
            self._synced = max(self._synced, covered)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def is_live(path: Path) -> bool:
    """Whether a process still holds the file open for appending."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we took
    return False
