"""CSV and Excel exports, written row by row so a large export never sits in memory.

Callers pass rows they already scoped (through :func:`siyu.platform.tenancy.restrict` or a domain
service) and masked; this module only writes them safely: a text cell that a spreadsheet would
read as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) is prefixed with an
apostrophe; a plain number such as ``-12.50`` is left as it is.

Cells may be text, whole numbers, ``Decimal`` amounts, dates and aware datetimes: CSV writes a
datetime as ISO 8601 to the minute with its offset; Excel (which knows no time zones) gets the
local time of ``TIME_ZONE``, a ``Decimal`` as a number with two decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class _Echo:
    def write(self, value: str) -> str:
        return value


def safe_cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat(timespec="minutes")
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    """A streamed CSV download (UTF-8 with BOM, so spreadsheet programs read Chinese correctly)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([safe_cell(h) for h in header])
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL_BYTES = 8 << 20  # a workbook up to 8 MB is assembled in memory, a larger one in a temporary file


def _xlsx_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, int | decimal.Decimal | dt.date):
        return value
    return str(value)


def xlsx_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet1"
) -> FileResponse:
    """An Excel download (.xlsx) of ``rows``, written with openpyxl's write-only workbook: rows go
    to disk as they come (memory stays flat however many there are), then the file is streamed.

    Text is written as a text cell, never a formula (so no apostrophe is needed: ``=1+1`` shows as
    typed); the header row is bold and stays in view."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for title in header:
        cell = WriteOnlyCell(ws, value=str(title))
        cell.data_type, cell.font = "s", bold
        head.append(cell)
    ws.append(head)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=_xlsx_value(value))
            if isinstance(value, decimal.Decimal):
                cell.number_format = "0.00"
            elif isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(cell.value, str):
                cell.data_type = "s"  # text stays text: openpyxl would make a leading "=" a formula
            cells.append(cell)
        ws.append(cells)
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115  (FileResponse closes it)
    book.save(out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=XLSX)
