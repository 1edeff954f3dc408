"""What parsing a CSV file yields (an ``ImportReport``), the limits, and the refusal error."""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from verifications.enums import ClaimKind


# Defaults of the settings that bound an import; override them in settings (read at call time).
DEFAULT_IMPORT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_IMPORT_MAX_ROWS = 20_000
# How long an uploaded file waits, server-side, between the preview and the import.
DEFAULT_IMPORT_STAGE_TTL = 3600
# The longest message of one problem (it may quote a cell of the file).
ISSUE_MESSAGE_MAX = 300
# Problems listed on a page (the upload's refusal, the preview): the first ones, then a count.
ISSUES_SHOWN = 200


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


@dataclass
class ImportReport:
    institution_id: int
    # How the file was read: "utf-8" (with or without BOM) or "cp1252"; ";" or ",".
    encoding: str = ""
    delimiter: str = ""
    # Non-blank data lines read (blank lines are skipped, as a spreadsheet shows them).
    row_count: int = 0
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the whole file can be imported: no error and at least one applicant."""
        return not self.errors and bool(self.rows)

    @property
    def invalid_row_count(self) -> int:
        return len({issue.line for issue in self.errors if issue.line and issue.line > 1})

    @property
    def claim_counts(self) -> dict[str, int]:
        """Claims per kind among the valid rows, every kind listed (0 included)."""
        counts = dict.fromkeys(ClaimKind.values, 0)
        for row in self.rows:
            for kind, _declared in row.claims:
                counts[kind] += 1
        return counts

    @property
    def claim_count(self) -> int:
        return sum(len(row.claims) for row in self.rows)

    def add_error(self, line: int | None, column: str, message: Any) -> None:
        # A message quotes what the file holds: bounded, whatever one cell holds.
        text = str(message)
        if len(text) > ISSUE_MESSAGE_MAX:
            text = text[: ISSUE_MESSAGE_MAX - 1] + "…"
        self.errors.append(ImportIssue(line=line, column=column[:80], message=text))
