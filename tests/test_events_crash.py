"""ADR 0011's promise under a real crash: a ``siyu serve`` process receiving a stream of event batches
over HTTP is killed with SIGKILL in the middle of the stream, started again, and the client resends
every batch that was not acknowledged. Afterwards every acknowledged event is in the lake exactly
once — read through the WAL, and again after compaction — and no event is there twice.

Runs on its own throwaway SIYU_HOME (SQLite, lake, WAL) in subprocesses; no pytest database."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from siyu.bench.server import running

BATCHES = 24
PER_BATCH = 500
SENDERS = 3
KILL_AFTER_ACKS = 6

SETUP = """
import json
from siyu.cli import setup_django
setup_django()
from siyu.members import services as members
from siyu.org import services as org
from siyu.org.models import Brand
from siyu.org.rules import Perm
brand = Brand.objects.create(code="crash", name="Crash test")
hq = org.hq_scope(brand.pk, "crash test")
_token, secret = org.issue_token(hq, name="stream", perms=[Perm.EVENTS_INGEST])
ids = []
for n in range(20):
    customer, _created = members.resolve(
        brand.pk, [members.IdentityIn(kind="unionid", key=f"u-{n}", app_id="")], source="mini_program"
    )
    ids.append(customer.pk)
print(json.dumps({"brand": brand.pk, "token": secret, "customers": ids}))
"""

READ = """
import json, sys
import duckdb
from siyu.cli import setup_django
setup_django()
from siyu.events import compaction, lake
from siyu.events.models import EventKey

brand = int(sys.argv[1])
def ids():
    with duckdb.connect() as con:
        return [r[0] for r in lake.relation(con, brand).project("event_id").fetchall()]
before = ids()
done = compaction.compact()
after = ids()
with duckdb.connect() as con:
    files = lake.parts(brand)
    in_files = [r[0] for r in con.sql(f"SELECT event_id FROM {lake.parquet_reader(files)}").fetchall()] if files else []
keys = EventKey.objects.filter(brand_id=brand).count()
print(json.dumps({"before": before, "after": after, "in_files": in_files, "keys": keys,
                  "pending": len(lake.pending_ndjson(brand)), "compacted": done.events}))
"""


def _run(script: str, *args: str) -> Any:
    command = [sys.executable, "-c", script, *args]
    done = subprocess.run(command, env={**os.environ}, check=True, capture_output=True, timeout=300)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _batch(number: int, customers: list[int]) -> bytes:
    events = [
        {
            "event_id": f"b{number}-{i}",
            "type": "view" if i % 3 else "click",
            "at": f"2026-11-{1 + number % 28:02d}T10:{i % 60:02d}:00+08:00",
            "customer_id": customers[(number * PER_BATCH + i) % len(customers)],
            "properties": {"page": f"/m/SH001/p/{i % 50}"},
        }
        for i in range(PER_BATCH)
    ]
    return json.dumps({"events": events}).encode()


def _send(url: str, token: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/api/v1/events",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def test_kill_9_in_the_middle_of_a_stream_loses_no_acknowledged_event_and_duplicates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_HOME", str(tmp_path))
    for name in ("DATABASE_URL", "SIYU_SQLITE_PATH", "SIYU_LAKE", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    migrate = [sys.executable, "-c", "from siyu.cli import main; main()", "migrate"]
    subprocess.run(migrate, env={**os.environ}, check=True, capture_output=True, timeout=300)
    setup = _run(SETUP)
    brand, token, customers = setup["brand"], setup["token"], setup["customers"]
    bodies = {n: _batch(n, customers) for n in range(BATCHES)}

    acked: dict[int, dict[str, Any]] = {}
    failed: set[int] = set()
    queue = list(range(BATCHES))
    lock = threading.Lock()
    killed = threading.Event()

    with running(workers=1, threads=4) as server:

        def sender() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    number = queue.pop(0)
                if killed.is_set():
                    with lock:
                        failed.add(number)
                    continue
                try:
                    answer = _send(server.url, token, bodies[number])
                except (urllib.error.URLError, http.client.HTTPException, OSError):
                    # No answer, or one cut off mid-body by the kill (IncompleteRead): either way
                    # the batch was not acknowledged and the client must resend it.
                    with lock:
                        failed.add(number)
                    continue
                with lock:
                    acked[number] = answer
                    if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                        # SIGKILL the server (its whole process group) while the other senders'
                        # requests are in flight: no shutdown, no flush, no rollback.
                        os.killpg(server.pid, signal.SIGKILL)
                        killed.set()

        threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{server.pid}"):
            time.sleep(0.05)  # the killed process is reaped by running()'s exit

    assert killed.is_set()
    assert len(acked) >= KILL_AFTER_ACKS and failed  # the crash cut the stream
    assert set(acked) | failed == set(range(BATCHES))
    for answer in acked.values():
        assert answer["accepted"] == PER_BATCH and answer["errors"] == []
    wal_files = list((tmp_path / "lake" / "wal").glob("*.wal"))
    assert wal_files  # the dead process's WAL is left for the compactor

    # Started again, the client resends every batch it had no answer for (some of which may have
    # reached the WAL before the kill): each event id still counts once.
    with running(workers=1, threads=4) as server:
        resent_accepted = 0
        for number in sorted(failed):
            answer = _send(server.url, token, bodies[number])
            assert answer["errors"] == []
            assert answer["accepted"] + answer["duplicates"] == PER_BATCH
            resent_accepted += answer["accepted"]
            acked[number] = answer
        # A client that resends an acknowledged batch (its answer was lost) changes nothing either.
        again = _send(server.url, token, bodies[min(acked)])
        assert (again["accepted"], again["duplicates"]) == (0, PER_BATCH)

    found = _run(READ, str(brand))
    everything = [f"b{n}-{i}" for n in range(BATCHES) for i in range(PER_BATCH)]
    for stage in ("before", "after", "in_files"):
        ids = found[stage]
        assert len(ids) == len(set(ids)), f"an event is stored twice ({stage} compaction)"
        assert sorted(ids) == sorted(everything), f"an acknowledged event is missing ({stage})"
    assert found["pending"] == 0 and found["keys"] == len(everything)
