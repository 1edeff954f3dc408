"""The import file's columns, how headers are recognised, and the downloadable template."""

import csv
import io
import re
import unicodedata

from verifications.enums import ClaimKind


# Identity columns and the ``clean_identity`` field each fills. The three given-name columns
# together fill ``first_names``, in civil-status order.
IDENTITY_COLUMNS: dict[str, str] = {
    "reference_dossier": "file_reference",
    "nom_naissance": "birth_name",
    "nom_usage": "usage_name",
    "prenom_1": "first_names",
    "prenom_2": "first_names",
    "prenom_3": "first_names",
    "sexe": "sex",
    "date_naissance": "birth_date",
    "ine": "ine",
    "courriel": "email",
    "telephone": "phone",
}
FIRST_NAME_COLUMNS = ("prenom_1", "prenom_2", "prenom_3")

# Claim columns per kind and the ``clean_declared`` field each fills. The first column is the
# claim's main column: the claim exists when it is filled.
CLAIM_COLUMNS: dict[str, dict[str, str]] = {
    ClaimKind.SCOLARITE: {"scolarite_uai": "uai", "scolarite_annee": "school_year"},
    ClaimKind.CVEC: {"cvec_numero": "code", "cvec_campagne": "campaign"},
    ClaimKind.CERTIFICATION: {
        "certification_code": "code",
        "certification_niveau_min": "min_level",
    },
    ClaimKind.COVOITURAGE: {"covoiturage_uuid": "uuid"},
}

# Every column, in the template's order.
COLUMNS: tuple[str, ...] = (
    *IDENTITY_COLUMNS,
    *(column for columns in CLAIM_COLUMNS.values() for column in columns),
)
# Columns a file must have in its header (the others may be left out entirely).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "reference_dossier",
    "nom_naissance",
    "prenom_1",
    "sexe",
    "date_naissance",
)

# The template's example line: an invented applicant declaring the four kinds of claims.
# The template's example line: what each column looks like, filled. Its reference marks it as the
# example, and a line with that reference is refused (``parse_import``): the template uploaded as
# it is imports nothing, not a fictitious applicant.
EXAMPLE_REFERENCE = "EXEMPLE-0001"
TEMPLATE_EXAMPLE: dict[str, str] = {
    "reference_dossier": EXAMPLE_REFERENCE,
    "nom_naissance": "MARTIN",
    "nom_usage": "",
    "prenom_1": "EMMA",
    "prenom_2": "LOUISE",
    "prenom_3": "",
    "sexe": "F",
    "date_naissance": "15/08/2005",
    "ine": "123456789AB",
    "courriel": "emma.martin@example.org",
    "telephone": "06 12 34 56 78",
    "scolarite_uai": "0132733A",
    "scolarite_annee": "2025-2026",
    "cvec_numero": "VER1ABCDEF12SB",
    "cvec_campagne": "2025-2026",
    "certification_code": "RNCP35185",
    "certification_niveau_min": "5",
    "covoiturage_uuid": "9415300a-7a51-4296-96d1-68636e46485d",
}

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def header_key(text: str) -> str:
    """How a header is compared: accents and case removed, then anything but letters and
    digits (spaces, underscores, hyphens, dots) ignored: "Prénom 1" matches "prenom_1"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALNUM.sub("", stripped.casefold())


COLUMN_BY_KEY: dict[str, str] = {header_key(column): column for column in COLUMNS}


def import_template_csv() -> bytes:
    """The template to download: UTF-8 with BOM, ";" separated, CRLF line ends (what French
    Excel opens without an import wizard), the header and one example line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([TEMPLATE_EXAMPLE[column] for column in COLUMNS])
    return out.getvalue().encode("utf-8-sig")
