"""The customer-list search the ``member-search`` benchmark times: by phone, and by tag + store,
first page, newest first, scoped and masked — on customers seeded by the importer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siyu.bench.workloads.members import first_page, write_members_csv
from siyu.members import importer


@pytest.fixture
def seeded(world: Any, tmp_path: Path) -> dict[str, Any]:
    from siyu.members import profile

    hq = world.staff["hq_admin"].scope
    group = profile.create_tag_group(hq, name="兴趣")
    run = profile.create_tag(hq, group=group, name="跑步")
    rows = ["phone,name,store_code,guide,tags,joined_at"]
    for i in range(60):
        store, guide = (("SH001", "chen.guide"), ("SH002", "sun.guide"))[i % 2]
        tags = "兴趣:跑步" if i % 3 == 0 else ""
        rows.append(f"1390001{i:04d},顾客{i},{store},{guide},{tags},2025-01-{1 + i % 28:02d} 10:{i:02d}")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = importer.import_members(hq, path, dry_run=False)
    assert report.rows_added == 60
    return {"hq": hq, "tag": run}


def test_search_by_phone_finds_exactly_her_masked_for_hq(world: Any, seeded: dict[str, Any]) -> None:
    rows = first_page(seeded["hq"], phone="13900010007")
    assert len(rows) == 1 and rows[0].phone == "139****0007" and rows[0].masked
    assert first_page(seeded["hq"], phone="13900019999") == []


def test_filter_by_tag_and_store_gives_the_first_page_newest_first(world: Any, seeded: dict[str, Any]) -> None:
    rows = first_page(seeded["hq"], store_id=world.flagship.pk, tag_id=seeded["tag"].pk)
    expected = [i for i in range(60) if i % 2 == 0 and i % 3 == 0]  # SH001 and tagged
    assert len(rows) == len(expected)
    assert all(r.store_id == world.flagship.pk for r in rows)
    assert [r.joined_at for r in rows] == sorted((r.joined_at for r in rows), reverse=True)


def test_the_search_keeps_to_the_viewers_reach(world: Any, seeded: dict[str, Any], scope_of: Any) -> None:
    manager = scope_of(world.staff["store_manager"])  # SH001
    assert first_page(manager, store_id=world.sh2.pk, tag_id=seeded["tag"].pk) == []
    assert first_page(manager, phone="13900010001") == []  # a customer of SH002
    own = first_page(scope_of(world.staff["guide_a"]), phone="13900010000")
    assert len(own) == 1 and own[0].phone == "13900010000" and not own[0].masked


def test_the_benchmark_file_imports_cleanly(world: Any, tmp_path: Path) -> None:
    from siyu.bench.workloads.members import Brand

    brand = Brand(world.brand.pk, [("SH001", ["chen.guide", "liu.guide"]), ("GZ001", ["he.guide"])], [])
    path = tmp_path / "bench.csv"
    write_members_csv(path, 500, brand)
    write_members_csv(tmp_path / "again.csv", 500, brand)
    assert path.read_bytes() == (tmp_path / "again.csv").read_bytes()  # deterministic
    text = path.read_text(encoding="utf-8").replace("兴趣:", "").replace("价值:", "")
    stripped = tmp_path / "no_tags.csv"  # the world has no tag groups: drop the tags column's values
    stripped.write_text(
        "\n".join(",".join([*cells[:7], "", *cells[8:]]) for cells in (line.split(",") for line in text.splitlines()))
        + "\n",
        encoding="utf-8",
    )
    report = importer.import_members(world.staff["hq_admin"].scope, stripped, dry_run=True)
    assert (report.rows_total, report.rows_bad) == (500, 0)
