"""CSV import of applicants with their claims: the template (``columns``), parsing and
validation (``parsing``, ``report``), staging between the preview and the import (``staging``),
and the all-or-nothing import itself (``commit``). The file's format and the flow:
docs/IMPORTS.md.

The verification domain's: an import is a ``Batch``, each line an applicant (cleaned by the
applicant domain's ``clean_identity``) with claims of every kind (``clean_declared``), which
"Vérifier les déclarations importées" then checks. Its pages and templates keep their URLs and
names (``admissions.urls``, ``templates/admissions/import_*.html``).
"""

from verifications.imports.columns import (
    CLAIM_COLUMNS,
    COLUMNS,
    IDENTITY_COLUMNS,
    REQUIRED_COLUMNS,
    import_template_csv,
)
from verifications.imports.commit import import_commit, import_commit_staged
from verifications.imports.parsing import parse_import
from verifications.imports.report import (
    ISSUES_SHOWN,
    ImportIssue,
    ImportRefused,
    ImportReport,
    ImportRow,
    import_max_bytes,
    import_max_rows,
)
from verifications.imports.staging import (
    StagedImport,
    StagedImportExpired,
    StagedImportNotFound,
    import_discard,
    import_load,
    import_stage,
    import_stage_purge,
)


__all__ = [
    "CLAIM_COLUMNS",
    "COLUMNS",
    "IDENTITY_COLUMNS",
    "ISSUES_SHOWN",
    "REQUIRED_COLUMNS",
    "ImportIssue",
    "ImportRefused",
    "ImportReport",
    "ImportRow",
    "StagedImport",
    "StagedImportExpired",
    "StagedImportNotFound",
    "import_commit",
    "import_commit_staged",
    "import_discard",
    "import_load",
    "import_max_bytes",
    "import_max_rows",
    "import_stage",
    "import_stage_purge",
    "import_template_csv",
    "parse_import",
]
