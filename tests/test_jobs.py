"""The durable job queue (ADR 0004): a job enqueued while no worker runs is still there when a worker
starts again, and runs once; the scheduler knows the periodic jobs; settings pick the storage.

"Restart" is simulated as a real restart would see it: the first queue object is thrown away and a
NEW Huey instance of the same class is built on the same storage (a SQLite file, or Redis), with the
jobs registered again the way a fresh worker process registers them (importing the jobs modules).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.api import TaskWrapper

from siyu.platform import clock, jobs

pytestmark = pytest.mark.jobs


@dataclass
class Worker:
    """A process's view of the queue: the Huey object and the jobs it registered."""

    queue: Huey
    append_line: TaskWrapper


def _registered(queue: Huey) -> Worker:
    @queue.task(name="append_line")
    def append_line(path: str, text: str) -> str:
        """Appends to a file, so a job that ran twice would show."""
        with open(path, "a", encoding="utf-8") as out:
            out.write(text + "\n")
        return text

    return Worker(queue, append_line)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def start_worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """Starts a fresh Huey instance of the same class on the same storage each time it is called:
    a SQLite file in a tmp dir, or a queue of its own on Redis."""
    if request.param == "sqlite":
        path = str(tmp_path / "jobs.sqlite3")
        yield lambda: _registered(SqliteHuey(name="siyu-test", filename=path, utc=True))
        return
    url = request.getfixturevalue("redis_url")
    name = f"siyu-test-{uuid.uuid4().hex[:12]}"

    def start() -> Worker:
        return _registered(PriorityRedisHuey(name=name, url=url, utc=True))

    yield start
    start().queue.flush()


def _run_pending(queue: Huey) -> list[Any]:
    """What a worker does: take each pending message and execute it."""
    results = []
    while (task := queue.dequeue()) is not None:
        results.append(queue.execute(task))
    return results


def test_a_job_enqueued_with_no_worker_survives_a_restart_and_runs_once(
    start_worker: Callable[[], Worker], tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"

    before = start_worker()
    before.append_line(str(out), "hello")  # enqueues; nothing runs it
    assert before.queue.pending_count() == 1
    assert not out.exists()
    del before  # the process that enqueued it is gone

    after = start_worker()  # a worker starting later, on the same storage
    assert after.queue.pending_count() == 1
    assert _run_pending(after.queue) == ["hello"]
    assert out.read_text(encoding="utf-8") == "hello\n"

    again = start_worker()  # and once more: nothing is left to run a second time
    assert again.queue.pending_count() == 0
    assert _run_pending(again.queue) == []
    assert out.read_text(encoding="utf-8") == "hello\n"


def test_a_scheduled_job_survives_a_restart_and_runs_when_due(
    start_worker: Callable[[], Worker], tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    before = start_worker()
    before.append_line.schedule((str(out), "later"), delay=3600)
    del before

    first = start_worker()  # a worker takes it from the queue, sees it is not due, keeps it in the schedule
    assert _run_pending(first.queue) == [None]
    assert first.queue.scheduled_count() == 1 and not out.exists()
    del first

    after = start_worker()  # after a restart the schedule is still there
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the queue keeps UTC (utc=True)
    assert after.queue.read_schedule(now) == [], "not due yet"
    later = now + dt.timedelta(hours=1, minutes=1)
    due = after.queue.read_schedule(later)
    assert len(due) == 1
    assert after.queue.execute(due[0], later) == "later"
    assert after.queue.scheduled_count() == 0
    assert out.read_text(encoding="utf-8") == "later\n"


def test_a_job_that_fails_is_retried_not_lost(start_worker: Callable[[], Worker], tmp_path: Path) -> None:
    attempts = tmp_path / "attempts.txt"
    queue = start_worker().queue

    @queue.task(name="flaky", retries=1)
    def flaky(path: str) -> str:
        with open(path, "a", encoding="utf-8") as out:
            out.write("try\n")
        if Path(path).read_text(encoding="utf-8").count("try") < 2:
            raise RuntimeError("the SMS gateway timed out")
        return "sent"

    flaky(str(attempts))
    first = queue.dequeue()
    assert first is not None
    queue.execute(first)  # fails; Huey enqueues it again with one retry fewer
    assert queue.pending_count() == 1
    assert _run_pending(queue) == ["sent"]
    assert attempts.read_text(encoding="utf-8") == "try\ntry\n"


def test_the_scheduler_knows_every_periodic_job() -> None:
    names = {task.name for task in jobs.huey.read_periodic(dt.datetime(2026, 11, 23, 9, 30))}
    assert "record_heartbeat" in names
    registered = set(jobs.huey._registry._registry)  # type: ignore[attr-defined]
    assert "siyu.platform.jobs.record_heartbeat" in registered


def test_the_heartbeat_tells_when_a_worker_last_ran() -> None:
    """Runs the job's body as a worker would, against the configured storage (Redis in .ci/run)."""
    at = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
    jobs.huey.get(jobs.HEARTBEAT_KEY)  # reading without peek removes an old value
    try:
        assert jobs.last_heartbeat() is None
        with clock.frozen(at):
            assert jobs.record_heartbeat.call_local() == at.isoformat()
        assert jobs.last_heartbeat() == at
    finally:
        jobs.huey.get(jobs.HEARTBEAT_KEY)


def _configured_queue_class(env: dict[str, str]) -> str:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'siyu.settings'; django.setup(); "
        "from siyu.platform.jobs import huey; print(type(huey).__name__, huey.storage.__class__.__name__)"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_settings_put_the_queue_on_sqlite_by_default_and_on_redis_with_redis_url(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert _configured_queue_class({"SIYU_HOME": home}) == "SqliteHuey SqliteStorage"
    assert (Path(home) / "jobs.sqlite3").exists(), "the embedded queue lives under SIYU_HOME"
    assert _configured_queue_class({"SIYU_HOME": home, "REDIS_URL": "redis://127.0.0.1:6379/15"}) == (
        "PriorityRedisHuey PriorityRedisStorage"
    )
