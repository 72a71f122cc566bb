"""Tabular files in and out, for every domain's import and export: no business rule here.

Reading (streamed, never the whole file in memory): :func:`open_sheet` reads a CSV file (UTF-8 —
with or without a BOM — or, failing that, GBK/GB18030 with a notice) or the first sheet of an Excel
workbook (.xlsx) into a :class:`Sheet`: its header cells and an iterator of ``(line, cells)`` where
``line`` is the line a person sees in the file (the header is line 1). :func:`map_columns` finds
the columns a domain knows by any of their names (``款号`` or ``style_code``) and reports the
ignored ones. A domain reports a bad row as a :class:`BadRow` (line, column as written, reason).

Uploads are kept by their sha256 (:func:`store_upload`), so a dry run and the real run read the very
same bytes.

Writing: :func:`xlsx_response` streams an Excel workbook (openpyxl's write-only mode) with
spreadsheet-formula cells neutralised like the CSV export (:mod:`siyu.platform.exports`).

The members import (ADR 0008) and the catalog import (ADR 0010) read their files with it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import hashlib
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.platform import clock
from siyu.platform.exports import safe_cell

SUFFIXES = frozenset({".csv", ".txt", ".xlsx"})


class SheetError(Exception):
    """The file cannot be read at all (not text, not a workbook, empty, a needed column missing);
    the message says what to do."""


@dataclass(frozen=True)
class BadRow:
    line: int  # as a person sees it in the file: the header is line 1
    column: str  # the column's header as written in the file ("" for the whole row)
    reason: str


@dataclass
class Sheet:
    headers: list[str]
    rows: Iterator[tuple[int, Sequence[Any]]]  # (line, cells)
    encoding: str  # "utf-8", "gb18030" or "xlsx"
    notices: list[str] = field(default_factory=list)
    size_hint: int = 0  # about how many rows follow the header (a CSV file's lines), 0 when unknown


def _decodes(path: Path, encoding: str) -> int | None:
    """How many line breaks the file has when it is text in ``encoding``, else ``None``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return lines


def _csv_sheet(path: Path) -> Sheet:
    notices: list[str] = []
    lines = _decodes(path, "utf-8")
    if lines is not None:
        encoding = "utf-8-sig"
    elif (lines := _decodes(path, "gb18030")) is not None:
        encoding = "gb18030"
        notices.append(_("The file is not UTF-8; it was read as GBK (GB18030). Save it as “CSV UTF-8” to be sure."))
    else:
        raise SheetError(_("The file is neither UTF-8 nor GBK text. Save it from your spreadsheet as “CSV UTF-8”."))
    f = path.open(encoding=encoding, newline="")
    reader = csv.reader(f)

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            while True:
                line = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                yield line, cells
        except csv.Error as exc:
            raise SheetError(
                _("Line %(line)s is not valid CSV (%(why)s).") % {"line": reader.line_num, "why": exc}
            ) from exc
        finally:
            f.close()

    it = rows()
    first = next(it, None)
    if first is None:
        f.close()
        raise SheetError(_("The file is empty: its first line names the columns."))
    return Sheet([str(h) for h in first[1]], it, encoding.removesuffix("-sig"), notices, max(0, lines - 1))


def excel_cell(value: Any) -> Any:
    """An Excel cell as text the way a person typed it: 12.0 -> "12", True -> "yes", dates kept."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value
    return str(value)


def _excel_sheet(path: Path) -> Sheet:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SheetError(_("The file is not a readable Excel workbook (.xlsx).")) from exc
    sheet = book.worksheets[0]

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [excel_cell(v) for v in values]
        finally:
            book.close()

    it = rows()
    first = next(it, None)
    if first is None:
        book.close()
        raise SheetError(_("The sheet is empty: its first row names the columns."))
    headers = [str(h) for h in first[1]]
    while headers and not headers[-1]:
        headers.pop()
    return Sheet(headers, it, "xlsx", [], max(0, (sheet.max_row or 0) - 1))


def open_sheet(path: Path, file_name: str | None = None) -> Sheet:
    """The file at ``path`` as a :class:`Sheet`, by the suffix of ``file_name`` (the name it was
    uploaded under) or of the path: .xlsx is a workbook, .csv/.txt (or none) text."""
    suffix = Path(file_name or path.name).suffix.lower()
    if suffix == ".xlsx":
        return _excel_sheet(path)
    if suffix in {".csv", ".txt", ""}:
        return _csv_sheet(path)
    if suffix == ".xls":
        raise SheetError(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or as CSV UTF-8."))
    raise SheetError(_("Import a .csv or .xlsx file, not %(suffix)s.") % {"suffix": suffix})


def header_key(header: Any) -> str:
    """A header compared loosely: lower case, BOM and outer spaces dropped, spaces and '-' as '_'."""
    return re.sub(r"[\s\-]+", "_", str(header).strip().lstrip("\ufeff").lower())


def map_columns(
    headers: Sequence[str], aliases: Mapping[str, Sequence[str]], required: Iterable[str] = ()
) -> tuple[dict[str, int], list[str]]:
    """Which index each known column has (``aliases``: column -> the names it may have, written as
    :func:`header_key` gives them), and the headers that were ignored. Raises :class:`SheetError`
    when two headers mean one column or a ``required`` column is missing."""
    by_alias = {header_key(a): column for column, names in aliases.items() for a in (column, *names)}
    found: dict[str, int] = {}
    ignored: list[str] = []
    for i, header in enumerate(headers):
        key = header_key(header)
        column = by_alias.get(key)
        if column is None:
            if key:
                ignored.append(str(header).strip())
            continue
        if column in found:
            raise SheetError(
                _("The columns “%(a)s” and “%(b)s” both mean %(column)s; keep one.")
                % {"a": headers[found[column]], "b": header, "column": column}
            )
        found[column] = i
    missing = [c for c in required if c not in found]
    if missing:
        raise SheetError(
            _("Columns missing: %(missing)s. The first line must name them. Columns found: %(found)s.")
            % {"missing": ", ".join(missing), "found": ", ".join(str(h) for h in headers) or "-"}
        )
    return found, ignored


def cell_reader(columns: Mapping[str, int], cells: Sequence[Any]) -> Any:
    """``cell(column)``: the stripped cell of a known column in one row, "" when absent."""
    n = len(cells)

    def cell(column: str) -> Any:
        i = columns.get(column)
        if i is None or i >= n:
            return ""
        v = cells[i]
        return v.strip() if isinstance(v, str) else v

    return cell


def blank(cells: Sequence[Any]) -> bool:
    return not any((c.strip() if isinstance(c, str) else c) for c in cells)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stored_path(folder: Path, sha256: str, file_name: str) -> Path:
    """Where an upload is kept: ``<folder>/<sha256><suffix>`` (.csv unless .txt or .xlsx)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256")
    suffix = Path(file_name).suffix.lower()
    return folder / f"{sha256}{suffix if suffix in SUFFIXES else '.csv'}"


def store_upload(
    chunks: Iterable[bytes], file_name: str, folder: Path, *, max_bytes: int | None = None
) -> tuple[Path, str]:
    """Keep an uploaded file in ``folder`` under its sha256 (the same file uploaded twice is kept
    once). Raises :class:`SheetError` past ``max_bytes``."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    tmp = folder / f".upload-{clock.now().timestamp():.6f}"
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise SheetError(
                        _("The file is larger than %(mb)s MB; split it.") % {"mb": max_bytes // (1024 * 1024)}
                    )
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        final = stored_path(folder, sha, file_name)
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)
    return final, sha


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """One cell of a write-only sheet: numbers stay numbers (a ``Decimal`` amount shows two
    decimals), dates and datetimes stay dates (an aware datetime in local time: Excel knows no time
    zones), anything else is text with a would-be formula neutralised."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, decimal.Decimal):
            cell.number_format = "0.00"
        return cell
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
        cell = WriteOnlyCell(sheet, value=local)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return WriteOnlyCell(sheet, value=safe_cell(value))


def write_xlsx(out: Any, header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1") -> None:
    """Write one sheet (a bold header row that stays in view, then ``rows``) to a path or a binary
    file object, in openpyxl's write-only mode (rows stream). Text that a spreadsheet would read as a
    formula is neutralised; numbers, amounts and dates keep their type (:func:`_xlsx_cell`)."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heads = []
    for h in header:
        c = WriteOnlyCell(sheet, value=safe_cell(h))
        c.font = bold
        heads.append(c)
    sheet.append(heads)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    book.save(out)


def xlsx_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1"
) -> FileResponse:
    """An Excel download. The workbook is built in a temporary file (spooled to disk past 8 MB), so
    a large export does not sit in memory."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    write_xlsx(spool, header, rows, title=title)
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
