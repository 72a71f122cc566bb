"""The API's hot path gives the answers of the plain one (ADR 0011, HTTP path): the batch check
(``rules.check_many``) agrees with ``rules.check`` event by event, and the one-call NDJSON is the
row-by-row one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.events import rules, services
from siyu.platform import hooks

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)

# Values that are right, wrong, or on an edge for some field, mixed freely below.
NUMBERS = [0, -1, 1, 7, 10**12, 10**12 + 1, 1_000_001, 1.5]
ODD = st.sampled_from([None, True, False, *NUMBERS, "", " ", "  SH001 ", "x" * 64, "x" * 65, [], {}])
TIMES = st.sampled_from(
    [
        "2025-05-01T10:00:00+08:00",
        "2025-05-01T10:00:00Z",
        "2025-05-01 10:00",
        "2025-05-01T10:00:00.123456-03:30",
        (NOW + dt.timedelta(minutes=4)).isoformat(),
        (NOW + dt.timedelta(minutes=6)).isoformat(),
        "not a time",
        "2025-05-01T10:00:00+08:00" + " " * 20,
        5,
    ]
)
IDS = st.sampled_from(["e-1", "", "x" * 65, "order:1:paid", "demo:9", 12, "  spaced  "])
KINDS = st.sampled_from(["view", "order", "custom:coupon_seen", "custom:Bad", "teleport", "custom:", 3, ["view"]])
PROPS = st.sampled_from([None, {"page": "/m/p/1"}, {"n": {"a": 1}}, {"l": [1]}, {"big": "x" * 5000}, "flat?", {1: 2}])
IDENTITIES = st.sampled_from(
    [
        {"kind": "unionid", "key": "u-1"},
        {"kind": "openid", "key": "o-1"},
        {"kind": "openid", "key": "o-1", "app_id": "wx1"},
        {"kind": "fax", "key": "1"},
        "u-1",
    ]
)


@st.composite
def events(draw: Any) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, [], "event", 1]))
    event: dict[str, Any] = {"event_id": draw(IDS), "type": draw(KINDS), "at": draw(TIMES)}
    who = draw(st.integers(0, 3))
    if who == 0:
        event["customer_id"] = draw(st.one_of(st.integers(-2, 10**6), ODD))
    elif who == 1:
        event["customer"] = draw(IDENTITIES)
    elif who == 2:
        event["customer_id"] = 5
        event["customer"] = draw(IDENTITIES)
    for name in ("store", "guide", "content_id", "product", "sku", "amount_fen", "quantity"):
        if draw(st.booleans()):
            event[name] = draw(ODD)
    if draw(st.booleans()):
        event["properties"] = draw(PROPS)
    if draw(st.integers(0, 20)) == 0:
        event["colour"] = "red"
    for name in ("event_id", "type", "at"):
        if draw(st.integers(0, 20)) == 0:
            event.pop(name, None)
    return event


@settings(max_examples=400, deadline=None)
@given(st.lists(events(), max_size=12), st.booleans())
def test_the_batch_check_answers_as_the_check_of_each_event(batch: list[Any], platform: bool) -> None:
    assert rules.check_many(batch, NOW, platform=platform) == [rules.check(e, NOW, platform=platform) for e in batch]


USUAL = {
    "event_id": "e-1",
    "type": "order",
    "at": "2025-05-01T10:00:00+08:00",
    "customer_id": 9,
    "store": " SH001 ",
    "amount_fen": 19900,
    "properties": {"page": "/m/p/1"},
}


def test_the_usual_event_takes_the_inline_path_with_the_same_result() -> None:
    event = USUAL
    (checked,) = rules.check_many([event], NOW)
    assert checked == rules.check(event, NOW)
    assert isinstance(checked, rules.Checked)
    assert (checked.store, checked.at, checked.properties) == (
        "SH001",
        dt.datetime(2025, 5, 1, 2, 0, tzinfo=dt.UTC),
        '{"page":"/m/p/1"}',
    )


def test_ndjson_in_one_call_is_one_row_a_line_whatever_the_values_hold() -> None:
    tricky = '},{"event_id":"forged"}\n{'
    rows = [
        {"event_id": "a", "brand_id": 1, "content_id": tricky, "properties": orjson.dumps({"q": tricky}).decode()},
        {"event_id": tricky, "brand_id": 1, "content_id": None, "properties": None},
        {"event_id": "c", "brand_id": 1, "content_id": "名", "properties": None},
    ]
    payload = services.ndjson(rows)
    assert payload == b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    assert [orjson.loads(line) for line in payload.splitlines()] == rows
    assert services.ndjson([]) == b""


def test_the_lake_reads_wal_times_in_the_old_and_the_new_form(tmp_path: Any) -> None:
    import duckdb

    from siyu.events import lake

    at = dt.datetime(2025, 5, 1, 2, 0, 0, 123456, tzinfo=dt.UTC)
    rows = [
        {"event_id": "new", "brand_id": 1, "type": "view", "at": at, "customer_id": 1, "received_at": "2025-05-01"},
        {"event_id": "whole", "brand_id": 1, "type": "view", "at": at.replace(microsecond=0), "customer_id": 1},
    ]
    path = tmp_path / "wal.ndjson"
    old = b'{"event_id":"old","brand_id":1,"type":"view","at":"2025-05-01 02:00:00.000000","customer_id":1}\n'
    path.write_bytes(services.ndjson(rows) + old)
    with duckdb.connect() as con:
        found = con.sql(f'SELECT event_id, "at" FROM {lake.json_reader(path)} ORDER BY event_id').fetchall()
    naive = at.replace(tzinfo=None)
    assert found == [("new", naive), ("old", naive.replace(microsecond=0)), ("whole", naive.replace(microsecond=0))]


def test_listeners_rows_are_made_ready_once_and_only_those_taken() -> None:
    at = dt.datetime(2025, 5, 1, 2, 0, tzinfo=dt.UTC)
    now = dt.datetime(2025, 5, 1, 3, 0, tzinfo=dt.UTC)
    rows = [
        {"event_id": "a", "type": "share", "at": at, "guide_id": 7, "received_at": "x"},
        {"event_id": "b", "type": "view", "at": at, "guide_id": None, "received_at": "x"},
        {"event_id": "c", "type": "share", "at": at, "guide_id": None, "received_at": "x"},
    ]
    heard = services._Heard(rows, now)
    taken = heard.where(frozenset({"share"}), ("guide_id",))
    assert [r["event_id"] for r in taken] == ["a"]
    assert taken[0]["at"] == services.micros(at) and taken[0]["received_at"] == services.micros(now)
    assert rows[1]["at"] == at  # not taken, not touched
    everything = list(heard)
    assert [r["at"] for r in everything] == [services.micros(at)] * 3  # each converted once
    assert len(heard) == 3 and heard[2]["received_at"] == services.micros(now)


def test_listeners_where_answers_as_the_filter_of_each_event_in_the_batchs_order() -> None:
    """``_Heard.where`` (type and field indexes made once a batch) answers as ``hooks.events_of``
    answers a plain list: the events of these types with every ``present`` field set, in order."""
    at = dt.datetime(2025, 5, 1, 2, 0, tzinfo=dt.UTC)
    kinds, guides, stores = ["share", "order", "view", "refund"], [7, None, 3], [None, 2]
    rows = [
        {"event_id": f"e{i}", "type": kinds[i % 4], "at": at, "guide_id": guides[i % 3], "store_id": stores[i % 2]}
        for i in range(24)
    ]
    heard = services._Heard([dict(r) for r in rows], at)
    questions: list[tuple[set[str], tuple[str, ...]]] = [
        ({"share", "order"}, ("guide_id",)),
        ({"share", "order", "refund"}, ("guide_id", "store_id")),
        ({"view"}, ()),
        ({"refund"}, ("store_id",)),
        ({"sign_in"}, ("guide_id",)),
    ]
    for types, present in questions:
        want = [r["event_id"] for r in hooks.events_of(rows, types, present=present)]
        assert [r["event_id"] for r in hooks.events_of(heard, types, present=present)] == want


@settings(max_examples=400, deadline=None)
@given(st.lists(events(), max_size=12))
def test_the_one_pass_body_check_answers_as_the_check_of_each_event_or_leaves_it_to_it(batch: list[Any]) -> None:
    """``rules.check_json`` (msgspec) takes a body only when every event is well-formed, and then
    makes of each exactly what ``rules.check`` makes; anything else is left to the event-by-event
    check (``None``), which answers each bad event."""
    try:
        body = orjson.dumps({"events": batch})
    except TypeError:  # a key orjson cannot write ({1: 2}): no client can send it either
        return
    found = rules.check_json(body, NOW)
    if found is not None:
        assert found == [rules.check(e, NOW) for e in batch]
        assert all(isinstance(c, rules.Checked) for c in found)


def test_a_body_of_usual_events_takes_the_one_pass_check_with_the_same_results() -> None:
    batch = [
        USUAL | {"properties": {"page": "/m/p/1", "n": 2, "ok": True, "none": None}},
        {"event_id": "e-2", "type": "custom:coupon_seen", "at": "2025-05-01T10:00:00Z", "customer_id": 9, "guide": 3},
        {
            "event_id": "e-3",
            "type": "view",
            "at": AT_UTC,
            "customer": {"kind": "openid", "key": " o-1 ", "app_id": "wx"},
        },
        {"event_id": "e-4", "type": "view", "at": AT_UTC, "customer_id": 5, "customer": "ignored", "product": 7},
    ]
    found = rules.check_json(orjson.dumps({"events": batch, "extra": 1}), NOW)
    assert found is not None and found == [rules.check(e, NOW) for e in batch]
    assert found[2].customer == ("openid", "o-1", "wx") and found[0].store == "SH001"
    # One bad event sends the whole body to the event-by-event check, which answers for it alone.
    bad = [*batch, {"event_id": "e-5", "type": "teleport", "at": AT_UTC, "customer_id": 9}]
    assert rules.check_json(orjson.dumps({"events": bad}), NOW) is None
    for body in (b"not json", b"[]", b'{"events": {}}', b'{"events": [1]}'):
        assert rules.check_json(body, NOW) is None


AT_UTC = "2025-05-01T02:00:00+00:00"
