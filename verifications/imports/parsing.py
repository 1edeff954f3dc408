"""Reading an uploaded CSV file into an ``ImportReport``: every line validated, nothing written.

Per line, identity fields go through ``clean_identity`` and each claim through
``clean_declared``, the same rules as the forms; their French messages are reported under the
CSV column the field came from. The template's example line is refused (its reference says it
is the example). References must be unique in the file and new to the institution (checked
with one query per block of lines, never one per line).

The file is streamed, never held whole: it is read from its bytes, its path or an open binary
file in chunks (a first pass checks its encoding, a second reads its lines), validated line by
line, and handed on in blocks of valid rows (``import_blocks``), which the preview counts and
the import stores. What stays in memory for the whole file is one small entry per reference,
to find duplicates (a hash of the reference and its first line), and a bounded report.
"""

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from admissions.identity import clean_identity, tidy_name
from admissions.models import Applicant, Institution
from verifications.claims import clean_declared
from verifications.imports.columns import (
    CLAIM_COLUMNS,
    COLUMN_BY_KEY,
    EXAMPLE_REFERENCE,
    FIRST_NAME_COLUMNS,
    IDENTITY_COLUMNS,
    REQUIRED_COLUMNS,
    header_key,
)
from verifications.imports.report import (
    ROWS_KEPT,
    ImportReport,
    ImportRow,
    import_max_bytes,
    import_max_rows,
)


# References looked up per query when checking which already exist.
_EXISTING_CHUNK = 10_000
# Lines validated before their references are looked up and their rows handed on: the preview
# keeps only a line's reference and claim kinds meanwhile, the import its cleaned row.
PREVIEW_BLOCK_LINES = 10_000
# Bytes read at a time; the longest first line read to find the separator.
_READ_CHUNK = 1 << 20
_HEADER_MAX = 1 << 20
_XLSX_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Field keys of ``clean_identity`` -> the column reporting their errors (first names apart).
_IDENTITY_FIELD_COLUMN = {
    field: column for column, field in IDENTITY_COLUMNS.items() if field != "first_names"
}
# Header problems named one by one (unknown columns, duplicates), then counted; and how much of
# an unknown header cell is quoted back.
HEADER_ISSUES_SHOWN = 5
_HEADER_CELL_SHOWN = 80
# References the institution already has, named in a refusal (then counted).
_TAKEN_KEPT = 5


class _FileRefused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


Source = bytes | str | os.PathLike | IO[bytes]
ExistingLookup = Callable[[Institution, list[str]], set[str]]


@contextmanager
def _opened(source: Source) -> Iterator[IO[bytes]]:
    """A binary file positioned at its start: bytes wrapped, a path opened (and closed), an
    open file (an upload, a staged file) rewound and left open."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as binary:
            yield binary
    else:
        source.seek(0)
        yield source


def _size(binary: IO[bytes]) -> int:
    binary.seek(0, os.SEEK_END)
    size = binary.tell()
    binary.seek(0)
    return size


def _encoding(binary: IO[bytes]) -> str:
    """How the file is read, from a pass over its bytes in chunks: strict UTF-8 (BOM or not)
    first, else Windows-1252; ``_FileRefused`` otherwise."""
    head = binary.read(4)
    binary.seek(0)
    if head.startswith(_XLSX_MAGIC):
        raise _FileRefused(
            _(
                "Ce fichier est un classeur Excel, pas un fichier CSV : dans Excel, choisissez "
                "« Enregistrer sous » puis « CSV UTF-8 (délimité par des virgules) »."
            )
        )
    if head.startswith(_UTF16_BOMS):
        raise _FileRefused(
            _(
                "Ce fichier est en UTF-16 (« Texte Unicode ») : enregistrez-le au format "
                "« CSV UTF-8 » ou « CSV (séparateur : point-virgule) »."
            )
        )
    if _decodes(binary, "utf-8"):
        return "utf-8"
    offset, nul = 0, False
    decoder = codecs.getincrementaldecoder("cp1252")()
    binary.seek(0)
    while chunk := binary.read(_READ_CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise _FileRefused(
                _(
                    "Le fichier n'est ni en UTF-8 ni en Windows-1252 (octet illisible à la "
                    "position %(position)s) : enregistrez-le au format « CSV UTF-8 »."
                )
                % {"position": offset + exc.start + 1}
            ) from exc
        nul = nul or b"\x00" in chunk
        offset += len(chunk)
    if nul:
        raise _FileRefused(_("Ce fichier n'est pas un fichier texte CSV."))
    return "cp1252"


def _decodes(binary: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    binary.seek(0)
    try:
        while chunk := binary.read(_READ_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _text(binary: IO[bytes], encoding: str) -> Iterator[io.TextIOWrapper]:
    """The file's text from its start, decoded as it is read (the BOM dropped); the binary
    file is left open."""
    binary.seek(0)
    text = io.TextIOWrapper(
        binary, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )
    try:
        yield text
    finally:
        text.detach()


def _sniff_delimiter(first_line: str) -> str:
    """ ";" or ",", whichever the header line holds more of (";" when tied or absent)."""
    return "," if first_line.count(",") > first_line.count(";") else ";"


def _messages(errors: Iterable[ValidationError]) -> Iterable[tuple[ValidationError, str]]:
    for error in errors:
        message = error.message
        if error.params:
            message %= error.params
        yield error, str(message)


def _read_header(report: ImportReport, header: list[str]) -> list[str | None] | None:
    """The column name of each position (``None`` for a blank header cell), or ``None`` when
    the header is unusable (errors added to the report)."""
    names: list[str | None] = []
    seen: set[str] = set()
    unknown: list[str] = []
    duplicates: list[str] = []
    for raw in header:
        raw = raw.strip()
        if not raw:
            names.append(None)
            continue
        column = COLUMN_BY_KEY.get(header_key(raw))
        if column is None:
            unknown.append(raw)
        elif column in seen:
            duplicates.append(column)
        else:
            seen.add(column)
        names.append(column)
    # A header of 100,000 unknown columns gets a few named and a count, not 100,000 errors.
    for raw in unknown[:HEADER_ISSUES_SHOWN]:
        report.add_error(
            1,
            raw[:_HEADER_CELL_SHOWN],
            _("Colonne inconnue « %(column)s » : les colonnes sont celles du modèle.")
            % {"column": raw[:_HEADER_CELL_SHOWN]},
        )
    if len(unknown) > HEADER_ISSUES_SHOWN:
        report.add_error(
            1,
            "",
            ngettext(
                "Et %(n)s autre colonne inconnue.",
                "Et %(n)s autres colonnes inconnues.",
                len(unknown) - HEADER_ISSUES_SHOWN,
            )
            % {"n": number_format(len(unknown) - HEADER_ISSUES_SHOWN, force_grouping=True)},
        )
    for column in duplicates[:HEADER_ISSUES_SHOWN]:
        report.add_error(
            1, column, _("La colonne « %(column)s » figure deux fois.") % {"column": column}
        )
    if len(duplicates) > HEADER_ISSUES_SHOWN:
        report.add_error(
            1,
            "",
            ngettext(
                "Et %(n)s autre colonne en double.",
                "Et %(n)s autres colonnes en double.",
                len(duplicates) - HEADER_ISSUES_SHOWN,
            )
            % {"n": number_format(len(duplicates) - HEADER_ISSUES_SHOWN, force_grouping=True)},
        )
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            report.add_error(
                1,
                column,
                _("La colonne obligatoire « %(column)s » est absente de l'en-tête.")
                % {"column": column},
            )
    return None if report.errors else names


def _clean_line(
    report: ImportReport, line: int, values: Mapping[str, str]
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The cleaned identity and claims of one line (errors added to the report)."""
    identity_input: dict[str, Any] = {
        field: values.get(column, "")
        for column, field in IDENTITY_COLUMNS.items()
        if field != "first_names"
    }
    first_names = [values.get(column, "") for column in FIRST_NAME_COLUMNS]
    for position, column in enumerate(FIRST_NAME_COLUMNS[:-1]):
        if not first_names[position] and any(first_names[position + 1 :]):
            report.add_error(
                line,
                column,
                _(
                    "Ce prénom est vide alors qu'un prénom suivant est rempli : les prénoms se "
                    "suivent dans l'ordre de l'état civil."
                ),
            )
    identity_input["first_names"] = [name for name in first_names if name]
    identity: dict[str, Any] = {}
    try:
        identity = clean_identity(identity_input)
    except ValidationError as exc:
        for field, errors in exc.error_dict.items():
            for error, message in _messages(errors):
                column = _IDENTITY_FIELD_COLUMN.get(field, "")
                if field == "first_names":
                    column = _first_name_column(error, first_names)
                report.add_error(line, column, message)

    claims = []
    for kind, columns in CLAIM_COLUMNS.items():
        main_column = next(iter(columns))
        if not values.get(main_column):
            filled = [column for column in columns if values.get(column)]
            if filled:
                report.add_error(
                    line,
                    main_column,
                    _("Cette colonne est obligatoire quand %(columns)s est rempli.")
                    % {"columns": ", ".join(filled)},
                )
            continue
        declared_input = {field: values.get(column, "") for column, field in columns.items()}
        column_of = {field: column for column, field in columns.items()}
        try:
            claims.append((kind, clean_declared(kind, declared_input)))
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                for _error, message in _messages(errors):
                    report.add_error(line, column_of.get(field, main_column), message)
    return identity, claims


def _first_name_column(error: ValidationError, first_names: list[str]) -> str:
    value = (error.params or {}).get("value")
    if value is not None:
        for column, name in zip(FIRST_NAME_COLUMNS, first_names, strict=True):
            if name and value in (name, tidy_name(name)):
                return column
    return FIRST_NAME_COLUMNS[0]


def existing_references(institution: Institution, references: list[str]) -> set[str]:
    """Which of ``references`` the institution already has (one query per 10,000)."""
    # A reference holding a NUL cannot be stored (PostgreSQL refuses it in text, even in a
    # query's parameters): no applicant has it, and its line already has its own error.
    references = [reference for reference in references if "\x00" not in reference]
    existing: set[str] = set()
    for start in range(0, len(references), _EXISTING_CHUNK):
        chunk = references[start : start + _EXISTING_CHUNK]
        existing.update(
            Applicant.objects.filter(institution=institution, file_reference__in=chunk)
            .order_by()
            .values_list("file_reference", flat=True)
        )
    return existing


def parse_import(source: Source, *, institution: Institution) -> ImportReport:
    """Read and validate a whole CSV file for ``institution``; write nothing.

    ``source`` is the file's bytes, its path, or an open binary file; it is read in chunks.
    The report counts every problem and keeps the first ones by line and column (and the first
    valid lines); ``report.ok`` tells whether the file can be imported whole. Files over
    ``IMPORT_MAX_BYTES`` or with more than ``IMPORT_MAX_ROWS`` lines are refused without
    reading further.
    """
    report = ImportReport(institution_id=institution.pk, source=source)
    for _rows in import_blocks(
        source,
        institution=institution,
        report=report,
        block_lines=PREVIEW_BLOCK_LINES,
        keep_rows=False,
    ):
        pass
    return report


class _Pending:
    """A line read in the current block: its reference when it is the file's first with it
    (looked up at the block's end), whether it is valid so far, and what a valid line
    brings."""

    __slots__ = ("kinds", "line", "reference", "row", "valid")

    def __init__(
        self, line: int, reference: str, valid: bool, kinds: tuple[str, ...], row: Any
    ) -> None:
        self.line, self.reference, self.valid, self.kinds, self.row = (
            line,
            reference,
            valid,
            kinds,
            row,
        )


def import_blocks(
    source: Source,
    *,
    institution: Institution,
    report: ImportReport,
    block_lines: int,
    keep_rows: bool,
    existing: ExistingLookup | None = None,
) -> Iterator[list[ImportRow]]:
    """Validate ``source`` line by line into ``report``, and yield, every ``block_lines``
    lines, the block's valid rows (cleaned, in file order) once their references have been
    looked up (``existing``, by default ``existing_references``); ``keep_rows=False`` yields
    empty blocks and keeps only what the report counts.

    A row yielded is valid as far as the file has been read: a later line may still make the
    file invalid (a duplicate reference, too many lines), which the report says by the end.
    """
    lookup = existing or existing_references
    max_bytes, max_rows = import_max_bytes(), import_max_rows()
    with _opened(source) as binary:
        size = _size(binary)
        if size > max_bytes:
            report.add_error(
                None,
                "",
                _(
                    "Le fichier pèse %(size)s Mo : la limite est de %(max)s Mo. Découpez-le en "
                    "plusieurs fichiers."
                )
                % {"size": _megabytes(size), "max": _megabytes(max_bytes)},
            )
            return
        try:
            report.encoding = _encoding(binary)
        except _FileRefused as refusal:
            report.add_error(None, "", refusal.message)
            return
        with _text(binary, report.encoding) as text:
            report.delimiter = _sniff_delimiter(text.readline(_HEADER_MAX).split("\n", 1)[0])
        with _text(binary, report.encoding) as text:
            yield from _read_lines(
                csv.reader(text, delimiter=report.delimiter),
                institution=institution,
                report=report,
                block_lines=block_lines,
                keep_rows=keep_rows,
                lookup=lookup,
                max_rows=max_rows,
            )
    report.sort_errors()


def _read_lines(
    reader: Iterator[list[str]],
    *,
    institution: Institution,
    report: ImportReport,
    block_lines: int,
    keep_rows: bool,
    lookup: ExistingLookup,
    max_rows: int,
) -> Iterator[list[ImportRow]]:
    line = 1
    # The first line of each reference, keyed by the reference's hash: a small int per line,
    # not its text (a collision of 64-bit hashes between two references of one file is
    # negligible: about n² / 2⁶⁵, 10⁻¹¹ for 20,000 lines).
    first_line_of: dict[int, int] = {}
    block: list[_Pending] = []
    block_line_count = 0
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            report.add_error(None, "", _("Le fichier est vide."))
            return
        names = _read_header(report, header)
        if names is None:
            return
        width = len(names)
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            report.row_count += 1
            block_line_count += 1
            if report.row_count > max_rows:
                report.clear()
                report.add_error(
                    None,
                    "",
                    _(
                        "Le fichier compte plus de %(max)s lignes : la limite est de %(max)s "
                        "candidats par import. Découpez-le en plusieurs fichiers."
                    )
                    % {"max": max_rows},
                )
                return
            errors_before = report.error_count
            if any(cell.strip() for cell in cells[width:]):
                report.add_error(
                    line,
                    "",
                    _("Cette ligne compte %(cells)s cellules, l'en-tête %(columns)s colonnes.")
                    % {"cells": len(cells), "columns": width},
                )
                report.invalid_row_count += 1
                continue
            values = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if name}
            for position, cell in enumerate(cells[:width]):
                if names[position] is None and cell.strip():
                    report.add_error(
                        line,
                        "",
                        _("La cellule n°%(position)s est remplie mais sa colonne n'a pas de nom.")
                        % {"position": position + 1},
                    )
            reference = values.get("reference_dossier", "")
            first_of_reference = ""
            if header_key(reference) == header_key(EXAMPLE_REFERENCE):
                report.add_error(
                    line,
                    "reference_dossier",
                    _(
                        "Cette ligne est l'exemple du modèle (%(ref)s) : remplacez-la par vos "
                        "candidats ou supprimez-la."
                    )
                    % {"ref": EXAMPLE_REFERENCE},
                )
            elif reference and (first := first_line_of.get(hash(reference))) is not None:
                report.add_error(
                    line,
                    "reference_dossier",
                    _("La référence « %(ref)s » figure déjà ligne %(line)s du fichier.")
                    % {"ref": reference, "line": first},
                )
            elif reference:
                first_line_of[hash(reference)] = line
                first_of_reference = reference
            identity, claims = _clean_line(report, line, values)
            valid = report.error_count == errors_before
            if not valid:
                report.invalid_row_count += 1
            if valid or first_of_reference:
                kinds = tuple(kind for kind, _declared in claims)
                row = None
                if valid and (keep_rows or len(report.rows) < ROWS_KEPT):
                    row = ImportRow(line=line, identity=identity, claims=tuple(claims))
                block.append(_Pending(line, first_of_reference, valid, kinds, row))
            if block_line_count >= block_lines:
                yield _close_block(block, institution, report, lookup, keep_rows)
                block, block_line_count = [], 0
    except csv.Error as exc:
        report.rows.clear()
        report.valid_row_count = 0
        report.add_error(
            line + 1,
            "",
            _("Le fichier n'est pas un CSV lisible à cette ligne (%(error)s).") % {"error": exc},
        )
        return
    yield _close_block(block, institution, report, lookup, keep_rows)
    if not report.row_count:
        report.add_error(None, "", _("Le fichier ne contient aucune ligne de candidat."))


def _close_block(
    block: list[_Pending],
    institution: Institution,
    report: ImportReport,
    lookup: ExistingLookup,
    keep_rows: bool,
) -> list[ImportRow]:
    """Look up the block's new references, report those the institution has, count the
    block's valid lines and return their rows (when kept)."""
    references = [pending.reference for pending in block if pending.reference]
    taken = lookup(institution, references) if references else set()
    rows: list[ImportRow] = []
    for pending in block:
        if pending.reference in taken:
            report.add_error(
                pending.line,
                "reference_dossier",
                _("Un dossier porte déjà la référence « %(ref)s ».") % {"ref": pending.reference},
            )
            report.taken_count += 1
            if len(report.taken_references) < _TAKEN_KEPT:
                report.taken_references.append(pending.reference)
            if pending.valid:
                report.invalid_row_count += 1
            continue
        if not pending.valid:
            continue
        report.valid_row_count += 1
        for kind in pending.kinds:
            report.claim_counts[kind] += 1
        if len(report.rows) < ROWS_KEPT:
            report.rows.append(pending.row)
        if keep_rows:
            rows.append(pending.row)
    return rows


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",").removesuffix(",0")
