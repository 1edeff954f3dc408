"""Spreadsheet exports: CSV (streamed) and XLSX, with formula injection neutralised everywhere.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula, so an applicant who writes ``=HYPERLINK(...)`` in a field
could make a clerk's Excel run it. Following OWASP's "CSV Injection" guidance (and ASVS
1.2.10), every *text* value starting with one of those characters, or with NUL, a line feed,
or the full-width forms of ``= + - @`` (U+FF1D, U+FF0B, U+FF0D, U+FF20) that some
spreadsheets fold to them, gets a leading apostrophe: ``=1+1`` is exported as ``'=1+1``, in
the CSV and in the XLSX alike (the same content in both, which stays safe if the XLSX is later
saved as CSV). Headers are text too.

Values typed as numbers stay numbers (``-5`` as an ``int`` is exported as the number -5), since
a number cannot carry a formula; the text ``"-5"`` is neutralised. In the XLSX every text cell
is written with ``write_string`` (never ``write()``, never a formula), and the workbook is
opened with ``strings_to_formulas`` and ``strings_to_numbers`` off.

Rows are ``headers`` (a sequence of labels) plus an iterable of rows, each an iterable of cells:
``str``, ``int``, ``float``, ``Decimal``, ``bool``, ``date``, ``datetime``, ``None`` or anything
with a ``str()`` (lazy translations included).

``csv_stream`` is a generator of bytes for ``StreamingHttpResponse``; ``xlsx_write`` writes a
workbook to a file object with XlsxWriter's constant-memory mode (rows go to a temporary file,
not to memory), e.g. a ``tempfile.TemporaryFile`` handed to ``FileResponse``.
"""

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

import xlsxwriter
from django.utils import timezone
from django.utils.translation import gettext as _


FORMULA_TRIGGERS = (
    *("=", "+", "-", "@", "\t", "\r", "\n", "\x00"),
    *("\uff1d", "\uff0b", "\uff0d", "\uff20"),  # full-width = + - @
)
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CSV_ROWS_PER_CHUNK = 200
_XLSX_MAX_TEXT = 32_767  # Excel's limit per cell
_XLSX_EXACT_INTEGER = 2**53  # Excel stores numbers as doubles
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def neutralise(text: str) -> str:
    """The text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _yes_no(value: bool) -> str:
    return _("oui") if value else _("non")


def _local(value: dt.datetime) -> dt.datetime:
    """Local wall-clock time without tzinfo (spreadsheets have no time zones)."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def csv_cell(value: Any) -> str:
    """A value as the text of a CSV cell, neutralised; French number and date formats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _yes_no(value)
    if _is_number(value):
        return str(value) if isinstance(value, int) else str(value).replace(".", ",")
    if isinstance(value, dt.datetime):
        return _local(value).strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return neutralise(str(value))


class _Echo:
    """A file-like object whose ``write`` returns what it was given (for ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


def csv_stream(headers: Sequence[Any], rows: Iterable[Iterable[Any]]) -> Iterator[bytes]:
    """The CSV file, in chunks: UTF-8 with BOM, ``;`` separated, CRLF line ends (French Excel
    opens it directly). Rows are read lazily, so a queryset ``.iterator()`` streams through."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield ("\ufeff" + writer.writerow([neutralise(str(h)) for h in headers])).encode()
    chunk: list[str] = []
    for row in rows:
        chunk.append(writer.writerow([csv_cell(value) for value in row]))
        if len(chunk) >= _CSV_ROWS_PER_CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def csv_bytes(headers: Sequence[Any], rows: Iterable[Iterable[Any]]) -> bytes:
    return b"".join(csv_stream(headers, rows))


def _sheet_name(name: str) -> str:
    name = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip("' ")
    return name[:31] or "Feuille 1"


def xlsx_write(
    output: IO[bytes],
    headers: Sequence[Any],
    rows: Iterable[Iterable[Any]],
    *,
    sheet_name: str = "Export",
) -> None:
    """Write an XLSX workbook of one sheet to ``output``: a bold, frozen header row and one
    row per item. Text cells are strings (neutralised, never formulas); numbers, dates and
    datetimes keep their types."""
    workbook = xlsxwriter.Workbook(
        output,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "default_date_format": "dd/mm/yyyy",
        },
    )
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    datetime_format = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
    sheet = workbook.add_worksheet(_sheet_name(sheet_name))
    sheet.freeze_panes(1, 0)
    for col, header in enumerate(headers):
        sheet.write_string(0, col, neutralise(str(header))[:_XLSX_MAX_TEXT], bold)
        sheet.set_column(col, col, max(12, min(40, len(str(header)) + 2)))
    for row_number, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_string(row_number, col, _yes_no(value))
            elif _is_number(value) and abs(value) < _XLSX_EXACT_INTEGER:
                sheet.write_number(row_number, col, float(value))
            elif _is_number(value):  # beyond a double's precision: keep every digit as text
                sheet.write_string(row_number, col, str(value))
            elif isinstance(value, dt.datetime):
                sheet.write_datetime(row_number, col, _local(value), datetime_format)
            elif isinstance(value, dt.date):
                sheet.write_datetime(row_number, col, value, date_format)
            else:
                sheet.write_string(row_number, col, neutralise(str(value))[:_XLSX_MAX_TEXT])
    workbook.close()


def xlsx_bytes(
    headers: Sequence[Any], rows: Iterable[Iterable[Any]], *, sheet_name: str = "Export"
) -> bytes:
    """The XLSX workbook in memory (small exports and tests; prefer ``xlsx_write`` to a
    temporary file for large ones)."""
    out = io.BytesIO()
    xlsx_write(out, headers, rows, sheet_name=sheet_name)
    return out.getvalue()
