"""HQ pages of catalog imports (``/hq/catalog/imports/``): upload a file of products or store
prices and see its dry-run report (every bad row with line, column and reason; what would be
created, updated, left unchanged), confirm the real run of the very same file (kept by its sha256),
and the history of runs. A catalog file is small enough to run inline, whole, in one transaction."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from siyu.catalog import importer
from siyu.catalog.forms import ImportForm
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate
from siyu.platform.sheets import SheetError

SHOWN_ERRORS = 200


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def catalog_import_list(request: HttpRequest) -> HttpResponseBase:
    scope = require_scope(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            stored, _sha = importer.store_upload(scope, upload.chunks(), upload.name)
        except SheetError as exc:
            form.add_error("file", str(exc))
        else:
            report = importer.run_import(
                scope, stored, kind=form.cleaned_data["kind"], file_name=upload.name, dry_run=True
            )
            return redirect("hq:catalog_import_detail", pk=report.run_id)
    page = paginate(request, importer.visible_runs(scope), 20)
    status = 400 if request.method == "POST" else 200
    return render(request, "catalog/hq/import_list.html", {"form": form, "page": page}, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET"])
def catalog_import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    run = importer.get_run(scope, pk)
    errors = importer.bad_rows(run)
    context = {
        "run": run,
        "errors": errors[:SHOWN_ERRORS],
        "more_errors": max(0, run.rows_bad and len(errors) - SHOWN_ERRORS),
        "counts": importer.count_labels(run),
        "file_kept": importer.kept_file(run).exists(),
    }
    return render(request, "catalog/hq/import_detail.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_MANAGE)
@require_POST
def catalog_import_confirm(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Import the file of a checked run for real: whole, or nothing when a row is bad."""
    scope = require_scope(request)
    checked = importer.get_run(scope, pk)
    stored = importer.kept_file(checked)
    if not stored.exists():
        messages.error(request, _("The uploaded file is no longer kept; upload it again."))
        return redirect("hq:catalog_import_list")
    report = importer.run_import(scope, stored, kind=checked.kind, file_name=checked.file_name, dry_run=False)
    if report.status == "done":
        messages.success(request, _("The file was imported."))
    return redirect("hq:catalog_import_detail", pk=report.run_id)


hq_urlpatterns = [
    path("catalog/imports/", catalog_import_list, name="catalog_import_list"),
    path("catalog/imports/<int:pk>/", catalog_import_detail, name="catalog_import_detail"),
    path("catalog/imports/<int:pk>/confirm/", catalog_import_confirm, name="catalog_import_confirm"),
]
