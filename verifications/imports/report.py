"""What parsing a CSV file yields (an ``ImportReport``), the limits, and the refusal error.

A report is bounded whatever the file's size: the counts are counts, and it keeps only the
first ``ERRORS_KEPT`` problems (in line and column order) and the first ``ROWS_KEPT`` valid
lines, which is all a page shows. The rows themselves are streamed to the import
(``parsing.import_blocks``), never held all at once.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from verifications.enums import ClaimKind
from verifications.imports.columns import COLUMNS


# Defaults of the settings that bound an import; override them in settings (read at call time).
DEFAULT_IMPORT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_IMPORT_MAX_ROWS = 20_000
# How long an uploaded file waits, server-side, between the preview and the import.
DEFAULT_IMPORT_STAGE_TTL = 3600
# The longest message of one problem (it may quote a cell of the file).
ISSUE_MESSAGE_MAX = 300
# Problems listed on a page (the upload's refusal, the preview): the first ones, then a count.
ISSUES_SHOWN = 200
# What a report keeps of a file, whatever its size: the first problems (in line and column
# order) and the first valid lines (the preview shows ten).
ERRORS_KEPT = ISSUES_SHOWN
ROWS_KEPT = 100
# Errors of one line are listed in the template's column order.
_COLUMN_RANK = {column: rank for rank, column in enumerate(COLUMNS)}


def import_max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))


def import_max_rows() -> int:
    return int(getattr(settings, "IMPORT_MAX_ROWS", DEFAULT_IMPORT_MAX_ROWS))


def import_stage_ttl() -> int:
    return int(getattr(settings, "IMPORT_STAGE_TTL", DEFAULT_IMPORT_STAGE_TTL))


class ImportRefused(ValidationError):
    """The import cannot go ahead; ``message`` says why in French, nothing was written.

    ``report`` is the parse report when the refusal comes from the file's content.
    """

    def __init__(self, message: Any, code: str, report: "ImportReport | None" = None) -> None:
        super().__init__(message, code=code)
        self.report = report


@dataclass(frozen=True)
class ImportIssue:
    """One problem of the file: its line as a spreadsheet numbers it (the header is line 1),
    the column as named in the template (empty when the problem is not one cell's), and a
    French message. ``line`` is ``None`` for a problem of the whole file (size, encoding)."""

    line: int | None
    column: str
    message: str


@dataclass(frozen=True)
class ImportRow:
    """A valid line, cleaned and ready to insert: identity fields as ``Applicant`` takes them,
    and claims as ``(kind, declared)`` pairs cleaned by ``clean_declared``."""

    line: int
    identity: dict[str, Any]
    claims: tuple[tuple[str, dict[str, Any]], ...]


def _issue_order(issue: ImportIssue) -> tuple[int, int]:
    return issue.line or 0, _COLUMN_RANK.get(issue.column, -1)


@dataclass
class ImportReport:
    """What reading a file found: counts of the whole file, its first problems and its first
    valid lines. ``source`` is what was read (bytes, a path, or a seekable binary file):
    ``import_commit`` reads it again, validating as it stores."""

    institution_id: int
    # How the file was read: "utf-8" (with or without BOM) or "cp1252"; ";" or ",".
    encoding: str = ""
    delimiter: str = ""
    # Non-blank data lines read (blank lines are skipped, as a spreadsheet shows them).
    row_count: int = 0
    # The first ``ROWS_KEPT`` valid lines; ``valid_row_count`` counts them all.
    rows: list[ImportRow] = field(default_factory=list)
    valid_row_count: int = 0
    # The first ``ERRORS_KEPT`` problems, in line and column order; ``error_count`` counts them
    # all, ``invalid_row_count`` the lines they are on.
    errors: list[ImportIssue] = field(default_factory=list)
    error_count: int = 0
    invalid_row_count: int = 0
    # Claims per kind among the valid lines, every kind listed (0 included).
    claim_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ClaimKind.values, 0))
    # References of the file the institution already has: the first few, and how many.
    taken_references: list[str] = field(default_factory=list)
    taken_count: int = 0
    source: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the whole file can be imported: no error and at least one applicant."""
        return not self.error_count and self.valid_row_count > 0

    @property
    def claim_count(self) -> int:
        return sum(self.claim_counts.values())

    @property
    def hidden_error_count(self) -> int:
        """Problems counted but not kept (beyond ``ERRORS_KEPT``)."""
        return self.error_count - len(self.errors)

    def add_error(self, line: int | None, column: str, message: Any) -> None:
        # A message quotes what the file holds: bounded, whatever one cell holds.
        text = str(message)
        if len(text) > ISSUE_MESSAGE_MAX:
            text = text[: ISSUE_MESSAGE_MAX - 1] + "…"
        self.error_count += 1
        self.errors.append(ImportIssue(line=line, column=column[:80], message=text))
        if len(self.errors) >= 2 * ERRORS_KEPT:
            self.sort_errors()

    def sort_errors(self) -> None:
        """Keep the first ``ERRORS_KEPT`` problems in line and column order (a stable sort:
        the problems of one cell stay in the order they were found)."""
        self.errors.sort(key=_issue_order)
        del self.errors[ERRORS_KEPT:]

    def clear(self) -> None:
        """Forget every line read (the file is refused whole)."""
        self.rows.clear()
        self.errors.clear()
        self.error_count = self.invalid_row_count = self.valid_row_count = 0
        self.claim_counts = dict.fromkeys(ClaimKind.values, 0)
        self.taken_references.clear()
        self.taken_count = 0
