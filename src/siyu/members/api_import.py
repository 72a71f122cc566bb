"""REST endpoints of member imports: ``POST /imports`` (a multipart file, ``dry_run`` true by
default) and ``GET /imports/{id}`` (status, counts and the first 1,000 bad rows). A small file is
processed before the answer; a large one runs as a job and ``GET`` shows its progress."""

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile

from siyu.members import importer
from siyu.members.models import ImportRun
from siyu.org.services import Perm
from siyu.platform.api import Status, answers, created, current_scope, requires

router = Router()


class BadRowOut(Schema):
    line: int = Field(description="The line in the file as a person sees it (the header is line 1).")
    column: str = Field(description="The column's header as written in the file.")
    reason: str


class ImportRunOut(Schema):
    id: int
    file_name: str
    file_sha256: str
    dry_run: bool
    skip_bad: bool
    status: str = Field(description="checked (a dry run), running, done or failed.")
    rows_total: int
    rows_added: int = Field(description="Added; for a dry run: would be added.")
    rows_unchanged: int = Field(description="Rows whose phone, unionid or member card is already a customer's.")
    rows_bad: int
    rows_done: int = Field(description="Progress of a running import.")
    errors: list[BadRowOut] = Field(description="The first 1,000 bad rows.")
    notices: list[str]
    message: str
    started_at: dt.datetime
    finished_at: dt.datetime | None


def _out(run: ImportRun) -> dict[str, Any]:
    total, done = importer.progress_of(run)
    return {
        **{f: getattr(run, f) for f in ImportRunOut.model_fields if f != "errors"},
        "rows_total": total,
        "rows_done": done,
        "errors": [{"line": e.line, "column": e.column, "reason": e.reason} for e in importer.bad_rows(run)],
    }


@router.post(
    "/imports",
    response=answers(ImportRunOut, 201),
    summary="Import members from a file",
    description="Upload a CSV (UTF-8 or GBK) or .xlsx file as multipart field `file`. `dry_run` (default true) "
    "checks every row and changes nothing; a real run refuses a file with bad rows unless `skip_bad`. "
    "Re-importing the same file changes nothing.",
    tags=["imports"],
)
@requires(Perm.MEMBERS_IMPORT)
def import_create(
    request: HttpRequest,
    file: UploadedFile | None = File(None),  # noqa: B008  (django-ninja's way to declare a parameter)
    dry_run: Form[bool] = True,
    skip_bad: Form[bool] = False,
) -> "Status[dict[str, Any]]":
    scope = current_scope(request)
    if file is None:
        raise ValidationError({"file": _("Send the file as the multipart field 'file'.")})
    if Path(file.name or "").suffix.lower() not in {".csv", ".txt", ".xlsx"}:
        raise ValidationError({"file": _("Choose a .csv or .xlsx file.")})
    stored, sha = importer.store_upload(file.chunks(), file.name or "members.csv")
    run = importer.start_run(scope, file_name=file.name or stored.name, sha256=sha, dry_run=dry_run, skip_bad=skip_bad)
    importer.process(scope, run, stored)
    return created(_out(run))


@router.get(
    "/imports/{run_id}",
    response=answers(ImportRunOut),
    summary="Get an import run",
    tags=["imports"],
)
@requires(Perm.MEMBERS_IMPORT)
def import_detail(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _out(importer.get_run(current_scope(request), run_id))
