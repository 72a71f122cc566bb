"""The segment compiler on the engines: every example of docs/segments-dsl.md and a set of
hand-built cases run on DuckDB, and on Spark when pyspark is installed (``pytest -m spark``); the
member ids must be the expected ones and the same on both."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from siyu.segments import dsl, engine, summary
from siyu.segments.compile import compile_definition
from tests import segments_lake as L

DOC = Path(__file__).resolve().parents[1] / "docs" / "segments-dsl.md"
NOW = dt.datetime(2025, 6, 1, 4, 0)  # UTC: 12:00 in Shanghai
D = dt.timedelta

ENGINES = [
    "duckdb",
    pytest.param(
        "spark",
        marks=[
            pytest.mark.spark,
            pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
        ],
    ),
]


def doc_examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    return [json.loads(b) for b in blocks]


OTHER = {12: {"version": 1, "root": {"type": "tags", "match": "any", "tags": [101]}}}


@pytest.fixture(autouse=True)
def _lake_in_home(lake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's lake, written once, instead of the empty one conftest gives every test."""
    monkeypatch.setenv("SIYU_LAKE", str(lake_home / "lake"))


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Brand 1: six customers and their events; brand 2 has an order nobody of brand 1 may see."""
    home = tmp_path_factory.mktemp("lake")
    from django.conf import settings

    old = settings.SIYU_HOME
    settings.SIYU_HOME = home
    old_lake = os.environ.pop("SIYU_LAKE", None)  # written under home/lake, as _lake_in_home reads it
    try:
        L.write_facts(
            1,
            [
                L.customer(1, store_id=10, region_id=5, city="上海", birth_month=6, birth_day=3, rfm_m=5),
                L.customer(2, store_id=11, region_id=6, city="杭州", lifecycle="dormant", rfm_m=4),
                L.customer(3, store_id=10, region_id=5, city="上海", birth_month=2, birth_day=29, lifecycle="churned"),
                L.customer(4, lifecycle="new"),
                L.customer(5, store_id=12, region_id=5, city="苏州", tier="gold", source="wecom"),
                L.customer(6, store_id=10, region_id=5, city="上海", birth_month=5, birth_day=31),
            ],
            tags=[(1, 101), (2, 101), (2, 102), (3, 101), (5, 102)],
            consents=[(1, "sms", True, NOW - D(days=5)), (2, "sms", False, NOW - D(days=2)), (3, "sms", True, NOW)],
        )
        L.write_events(
            1,
            [
                L.event(1, 1, "order", NOW - D(days=3), amount_fen=20000, properties={"channel": "mall"}),
                L.event(1, 1, "order", NOW - D(days=10), amount_fen=15000, properties={"channel": "mall"}),
                L.event(1, 1, "view", NOW - D(days=40)),
                L.event(1, 2, "order", NOW - D(days=100), amount_fen=50000),
                L.event(1, 2, "order", NOW - D(days=20), amount_fen=9000, store_id=11),
                L.event(1, 2, "view", NOW - D(days=1)),
                L.event(1, 3, "order", NOW - D(days=200), amount_fen=30000),
                L.event(1, 3, "sign_in", dt.datetime(2025, 2, 1, 3)),
                L.event(1, 5, "order", NOW - D(days=5), amount_fen=40000, properties={"channel": "pos", "pieces": 3}),
                L.event(1, 5, "order", NOW - D(days=6), amount_fen=100, properties={"pieces": 1.5}),
                L.event(1, 5, "view", NOW - D(days=2)),
                L.event(1, 5, "custom:try_on", NOW - D(days=2)),  # a brand's own event type
                L.event(1, 5, "view", NOW - D(days=3)),
                L.event(1, 6, "order", NOW - D(days=2), amount_fen=1000),
                L.event(1, None, "view", NOW - D(days=1)),  # an anonymous visitor
                L.event(1, 6, "order", NOW + D(days=1), amount_fen=99900),  # a clock running ahead: not yet
            ],
        )
        L.write_facts(2, [L.customer(7)])
        L.write_events(2, [L.event(2, 1, "order", NOW - D(days=1), amount_fen=999999)])
        yield home
    finally:
        settings.SIYU_HOME = old
        if old_lake is not None:
            os.environ["SIYU_LAKE"] = old_lake


def run(definition: dict[str, Any], name: str, brand_id: int = 1) -> list[int]:
    assert dsl.validate(definition) == []
    q = compile_definition(definition, dialect=name, now=NOW, tz="Asia/Shanghai", resolve=OTHER.__getitem__)
    return engine.member_ids(brand_id, q)


def leaf(node: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": node}


CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("store", {"type": "attribute", "field": "store", "in": [10]}, [1, 3, 6]),
    ("region", {"type": "attribute", "field": "region", "in": [6]}, [2]),
    ("city", {"type": "attribute", "field": "city", "in": ["杭州", "苏州"]}, [2, 5]),
    ("tier", {"type": "attribute", "field": "tier", "in": ["gold"]}, [5]),
    (
        "a custom event type",
        {"type": "event", "event": "custom:try_on", "count": {"op": ">=", "value": 1}, "window": {"last_days": 7}},
        [5],
    ),
    ("source", {"type": "attribute", "field": "source", "in": ["wecom"]}, [5]),
    (
        "not in a store: the storeless too",
        {"type": "not", "child": {"type": "attribute", "field": "store", "in": [10]}},
        [2, 4, 5],
    ),
    ("tags any", {"type": "tags", "match": "any", "tags": [102]}, [2, 5]),
    ("tags all", {"type": "tags", "match": "all", "tags": [101, 102]}, [2]),
    ("tags none", {"type": "tags", "match": "none", "tags": [101]}, [4, 5, 6]),
    ("consent granted: the latest answer", {"type": "consent", "channel": "sms", "granted": True}, [1, 3]),
    ("consent not granted", {"type": "consent", "channel": "sms", "granted": False}, [2, 4, 5, 6]),
    ("birthday in 3 days", {"type": "birthday", "within_days": 3}, [1]),
    ("birthday month", {"type": "birthday", "month": 5}, [6]),
    ("rfm", {"type": "rfm", "score": "m", "min": 4, "max": 5}, [1, 2]),
    (
        "orders >= 2 in 90 days",
        {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
        [1, 5],
    ),
    (
        "orders <= 1 in 90 days, none included",
        {"type": "event", "event": "order", "count": {"op": "<=", "value": 1}, "window": {"last_days": 90}},
        [2, 3, 4, 6],
    ),
    ("no order ever", {"type": "event", "event": "order", "count": {"op": "=", "value": 0}}, [4]),
    (
        "spent >= 300 CNY in 90 days",
        {
            "type": "event",
            "event": "order",
            "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
            "window": {"last_days": 90},
        },
        [1, 5],
    ),
    (
        "spent < 100 CNY in 90 days, none included",
        {
            "type": "event",
            "event": "order",
            "sum": {"of": "amount_fen", "op": "<", "value": 10000},
            "window": {"last_days": 90},
        },
        [2, 3, 4, 6],
    ),
    (
        "sum of a property",
        {"type": "event", "event": "order", "sum": {"of": "properties.pieces", "op": ">", "value": 4}},
        [5],
    ),
    (
        "property filter",
        {
            "type": "event",
            "event": "order",
            "count": {"op": ">=", "value": 1},
            "where": [{"property": "channel", "op": "=", "value": "mall"}],
        },
        [1],
    ),
    (
        "column filter",
        {
            "type": "event",
            "event": "order",
            "count": {"op": ">=", "value": 1},
            "where": [{"column": "store_id", "op": "in", "value": [11]}],
        },
        [2],
    ),
    (
        "numeric property filter",
        {
            "type": "event",
            "event": "order",
            "count": {"op": ">=", "value": 1},
            "where": [{"property": "pieces", "op": ">=", "value": 2}],
        },
        [5],
    ),
    (
        "dates window, local days",
        {
            "type": "event",
            "event": "sign_in",
            "count": {"op": ">=", "value": 1},
            "window": {"from": "2025-02-01", "to": "2025-02-01"},
        },
        [3],
    ),
    (
        "first order in the last 30 days",
        {"type": "first_time", "event": "order", "window": {"last_days": 30}},
        [1, 5, 6],
    ),
    (
        "last order over 90 days ago",
        {"type": "last_time", "event": "order", "window": {"from": "2024-01-01", "to": "2025-03-01"}},
        [3],
    ),
    ("stopped ordering", {"type": "stopped", "event": "order", "did": {"last_days": 365}, "not_in_last_days": 30}, [3]),
    ("another segment", {"type": "segment", "segment": 12}, [1, 2, 3]),
    ("list", {"type": "list", "customers": [2, 4, 99]}, [2, 4]),
    (
        "two orders and 300 CNY in 90 days: one pass over the orders",
        {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
                    "window": {"last_days": 90},
                },
            ],
        },
        [1, 5],
    ),
    (
        "three orders or 400 CNY in 90 days: one pass",
        {
            "type": "or",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 3}, "window": {"last_days": 90}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 40000},
                    "window": {"last_days": 90},
                },
            ],
        },
        [5],
    ),
    (
        "viewed in 30 days",
        {"type": "event", "event": "view", "count": {"op": ">", "value": 0}, "window": {"last_days": 30}},
        [2, 5],
    ),
    (
        "two orders and no view in 30 days",
        {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
                {
                    "type": "not",
                    "child": {
                        "type": "event",
                        "event": "view",
                        "count": {"op": ">=", "value": 1},
                        "window": {"last_days": 30},
                    },
                },
            ],
        },
        [1],
    ),
    (
        "different windows are not shared",
        {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 1}, "window": {"last_days": 5}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
                    "window": {"last_days": 90},
                },
            ],
        },
        [1, 5],
    ),
    (
        "at most one order beside 50 CNY spent in 90 days",
        {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": "<=", "value": 1}, "window": {"last_days": 90}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 5000},
                    "window": {"last_days": 90},
                },
            ],
        },
        [2],
    ),
    (
        "not a recent buyer of a region: the regionless too",
        {
            "type": "not",
            "child": {
                "type": "and",
                "children": [
                    {"type": "attribute", "field": "region", "in": [5]},
                    {"type": "event", "event": "order", "count": {"op": ">=", "value": 1}, "window": {"last_days": 7}},
                ],
            },
        },
        [2, 3, 4],
    ),
    ("not born in May: the birthless too", {"type": "not", "child": {"type": "birthday", "month": 5}}, [1, 2, 3, 4, 5]),
    (
        "bucket",
        {"type": "bucket", "modulo": 3, "buckets": [1], "salt": 5},
        [c for c in range(1, 7) if dsl.bucket_of(c, 3, 5) == 1],
    ),
    (
        "the compound segment",
        {
            "type": "and",
            "children": [
                {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
                {
                    "type": "event",
                    "event": "order",
                    "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
                    "window": {"last_days": 90},
                },
                {"type": "tags", "match": "any", "tags": [101]},
                {"type": "attribute", "field": "region", "in": [5]},
                {
                    "type": "not",
                    "child": {
                        "type": "event",
                        "event": "view",
                        "count": {"op": ">=", "value": 1},
                        "window": {"last_days": 30},
                    },
                },
            ],
        },
        [1],
    ),
    (
        "or",
        {
            "type": "or",
            "children": [{"type": "list", "customers": [4]}, {"type": "tags", "match": "all", "tags": [102]}],
        },
        [2, 4, 5],
    ),
]


@pytest.mark.parametrize("name", ENGINES)
def test_hand_built_cases_give_the_expected_members(lake_home: Path, name: str) -> None:
    got = {label: run(leaf(node), name) for label, node, _ in CASES}
    assert got == {label: expected for label, _, expected in CASES}


@pytest.mark.parametrize("name", ENGINES)
def test_every_example_of_the_dsl_doc_runs(lake_home: Path, name: str) -> None:
    examples = doc_examples()
    assert len(examples) >= 15
    results = [run(example, name) for example in examples]
    assert all(isinstance(r, list) for r in results)
    # the compound segment of the doc is the benchmark's: customer 1 of the fixture
    assert results[-2] == [1]


@pytest.mark.spark
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed")
def test_spark_and_duckdb_agree_on_every_example(lake_home: Path) -> None:
    for example in doc_examples():
        assert run(example, "spark") == run(example, "duckdb"), example


def test_another_brand_is_never_read(lake_home: Path) -> None:
    assert run(
        leaf({"type": "event", "event": "order", "count": {"op": ">=", "value": 1}, "window": {"last_days": 2}}),
        "duckdb",
    ) == [6]
    assert run(leaf({"type": "list", "customers": [1, 7]}), "duckdb", brand_id=2) == [7]


def test_a_brand_without_files_reads_as_empty(lake_home: Path) -> None:
    assert run(leaf({"type": "event", "event": "order", "count": {"op": "=", "value": 0}}), "duckdb", brand_id=3) == []


def test_texts_are_bound_never_spliced(lake_home: Path) -> None:
    evil = "上海') OR 1=1 --"
    q = compile_definition(leaf({"type": "attribute", "field": "city", "in": [evil]}), now=NOW)
    assert evil not in q.sql and evil in q.params.values()
    assert engine.member_ids(1, q) == []


def test_reading_only_the_days_of_the_horizon_changes_no_answer(lake_home: Path) -> None:
    """A query reads the day partitions from its horizon on (``Query.since_day``); every case
    gives the members it gives reading every day."""
    eng = engine.engine("duckdb")
    narrowed = 0
    for _name, node, _expected in CASES:
        q = compile_definition(leaf(node), dialect="duckdb", now=NOW, tz="Asia/Shanghai", resolve=OTHER.__getitem__)
        sql = f"SELECT customer_id FROM ({q.sql}) m ORDER BY customer_id"
        every_day = eng.rows(1, sql, q.params, summaries=q.summaries)
        assert eng.rows(1, sql, q.params, since_day=q.since_day, summaries=q.summaries) == every_day, _name
        narrowed += q.since_day is not None
    assert narrowed >= 10
    q = compile_definition(
        leaf({"type": "first_time", "event": "order", "window": {"last_days": 7}}), now=NOW, tz="Asia/Shanghai"
    )
    assert q.since_day is None  # the first time ever needs all history


@pytest.fixture(scope="module")
def summarised_lake(lake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's lake copied, with the behaviour summary of every day built (ADR 0020)."""
    from siyu.segments import summary

    copy = tmp_path_factory.mktemp("summarised") / "lake"
    shutil.copytree(lake_home / "lake", copy)
    old = os.environ.get("SIYU_LAKE")
    os.environ["SIYU_LAKE"] = str(copy)
    try:
        done = summary.refresh(1, today=(NOW + D(days=3)).date())
        assert done.built == done.current >= 10
    finally:
        if old is None:
            os.environ.pop("SIYU_LAKE", None)
        else:
            os.environ["SIYU_LAKE"] = old
    return copy


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("summarised", ["every day", "every other day"])
def test_the_behaviour_summary_changes_no_answer(
    summarised_lake: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, summarised: str
) -> None:
    """Count and sum conditions read the summary of the days that have one and the events of the
    others (and the partial hours at a window's ends): the members are those of the events alone,
    whichever days are summarised."""
    from siyu.segments import summary

    lake = tmp_path / "lake"
    shutil.copytree(summarised_lake, lake)
    monkeypatch.setenv("SIYU_LAKE", str(lake))
    days = summary.current(1)
    if summarised == "every other day":
        for day in sorted(days)[::2]:
            shutil.rmtree(summary.root(1) / f"day={day}")
    assert len(summary.current(1)) == (len(days) if summarised == "every day" else len(days) // 2)
    got = {label: run(leaf(node), name) for label, node, _ in CASES}
    assert got == {label: expected for label, _, expected in CASES}
    q = compile_definition(leaf(CASES[-2][1]), dialect=name, now=NOW, tz="Asia/Shanghai")
    assert "event_days_1" in q.sql and "siyu_cand1" in q.sql  # the compound segment reads the summary


def test_a_facts_test_is_bare_outside_a_not_so_the_engines_prune_by_it() -> None:
    """A NULL column leaves a row out of a select whether its test says NULL or FALSE: outside any
    ``not`` the test is kept bare (a ``COALESCE`` would hide it from the row-group pruning of the
    facts' Parquet files); under a ``not`` it is made FALSE, so that ``NOT`` of it holds."""
    region = {"type": "attribute", "field": "region", "in": [5]}
    recent = {"type": "event", "event": "order", "count": {"op": ">=", "value": 1}, "window": {"last_days": 7}}
    bare = compile_definition(leaf({"type": "and", "children": [region, recent]}), now=NOW).sql
    assert "region_id IN (5)" in bare and "COALESCE" not in bare
    negated = compile_definition(leaf({"type": "not", "child": region}), now=NOW).sql
    assert "COALESCE(c1.region_id IN (5), FALSE)" in negated
    # the candidates of an ``and`` under a ``not`` are a select of their own: bare again
    inner = compile_definition(leaf({"type": "not", "child": {"type": "and", "children": [region, recent]}}), now=NOW)
    assert "COALESCE" not in inner.sql
    # and so is another segment's select under a ``not``
    other = {13: {"version": 1, "root": region}}
    nested = compile_definition(
        leaf({"type": "not", "child": {"type": "segment", "segment": 13}}), now=NOW, resolve=other.__getitem__
    )
    assert "COALESCE" not in nested.sql


def test_a_summary_table_reads_its_type_on_the_days_of_its_hours(summarised_lake: Path, monkeypatch: Any) -> None:
    """Each count or sum reads summary tables of its event type only: the whole days of its window
    in one table read without a condition on the hour, the hours of its first and last day each in
    a table of that day, filtered — no other type's file and no day outside the window."""
    monkeypatch.setenv("SIYU_LAKE", str(summarised_lake))
    compound = next(node for label, node, _ in CASES if label == "the compound segment")
    q = compile_definition(leaf(compound), now=NOW, tz="Asia/Shanghai")
    today = NOW.replace(hour=0)
    spans = {}
    for kind, days_back in (("order", 90), ("view", 30)):
        start = NOW - D(days=days_back)
        spans[kind] = [(start, today - D(days=days_back - 1)), (today - D(days=days_back - 1), today), (today, NOW)]
    assert sorted((t.type, t.first, t.last) for t in q.summaries) == sorted(
        (kind, a, b) for kind, found in spans.items() for a, b in found
    )
    for t in q.summaries:
        unfiltered = f"FROM {t.table} WHERE customer_id IN (SELECT customer_id FROM siyu_cand1)"
        assert (unfiltered in q.sql) == (t.first == t.first.replace(hour=0) and t.last == t.last.replace(hour=0))
    days = engine.summarised_days(1, q.since_day, q.raw_days)
    assert NOW.date().isoformat() not in days  # the day of now: its partial hour is read from the events
    for table in q.summaries:
        files = engine.summary_files(days, table)
        assert {f.name for f in files} <= {f"{table.type}.parquet"}
        read = [f.parent.parent.name.removeprefix("day=") for f in files]
        having = [d for d in sorted(days) if summary.type_file(days[d], table.type).exists()]
        assert read == [d for d in having if str(table.first_day) <= d <= table.last_day]
    # the view 40 days before is summarised, and outside the 30 days: not read
    assert (NOW - D(days=40)).date().isoformat() in days
    views = [f for t in q.summaries if t.type == "view" for f in engine.summary_files(days, t)]
    assert views and all((NOW - D(days=40)).date().isoformat() not in str(f) for f in views)


def test_partial_hours_at_a_windows_ends_are_read_from_the_events(summarised_lake: Path, monkeypatch: Any) -> None:
    """At a ``now`` off the hour the windows start and end inside an hour: those hours' days are
    never read from the summary (``Query.raw_days``), and every case gives what the events alone give."""
    monkeypatch.setenv("SIYU_LAKE", str(summarised_lake))
    eng = engine.engine("duckdb")
    now = NOW - D(days=2, minutes=17, seconds=3)
    for label, node, _expected in CASES:
        q = compile_definition(leaf(node), dialect="duckdb", now=now, tz="Asia/Shanghai", resolve=OTHER.__getitem__)
        sql = f"SELECT customer_id FROM ({q.sql}) m ORDER BY customer_id"
        events_only = eng.rows(
            1, sql, q.params, since_day=q.since_day, summaries=q.summaries
        )  # no raw_days: no summary read
        summarised = eng.rows(1, sql, q.params, since_day=q.since_day, raw_days=q.raw_days, summaries=q.summaries)
        assert summarised == events_only, label
    q = compile_definition(leaf(CASES[-2][1]), now=now, tz="Asia/Shanghai")
    assert q.raw_days == {(now - D(days=d)).date().isoformat() for d in (90, 30, 0)}  # the compound: two windows
