"""The import's header report counts what it does not list in words: « Et 1 autre colonne
inconnue. », « Et 1 200 autres colonnes inconnues. » (ngettext, thousands grouped)."""

import pytest
from django.utils import translation

from tests.factories import InstitutionFactory
from verifications.imports.parsing import HEADER_ISSUES_SHOWN, parse_import


pytestmark = pytest.mark.django_db


def header_messages(extra: list[str]) -> list[str]:
    header = ",".join(["reference_dossier", "nom_naissance", *extra])
    with translation.override("fr"):
        report = parse_import(f"{header}\n".encode(), institution=InstitutionFactory())
    return [issue.message for issue in report.errors if issue.line == 1]


@pytest.mark.parametrize(
    ("more", "said"),
    [(1, "Et 1 autre colonne inconnue."), (1200, "Et 1\u202f200 autres colonnes inconnues.")],
)
def test_unknown_columns_beyond_those_listed_are_counted_in_words(more, said):
    unknown = [f"colonne_{n}" for n in range(HEADER_ISSUES_SHOWN + more)]
    assert said in header_messages(unknown)


def test_one_more_duplicate_column_is_singular():
    duplicated = ["nom_usage", "sexe", "date_naissance", "ine", "courriel", "telephone"]
    assert "Et 1 autre colonne en double." in header_messages(duplicated * 2)
