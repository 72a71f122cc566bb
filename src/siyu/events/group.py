"""The API path's group commit (ADR 0021, 0023): the batches of one process that reach the dedupe
index together — each already appended to the WAL and ``fsync``-ed — have their ids registered in
one database transaction, and only then is any of them acknowledged.

A request's thread queues its batch and waits. The first waiting thread that finds nobody leading
becomes the leader: it takes every batch queued so far, runs them as one group (the ``run``
callable, :func:`siyu.events.services._register_group`) and wakes their threads; a batch queued while
a group runs goes with the next one. Each thread then runs its own batch's listeners.

On SQLite the group runs under :func:`sqlite_writer`, an ``flock`` that every process's leader
takes before ``BEGIN IMMEDIATE``: a process waiting for another's write transaction sleeps in the
kernel and is woken the moment the lock is let go, instead of polling in SQLite's busy handler
(which sleeps 1, 2, 5, 10, … ms between tries and left two thirds of two cores idle).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(eq=False)
class Batch:
    """One request's new-looking events, in the WAL, on their way to the dedupe index. The group's
    run narrows ``rows`` to those whose ids were new to it."""

    brand_id: int
    rows: list[dict[str, Any]]
    keys: list[tuple[str, Any]]  # (event_id, day) of each row
    error: BaseException | None = None
    done: bool = field(default=False, repr=False)


class Committer:
    """The process's group committer (leader/follower over one condition variable)."""

    def __init__(self, run: Callable[[list[Batch]], None]) -> None:
        self._run = run
        self._cond = threading.Condition()
        self._queue: list[Batch] = []
        self._leading = False
        self.groups = 0  # how many groups ran (fewer than batches when requests overlap)

    def submit(self, batch: Batch) -> None:
        """Return once ``batch`` is registered and on disk; raise what its group's run raised."""
        with self._cond:
            self._queue.append(batch)
            while not batch.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                group, self._queue = self._queue, []
                self._cond.release()
                try:
                    self._run(group)
                except BaseException as exc:  # every batch of the group failed with it: none is acknowledged
                    for member in group:
                        member.error = exc
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self.groups += 1
                    for member in group:
                        member.done = True
                    self._cond.notify_all()
        if batch.error is not None:
            raise batch.error


_committers: dict[int, Committer] = {}
_committers_lock = threading.Lock()


def committer(run: Callable[[list[Batch]], None]) -> Committer:
    """This process's committer (a forked worker gets its own)."""
    pid = os.getpid()
    with _committers_lock:
        found = _committers.get(pid)
        if found is None:
            _committers.clear()
            found = _committers[pid] = Committer(run)
        return found


_lock_fds: dict[tuple[int, Path], int] = {}
_lock_fds_lock = threading.Lock()


@contextmanager
def sqlite_writer(directory: Path) -> Iterator[None]:
    """Hold ``directory/ingest.lock`` exclusively (an ``flock``, across processes) for the block.
    Only one thread of a process takes it at a time (the group's leader); the file stays open."""
    key = (os.getpid(), directory)
    with _lock_fds_lock:
        fd = _lock_fds.get(key)
        if fd is None:
            directory.mkdir(parents=True, exist_ok=True)
            fd = _lock_fds[key] = os.open(directory / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
