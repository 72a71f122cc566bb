"""The import's surfaces: the HQ page flow (upload, dry-run report, confirm), the API, the CLI and
the background job for large files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.members import importer
from siyu.members.models import Customer, ImportRun
from siyu.platform import privacy

CSV = (
    "phone,name,store_code,guide\n"
    "13900000101,甲,SH001,chen.guide\n"
    "13900000102,乙,SH002,\n"
    "123,坏,SH001,\n"  # line 4: bad phone
)


@pytest.fixture(autouse=True)
def _home(settings: Any, tmp_path: Path) -> Iterator[None]:
    from django.utils import translation

    settings.SIYU_HOME = tmp_path / "home"
    with translation.override("en"):
        yield


def _customers(world: Any) -> int:
    return Customer.objects.filter(brand=world.brand).count()


def test_the_hq_page_checks_shows_bad_rows_then_imports_on_confirmation(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    before = _customers(world)
    response = client.post(
        reverse("hq:import_list"), {"file": SimpleUploadedFile("crm.csv", CSV.encode("utf-8-sig"))}, follow=True
    )
    assert response.status_code == 200
    assert _customers(world) == before  # the check changes nothing
    html = response.content.decode()
    assert "crm.csv" in html and 'id="import-errors"' in html and "“123”" in html and 'id="import-confirm"' in html
    checked = ImportRun.objects.get()
    assert checked.status == "checked" and (checked.rows_added, checked.rows_bad) == (2, 1)
    assert importer.stored_path(checked.file_sha256, "crm.csv").exists()

    confirm = reverse("hq:import_confirm", args=[checked.pk])
    response = client.post(confirm, {"skip_bad": "1"}, follow=True)
    assert response.status_code == 200 and _customers(world) == before + 2
    run = ImportRun.objects.latest("id")
    assert (run.dry_run, run.skip_bad, run.status, run.rows_added) == (False, True, "done", 2)

    client.post(confirm, {"skip_bad": "1"})  # the same file again: nothing changes
    assert _customers(world) == before + 2 and ImportRun.objects.latest("id").rows_unchanged == 2
    listing = client.get(reverse("hq:import_list")).content.decode()
    assert listing.count(">crm.csv<") == 3  # three runs in the history


def test_without_skip_bad_the_confirmed_run_is_refused(world: Any) -> None:
    client = world.login(Client(), "hq_admin")
    client.post(reverse("hq:import_list"), {"file": SimpleUploadedFile("crm.csv", CSV.encode())})
    before = _customers(world)
    response = client.post(reverse("hq:import_confirm", args=[ImportRun.objects.get().pk]), follow=True)
    refused = ImportRun.objects.latest("id")
    assert (refused.status, refused.rows_added, bool(refused.message)) == ("failed", 0, True)
    assert _customers(world) == before
    assert 'role="alert"' in response.content.decode()


def test_the_upload_form_refuses_other_files(world: Any) -> None:
    client = world.login(Client(), "hq_admin")
    response = client.post(reverse("hq:import_list"), {"file": SimpleUploadedFile("a.pdf", b"%PDF")})
    assert response.status_code == 400 and 'class="field-error"' in response.content.decode()
    assert not ImportRun.objects.exists()


def test_a_large_file_runs_as_a_job(world: Any, monkeypatch: Any) -> None:
    from siyu.platform.jobs import huey

    monkeypatch.setattr(importer, "INLINE_BYTES", 10)
    monkeypatch.setattr(huey, "immediate", True)
    client = world.login(Client(), "hq_admin")
    client.post(reverse("hq:import_list"), {"file": SimpleUploadedFile("crm.csv", CSV.encode())})
    assert ImportRun.objects.get().status == "checked"


def test_the_api_checks_and_imports_an_upload(world: Any) -> None:
    client = world.login(Client(), "hq_admin")
    url = reverse("api:import_create")
    before = _customers(world)
    answer = client.post(url, {"file": SimpleUploadedFile("crm.csv", CSV.encode())})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["status"], body["rows_added"], body["rows_bad"]) == ("checked", 2, 1)
    assert body["errors"] == [{"line": 4, "column": "phone", "reason": body["errors"][0]["reason"]}]
    assert _customers(world) == before
    answer = client.post(url, {"file": SimpleUploadedFile("crm.csv", CSV.encode()), "dry_run": "false"})
    assert answer.json()["status"] == "failed" and _customers(world) == before
    answer = client.post(
        url, {"file": SimpleUploadedFile("crm.csv", CSV.encode()), "dry_run": "false", "skip_bad": "true"}
    )
    assert answer.json()["status"] == "done" and _customers(world) == before + 2
    detail = client.get(reverse("api:import_detail", kwargs={"run_id": answer.json()["id"]}))
    assert detail.status_code == 200 and detail.json()["rows_added"] == 2
    missing = client.post(url, {})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"


def test_the_cli_checks_reports_and_imports(world: Any, tmp_path: Path) -> None:
    from siyu.cli import main

    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    report = tmp_path / "bad.csv"
    runner = CliRunner()
    before = _customers(world)
    result = runner.invoke(
        main, ["import", "members", str(path), "--brand", world.brand.code, "--dry-run", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "1 bad, 2 would be added" in result.output and _customers(world) == before
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "line,column,reason" and lines[1].startswith("4,phone,")

    result = runner.invoke(main, ["import", "members", str(path), "--brand", world.brand.code])
    assert result.exit_code == 1 and "--skip-bad" in result.output and _customers(world) == before

    result = runner.invoke(main, ["import", "members", str(path), "--brand", world.brand.code, "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 already there, 1 bad skipped" in result.output
    assert Customer.objects.filter(phone_hash=privacy.lookup_hash("13900000101"), guide=world.staff["guide_a"]).exists()

    result = runner.invoke(main, ["import", "members", str(path), "--brand", "nope"])
    assert result.exit_code == 2 and "--brand" in result.output
