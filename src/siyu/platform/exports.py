"""CSV exports, streamed row by row so a large export never sits in memory (Excel:
:func:`siyu.platform.sheets.xlsx_response`).

Callers pass rows they already scoped (through :func:`siyu.platform.tenancy.restrict` or a domain
service) and masked; this module only writes them safely: a text cell that a spreadsheet would
read as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) is prefixed with an
apostrophe; a plain number such as ``-12.50`` is left as it is.

Cells may be text, whole numbers, ``Decimal`` amounts, dates and aware datetimes; a datetime is
written as ISO 8601 to the minute with its offset.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

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
