"""The dispatcher, and the verdicts of provider errors (the same for every kind)."""

import datetime as dt
import json

import pytest
from django.utils import translation

from tests.verdicts.conftest import at, not_found
from verifications.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    ScolariteDeclared,
)
from verifications.enums import ClaimKind, Source, Verdict
from verifications.providers.base import (
    ROUTE_NOT_FOUND,
    UNEXPECTED_REDIRECT,
    CallInfo,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from verifications.verdicts import NOTES, REASONS, decide, render_note, render_reason
from verifications.verdicts.common import error_decision


NOW = at(2025, 11, 20, 10, 0)
DECLARED = {
    ClaimKind.SCOLARITE: ScolariteDeclared(uai="0132733A", school_year=2025),
    ClaimKind.CVEC: CvecDeclared(code="VER1ABCDEF12AB", campaign=2025),
    ClaimKind.CERTIFICATION: CertificationDeclared(code="RNCP30086", min_level=6),
    ClaimKind.COVOITURAGE: CovoiturageDeclared(uuid="9415300a-7a51-4296-96d1-68636e46485d"),
}
KINDS = list(DECLARED)


def call(status, code=""):
    return CallInfo(http_status=status, provider_error_code=code)


def decide_error(kind, error):
    return decide(kind, declared=DECLARED[kind], identity=None, result=None, error=error, now=NOW)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("error", "reason_code"),
    [
        (ProviderRejected(code="00101", call=call(401, "00101")), "source.token_invalid"),
        (ProviderRejected(code="00103", call=call(401, "00103")), "source.token_expired"),
        (ProviderRejected(code="00105", call=call(401, "00105")), "source.token_revoked"),
        (ProviderRejected(code="00100", call=call(403, "00100")), "source.forbidden"),
        (ProviderRejected(code="00203", call=call(422, "00203")), "source.missing_recipient"),
        (ProviderRejected(code="00419", call=call(422, "00419")), "source.invalid_request"),
        (ProviderRejected(code="00366", call=call(422, "00366")), "source.invalid_request"),
        (ProviderRejected(code="00427", call=call(422, "00427")), "source.invalid_request"),
        (ProviderRejected(code="-32501", call=call(401, "-32501")), "source.token_invalid"),
        (ProviderRejected(code="-32503", call=call(403, "-32503")), "source.forbidden"),
        (ProviderRejected(code="-32602", call=call(400, "-32602")), "source.invalid_request"),
        (ProviderRejected(code="http_401", call=call(401)), "source.token_invalid"),
        (ProviderRejected(code="TOKEN", call=call(401, "TOKEN")), "source.token_invalid"),
        (ProviderRejected(code="http_403", call=call(403)), "source.forbidden"),
        (ProviderRejected(code="404", call=call(404, "404")), "source.invalid_request"),
        (ProviderRejected(code=ROUTE_NOT_FOUND, call=call(404)), "source.route_not_found"),
        (ProviderRejected(code=UNEXPECTED_REDIRECT, call=call(302)), "source.route_not_found"),
        (ProviderRejected(code="vigie.invalid_query"), "source.invalid_request"),
        (ProviderNotConfigured(setting="token"), "source.not_configured"),
    ],
)
def test_rejected(kind, error, reason_code):
    decision = decide_error(kind, error)

    assert decision.verdict == Verdict.REJECTED
    assert decision.reason_code == reason_code
    assert decision.valid_until is None  # an admin must act first
    assert decision.diff == []


def test_rejected_reason_names_the_code():
    decision = decide_error(
        ClaimKind.SCOLARITE, ProviderRejected(code="00103", call=call(401, "00103"))
    )
    assert decision.reason == (
        "Le jeton d'accès à la source a expiré (code 00103). Un administrateur doit le renouveler."
    )
    assert decision.evidence == {"http_status": 401, "error_code": "00103"}


def test_not_configured_names_the_setting():
    decision = decide_error(ClaimKind.COVOITURAGE, ProviderNotConfigured(setting="base_url"))

    assert "base_url" in decision.reason
    assert decision.evidence == {"setting": "base_url"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("error", "reason_code"),
    [
        (ProviderUnavailable(call=call(502, "30999")), "source.unavailable"),
        (ProviderUnavailable(call=call(504, "30002")), "source.unavailable"),
        (ProviderUnavailable(retry_in=10, call=call(504, "00501")), "source.unavailable"),
        (ProviderUnavailable(call=call(None)), "source.unavailable"),
        (ProviderRateLimited(retry_after=30, call=call(429, "00429")), "source.rate_limited"),
        (
            ProviderRateLimited(retry_after=60, conflict=True, call=call(409, "00015")),
            "source.conflict",
        ),
        (ProviderError("odd"), "source.unavailable"),
    ],
)
def test_unavailable_after_retries(kind, error, reason_code):
    decision = decide_error(kind, error)

    assert decision.verdict == Verdict.UNAVAILABLE
    assert decision.reason_code == reason_code
    assert decision.valid_until == NOW + dt.timedelta(hours=1)


def test_unavailable_reason_shows_the_error_in_words():
    decision = decide_error(
        ClaimKind.SCOLARITE,
        ProviderUnavailable(call=call(502, "30999"), source=Source.API_PARTICULIER),
    )
    assert decision.reason == (
        "La source n'a pas pu répondre après plusieurs tentatives (Erreur du fournisseur de "
        "données (MEN), code 30999)."
    )
    assert decision.reason_params == {"status": 502, "code": "30999", "source": "api_particulier"}
    bare = decide_error(ClaimKind.SCOLARITE, ProviderUnavailable(call=call(503)))
    assert bare.reason == (
        "La source n'a pas pu répondre après plusieurs tentatives (Source indisponible ou en "
        "maintenance (HTTP 503))."
    )
    timeout = CallInfo(redacted={"error": "timeout"})
    decision = decide_error(ClaimKind.CVEC, ProviderUnavailable("timeout", call=timeout))
    assert decision.reason == (
        "La source n'a pas pu répondre après plusieurs tentatives (Délai de réponse dépassé)."
    )
    nothing = decide_error(ClaimKind.SCOLARITE, ProviderUnavailable(call=call(None)))
    assert nothing.reason == (
        "La source n'a pas pu répondre après plusieurs tentatives (erreur non précisée)."
    )


def test_the_error_in_words_is_rendered_again_in_any_language():
    decision = decide_error(ClaimKind.SCOLARITE, ProviderUnavailable(call=call(504, "30002")))
    again = render_reason(decision.reason_code, decision.reason_params, language="fr")
    assert again == decision.reason
    assert "Le fournisseur de données n'a pas répondu à temps (MEN), code 30002" in again
    english = render_reason(decision.reason_code, decision.reason_params, language="en")
    assert "30002" in english


def test_a_request_failing_alone_says_so_with_the_error_in_words():
    error = ProviderUnavailable(call=call(502, "30999"), source=Source.API_PARTICULIER)
    decision = error_decision(error, NOW, failing_alone=True, failures=5)

    assert (decision.verdict, decision.reason_code) == (
        Verdict.UNAVAILABLE,
        "source.failing_for_this_request",
    )
    assert decision.reason == (
        "La source a répondu aux autres demandes, mais a échoué 5 fois de suite pour celle-ci "
        "(Erreur du fournisseur de données (MEN), code 30999) : la vérification n'a pas pu "
        "aboutir. Un agent peut la relancer plus tard ou vérifier la déclaration autrement."
    )
    assert decision.reason_params == {
        "status": 502,
        "code": "30999",
        "source": "api_particulier",
        "failures": 5,
    }
    assert decision.evidence == {"http_status": 502, "error_code": "30999"}
    assert decision.valid_until == NOW + dt.timedelta(hours=1)
    json.dumps(decision.as_json())


def test_a_request_given_up_behind_an_open_breaker_says_the_source_is_down():
    error = ProviderUnavailable("circuit breaker open", source=Source.API_PARTICULIER)
    decision = error_decision(error, NOW, source_down=True, last_error="30001")

    assert (decision.verdict, decision.reason_code) == (Verdict.UNAVAILABLE, "source.down")
    assert decision.reason == (
        "La source est hors service : elle échoue pour la plupart des demandes (dernière "
        "erreur : Fournisseur de données indisponible ou en maintenance (MEN), code 30001). La "
        "vérification n'a pas pu aboutir à temps ; elle pourra être relancée quand la source "
        "répondra de nouveau."
    )
    assert decision.evidence == {"http_status": None, "error_code": ""}  # it sent nothing


def test_invalid_request_shows_the_code_in_words():
    decision = decide_error(
        ClaimKind.SCOLARITE, ProviderRejected(code="00366", call=call(422, "00366"))
    )
    assert decision.reason == (
        "La source a refusé la requête : paramètres invalides (Paramètres d'état civil mal "
        "formés, code 00366)."
    )


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        (ClaimKind.SCOLARITE, Source.API_PARTICULIER),
        (ClaimKind.CVEC, Source.CVEC),
        (ClaimKind.CERTIFICATION, Source.CERTIFINFO),
        (ClaimKind.COVOITURAGE, Source.COVOITURAGE),
    ],
)
def test_not_found_for_every_kind(kind, source):
    decision = decide(
        kind, declared=DECLARED[kind], identity=None, result=not_found(source), error=None, now=NOW
    )

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == f"{kind}.not_found"
    json.dumps(decision.as_json())  # storable as is


def test_kind_may_be_a_plain_string():
    decision = decide(
        "covoiturage",
        declared=DECLARED[ClaimKind.COVOITURAGE],
        identity=None,
        result=not_found(Source.COVOITURAGE),
        error=None,
        now=NOW,
    )
    assert decision.verdict == Verdict.NOT_FOUND


@pytest.mark.parametrize(
    ("kwargs", "exception"),
    [
        ({"result": None, "error": None}, ValueError),
        (
            {"result": not_found(Source.CVEC), "error": ProviderUnavailable()},
            ValueError,
        ),
        ({"result": not_found(Source.CERTIFINFO), "error": None}, ValueError),  # wrong source
        (
            {"result": not_found(Source.CVEC), "error": None, "now": dt.datetime(2025, 1, 1)},
            ValueError,
        ),
        (
            {
                "result": not_found(Source.CVEC),
                "error": None,
                "declared": DECLARED[ClaimKind.SCOLARITE],
            },
            TypeError,
        ),
        ({"kind": "unknown", "result": not_found(Source.CVEC), "error": None}, ValueError),
    ],
)
def test_misuse_is_refused(kwargs, exception):
    arguments = {
        "kind": ClaimKind.CVEC,
        "declared": DECLARED[ClaimKind.CVEC],
        "now": NOW,
        "identity": None,
    }
    arguments.update(kwargs)
    kind = arguments.pop("kind")

    with pytest.raises(exception):
        decide(kind, **arguments)


def test_as_json():
    decision = decide_error(ClaimKind.SCOLARITE, ProviderUnavailable(call=call(503)))

    assert decision.as_json() == {
        "verdict": "unavailable",
        "reason_code": "source.unavailable",
        "reason": decision.reason,
        "reason_params": {"status": 503, "code": None},  # no source named: no "source"
        "diff": [],
        "notes": [],
        "note_codes": [],
        "evidence": {"http_status": 503, "error_code": ""},
        "valid_until": "2025-11-20T11:00:00+01:00",
    }


# --- Texts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_reason_renders_with_or_without_its_parameters(code):
    text = render_reason(code, {})
    assert text
    assert "%(" not in text
    assert "%" not in text.replace("%%", "")


@pytest.mark.parametrize("code", sorted(NOTES))
def test_every_note_renders(code):
    assert render_note(code)


def test_rendering_does_not_leak_the_active_language():
    with translation.override("en"):
        render_reason("source.rate_limited", language="fr")
        assert translation.get_language() == "en"


def test_every_reason_code_used_in_the_rules_exists():
    import pathlib
    import re

    package = pathlib.Path(__file__).resolve().parents[2] / "verifications" / "verdicts"
    used = set()
    for path in package.glob("*.py"):
        used |= set(
            re.findall(
                r'"((?:source|scolarite|cvec|certification|covoiturage)\.[a-z_]+)"',
                path.read_text(),
            )
        )
    used -= set(NOTES)
    assert used <= set(REASONS), used - set(REASONS)
