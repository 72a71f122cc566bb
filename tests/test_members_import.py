"""Importing members from CSV and Excel: the dry run reports every bad row and changes nothing; the
real run adds exactly the good rows, is idempotent and never half-applies a batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from siyu.members import importer
from siyu.members.models import Binding, Consent, Customer, CustomerTag, Identity, ImportRun
from siyu.platform import privacy

HEADER = "手机号,姓名,性别,生日,门店编码,导购,标签,unionid,会员卡号,consent_sms,注册时间\n"


def _csv(tmp_path: Path, body: str, *, name: str = "members.csv", encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode(encoding))
    return path


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def hq(world: Any) -> Any:
    return world.staff["hq_admin"].scope


@pytest.fixture
def tags(world: Any, hq: Any) -> dict[str, Any]:
    from siyu.members import profile

    sport = profile.create_tag_group(hq, name="兴趣")
    value = profile.create_tag_group(hq, name="价值", exclusive=True)
    other = profile.create_tag_group(hq, name="其他")
    return {
        "run": profile.create_tag(hq, group=sport, name="跑步"),
        "high": profile.create_tag(hq, group=value, name="高价值"),
        "low": profile.create_tag(hq, group=value, name="价格敏感"),
        "run2": profile.create_tag(hq, group=other, name="跑步"),  # the same name in two groups
        "yoga": profile.create_tag(hq, group=other, name="瑜伽"),
    }


GOOD = (
    "13900000001,王一,女,1990-05-07,SH001,chen.guide,兴趣:跑步;价值:高价值,oUnion000000000001,POS001,yes,"
    "2024/3/5 10:30\n"
    "13900000002,王二,男,1988/1/2,SH002,,瑜伽,,,no,\n"
    "13900000003,王三,,,,,,,,,\n"
)
BAD = (
    "1390000000,坏号码,,,,,,,,,\n"  # line 5: bad phone
    "13900000005,坏门店,,,XX999,,,,,,\n"  # line 6: unknown store
    "13900000006,坏导购,,,,nobody,,,,,\n"  # line 7: unknown guide
    "13900000007,别店导购,,,SH002,chen.guide,,,,,\n"  # line 8: a guide of another store
    "13900000008,坏日期,,1990-13-45,,,,,,,\n"  # line 9: bad date
    "13900000001,重复,,,,,,,,,\n"  # line 10: phone repeated in the file
    "13900000011,坏标签,,,,,不存在;跑步,,,,\n"  # line 11: unknown tag, ambiguous tag
)


def _counts(brand: Any) -> tuple[int, ...]:
    return tuple(m.objects.filter(brand=brand).count() for m in (Customer, Identity, Binding, CustomerTag, Consent))


def test_the_dry_run_reports_every_bad_row_with_line_and_column_and_changes_nothing(
    world: Any, hq: Any, tags: Any, tmp_path: Path
) -> None:
    path = _csv(tmp_path, GOOD + BAD)
    before = _counts(world.brand)
    report = importer.import_members(hq, path, dry_run=True)
    assert _counts(world.brand) == before
    got = {(e.line, e.column) for e in report.errors}
    assert got == {
        (5, "手机号"),
        (6, "门店编码"),
        (7, "导购"),
        (8, "导购"),
        (9, "生日"),
        (10, "手机号"),
        (11, "标签"),
    }
    reasons = {(e.line, e.column): e.reason for e in report.errors if e.line != 11}
    assert "XX999" in reasons[(6, "门店编码")]
    assert "another store" in reasons[(8, "导购")] and "SH001" in reasons[(8, "导购")]
    assert "earlier line" in reasons[(10, "手机号")]
    tag_reasons = sorted(e.reason for e in report.errors if e.line == 11)
    assert (
        len(tag_reasons) == 2 and any("不存在" in r for r in tag_reasons) and any("group:tag" in r for r in tag_reasons)
    )
    assert (report.rows_total, report.rows_bad, report.rows_added, report.rows_unchanged) == (10, 7, 3, 0)
    run = ImportRun.objects.get(pk=report.run_id)
    assert run.status == "checked" and run.dry_run and len(run.errors) == 8


def test_a_real_run_with_bad_rows_is_refused_and_changes_nothing(
    world: Any, hq: Any, tags: Any, tmp_path: Path
) -> None:
    path = _csv(tmp_path, GOOD + BAD)
    before = _counts(world.brand)
    report = importer.import_members(hq, path, dry_run=False)
    assert report.refused and report.status == "failed" and "7 bad rows" in report.message
    assert _counts(world.brand) == before


def _the_good_rows_are_customers(world: Any, hq: Any, tags: dict[str, Any]) -> None:
    """GOOD's rows as customers like the services write them: sealed, hashed, bound, tagged, consenting,
    found by phone."""
    from siyu.members import profile, services

    first = Customer.objects.get(brand=world.brand, phone_hash=privacy.lookup_hash("13900000001"))
    assert privacy.unseal(first.phone_sealed) == "13900000001" and privacy.unseal(first.name_sealed) == "王一"
    assert first.name_hash == privacy.lookup_hash("王一") and str(first.birthday) == "1990-05-07"
    assert (first.store_id, first.guide_id, first.source, first.gender, first.tier, first.lifecycle) == (
        world.flagship.pk,
        world.staff["guide_a"].pk,
        "import",
        "f",
        "regular",
        "new",
    )
    assert first.joined_at.year == 2024 and first.bound_at is not None
    kinds = {(i.kind, i.key, i.verified, i.origin_id) for i in Identity.objects.filter(customer=first)}
    assert kinds == {
        ("phone", first.phone_hash, True, first.pk),
        ("unionid", "oUnion000000000001", False, first.pk),
        ("pos_card", "POS001", False, first.pk),
    }
    binding = Binding.objects.get(customer=first)
    assert (binding.source, binding.guide_id, binding.store_id) == ("import", world.staff["guide_a"].pk, first.store_id)
    assert set(CustomerTag.objects.filter(customer=first).values_list("tag_id", flat=True)) == {
        tags["run"].pk,
        tags["high"].pk,
    }
    assert [(c.channel, c.granted) for c in Consent.objects.filter(customer=first)] == [("sms", True)]
    found = profile.filter_customers(services.visible_customers(hq), {"phone": "13900000001"})
    assert list(found.values_list("pk", flat=True)) == [first.pk]  # the search by phone finds her
    second = Customer.objects.get(brand=world.brand, phone_hash=privacy.lookup_hash("13900000002"))
    assert (second.store_id, second.guide_id, second.birthday.year) == (world.sh2.pk, None, 1988)
    assert [(c.channel, c.granted) for c in Consent.objects.filter(customer=second)] == [("sms", False)]
    third = Customer.objects.get(brand=world.brand, phone_hash=privacy.lookup_hash("13900000003"))
    assert third.bound_at is None and not Binding.objects.filter(customer=third).exists()


def test_the_real_run_adds_exactly_the_good_rows_and_a_rerun_changes_nothing(
    world: Any, hq: Any, tags: Any, tmp_path: Path
) -> None:
    path = _csv(tmp_path, GOOD + BAD)
    before = _counts(world.brand)
    report = importer.import_members(hq, path, dry_run=False, skip_bad=True, batch_size=2)
    assert (report.status, report.rows_added, report.rows_unchanged, report.rows_bad) == ("done", 3, 0, 7)
    after = _counts(world.brand)
    # 3 customers; identities: 3 phones + a unionid + a POS card; 2 bindings (SH001 + guide, SH002);
    # tags: 2 + 1; consents: 2 (sms yes, sms no)
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (3, 5, 2, 3, 2)

    _the_good_rows_are_customers(world, hq, tags)

    again = importer.import_members(hq, path, dry_run=False, skip_bad=True)
    assert (again.rows_added, again.rows_unchanged) == (0, 3)
    assert _counts(world.brand) == after
    dry = importer.import_members(hq, path, dry_run=True)
    assert (dry.rows_added, dry.rows_unchanged) == (0, 3)


def test_an_existing_unionid_or_card_means_the_row_is_already_there(world: Any, hq: Any, tmp_path: Path) -> None:
    importer.import_members(hq, _csv(tmp_path, "13900000001,甲,,,,,,oUnion000000000001,,,\n"), dry_run=False)
    report = importer.import_members(
        hq, _csv(tmp_path, "13900000009,乙,,,,,,oUnion000000000001,,,\n", name="b.csv"), dry_run=False
    )
    assert (report.rows_added, report.rows_unchanged) == (0, 1)


def _boom_trigger(on: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if on:
                cursor.execute(
                    "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.key = 'POSBOOM' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    "CREATE TRIGGER boom BEFORE INSERT ON members_identity FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            else:
                cursor.execute("DROP TRIGGER boom ON members_identity")
        elif on:
            cursor.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON members_identity WHEN NEW.key = 'POSBOOM' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END"
            )
        else:
            cursor.execute("DROP TRIGGER boom")


def _failing_batch(world: Any, hq: Any, tmp_path: Path) -> None:
    rows = "".join(f"1390000{i:04d},顾客{i},,,,,,,{'POSBOOM' if i == 4 else ''},,\n" for i in range(1, 7))
    path = _csv(tmp_path, rows)
    before = Customer.objects.filter(brand=world.brand).count()
    _boom_trigger(True)
    with pytest.raises(importer.ImportFailed, match=r"lines 4–5 .*rolled back, 2 rows before"):
        importer.import_members(hq, path, dry_run=False, batch_size=2)
    # batch 1 (lines 2–3) applied; batch 2 (lines 4–5, the customer of line 4 included) not at all
    assert Customer.objects.filter(brand=world.brand).count() == before + 2
    assert not Customer.objects.filter(phone_hash=privacy.lookup_hash("13900000003")).exists()
    run = ImportRun.objects.latest("id")
    assert run.status == "failed" and run.rows_added == 2 and "rolled back" in run.message
    _boom_trigger(False)
    report = importer.import_members(hq, path, dry_run=False, batch_size=2)
    assert (report.rows_added, report.rows_unchanged) == (4, 2)
    assert Customer.objects.filter(brand=world.brand).count() == before + 6


def test_a_failing_batch_is_rolled_back_whole_and_a_rerun_continues(world: Any, hq: Any, tmp_path: Path) -> None:
    _failing_batch(world, hq, tmp_path)


def test_excel_files_are_read(world: Any, hq: Any, tags: Any, tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["phone", "name", "store_code", "guide", "birthday", "tags"])
    sheet.append([13900000021, "李一", "SH001", "chen.guide", dt.datetime(1991, 2, 3), "瑜伽"])
    sheet.append(["139000000", "李二", "SH001", None, None, None])
    path = tmp_path / "members.xlsx"
    book.save(path)
    dry = importer.import_members(hq, path, dry_run=True)
    assert [(e.line, e.column) for e in dry.errors] == [(3, "phone")]
    report = importer.import_members(hq, path, dry_run=False, skip_bad=True)
    assert report.rows_added == 1
    c = Customer.objects.get(brand=world.brand, phone_hash=privacy.lookup_hash("13900000021"))
    assert str(c.birthday) == "1991-02-03" and c.guide_id == world.staff["guide_a"].pk


def test_a_gbk_csv_is_read_with_a_notice(world: Any, hq: Any, tmp_path: Path) -> None:
    path = _csv(tmp_path, "13900000031,张三,男,,SH001,,,,,,\n", encoding="gbk")
    report = importer.import_members(hq, path, dry_run=False)
    assert report.rows_added == 1 and any("GBK" in n for n in report.notices)
    c = Customer.objects.get(brand=world.brand, phone_hash=privacy.lookup_hash("13900000031"))
    assert privacy.unseal(c.name_sealed) == "张三"


def test_unreadable_files_fail_clearly(world: Any, hq: Any, tmp_path: Path) -> None:
    no_phone = tmp_path / "a.csv"
    no_phone.write_text("name,store\n张三,SH001\n")
    with pytest.raises(importer.ImportFailed, match="No phone column"):
        importer.import_members(hq, no_phone)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x00phone\n")
    with pytest.raises(importer.ImportFailed, match="neither UTF-8 nor GBK"):
        importer.import_members(hq, binary)
    xls = tmp_path / "c.xls"
    xls.write_bytes(b"old")
    with pytest.raises(importer.ImportFailed, match=r"\.xlsx"):
        importer.import_members(hq, xls)
    assert ImportRun.objects.filter(status="failed").count() == 3


def test_only_holders_of_members_import_may_import(world: Any, scope_of: Any, tmp_path: Path) -> None:
    path = _csv(tmp_path, GOOD)
    for who in ("region_manager", "store_manager", "guide_a"):
        with pytest.raises(PermissionDenied):
            importer.import_members(scope_of(world.staff[who]), path, dry_run=False)
    assert not ImportRun.objects.exists()


# --- Large files: the check in a worker process, and the SQLite bulk path (ADR 0008, amendment) ----------
@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> None:
    """Any file takes the large-file paths: the thresholds that keep them to large files, lowered."""
    if connection.vendor != "sqlite":
        pytest.skip("the bulk path is SQLite's")
    settings.SIYU_HOME = tmp_path / "home"
    monkeypatch.setattr(importer, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(importer, "BULK_TABLE_RATIO", 1_000)
    monkeypatch.setattr(importer, "WORKER_MIN_ROWS", 1)
    monkeypatch.setattr(importer, "BUILT_BY_WORKER", 2)  # batches built on both sides of the pipe


def _indexes() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'members_%'")
        return set(cursor.fetchall())


def test_a_bulk_import_writes_what_the_batches_write_and_a_rerun_changes_nothing(
    world: Any, hq: Any, tags: Any, tmp_path: Path, bulk: None
) -> None:
    path = _csv(tmp_path, GOOD + BAD)
    before, indexes = _counts(world.brand), _indexes()
    report = importer.import_members(hq, path, dry_run=False, skip_bad=True, batch_size=2)
    assert report.bulk and (report.status, report.rows_added, report.rows_unchanged, report.rows_bad) == (
        "done",
        3,
        0,
        7,
    )
    assert {(e.line, e.column) for e in report.errors} >= {(5, "手机号"), (10, "手机号"), (11, "标签")}
    after = _counts(world.brand)
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (3, 5, 2, 3, 2)
    assert _indexes() == indexes  # dropped and built again, the same

    _the_good_rows_are_customers(world, hq, tags)

    again = importer.import_members(hq, path, dry_run=False, skip_bad=True)
    assert again.bulk and (again.rows_added, again.rows_unchanged) == (0, 3)
    assert _counts(world.brand) == after and _indexes() == indexes


def _boom_on_customer(phone: str | None) -> None:
    with connection.cursor() as cursor:
        if phone is None:
            cursor.execute("DROP TRIGGER boom_customer")
            return
        cursor.execute(
            "CREATE TRIGGER boom_customer BEFORE INSERT ON members_customer "
            f"WHEN NEW.phone_hash = '{privacy.lookup_hash(phone)}' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )


def test_a_bulk_import_that_fails_midway_applies_nothing_and_leaves_every_index_in_place(
    world: Any, hq: Any, tmp_path: Path, bulk: None
) -> None:
    path = _csv(tmp_path, "".join(f"1390000{i:04d},顾客{i},,,SH001,,,,POS{i},yes,\n" for i in range(1, 8)))
    before, indexes = _counts(world.brand), _indexes()
    _boom_on_customer("13900000004")  # line 5, in the second batch of two
    with pytest.raises(importer.ImportFailed, match=r"lines 4–5 .*nothing of it was applied"):
        importer.import_members(hq, path, dry_run=False, batch_size=2)
    assert _counts(world.brand) == before  # the first batch too was rolled back
    assert _indexes() == indexes
    run = ImportRun.objects.latest("id")
    assert (run.status, run.rows_added, run.rows_done) == ("failed", 0, 0) and "one transaction" in run.message
    assert importer.progress_of(run) == (run.rows_total, 0)  # no progress file left behind
    _boom_on_customer(None)

    report = importer.import_members(hq, path, dry_run=False, batch_size=2)
    assert report.bulk and (report.rows_added, report.rows_unchanged) == (7, 0)
    assert _counts(world.brand)[:3] == (before[0] + 7, before[1] + 14, before[2] + 7)
    assert _indexes() == indexes


def test_a_bulk_run_with_bad_rows_is_refused_after_reporting_every_bad_row(
    world: Any, hq: Any, tags: Any, tmp_path: Path, bulk: None
) -> None:
    path = _csv(tmp_path, GOOD + BAD)
    before, indexes = _counts(world.brand), _indexes()
    report = importer.import_members(hq, path, dry_run=False, batch_size=2)
    assert report.refused and report.status == "failed" and "7 bad rows" in report.message
    assert {e.line for e in report.errors} == {5, 6, 7, 8, 9, 10, 11}
    assert (report.rows_added, report.rows_unchanged) == (0, 0)
    assert _counts(world.brand) == before and _indexes() == indexes


def test_progress_of_a_bulk_import_can_be_read_before_its_commit(
    world: Any, hq: Any, tmp_path: Path, bulk: None
) -> None:
    path = _csv(tmp_path, "".join(f"1390000{i:04d},顾客{i},,,,,,,,,\n" for i in range(1, 6)))
    seen: list[tuple[int, int]] = []

    def step(phase: str, done: int, total: int | None) -> None:
        if phase == "import":
            seen.append(importer.progress_of(ImportRun.objects.latest("id")))

    importer.import_members(hq, path, dry_run=False, batch_size=2, progress=step)
    assert seen == [(2, 2), (4, 4), (5, 5)]
    run = ImportRun.objects.latest("id")
    assert (run.status, run.rows_done) == ("done", 5) and importer.progress_of(run) == (5, 5)
    assert not list((tmp_path / "home" / "imports").glob("*.progress"))


def test_the_check_of_a_large_file_runs_in_a_worker_process(
    world: Any, hq: Any, tags: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    path = _csv(tmp_path, GOOD + BAD)
    inline = importer.import_members(hq, path, dry_run=True)
    monkeypatch.setattr(importer, "WORKER_MIN_ROWS", 1)
    workers: list[int] = []
    report = importer.import_members(
        hq, path, dry_run=True, batch_size=2, progress=lambda *_: workers.append(len(multiprocessing.active_children()))
    )
    assert workers and max(workers) == 1  # the check ran beside this process
    assert report.errors == inline.errors
    assert (report.rows_total, report.rows_bad, report.rows_added) == (10, 7, 3)

    broken = _csv(tmp_path, GOOD + "13900000099," + "x" * 200_000 + "\n", name="broken.csv")
    with pytest.raises(importer.ImportFailed, match="Line 5 is not valid CSV"):
        importer.import_members(hq, broken, dry_run=True)
    assert not multiprocessing.active_children()


def test_the_importers_sealing_and_hashing_are_privacys() -> None:
    for value in ("13812345678", "张小雨", ""):
        assert privacy.hasher()(value) == privacy.lookup_hash(value)
    sealed = privacy.batch_sealer()(["13812345678", "", "13812345678"])
    assert [privacy.unseal(s) for s in sealed] == ["13812345678", "", "13812345678"]
    assert sealed[1] == "" and sealed[0] != sealed[2]  # a nonce of its own for each value


@pytest.mark.postgres
def test_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The same import on PostgreSQL (ids from nextval ranges): run this module there with
    ``DATABASE_URL=postgres://... pytest tests/test_members_import.py``."""
    if connection.vendor != "postgresql":
        pytest.skip("this module runs on PostgreSQL when DATABASE_URL points at it")
