"""Provider error codes in words (``providers/error_codes.py``), and the page that says where
each comes from (``docs/PROVIDER_ERRORS.md``)."""

from pathlib import Path

import pytest
from django.utils import translation

from sandbox.particulier_errors import ERRORS
from verifications.providers import error_codes
from verifications.providers.error_codes import describe


DOC = Path(__file__).resolve().parents[2] / "docs" / "PROVIDER_ERRORS.md"


@pytest.mark.parametrize(
    ("code", "kwargs", "words"),
    [
        (
            "30999",
            {"source": "api_particulier"},
            "Erreur du fournisseur de données (MEN), code 30999",
        ),
        ("30999", {}, "Erreur du fournisseur de données (MEN), code 30999"),
        (
            "30001",
            {"status": 504},
            "Fournisseur de données indisponible ou en maintenance (MEN), code 30001",
        ),
        (
            "00501",
            {},
            "Erreur réseau entre API Particulier et le fournisseur de données, code 00501",
        ),
        ("00101", {}, "Jeton d'accès invalide ou absent, code 00101"),
        ("-32504", {"source": "covoiturage"}, "Attestation introuvable, code -32504"),
        ("400", {"source": "cvec"}, "Attestation introuvable, code 400"),
        ("timeout", {}, "Délai de réponse dépassé"),
        ("connection_error", {"status": None}, "Connexion à la source impossible"),
        ("http_502", {}, "Erreur du serveur de la source (HTTP 502)"),
        ("http_599", {}, "Erreur du serveur de la source (HTTP 599)"),
        ("", {"status": 504}, "La source n'a pas répondu à temps (HTTP 504)"),
        ("", {"status": 418}, "Réponse inattendue de la source (HTTP 418)"),
        ("98765", {}, "Erreur non répertoriée, code 98765"),
        ("98765", {"status": 502}, "Erreur du serveur de la source (HTTP 502), code 98765"),
        ("", {}, ""),
        (None, {}, ""),
    ],
)
def test_codes_in_words(code, kwargs, words):
    assert describe(code, **kwargs) == words


def test_a_code_of_the_cvec_is_read_only_as_the_cvec_s():
    assert describe("400") == "Erreur non répertoriée, code 400"
    assert describe("400", status=400, source="cvec") == "Attestation introuvable, code 400"


def test_words_follow_the_active_language():
    with translation.override("en"):
        assert "30999" in describe("30999")
        assert describe("timeout")


def test_every_code_the_sandbox_sends_has_words():
    # The sandbox sends API Particulier's documented bodies (and a few guessed statuses).
    guessed = {"00500", "00503", "00404"}
    for code in set(ERRORS) - guessed:
        assert code in error_codes.API_PARTICULIER, code


def test_every_code_has_its_line_in_the_documentation():
    doc = " ".join(DOC.read_text().split())  # lines wrapped anywhere
    tables = [
        error_codes.API_PARTICULIER,
        error_codes.COVOITURAGE,
        error_codes.CVEC,
        error_codes.VIGIE,
    ]
    for table in tables:
        for code, entry in table.items():
            assert f"| {code} |" in doc or f"| `{code}` |" in doc, code
            label = entry.label if isinstance(entry, error_codes.ErrorCode) else entry
            assert str(label) in doc, code
    for status, label in error_codes.HTTP_STATUSES.items():
        assert f"{status} {label}" in doc, status


def test_the_provider_is_named_where_the_source_names_it():
    for code, body in ERRORS.items():
        if code in error_codes.API_PARTICULIER:
            named = (body.get("meta") or {}).get("provider", "")
            assert error_codes.API_PARTICULIER[code].provider == named, code
