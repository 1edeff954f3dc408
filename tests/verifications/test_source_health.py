"""A source that fails for a few people, and a source that is down: the pipeline against the
sandbox over real HTTP (the reasons it gives, the breaker it leaves), and what the pages say
(dashboard, claim card, back-office, batch confirmation and progress)."""

import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from sandbox.population import ScolariteOutcome, person
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import AttemptOutcome, ClaimKind, Source, Trigger, Verdict
from verifications.eta import eta_seconds, eta_text
from verifications.models import VerificationAttempt, VerificationRequest
from verifications.providers.limits import get_limiter
from verifications.services import verification_run
from verifications.services.batches import batch_verification_launch


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

FAILING_ALONE = (
    "La source a répondu aux autres demandes, mais a échoué 3 fois de suite pour celle-ci "
    "(Erreur du fournisseur de données (MEN), code 30999) : la vérification n'a pas pu aboutir."
)


@pytest.fixture
def institution():
    return InstitutionFactory()


def enrolled_people(n):
    found = []
    for i in range(500):
        p = person(i)
        if p.scolarite == ScolariteOutcome.ENROLLED:
            found.append(p)
            if len(found) == n:
                return found
    raise LookupError(n)


def scolarite_request(p, institution):
    return request_for(claim_for(p, ClaimKind.SCOLARITE, institution))


@pytest.fixture
def strict_breaker(settings):
    """A breaker that would open on a single failing request, were it not for the share of
    requests the source answers: the share rule is what keeps it closed below."""
    settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD = 1
    settings.VERIFICATION_MAX_FAILURES = 3


@pytest.mark.usefixtures("strict_breaker")
def test_a_person_the_source_always_fails_on_is_given_up_alone(institution):
    for p in enrolled_people(3):
        assert run_until_done(scolarite_request(p, institution)).verdict == Verdict.CONFIRMED
    stuck = scolarite_request(person_with(scolarite=ScolariteOutcome.PROVIDER_ERROR), institution)

    stuck = run_until_done(stuck)

    assert (stuck.verdict, stuck.reason_code) == (
        Verdict.UNAVAILABLE,
        "source.failing_for_this_request",
    )
    assert stuck.reason.startswith(FAILING_ALONE)
    assert stuck.reason_params["failures"] == 3
    assert stuck.attempts.count() == 3  # its own bounded retries, no more
    stuck.claim.refresh_from_db()
    assert stuck.claim.verdict_reason == stuck.reason
    state = get_limiter().breaker(Source.API_PARTICULIER)
    assert (state.state, state.last_opened_at, state.failing_alone) == ("closed", None, 1)
    assert state.last_error == "30999"
    # The source still answers everyone else at once.
    other = scolarite_request(enrolled_people(4)[-1], institution)
    assert verification_run(request_id=other.pk).verdict == Verdict.CONFIRMED


@pytest.mark.usefixtures("strict_breaker")
def test_a_rerun_of_a_claim_failing_alone_does_not_open_the_breaker(institution, settings):
    settings.VERIFICATION_BREAKER_WINDOW_SECONDS = 1.0
    for p in enrolled_people(2):
        run_until_done(scolarite_request(p, institution))
    failing = [p for p in map(person, range(2000)) if p.scolarite == "provider_error"][:2]
    stuck = run_until_done(scolarite_request(failing[0], institution))
    assert stuck.reason_code == "source.failing_for_this_request"
    time.sleep(1.1)  # the answers leave the window: nothing else has been asked lately

    again = request_for(stuck.claim)  # a clerk asks again; nothing else is asked
    assert verification_run(request_id=again.pk).status == "retry"
    state = get_limiter().breaker(Source.API_PARTICULIER)
    assert (state.state, state.failures, state.failing_alone) == ("closed", 0, 1)

    # Whereas another claim failing, with nothing else asked, is all the breaker knows of.
    other = scolarite_request(failing[1], institution)
    assert verification_run(request_id=other.pk).status == "retry"
    assert get_limiter().breaker(Source.API_PARTICULIER).state == "open"


def test_with_nothing_else_asked_the_reason_does_not_claim_the_source_answers_others(
    institution, settings
):
    settings.VERIFICATION_MAX_FAILURES = 2
    stuck = scolarite_request(person_with(scolarite=ScolariteOutcome.PROVIDER_ERROR), institution)
    stuck = run_until_done(stuck)
    assert (stuck.verdict, stuck.reason_code) == (Verdict.UNAVAILABLE, "source.unavailable")
    assert stuck.reason == (
        "La source n'a pas pu répondre après plusieurs tentatives (Erreur du fournisseur de "
        "données (MEN), code 30999)."
    )
    assert get_limiter().breaker(Source.API_PARTICULIER).failing_alone == 0


def test_a_source_down_for_everyone_opens_the_breaker_and_says_so(
    institution, settings, sandbox_settings
):
    settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD = 3
    settings.VERIFICATION_MAX_FAILURES = 10
    sandbox_settings.configure(error_rates={"504/30001": 1.0})
    people = enrolled_people(4)
    for p in people[:3]:
        assert verification_run(request_id=scolarite_request(p, institution).pk).status == "retry"
    state = get_limiter().breaker(Source.API_PARTICULIER)
    assert (state.state, state.failures, state.last_error) == ("open", 3, "30001")

    waiting = scolarite_request(people[3], institution)
    assert verification_run(request_id=waiting.pk).status == "deferred"
    VerificationRequest.objects.filter(pk=waiting.pk).update(
        failing_since=timezone.now() - settings.VERIFICATION_GIVE_UP_AFTER, not_before=None
    )
    waiting.refresh_from_db()
    assert verification_run(request_id=waiting.pk).verdict == Verdict.UNAVAILABLE
    waiting.refresh_from_db()
    assert waiting.reason_code == "source.down"
    assert "Fournisseur de données indisponible ou en maintenance (MEN), code 30001" in (
        waiting.reason
    )
    assert not waiting.attempts.exists()  # nothing was sent while the source was down


# --- Pages ------------------------------------------------------------------------------------


def _row(page: str, source: str) -> str:
    return page[page.index(f'<tr data-source="{source}">') :].split("</tr>")[0]


def _attempt(institution, source, **fields):
    claim = ClaimFactory(applicant=ApplicantFactory(institution=institution))
    request = VerificationRequest.objects.create(
        institution=institution, claim=claim, source=source, trigger=Trigger.MANUAL
    )
    return VerificationAttempt.objects.create(request=request, source=source, **fields)


def test_the_dashboard_shows_a_source_down_with_its_error_in_words(clerk, clerk_client):
    limiter = get_limiter()
    for n in range(limiter.config.failure_threshold):
        limiter.record_failure(Source.API_PARTICULIER, error="30999", subject=f"claim:{n}")

    page = clerk_client.get(reverse("home")).text

    row = _row(page, "api_particulier")
    assert "Hors service : les vérifications attendent" in row
    assert "nouvel essai à" in row
    assert "Dernière erreur : Erreur du fournisseur de données (MEN), code 30999" in row
    assert "(30999)" not in page
    assert "Disponible" in _row(page, "cvec")


def test_the_dashboard_shows_the_rates_in_use(clerk, clerk_client):
    limiter = get_limiter()
    for _ in range(3):
        assert limiter.acquire(Source.CVEC).granted
    assert limiter.acquire(Source.API_PARTICULIER, token="t").granted

    page = clerk_client.get(reverse("home")).text

    cvec = _row(page, "cvec")
    assert "3 / 5 par s" in cvec
    assert "3 / 200 par min" in cvec
    assert "1 / 20 par s" in _row(page, "api_particulier")
    assert "1 / 1\u202f000 par min" in _row(page, "api_particulier")  # thousands grouped
    assert "—" in _row(page, "covoiturage").split("</td>")[1]  # nothing sent: no use shown


def test_a_source_that_answers_others_is_shown_available(clerk, clerk_client):
    # Five people the provider chokes on, among many it answers: the source is available, and
    # an old error is not shown next to "Disponible".
    limiter = get_limiter()
    for n in range(20):
        limiter.record_success(Source.API_PARTICULIER, subject=f"claim:ok{n}")
    for _ in range(5):
        for n in range(5):
            limiter.record_failure(Source.API_PARTICULIER, error="30999", subject=f"claim:{n}")

    page = clerk_client.get(reverse("home")).text

    row = _row(page, "api_particulier")
    assert "Disponible" in row
    assert "Hors service" not in row
    assert "Dernière erreur :" not in row


def test_the_last_error_of_the_day_is_in_words(clerk, clerk_client):
    institution = clerk.institution
    _attempt(
        institution,
        Source.API_PARTICULIER,
        outcome=AttemptOutcome.UNAVAILABLE,
        http_status=502,
        provider_error_code="30999",
    )
    _attempt(
        institution,
        Source.CVEC,
        outcome=AttemptOutcome.UNAVAILABLE,
        payload={"error": "timeout", "status": None},
    )
    _attempt(institution, Source.CERTIFINFO, outcome=AttemptOutcome.UNAVAILABLE, http_status=503)
    _attempt(InstitutionFactory(), Source.COVOITURAGE, outcome=AttemptOutcome.UNAVAILABLE)

    page = clerk_client.get(reverse("home")).text

    cells = {s: _row(page, s).split("<td")[-1] for s in Source.values}
    assert "Erreur du fournisseur de données (MEN), code 30999" in cells["api_particulier"]
    assert "Délai de réponse dépassé" in cells["cvec"]
    assert "Source indisponible ou en maintenance (HTTP 503)" in cells["certifinfo"]
    assert "—" in cells["covoiturage"]  # another institution's error is not ours


def test_a_last_error_without_code_or_status_still_says_what_happened(clerk, clerk_client):
    """A failed call that left no code, no HTTP status and no recorded error (a connection
    that went nowhere) shows its outcome, never a date followed by nothing."""
    _attempt(clerk.institution, Source.CERTIFINFO, outcome=AttemptOutcome.UNAVAILABLE)
    _attempt(clerk.institution, Source.CVEC, outcome=AttemptOutcome.RATE_LIMITED)

    page = clerk_client.get(reverse("home")).text

    certifinfo = _row(page, Source.CERTIFINFO).split("<td")[-1]
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d : Indisponible", certifinfo), certifinfo
    assert "Limite de débit" in _row(page, Source.CVEC).split("<td")[-1]


def test_the_dashboard_survives_an_unreachable_limiter(clerk, clerk_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    page = clerk_client.get(reverse("home"))
    assert page.status_code == 200
    assert "injoignable" in page.text
    assert "État inconnu" in _row(page.text, "cvec")


@pytest.mark.usefixtures("strict_breaker")
def test_the_claim_card_shows_the_calls_errors_in_words(institution, client):
    for p in enrolled_people(2):
        run_until_done(scolarite_request(p, institution))
    stuck = run_until_done(
        scolarite_request(person_with(scolarite=ScolariteOutcome.PROVIDER_ERROR), institution)
    )
    client.force_login(UserFactory(institution=institution))

    page = client.get(reverse("applicant_detail", args=[stuck.claim.applicant_id])).text

    calls = page[page.index('class="attempts"') :].split("</details>")[0]
    assert calls.count("Erreur du fournisseur de données (MEN), code 30999") == 3
    assert "<td>30999</td>" not in calls
    assert "a répondu aux autres demandes" in page


# --- The batch confirmation and the ETA -------------------------------------------------------

PARTICULIER = "API Particulier (statut élève scolarisé)"


def _open_breaker(source, error="30001"):
    limiter = get_limiter()
    for n in range(limiter.config.failure_threshold):
        limiter.record_failure(source, error=error, subject=f"claim:{n}")
    assert limiter.breaker(source).state == "open"


def _claims(user, n, kind):
    return [
        ClaimFactory(applicant=ApplicantFactory(institution=user.institution), kind=kind)
        for _ in range(n)
    ]


def test_eta_text_says_when_a_source_is_down():
    assert eta_text(30) == "moins d'une minute"
    assert eta_text(30, ["CVEC"]) == "la source CVEC est indisponible : durée inconnue"
    assert eta_text(420, ["CVEC"]) == "au moins 7 minutes, la source CVEC est indisponible"
    assert eta_text(30, ["CVEC", "Certif Info"]) == (
        "les sources CVEC et Certif Info sont indisponibles : durée inconnue"
    )
    assert eta_text(7500, ["A", "B", "C"]) == (
        "au moins 2 h 05, les sources A, B et C sont indisponibles"
    )


def test_eta_seconds_adds_the_wait_of_a_source_that_cannot_be_called_yet():
    rates = {"cvec": 5.0, "certifinfo": 5.0}
    assert eta_seconds({"cvec": 50, "certifinfo": 50}, {}, rates) == 10.0
    assert eta_seconds({"cvec": 50, "certifinfo": 50}, {}, rates, delays={"cvec": 120.0}) == 130.0
    assert eta_seconds({"cvec": 50}, {}, rates, delays={"certifinfo": 120.0}) == 10.0


def test_the_confirmation_warns_that_a_source_is_down(supervisor_client, supervisor):
    _open_breaker(Source.API_PARTICULIER)
    _claims(supervisor, 6, ClaimKind.SCOLARITE)
    _claims(supervisor, 4, ClaimKind.CVEC)

    page = supervisor_client.get(reverse("batch_launch"), {"label": "Rentrée"}).text

    warning = page[page.index('id="batch-confirm-degraded"') :].split("</section>")[0]
    assert f"{PARTICULIER} est hors service" in warning
    assert "Ses 6 vérifications attendront qu'elle réponde de nouveau" in warning
    assert "Prochain essai à" in warning
    assert (
        "Dernière erreur : Fournisseur de données indisponible ou en maintenance (MEN), code "
        "30001." in warning
    )
    assert 'data-source="cvec"' not in warning  # the CVEC answers
    assert (
        f"10 vérifications seront lancées ; durée estimée : la source {PARTICULIER} est "
        "indisponible : durée inconnue." in page
    )


def test_the_confirmation_warns_of_a_pause_and_counts_it_in_the_duration(
    supervisor_client, supervisor
):
    get_limiter().pause(Source.CVEC, 150, reason="429")
    _claims(supervisor, 4, ClaimKind.CVEC)

    page = supervisor_client.get(reverse("batch_launch"), {"label": "Rentrée"}).text

    warning = page[page.index('id="batch-confirm-degraded"') :].split("</section>")[0]
    assert "a demandé une pause (trop de requêtes)" in warning
    assert "Reprise à" in warning
    assert "4 vérifications seront lancées ; durée estimée : environ 3 minutes." in page


def test_the_confirmation_says_nothing_of_healthy_sources(supervisor_client, supervisor):
    _open_breaker(Source.COVOITURAGE)  # down, but not asked by this cohort
    _claims(supervisor, 3, ClaimKind.CVEC)

    page = supervisor_client.get(reverse("batch_launch"), {"label": "Rentrée"}).text

    assert "batch-confirm-degraded" not in page
    assert "durée estimée : moins d&#x27;une minute." in page


def test_the_batch_progress_says_a_source_is_down_rather_than_less_than_a_minute(
    supervisor_client, supervisor
):
    batch = batch_verification_launch(
        acting_user=supervisor, claims=_claims(supervisor, 5, ClaimKind.SCOLARITE), label="Lot"
    )
    fragment = reverse("batch_progress", args=[batch.pk])
    assert "Temps restant estimé : moins d&#x27;une minute." in supervisor_client.get(fragment).text

    _open_breaker(Source.API_PARTICULIER)
    page = supervisor_client.get(fragment).text

    assert (
        f"Temps restant estimé : la source {PARTICULIER} est indisponible : durée inconnue." in page
    )


def test_the_dashboard_says_what_each_rate_counts(clerk, clerk_client):
    """Two « par min » lines side by side said nothing: each rate is named by what it counts."""
    limiter = get_limiter()
    assert limiter.acquire(Source.API_PARTICULIER, token="t").granted
    row = _row(clerk_client.get(reverse("home")).text, "api_particulier")
    uses = re.findall(r"<div>([^<]*)</div>", row)
    assert "par jeton : 1 / 20 par s" in uses
    assert "par adresse IP : 1 / 1\u202f000 par min" in uses


def test_in_english_the_rates_and_the_last_error_are_punctuated_as_english(clerk, clerk_client):
    """ "per IP address : 0 / 1,000" was French punctuation in English (seen on make run)."""
    assert get_limiter().acquire(Source.CVEC).granted
    _attempt(clerk.institution, Source.CERTIFINFO, outcome=AttemptOutcome.UNAVAILABLE)
    clerk_client.cookies["django_language"] = "en"

    page = clerk_client.get(reverse("home")).text

    assert re.search(r"<div>[^<]*\w: 1 / 5 per s</div>", _row(page, "cvec")), _row(page, "cvec")
    certifinfo = _row(page, Source.CERTIFINFO).split("<td")[-1]
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d: Unavailable", certifinfo), certifinfo
    assert " : " not in _row(page, "cvec") + certifinfo
