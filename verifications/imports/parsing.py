"""Reading an uploaded CSV file into an ``ImportReport``: every line validated, nothing written.

Per line, identity fields go through ``clean_identity`` and each claim through
``clean_declared``, the same rules as the forms; their French messages are reported under the
CSV column the field came from. The template's example line is refused (its reference says it
is the example). References must be unique in the file and new to the institution (checked
with one query per 10,000 references, never one per line).
"""

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

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
    COLUMNS,
    EXAMPLE_REFERENCE,
    FIRST_NAME_COLUMNS,
    IDENTITY_COLUMNS,
    REQUIRED_COLUMNS,
    header_key,
)
from verifications.imports.report import (
    ImportReport,
    ImportRow,
    import_max_bytes,
    import_max_rows,
)


# References looked up per query when checking which already exist.
_EXISTING_CHUNK = 10_000
_XLSX_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Field keys of ``clean_identity`` -> the column reporting their errors (first names apart).
_IDENTITY_FIELD_COLUMN = {
    field: column for column, field in IDENTITY_COLUMNS.items() if field != "first_names"
}
# Errors of one line are listed in the template's column order.
_COLUMN_RANK = {column: rank for rank, column in enumerate(COLUMNS)}
# Header problems named one by one (unknown columns, duplicates), then counted; and how much of
# an unknown header cell is quoted back.
HEADER_ISSUES_SHOWN = 5
_HEADER_CELL_SHOWN = 80


class _FileRefused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding: strict UTF-8 (BOM or not) first, else Windows-1252."""
    if data.startswith(_XLSX_MAGIC):
        raise _FileRefused(
            _(
                "Ce fichier est un classeur Excel, pas un fichier CSV : dans Excel, choisissez "
                "« Enregistrer sous » puis « CSV UTF-8 (délimité par des virgules) »."
            )
        )
    if data.startswith(_UTF16_BOMS):
        raise _FileRefused(
            _(
                "Ce fichier est en UTF-16 (« Texte Unicode ») : enregistrez-le au format "
                "« CSV UTF-8 » ou « CSV (séparateur : point-virgule) »."
            )
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _FileRefused(
            _(
                "Le fichier n'est ni en UTF-8 ni en Windows-1252 (octet illisible à la position "
                "%(position)s) : enregistrez-le au format « CSV UTF-8 »."
            )
            % {"position": exc.start + 1}
        ) from exc
    if "\x00" in text:
        raise _FileRefused(_("Ce fichier n'est pas un fichier texte CSV."))
    return text, "cp1252"


def _sniff_delimiter(text: str) -> str:
    """ ";" or ",", whichever the header line holds more of (";" when tied or absent)."""
    header = text.split("\n", 1)[0]
    return "," if header.count(",") > header.count(";") else ";"


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


def parse_import(data: bytes, *, institution: Institution) -> ImportReport:
    """Read and validate a whole CSV file for ``institution``; write nothing.

    The report lists every problem by line and column; ``report.ok`` tells whether the file
    can be imported whole. Files over ``IMPORT_MAX_BYTES`` or with more than
    ``IMPORT_MAX_ROWS`` lines are refused without reading further.
    """
    report = ImportReport(institution_id=institution.pk)
    max_bytes, max_rows = import_max_bytes(), import_max_rows()
    if len(data) > max_bytes:
        report.add_error(
            None,
            "",
            _(
                "Le fichier pèse %(size)s Mo : la limite est de %(max)s Mo. Découpez-le en "
                "plusieurs fichiers."
            )
            % {"size": _megabytes(len(data)), "max": _megabytes(max_bytes)},
        )
        return report
    try:
        text, report.encoding = _decode(data)
    except _FileRefused as refusal:
        report.add_error(None, "", refusal.message)
        return report
    report.delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=report.delimiter)
    line = 1
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            report.add_error(None, "", _("Le fichier est vide."))
            return report
        names = _read_header(report, header)
        if names is None:
            return report
        width = len(names)
        first_line_of: dict[str, int] = {}
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            report.row_count += 1
            if report.row_count > max_rows:
                report.rows.clear()
                report.errors.clear()
                report.add_error(
                    None,
                    "",
                    _(
                        "Le fichier compte plus de %(max)s lignes : la limite est de %(max)s "
                        "candidats par import. Découpez-le en plusieurs fichiers."
                    )
                    % {"max": max_rows},
                )
                return report
            if any(cell.strip() for cell in cells[width:]):
                report.add_error(
                    line,
                    "",
                    _("Cette ligne compte %(cells)s cellules, l'en-tête %(columns)s colonnes.")
                    % {"cells": len(cells), "columns": width},
                )
                continue
            errors_before = len(report.errors)
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
            elif reference in first_line_of:
                report.add_error(
                    line,
                    "reference_dossier",
                    _("La référence « %(ref)s » figure déjà ligne %(line)s du fichier.")
                    % {"ref": reference, "line": first_line_of[reference]},
                )
            elif reference:
                first_line_of[reference] = line
            identity, claims = _clean_line(report, line, values)
            if len(report.errors) == errors_before:
                report.rows.append(ImportRow(line=line, identity=identity, claims=tuple(claims)))
    except csv.Error as exc:
        report.rows.clear()
        report.add_error(
            line + 1,
            "",
            _("Le fichier n'est pas un CSV lisible à cette ligne (%(error)s).") % {"error": exc},
        )
        return report
    _report_existing_references(report, institution, first_line_of)
    if not report.row_count:
        report.add_error(None, "", _("Le fichier ne contient aucune ligne de candidat."))
    report.errors.sort(key=lambda issue: (issue.line or 0, _COLUMN_RANK.get(issue.column, -1)))
    return report


def _report_existing_references(
    report: ImportReport, institution: Institution, first_line_of: dict[str, int]
) -> None:
    existing = existing_references(institution, list(first_line_of))
    if not existing:
        return
    for reference in sorted(existing, key=first_line_of.__getitem__):
        report.add_error(
            first_line_of[reference],
            "reference_dossier",
            _("Un dossier porte déjà la référence « %(ref)s ».") % {"ref": reference},
        )
    report.rows = [row for row in report.rows if row.identity["file_reference"] not in existing]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",").removesuffix(",0")
