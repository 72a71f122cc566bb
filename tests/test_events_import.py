"""``siyu import events``: NDJSON, CSV and Parquet files straight into the lake, read and checked by
DuckDB; every bad row reported by line and field, good rows kept, a repeated id stored once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from siyu.events import importer, lake
from siyu.events import services as events
from siyu.events.models import EventKey

AT = "2025-05-01T10:00:00+08:00"


def _ids(brand_id: int) -> list[str]:
    with duckdb.connect() as con:
        return sorted(r[0] for r in lake.relation(con, brand_id).project("event_id").fetchall())


def _ndjson(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _parquet(path: Path, select: str) -> Path:
    """A Parquet file of the rows of a DuckDB query."""
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 4096)")
    return path


def _import_heard(brand: int, path: Path, listener: Any, on_commit: Any) -> importer.ImportReport:
    """Import with ``listener`` registered on ``hooks.on_events`` and the commit's callbacks run."""
    from siyu.platform import hooks

    hooks.on_events(listener)
    try:
        with on_commit(execute=True):
            return importer.import_file(brand, path)
    finally:
        hooks._events_listeners.remove(listener)


def test_an_ndjson_file_keeps_good_rows_reports_bad_ones_and_stores_each_id_once(
    world: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:

    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    rival = world.customers[world.rival_guide.username][0]
    events.ingest(brand, [{"event_id": "old-1", "type": "view", "at": AT, "customer_id": cid}])  # already stored
    path = _ndjson(
        tmp_path / "history.ndjson",
        [
            {"event_id": "h-1", "type": "view", "at": AT, "customer_id": cid, "store": world.flagship.code},
            {"event_id": "h-2", "type": "order", "at": "2025-05-02T09:00:00Z", "customer_id": cid, "amount_fen": 39900},
            {"event_id": "h-1", "type": "view", "at": AT, "customer_id": cid},  # line 3: repeated in the file
            {"event_id": "old-1", "type": "view", "at": AT, "customer_id": cid},  # line 4: already stored
            {"event_id": "h-5", "type": "teleport", "at": AT, "customer_id": cid},
            {"event_id": "h-6", "type": "view", "at": "2025-05-01 10:00", "customer_id": cid},
            "this line is not json",
            {"event_id": "h-8", "type": "view", "at": AT, "customer_id": rival},
            {"event_id": "h-9", "type": "view", "at": AT, "customer_id": cid, "store": "NOPE"},
            {"event_id": "h-10", "type": "view", "at": AT, "customer_id": cid, "properties": {"a": {"b": 1}}},
            {"event_id": "h-11", "type": "click", "at": AT, "customer": {"kind": "unionid", "key": "nobody"}},
            {"event_id": "h-12", "type": "custom:coupon_seen", "at": AT, "customer_id": cid, "properties": {"p": 1}},
            {"event_id": "h-13", "type": "view", "at": AT, "customer_id": cid, "amount_fen": -5},
        ],
    )
    heard: list[str] = []

    def listener(brand_id: int, rows: Any) -> None:
        heard.extend(r["event_id"] for r in rows)

    report = _import_heard(brand, path, listener, django_capture_on_commit_callbacks)
    assert (report.rows, report.accepted, report.duplicates, report.bad) == (13, 3, 2, 8)
    assert [(e.line, e.field) for e in report.errors] == [
        (5, "type"),
        (6, "at"),
        (7, ""),
        (8, "customer_id"),
        (9, "store"),
        (10, "properties"),
        (11, "customer"),
        (13, "amount_fen"),
    ]
    assert _ids(brand) == ["h-1", "h-12", "h-2", "old-1"]
    assert sorted(heard) == ["h-1", "h-12", "h-2"]
    # imported ids stay out of the OLTP dedupe index: only the API's own id is in it
    assert list(EventKey.objects.filter(brand_id=brand).values_list("event_id", flat=True)) == ["old-1"]
    # again: every id is known, nothing is written twice
    again = importer.import_file(brand, path)
    assert (again.accepted, again.duplicates) == (0, 5)
    events.compact()
    assert _ids(brand) == ["h-1", "h-12", "h-2", "old-1"]
    # an API resend of an imported id (the same event: its time, so its day) is a duplicate
    resent = {"event_id": "h-2", "type": "order", "at": "2025-05-02T09:00:00Z", "customer_id": cid}
    assert events.ingest(brand, [resent]).duplicates == 1


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_csv_and_parquet_files_name_the_customer_by_id_or_identity(world: Any, tmp_path: Path, kind: str) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    csv_path = tmp_path / "e.csv"
    csv_path.write_text(
        "event_id,type,at,customer_id,customer_kind,customer_key,store,amount_fen,properties\n"
        f"c-1,view,{AT},{cid},,,{world.flagship.code},,\n"
        f'c-2,order,{AT},{cid},,,,12900,"{{""channel"": ""pos""}}"\n'
        f"c-3,view,{AT},,unionid,nobody,,,\n"
        f"c-4,view,not a time,{cid},,,,,\n"
    )
    path = csv_path
    if kind == "parquet":
        path = _parquet(tmp_path / "e.parquet", f"SELECT * FROM read_csv('{csv_path}', all_varchar=true)")
    report = importer.import_file(brand, path)
    first = 2 if kind == "csv" else 1  # a CSV's first row is its line 2
    assert (report.accepted, report.bad) == (2, 2)
    assert [(e.line, e.field) for e in report.errors] == [(first + 2, "customer"), (first + 3, "at")]
    assert _ids(brand) == ["c-1", "c-2"]
    with duckdb.connect() as con:
        amount = lake.relation(con, brand).filter("event_id = 'c-2'").project("amount_fen, properties").fetchall()[0]
    assert amount == (12900, '{"channel":"pos"}')


def test_a_file_that_is_not_events_is_refused_whole(world: Any, tmp_path: Path) -> None:
    path = tmp_path / "e.txt"
    path.write_text("hello")
    with pytest.raises(importer.ImportError_):
        importer.import_file(world.brand.pk, path)
    csv_path = tmp_path / "e.csv"
    csv_path.write_text("a,b\n1,2\n")
    with pytest.raises(importer.ImportError_):
        importer.import_file(world.brand.pk, csv_path)


def test_a_parquet_file_is_checked_in_one_pass_with_its_own_column_types(
    world: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """Numbers as Parquet integers, text with spaces around it, properties flat or not whatever their
    first characters, a reserved id, and an id repeated after a bad line: each row's first problem,
    the first good line of an id kept."""
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    rows = [
        ("p-1", " view ", AT, cid, f" {world.flagship.code} ", 100, '{"a": "x{y"}'),  # a brace inside text
        ("p-2", "view", AT, cid, None, None, '\n{"page": "/m"}'),  # an object after a newline
        ("p-3", "view", AT, cid, None, None, '{"a": {"b": 1}}'),  # nested: bad
        ("p-4", "view", AT, cid, None, None, "[1, 2]"),  # not an object: bad
        ("demo:5", "view", AT, cid, None, None, None),  # a reserved prefix: bad
        ("p-6", "view", "2025-05-01T02:00:00Z", cid, None, -1, None),  # a negative amount: bad
        ("p-6", "view", "2025-05-01T02:00:00Z", cid, None, None, None),  # the first good line of p-6
        ("p-6", "view", AT, cid, None, None, None),  # a repeat: left out
        ("p-9", "view", AT, -3, None, None, None),  # not a customer id: bad
    ]
    path = tmp_path / "typed.parquet"
    with duckdb.connect() as con:
        con.execute(
            'CREATE TABLE t (event_id VARCHAR, type VARCHAR, "at" VARCHAR, customer_id BIGINT, store VARCHAR, '
            "amount_fen BIGINT, properties VARCHAR)"
        )
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    from siyu.platform import hooks

    selected: dict[str, list[str]] = {}

    def listener(brand_id: int, events: Any) -> None:  # the file has no guide column: none has a guide
        for needed in ("guide_id", "store_id"):
            selected[needed] = [e["event_id"] for e in hooks.events_of(events, ("view",), present=(needed,))]

    report = _import_heard(brand, path, listener, django_capture_on_commit_callbacks)
    assert selected == {"guide_id": [], "store_id": ["p-1"]}
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "properties"),
        (4, "properties"),
        (5, "event_id"),
        (6, "amount_fen"),
        (9, "customer_id"),
    ]
    assert (report.rows, report.accepted, report.duplicates, report.bad) == (9, 3, 1, 5)
    with duckdb.connect() as con:
        stored = (
            lake.relation(con, brand)
            .project("event_id, type, strftime(\"at\", '%Y-%m-%d %H:%M'), store_id, amount_fen, properties")
            .fetchall()
        )
    assert sorted(stored) == [  # times in UTC
        ("p-1", "view", "2025-05-01 02:00", world.flagship.pk, 100, '{"a":"x{y"}'),
        ("p-2", "view", "2025-05-01 02:00", None, None, '{"page":"/m"}'),
        ("p-6", "view", "2025-05-01 02:00", None, None, None),
    ]


def test_an_import_removes_the_work_directories_of_killed_imports_only(world: Any, tmp_path: Path) -> None:
    import fcntl
    import os
    import time

    base = lake.root() / "tmp"
    base.mkdir(parents=True, exist_ok=True)

    def work(name: str, *, lock: bool = True, age: float = 0) -> Path:
        path = base / name
        (path / "spill").mkdir(parents=True)
        (path / "spill" / "big.tmp").write_bytes(b"x" * 1024)
        if lock:
            (path / importer.LOCK).touch()
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    killed = work("import-killed")
    killed_demo = work("generated-killed")
    old_unlocked = work("import-old", lock=False, age=2 * 3600)
    young_unlocked = work("import-young", lock=False)  # an import between its mkdir and its lock
    live = work("import-live")
    other = base / "import-notes.txt"
    other.write_text("not a work directory")
    held = os.open(live / importer.LOCK, os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # as a running import holds it
    try:
        path = _ndjson(tmp_path / "e.ndjson", [{"event_id": "w-1", "type": "view", "at": AT, "customer_id": 1}])
        importer.import_file(world.brand.pk, path)
        assert not killed.exists() and not killed_demo.exists() and not old_unlocked.exists()
        assert live.exists() and young_unlocked.exists() and other.exists()
        # the import's own work directory is gone too
        assert sorted(p.name for p in base.iterdir() if p.is_dir()) == ["import-live", "import-young"]
    finally:
        os.close(held)
    assert importer.sweep_work() == [live]


def test_the_errors_reported_are_the_first_bad_lines_in_order(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many bad rows read by several threads (no insertion order kept): the report keeps the first
    ``MAX_ERRORS`` of them by line, in order, and counts them all."""
    monkeypatch.setattr(importer, "MAX_ERRORS", 500)
    path = _parquet(
        tmp_path / "bad.parquet",
        f"SELECT 'b-' || i AS event_id, CASE WHEN i % 3 = 0 THEN 'view' ELSE 'teleport' END AS type, "
        f"'{AT}' AS at, {world.customers['chen.guide'][0]} AS customer_id FROM range(200000) t(i)",
    )
    report = importer.import_file(world.brand.pk, path)
    bad_lines = [i + 1 for i in range(200000) if i % 3 != 0]
    assert report.bad == len(bad_lines) and report.accepted == 200000 - len(bad_lines)
    assert [e.line for e in report.errors] == bad_lines[:500]
    assert {e.field for e in report.errors} == {"type"}


def _file_columns(part: Path) -> set[str]:
    """The columns a Parquet file holds itself (read alone, not through the lake's reader)."""
    with duckdb.connect() as con:
        return {
            str(r[0])
            for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{part}', hive_partitioning=false)").fetchall()
        }


def test_an_imports_parts_leave_out_the_columns_its_file_does_not_give_and_read_as_null(
    world: Any, tmp_path: Path
) -> None:
    """ADR 0024: a file of only ids, types, times and customers makes parts without the other
    columns; the lake's reader, the behaviour summary, compaction and erasure take each missing
    column as NULL of its type, and what they write has every column again."""
    from siyu.events import compaction
    from siyu.segments import summary

    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    path = _parquet(
        tmp_path / "narrow.parquet",
        f"SELECT * FROM (VALUES ('n-1', 'view', '{AT}', {cid}), ('n-2', 'order', '{AT}', {cid}), "
        f"('n-3', 'view', '2025-05-03T10:00:00+08:00', {cid})) t(event_id, type, \"at\", customer_id)",
    )
    assert importer.import_file(brand, path).accepted == 3
    parts = lake.parts(brand)
    assert [p.parent.name for p in parts] == ["day=2025-05-01", "day=2025-05-03"]
    given = {"event_id", "brand_id", "type", "at", "customer_id", "received_at"}
    assert [_file_columns(p) for p in parts] == [given, given]

    with duckdb.connect() as con:
        read = lake.relation(con, brand)
        assert list(zip(read.columns, [str(t) for t in read.types], strict=True)) == list(lake.COLUMNS)
        rows = read.filter("event_id = 'n-2'").project("guide_id, quantity, amount_fen, properties").fetchall()
    assert rows == [(None, None, None, None)]
    built = summary.build_day(brand, "2025-05-01")  # sums amount_fen and quantity, which no part has
    assert built is not None and {f.stem for f in built.glob("*.parquet")} == {"view", "order"}

    # An event of the same day from the API: compaction merges it with the narrow part, every column.
    events.ingest(brand, [{"event_id": "n-4", "type": "order", "at": AT, "customer_id": cid, "quantity": 2}])
    events.compact()
    merged = lake.parts(brand, "2025-05-01")
    assert len(merged) == 1 and _file_columns(merged[0]) == set(lake.COLUMN_NAMES)
    with duckdb.connect() as con:
        found = lake.relation(con, brand).project("event_id, quantity").order("event_id").fetchall()
    assert found == [("n-1", None), ("n-2", None), ("n-3", None), ("n-4", 2)]

    # Erasure rewrites the other day's narrow part with every column.
    assert compaction.rewrite_without(brand, "event_id = ?", ["n-9"]) == []  # nothing matches: untouched
    assert _file_columns(lake.parts(brand, "2025-05-03")[0]) == given
    assert compaction.rewrite_without(brand, "type = ?", ["order"]) == ["n-2", "n-4"]
    assert _file_columns(lake.parts(brand, "2025-05-03")[0]) == given  # no order there: not rewritten
    assert _ids(brand) == ["n-1", "n-3"]


def test_the_lakes_schema_file_is_written_again_when_the_lake_is_new(world: Any) -> None:
    """The reader's file of no rows and every column (ADR 0024) is made on first use, atomically,
    and read with a glob as with a list of parts."""
    brand = world.brand.pk
    events.ingest(
        brand, [{"event_id": "s-1", "type": "view", "at": AT, "customer_id": world.customers["chen.guide"][0]}]
    )
    events.compact()
    first = lake.schema_file()
    first.unlink()
    reader = lake.parquet_reader(lake.events_glob(brand))
    assert first.exists() and str(first) in reader
    with duckdb.connect() as con:
        assert con.execute(f"SELECT count(*), count(guide_id) FROM {reader}").fetchone() == (1, 0)
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary file left behind


def test_listeners_hear_an_imports_events_after_a_compaction_merged_its_parts(
    world: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """The import's listeners read its rows lazily; a compaction in between (the day got an event
    from the API, and its small imported part was merged with it) moves them into another file.
    A later listener still hears every imported event, and only those."""
    from siyu.platform import hooks

    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    path = _parquet(
        tmp_path / "orders.parquet",
        f"SELECT 'o-' || i AS event_id, 'order' AS type, '{AT}' AS at, {cid} AS customer_id, 100 * i AS amount_fen "
        "FROM range(1, 6) t(i)",
    )
    merged: list[list[str]] = []
    heard: list[tuple[str, int]] = []

    def compact_first(brand_id: int, _events: Any) -> None:  # as another process's compaction would
        before = [p.name for p in lake.parts(brand_id)]
        events.ingest(brand_id, [{"event_id": "api-1", "type": "order", "at": AT, "customer_id": cid}])
        events.compact()
        merged.append(before)
        merged.append([p.name for p in lake.parts(brand_id)])

    def listener(brand_id: int, stored: Any) -> None:  # hears the API's event too, on its own path
        heard.extend((e["event_id"], e["amount_fen"]) for e in hooks.events_of(stored, ("order",)))

    hooks.on_events(compact_first)
    try:
        report = _import_heard(brand, path, listener, django_capture_on_commit_callbacks)
    finally:
        hooks._events_listeners.remove(compact_first)
    assert report.accepted == 5
    assert merged[0] != merged[1] and len(merged[1]) == 1  # the imported part was merged away
    assert sorted(heard) == [("api-1", None)] + [(f"o-{i}", 100 * i) for i in range(1, 6)]
