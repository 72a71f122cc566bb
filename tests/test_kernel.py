"""The shared kernel (siyu.platform): money, personal data, clock, audit, tenancy rules, exports and
the database the suite runs on."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404

from siyu.platform import clock, exports, money, privacy
from siyu.platform.models import AuditEntry
from siyu.platform.tenancy import Level, Scope, ScopeRule, get_scoped, ids_in_scope, restrict, rule_of


# --- Money: an integer number of fen (ADR 0002) ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("0.01", 1),
        ("0.1", 10),
        ("-3.20", -320),
        ("1,234.56", 123456),
        (" 99 ", 9900),
        (12, 1200),
        (0, 0),
        (Decimal("0.30"), 30),
        ("19999999.99", 1999999999),
    ],
)
def test_yuan_to_fen_is_exact(text: Any, fen: int) -> None:
    assert money.yuan_to_fen(text) == fen
    assert isinstance(money.yuan_to_fen(text), int)


@pytest.mark.parametrize(
    "text",
    [
        "12.345",
        "0.005",
        "1e3",
        "abc",
        "",
        "12.",
        ".5",
        "¥12",
        "12.5.1",
        "--1",
        Decimal("1.005"),
        True,
        False,
        0.1,
        12.5,
    ],
)
def test_yuan_to_fen_rejects_what_is_not_an_amount_with_two_decimals(text: Any) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        money.yuan_to_fen(text)


def test_fen_to_yuan_and_cny_formatting() -> None:
    assert money.fen_to_yuan(12345) == "123.45"
    assert money.fen_to_yuan(5) == "0.05"
    assert money.fen_to_yuan(-5) == "-0.05"
    assert money.fen_to_yuan(0) == "0.00"
    assert money.format_cny(123456789) == "¥1,234,567.89"
    assert money.format_cny(-150) == "-¥1.50"
    for amount in ("1.00", "0.99", "-7.10", "1234.56"):
        assert money.fen_to_yuan(money.yuan_to_fen(amount)) == amount


@pytest.mark.parametrize("bad", [1.5, True, "100", Decimal("1")])
def test_fen_to_yuan_refuses_anything_but_integer_fen(bad: Any) -> None:
    with pytest.raises(TypeError):
        money.fen_to_yuan(bad)


# --- Personal data at rest (ADR 0005) -----------------------------------------------------------
def test_seal_and_unseal_round_trip_with_a_fresh_nonce_each_time() -> None:
    for plain in ("13812345678", "张小雨", "a" * 500):
        sealed = privacy.seal(plain)
        assert plain not in sealed and sealed.isascii()
        assert privacy.unseal(sealed) == plain
    assert privacy.seal("张小雨") != privacy.seal("张小雨"), "the same text seals differently (random nonce)"
    assert privacy.seal("") == "" and privacy.unseal("") == ""


def test_sealed_data_is_tamper_evident_and_bound_to_the_key(settings: Any) -> None:
    sealed = privacy.seal("13812345678")
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        privacy.unseal(base64.b64encode(bytes(raw)).decode())
    settings.SIYU_DATA_KEY = "another key"
    with pytest.raises(InvalidTag):
        privacy.unseal(sealed)


def test_lookup_hash_is_stable_keyed_and_not_the_plain_text(settings: Any) -> None:
    first = privacy.lookup_hash("13812345678")
    assert first == privacy.lookup_hash("13812345678")
    assert first != privacy.lookup_hash("13812345679")
    assert "13812345678" not in first and len(first) == 64
    settings.SIYU_DATA_KEY = "another key"
    assert privacy.lookup_hash("13812345678") != first, "without the key the hash cannot be recomputed"


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("0086-138-1234-5678", "13812345678"),
        ("(138) 1234-5678", "13812345678"),
        ("19900000000", "19900000000"),
    ],
)
def test_normalize_phone(raw: str, phone: str) -> None:
    assert privacy.normalize_phone(raw) == phone


@pytest.mark.parametrize("raw", ["", "1381234567", "138123456789", "12812345678", "+1 415 555 0100", "138-abcd-5678"])
def test_normalize_phone_rejects_what_is_not_a_mainland_mobile(raw: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        privacy.normalize_phone(raw)


def test_masks() -> None:
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_phone("12345") == "*****"
    assert privacy.mask_name("张小雨") == "张**"
    assert privacy.mask_name("Li") == "L*"
    assert privacy.mask_name("王") == "*"
    assert privacy.mask_name("") == ""


# --- Clock ----------------------------------------------------------------------------------------
def test_the_clock_can_be_frozen_nested_and_restored() -> None:
    a = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)
    b = dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC)
    with clock.frozen(a):
        assert clock.now() == a
        assert clock.today() == dt.date(2026, 11, 24), "17:00 UTC is already the next day in Shanghai"
        with clock.frozen(b):
            assert clock.now() == b
        assert clock.now() == a
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_blocks_left_out_of_order_by_threads_leave_no_time_frozen() -> None:
    a, b = clock.frozen(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)), clock.frozen(dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    a.__enter__()
    b.__enter__()  # another thread's block, entered inside the first one's
    a.__exit__(None, None, None)  # the first ends before it
    assert clock.now().year == 2021
    b.__exit__(None, None, None)
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_the_clock_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), clock.frozen(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        raise RuntimeError("boom")
    assert clock.now().year >= 2026


# --- Audit log: in the same transaction as the change --------------------------------------------
@pytest.mark.django_db
def test_a_change_and_its_audit_entry_commit_together(world: Any) -> None:
    from siyu.org import services as org

    hq = org.hq_scope(world.brand.pk, "Lin")
    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    with clock.frozen(at):
        region = org.create_region(hq, code="NORTH", name="华北分公司")
        org.update_region(hq, region.pk, name="华北区")
    entries = list(AuditEntry.objects.filter(object_type="region", object_id=str(region.pk)).order_by("id"))
    assert [e.action for e in entries] == ["region.create", "region.update"]
    assert entries[0].before is None and entries[0].after == {"code": "NORTH", "name": "华北分公司", "status": "active"}
    assert entries[1].changes() == [("name", "华北分公司", "华北区")]
    assert entries[1].at == at and entries[1].actor_label == "Lin" and entries[1].brand_id == world.brand.pk


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_audit_entry(world: Any) -> None:
    from siyu.org import services as org
    from siyu.org.models import Region

    hq = org.hq_scope(world.brand.pk)
    entries_before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        org.create_region(hq, code="WEST", name="西部")
        assert AuditEntry.objects.count() == entries_before + 1, "written inside the same transaction"
        raise RuntimeError("the caller's transaction fails after the change")
    assert AuditEntry.objects.count() == entries_before
    assert not Region.objects.filter(code="WEST").exists()


@pytest.mark.django_db
def test_a_rejected_change_writes_nothing(world: Any) -> None:
    from siyu.org import services as org
    from siyu.org.models import Region

    hq = org.hq_scope(world.brand.pk)
    entries_before, regions_before = AuditEntry.objects.count(), Region.objects.count()
    with pytest.raises(ValidationError) as error:
        org.create_region(hq, code="bad code!", name="")
    assert {"code", "name"} <= set(error.value.message_dict)
    assert (AuditEntry.objects.count(), Region.objects.count()) == (entries_before, regions_before)


# --- Tenancy rules: the edges ----------------------------------------------------------------------
def _scope(level: Level, **kw: Any) -> Scope:
    return Scope(brand_id=1, level=level, **kw)


def test_a_scope_rule_with_nothing_for_a_level_shows_nothing_at_that_level() -> None:
    hq_only = ScopeRule()
    assert hq_only.condition(_scope(Level.BRAND)) is not None
    for level in (Level.REGION, Level.STORE, Level.SELF):
        assert hq_only.condition(_scope(level, region_id=1, store_id=1, staff_id=1)) is None


def test_a_viewer_without_a_place_sees_nothing_at_her_level() -> None:
    rule = ScopeRule(region="region_id", store="id", own_store="id")
    assert rule.condition(_scope(Level.REGION, region_id=None)) is None
    assert rule.condition(_scope(Level.STORE, store_id=None)) is None
    assert rule.condition(_scope(Level.SELF, store_id=None, staff_id=7)) is None


def test_shared_rows_are_seen_at_every_level_of_the_brand() -> None:
    shared = ScopeRule(shared=True)
    for level in Level:
        assert shared.condition(_scope(level)) is not None


def test_several_lookups_are_or_ed() -> None:
    rule = ScopeRule(region=("region_id", "store__region_id"), own_store="store_id", own="id")
    region_q = str(rule.condition(_scope(Level.REGION, region_id=3)))
    assert "region_id" in region_q and "store__region_id" in region_q and "OR" in region_q
    self_q = str(rule.condition(_scope(Level.SELF, store_id=5, staff_id=9)))
    assert "store_id" in self_q and "'id', 9" in self_q and "OR" in self_q


def test_a_model_without_a_scope_rule_cannot_be_queried_through_the_helper() -> None:
    from django.contrib.contenttypes.models import ContentType

    with pytest.raises(TypeError, match="scope_rule"):
        rule_of(ContentType)


def test_scope_permissions() -> None:
    scope = _scope(Level.STORE, perms=frozenset({"org.view"}))
    assert scope.can("org.view") and not scope.can("org.manage_store")


@pytest.mark.django_db
def test_get_scoped_turns_bad_and_foreign_ids_into_404(world: Any, scope_of: Any) -> None:
    from siyu.org.models import Store

    hq = scope_of(world.staff["hq_admin"])
    assert get_scoped(Store, hq, pk=world.flagship.pk) == world.flagship
    for pk in ("abc", None, world.rival_store.pk, 10**12):
        with pytest.raises(Http404):
            get_scoped(Store, hq, pk=pk)


@pytest.mark.django_db
def test_restrict_applies_the_brand_before_the_level(world: Any, scope_of: Any) -> None:
    from siyu.org.models import Store

    region = scope_of(world.staff["region_manager"])
    rival_view = Scope(brand_id=world.brand.pk, level=Level.REGION, region_id=world.rival_store.region_id)
    assert not restrict(Store, rival_view).exists(), "another brand's region id reaches nothing"
    assert ids_in_scope(Store, region, [world.flagship.pk, world.gz1.pk, world.rival_store.pk]) == {world.flagship.pk}
    narrowed = restrict(Store.objects.filter(city="上海"), region)
    assert set(narrowed.values_list("code", flat=True)) == {"SH001", "SH002"}


# --- Exports ---------------------------------------------------------------------------------------
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    assert exports.safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert exports.safe_cell("-1+2") == "'-1+2"
    assert exports.safe_cell("+8613812345678 x") == "'+8613812345678 x"
    assert exports.safe_cell("-12.50") == "-12.50"  # a negative amount stays a number
    assert exports.safe_cell(-1250) == "-1250"
    assert exports.safe_cell("南京西路旗舰店") == "南京西路旗舰店"
    assert exports.safe_cell(None) == ""
    response = exports.csv_response("stores.csv", ["code", "name"], [["SH001", "+1 旗舰"]])
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    assert body == "\ufeffcode,name\r\nSH001,'+1 旗舰\r\n"
    assert response["Content-Disposition"] == 'attachment; filename="stores.csv"'


# --- The database the suite runs on ------------------------------------------------------------------
@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_given() -> None:
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected


@pytest.mark.postgres
def test_migrations_apply_from_zero_on_postgresql(postgres_url: str, tmp_path: Any) -> None:
    """A fresh PostgreSQL database takes every migration, and the models match the migrations."""
    import psycopg
    from dj_database_url import parse
    from psycopg import sql

    conf = parse(postgres_url)
    name = f"siyu_migrate_{uuid.uuid4().hex[:10]}"
    admin = {
        "host": conf["HOST"],
        "port": conf["PORT"] or 5432,
        "user": conf["USER"],
        "password": conf["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env = {**base, "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/" + name, "SIYU_HOME": str(tmp_path)}
        for args in (["migrate", "--no-input", "-v", "0"], ["makemigrations", "--check", "--dry-run"]):
            done = subprocess.run(
                [sys.executable, "-m", "django", *args, "--settings=siyu.settings"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        with psycopg.connect(**{**admin, "dbname": name}) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"org_store", "org_staff", "members_customer", "platform_auditentry"} <= tables
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
