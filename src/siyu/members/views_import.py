"""HQ pages of member imports: upload a file and see its dry-run report (bad rows with line, column
and reason), confirm the real run of the same file (kept under ``SIYU_HOME/imports/`` by its
sha256), follow its progress, and the history of runs.

Small files run inline; larger ones run as a job (``siyu worker``) and the run's page shows the
progress its batches commit."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from siyu.members import importer
from siyu.members.models import ImportRun
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate

SHOWN_ERRORS = 200


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (UTF-8 or GBK) or Excel .xlsx; the first line names the columns: phone, name, gender, birthday, "
            "store_code, guide, tier, tags, joined_at, unionid, pos_card, consent_sms, consent_wecom "
            "(or 手机号, 姓名, 门店编码, 导购 …)."
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        if suffix not in {".csv", ".txt", ".xlsx"}:
            raise forms.ValidationError(_("Choose a .csv or .xlsx file."))
        return upload


def _launch(request: HttpRequest, run: ImportRun, path: Path) -> HttpResponseBase:
    """Run inline when the file is small, else queue it; then show the run."""
    if importer.process(require_scope(request), run, path):
        messages.info(request, _("The file is large: it is being processed in the background."))
    return redirect("hq:import_detail", pk=run.pk)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_IMPORT)
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponseBase:
    scope = require_scope(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        stored, sha = importer.store_upload(upload.chunks(), upload.name)
        run = importer.start_run(scope, file_name=upload.name, sha256=sha, dry_run=True)
        return _launch(request, run, stored)
    page = paginate(request, importer.visible_runs(scope), 20)
    status = 400 if request.method == "POST" else 200
    return render(request, "members/import/list.html", {"form": form, "page": page}, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_IMPORT)
@require_http_methods(["GET"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    run = importer.get_run(scope, pk)
    errors = importer.bad_rows(run)
    total, done = importer.progress_of(run)  # a bulk import's progress is not committed until its end
    context = {
        "run": run,
        "errors": errors[:SHOWN_ERRORS],
        "more_errors": max(0, run.rows_bad and len(errors) - SHOWN_ERRORS),
        "file_kept": importer.stored_path(run.file_sha256, run.file_name).exists(),
        "running": run.status == ImportRun.Status.RUNNING,
        "done": done,
        "total": total,
        "percent": int(100 * done / total) if total else 0,
    }
    return render(request, "members/import/detail.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_IMPORT)
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Import the file of a checked run for real (``skip_bad`` when asked)."""
    scope = require_scope(request)
    checked = importer.get_run(scope, pk)
    stored = importer.stored_path(checked.file_sha256, checked.file_name)
    if not stored.exists():
        messages.error(request, _("The uploaded file is no longer kept; upload it again."))
        return redirect("hq:import_list")
    skip_bad = request.POST.get("skip_bad") in {"1", "on", "true"}
    run = importer.start_run(
        scope, file_name=checked.file_name, sha256=checked.file_sha256, dry_run=False, skip_bad=skip_bad
    )
    return _launch(request, run, stored)


hq_urlpatterns = [
    path("customers/imports/", import_list, name="import_list"),
    path("customers/imports/<int:pk>/", import_detail, name="import_detail"),
    path("customers/imports/<int:pk>/confirm/", import_confirm, name="import_confirm"),
]
