"""CSV import of applicants: the template, parsing and validation, staging between the
preview and the import, and the all-or-nothing import itself.

The file
--------
One applicant per line, after a header line. UTF-8 (with or without BOM) or Windows-1252
(what Excel's "CSV UTF-8" and "CSV (séparateur : point-virgule)" write); ``;`` or ``,`` as
separator, read from the header line. Headers are matched ignoring case, accents, spaces,
underscores and hyphens ("Prénom 1" is ``prenom_1``); columns may come in any order; optional
columns may be left out; unknown or repeated columns are errors. Blank lines are skipped.

Identity (``clean_identity``'s rules), required columns marked *:

=========================  ============================================================
``reference_dossier`` *    the file reference, unique in the institution
``nom_naissance`` *        birth name
``nom_usage``              usage name
``prenom_1`` *             given names in civil-status order, one per column
``prenom_2``, ``prenom_3``
``sexe`` *                 ``F`` or ``M`` (civil status)
``date_naissance`` *       ``JJ/MM/AAAA`` or ``AAAA-MM-JJ``
``ine``                    11 letters or digits
``courriel``, ``telephone``
=========================  ============================================================

Claims, 0 to 4 per line (``clean_declared``'s rules). A claim exists when its main column
(first below) is filled; its other columns without the main one are an error:

=================  ====================================================================
scolarité          ``scolarite_uai`` (UAI with its check letter), ``scolarite_annee``
                   (``2025`` or ``2025-2026``, required with the UAI)
CVEC               ``cvec_numero``, ``cvec_campagne`` (optional school year)
certification      ``certification_code`` (RNCP, RS or Certif Info code),
                   ``certification_niveau_min`` (1 to 8, optional)
covoiturage        ``covoiturage_uuid``
=================  ====================================================================

Spreadsheets turn some values into numbers (``0612345678`` loses its leading 0): write
telephone numbers with spaces (``06 12 34 56 78``), as the template does, or format the column
as text.

The flow
--------
``import_template_csv()`` → upload → ``import_stage()`` → ``parse_import(import_load().data)``
shows the preview (every invalid line by line and column) → ``import_commit_staged()`` reads
and validates the file again and stores all of it, or nothing.
"""

from admissions.imports.columns import (
    CLAIM_COLUMNS,
    COLUMNS,
    IDENTITY_COLUMNS,
    REQUIRED_COLUMNS,
    import_template_csv,
)
from admissions.imports.commit import import_commit, import_commit_staged
from admissions.imports.parsing import parse_import
from admissions.imports.report import (
    ImportIssue,
    ImportRefused,
    ImportReport,
    ImportRow,
    import_max_bytes,
    import_max_rows,
)
from admissions.imports.staging import (
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
