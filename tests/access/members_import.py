"""Who may use the member-import pages and API (see ``tests/access/model.py``): HQ only
(``members.import``: the HQ admin and the HQ operator)."""

from __future__ import annotations

from typing import Any

from siyu.org.rules import Perm
from tests.access.model import HQ, Rule, World

CSV = "phone,name,store_code\n13900009001,矩阵顾客,SH001\n"


def _upload() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("matrix.csv", CSV.encode(), content_type="text/csv")


def _checked_run(w: World) -> Any:
    """A dry run of a kept file, as the upload page leaves it."""
    from siyu.members import importer
    from siyu.org import services

    scope = services.hq_scope(w.brand.pk, "matrix setup")
    stored, sha = importer.store_upload([CSV.encode()], "matrix.csv")
    run = importer.start_run(scope, file_name="matrix.csv", sha256=sha, dry_run=True)
    importer.process(scope, run, stored)
    return run


def run_pk(w: World) -> dict[str, Any]:
    return {"pk": _checked_run(w).pk}


def run_id(w: World) -> dict[str, Any]:
    return {"run_id": _checked_run(w).pk}


RULES: dict[tuple[str, str], Rule] = {
    ("hq:import_list", "GET"): Rule(HQ),
    ("hq:import_list", "POST"): Rule(HQ, data=lambda w: {"file": _upload()}, ok=302),
    ("hq:import_detail", "GET"): Rule(HQ, kwargs=run_pk),
    ("hq:import_confirm", "POST"): Rule(HQ, kwargs=run_pk, data=lambda w: {}, ok=302),
    # The matrix sends JSON; the upload is multipart, so an allowed caller hears 422 ("send the file
    # as the multipart field 'file'"), everyone else 401/403. tests/test_members_import_surfaces.py
    # uploads for real. Tokens cannot be granted members.import.
    ("api:import_create", "POST"): Rule(HQ, ok=422, token_perm=Perm.MEMBERS_IMPORT),
    ("api:import_detail", "GET"): Rule(HQ, kwargs=run_id, token_perm=Perm.MEMBERS_IMPORT),
}
