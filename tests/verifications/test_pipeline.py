"""The verification pipeline against the sandbox, over real HTTP: every verdict for every kind,
every retry branch, and the claim/lease rules that make a request end exactly once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from admissions.audit import audit_chains_verify
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox import tokens
from sandbox.population import (
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import (
    claim_for,
    person_with,
    request_for,
    run_until_done,
    staging_claim,
)
from verifications.enums import AttemptOutcome, ClaimKind, RequestState, Source, Verdict
from verifications.models import (
    Claim,
    InstitutionCredential,
    SourceAlert,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.providers.limits import get_limiter
from verifications.services import verification_dispatch, verification_run


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

OUTCOMES = [
    (ClaimKind.SCOLARITE, {"scolarite": ScolariteOutcome.ENROLLED}, Verdict.CONFIRMED),
    (ClaimKind.SCOLARITE, {"scolarite": ScolariteOutcome.NOT_ENROLLED}, Verdict.CONTRADICTED),
    (ClaimKind.SCOLARITE, {"scolarite": ScolariteOutcome.UNKNOWN}, Verdict.NOT_FOUND),
    (ClaimKind.CVEC, {"cvec": CvecOutcome.VALID}, Verdict.CONFIRMED),
    (ClaimKind.CVEC, {"cvec": CvecOutcome.INVALID}, Verdict.CONTRADICTED),
    (ClaimKind.CVEC, {"cvec": CvecOutcome.HOLDER_MISMATCH}, Verdict.MISMATCH),
    (ClaimKind.CVEC, {"cvec": CvecOutcome.UNKNOWN}, Verdict.NOT_FOUND),
    (ClaimKind.CERTIFICATION, {"certification": CertificationOutcome.ACTIVE}, Verdict.CONFIRMED),
    (
        ClaimKind.CERTIFICATION,
        {"certification": CertificationOutcome.BELOW_LEVEL},
        Verdict.CONTRADICTED,
    ),
    # An archived fiche is no contradiction: confirmed with a caveat (docs/VERDICTS.md).
    (ClaimKind.CERTIFICATION, {"certification": CertificationOutcome.ARCHIVED}, Verdict.CONFIRMED),
    (ClaimKind.CERTIFICATION, {"certification": CertificationOutcome.UNKNOWN}, Verdict.NOT_FOUND),
    (ClaimKind.COVOITURAGE, {"covoiturage": CovoiturageOutcome.OK}, Verdict.CONFIRMED),
    (ClaimKind.COVOITURAGE, {"covoiturage": CovoiturageOutcome.EXPIRED}, Verdict.CONTRADICTED),
    (ClaimKind.COVOITURAGE, {"covoiturage": CovoiturageOutcome.UNKNOWN}, Verdict.NOT_FOUND),
]


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.mark.parametrize(("kind", "outcome", "verdict"), OUTCOMES, ids=lambda v: str(v))
def test_every_kind_reaches_every_verdict(institution, kind, outcome, verdict):
    claim = claim_for(person_with(**outcome), kind, institution)
    request = run_until_done(request_for(claim))
    assert request.verdict == verdict, (request.reason_code, request.diff)
    claim.refresh_from_db()
    assert claim.verdict == verdict
    assert claim.verified_at is not None
    attempts = list(request.attempts.all())
    assert attempts
    assert all(a.source == ClaimKind(kind).source for a in attempts)
    assert attempts[-1].http_status is not None
    assert request.attempt_count == len(attempts)
    event = AuditEvent.objects.get(action=AuditAction.VERDICT_RECORDED, object_id=str(claim.pk))
    assert event.details["verdict"] == verdict
    assert not any(r.breaks for r in audit_chains_verify())


def test_published_staging_identity_is_confirmed_with_its_diff(institution):
    """MARTIN EMMA, API Particulier's own v4 staging example."""
    request = run_until_done(request_for(staging_claim("MARTIN EMMA", institution)))
    assert request.verdict == Verdict.CONFIRMED
    fields = {row["field"]: row for row in request.diff}
    assert fields["uai"]["source"] == "0132733A"
    assert fields["uai"]["match"] is True
    assert request.evidence["est_scolarise"] is True
    assert "MARTIN" not in str(request.evidence)  # evidence names no one
    attempt = request.attempts.get()
    assert attempt.upstream_request_id  # the sandbox's X-Request-ID is kept
    assert "MARTIN" not in str(attempt.payload)
    assert "EMMA" not in str(attempt.payload)


@pytest.mark.parametrize(
    ("pupil", "verdict", "reason_code", "note"),
    [
        # Staging answers anneeScolaire=2025 with "2024-2025": an echo, not a contradiction.
        ("Garcia Mateo", Verdict.MISMATCH, "scolarite.other_year", None),
        # ...and with "2025": the same year written otherwise.
        ("Dupont Nouhe", Verdict.CONFIRMED, "scolarite.confirmed", "scolarite.year_label_format"),
    ],
)
def test_staging_year_labels_are_echoes(institution, pupil, verdict, reason_code, note):
    request = run_until_done(request_for(staging_claim(pupil, institution)))

    assert (request.verdict, request.reason_code) == (verdict, reason_code)
    assert {row["field"]: row["match"] for row in request.diff}["school_year"] is (
        verdict == Verdict.CONFIRMED
    )
    if note:
        assert note in request.note_codes


def test_an_archived_certification_is_confirmed_with_its_end_of_registration(institution):
    person = person_with(certification=CertificationOutcome.ARCHIVED)
    request = run_until_done(request_for(claim_for(person, ClaimKind.CERTIFICATION, institution)))

    assert request.verdict == Verdict.CONFIRMED
    assert request.reason_code in {"certification.archived", "certification.archived_level"}
    caveats = {"certification.archived_caveat", "certification.archived_end_unknown"}
    assert caveats & set(request.note_codes)
    if request.evidence["date_fin_enregistrement"]:
        assert "certification.archived_caveat" in request.note_codes


def test_a_second_run_finds_nothing_to_do(institution):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    assert verification_run(request_id=request.pk).status == "done"
    assert verification_run(request_id=request.pk).status == "skipped"
    assert VerificationAttempt.objects.filter(request=request).count() == 1


def test_twenty_clicks_make_one_request(institution):
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    user = UserFactory(institution=institution)
    requests = {request_for(claim, user).pk for _ in range(20)}
    assert len(requests) == 1


def test_provider_error_is_retried_then_ends_unavailable(institution, settings, sandbox_settings):
    settings.VERIFICATION_MAX_FAILURES = 3
    sandbox_settings.configure(error_rates={"502": 1.0})
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    first = verification_run(request_id=request.pk)
    assert first.status == "retry"
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    assert request.failure_count == 1
    assert request.not_before > timezone.now()
    request = run_until_done(request)
    assert request.verdict == Verdict.UNAVAILABLE
    assert request.failure_count == 2  # the third failure ends it
    assert [a.http_status for a in request.attempts.order_by("id")] == [502, 502, 502]
    assert {a.provider_error_code for a in request.attempts.all()} == {"30999"}


def test_retry_in_hint_is_honoured(institution, sandbox_settings):
    sandbox_settings.configure(error_rates={"504/00501": 1.0})
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    outcome = verification_run(request_id=request.pk)
    assert outcome.status == "retry"
    assert outcome.wait >= 10  # meta.retry_in of 00501 is 10 s


def test_timeout_is_a_retryable_failure(institution, settings, sandbox_settings):
    settings.API_PARTICULIER_TIMEOUT = 0.3
    sandbox_settings.configure(timeout_rate=1.0, timeout_seconds=2)
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    assert verification_run(request_id=request.pk).status == "retry"
    attempt = request.attempts.get()
    assert attempt.outcome == AttemptOutcome.UNAVAILABLE
    assert attempt.http_status is None


def test_429_pauses_the_whole_source_until_retry_after(institution, settings, sandbox_settings):
    # The sandbox allows 1 request per 5 s per token; our limiter is told more (to provoke it).
    settings.VERIFICATION_RATE_LIMITS = {"api_particulier": {"token": [(50, 1.0)]}}
    sandbox_settings.configure(particulier_token_limit=1, particulier_token_window=5.0)
    enrolled = person_with(scolarite=ScolariteOutcome.ENROLLED)
    first = request_for(claim_for(enrolled, ClaimKind.SCOLARITE, institution))
    second = request_for(claim_for(enrolled, ClaimKind.SCOLARITE, institution))
    assert verification_run(request_id=first.pk).status == "done"
    outcome = verification_run(request_id=second.pk)
    assert outcome.status == "retry"
    second.refresh_from_db()
    assert second.state == RequestState.PENDING
    assert 0 < (second.not_before - timezone.now()).total_seconds() <= 6
    assert second.attempts.get().outcome == AttemptOutcome.RATE_LIMITED
    state = get_limiter().breaker(Source.API_PARTICULIER)
    assert state.cooldown_until is not None  # every worker now waits


def test_409_waits_about_a_minute(institution, sandbox_settings):
    sandbox_settings.configure(error_rates={"409": 1.0})
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    outcome = verification_run(request_id=request.pk)
    assert outcome.status == "retry"
    assert 50 <= outcome.wait <= 70
    assert request.attempts.get().outcome == AttemptOutcome.CONFLICT


def test_401_is_rejected_at_once_with_an_alert_for_the_admin(institution):
    InstitutionCredential.objects.create(
        institution=institution,
        source=Source.API_PARTICULIER,
        token="not-a-valid-token",
        fingerprint="x",
    )
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    assert verification_run(request_id=request.pk).status == "done"
    request.refresh_from_db()
    assert request.verdict == Verdict.REJECTED
    assert request.reason_code == "source.token_invalid"
    alert = SourceAlert.objects.get(institution=institution, source=Source.API_PARTICULIER)
    assert alert.code == "00101"
    assert alert.http_status == 401


def test_expired_token_is_rejected(institution):
    InstitutionCredential.objects.create(
        institution=institution,
        source=Source.API_PARTICULIER,
        token=tokens.EXPIRED_TOKEN,
        fingerprint="x",
    )
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = run_until_done(request_for(claim))
    assert (request.verdict, request.reason_code) == (Verdict.REJECTED, "source.token_expired")


def test_source_not_configured_is_rejected_without_a_call(institution, settings):
    settings.COVOITURAGE_BASE_URL = ""
    claim = claim_for(
        person_with(covoiturage=CovoiturageOutcome.OK), ClaimKind.COVOITURAGE, institution
    )
    request = run_until_done(request_for(claim))
    assert request.verdict == Verdict.REJECTED
    attempt = request.attempts.get()
    assert attempt.outcome == AttemptOutcome.SKIPPED_NOT_CONFIGURED
    assert attempt.http_status is None


def test_a_stored_token_the_keys_cannot_read_is_rejected_without_a_call(
    institution, settings, sandbox_settings
):
    from admissions.infra import crypto
    from verifications.services import credentials as credential_services

    credential_services.credential_set(
        acting_user=None, institution=institution, source=Source.CVEC, token="jeton-de-test"
    )
    settings.FIELD_ENCRYPTION_KEY = [crypto.generate_key()]  # a wrong key rotation
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    request = run_until_done(request_for(claim))
    assert (request.verdict, request.reason_code) == (Verdict.REJECTED, "source.not_configured")
    assert request.attempts.get().outcome == AttemptOutcome.SKIPPED_NOT_CONFIGURED
    assert sandbox_settings.stats()["total"]["requests"] == 0


def test_source_disabled_for_the_institution(institution, sandbox_settings):
    institution.enabled_sources = [Source.API_PARTICULIER]
    institution.save()
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    request = run_until_done(request_for(claim))
    assert request.verdict == Verdict.REJECTED
    assert sandbox_settings.stats()["total"]["requests"] == 0


def test_open_breaker_defers_then_gives_up(institution, settings, sandbox_settings):
    settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD = 1
    settings.VERIFICATION_MAX_FAILURES = 10
    sandbox_settings.configure(error_rates={"502": 1.0})
    enrolled = person_with(scolarite=ScolariteOutcome.ENROLLED)
    first = request_for(claim_for(enrolled, ClaimKind.SCOLARITE, institution))
    second = request_for(claim_for(enrolled, ClaimKind.SCOLARITE, institution))
    assert verification_run(request_id=first.pk).status == "retry"  # opens the breaker
    deferred = verification_run(request_id=second.pk)
    assert deferred.status == "deferred"
    second.refresh_from_db()
    assert second.failing_since is not None
    assert not second.attempts.exists()  # nothing was sent while the breaker is open
    # Long enough since the source started failing: unavailable, without calling.
    VerificationRequest.objects.filter(pk=second.pk).update(
        failing_since=timezone.now() - settings.VERIFICATION_GIVE_UP_AFTER, not_before=None
    )
    assert verification_run(request_id=second.pk).verdict == Verdict.UNAVAILABLE


def test_a_worker_that_died_mid_call_loses_its_lease(institution, settings):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    # A worker claimed it and was killed: the row stays running.
    VerificationRequest.objects.filter(pk=request.pk).update(
        state=RequestState.RUNNING, claimed_at=timezone.now(), claimed_by="dead-worker"
    )
    assert verification_run(request_id=request.pk).status == "skipped"  # lease still held
    VerificationRequest.objects.filter(pk=request.pk).update(
        claimed_at=timezone.now() - settings.VERIFICATION_LEASE - timedelta(seconds=1)
    )
    report = verification_dispatch()
    assert report.reclaimed == 1
    assert verification_run(request_id=request.pk).status == "done"


def test_a_late_worker_cannot_overwrite_the_verdict(institution, settings):
    """If a lease expired while its worker was still calling, only the new owner records."""
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim)
    assert verification_run(request_id=request.pk, worker="first").status == "done"
    VerificationRequest.objects.filter(pk=request.pk).update(
        state=RequestState.RUNNING, claimed_by="second"
    )
    from verifications.pipeline.record import finish
    from verifications.verdicts.common import decision

    request.refresh_from_db()
    late = decision(Verdict.CONTRADICTED, "scolarite.not_enrolled")
    assert finish(request, "first", late, timezone.now(), calls=1) is False
    request.refresh_from_db()
    assert request.verdict == Verdict.CONFIRMED


def test_dispatcher_sends_a_few_seconds_of_work_per_source(institution, settings):
    from verifications.services import verification_requests_create

    settings.VERIFICATION_RATE_LIMITS = {
        "covoiturage": {"ip": [(1, 1.0)]},
        "cvec": {"source": [(10, 1.0)]},
    }
    settings.VERIFICATION_DISPATCH_LOOKAHEAD = 2.0
    user = UserFactory(institution=institution)
    cov = person_with(covoiturage=CovoiturageOutcome.OK)
    cvec = person_with(cvec=CvecOutcome.VALID)
    claims = [claim_for(cov, ClaimKind.COVOITURAGE, institution) for _ in range(10)]
    claims += [claim_for(cvec, ClaimKind.CVEC, institution) for _ in range(30)]
    assert verification_requests_create(claims=claims, acting_user=user, trigger="batch") == 40
    report = verification_dispatch()
    assert report.sent == {"cvec": 20, "covoiturage": 4}  # 10/s for 2 s; a slow source: the minimum
    assert verification_dispatch().sent == {}  # nothing more until those are taken
    # A message older than the stale limit was lost: it is sent again.
    VerificationRequest.objects.filter(source="covoiturage").update(
        enqueued_at=timezone.now() - settings.VERIFICATION_STALE_ENQUEUE - timedelta(seconds=1)
    )
    assert verification_dispatch().sent == {"covoiturage": 4}


def test_claims_keep_their_history(institution):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    run_until_done(request_for(claim))
    run_until_done(request_for(claim))
    assert VerificationRequest.objects.filter(claim=claim, state="done").count() == 2
    assert Claim.objects.get(pk=claim.pk).verdict == Verdict.CONFIRMED


def test_each_upstream_call_of_a_check_takes_its_own_slot(
    institution, settings, sandbox_settings, monkeypatch
):
    # A Certif Info check by RNCP code makes two calls (search, then detail). With a budget of
    # three calls a minute, the first check takes two slots; the second check's search takes
    # the third, and its detail call finds no slot: retried later, without a third upstream call
    # in the window (the sandbox would answer 429 to the limit it is given).
    settings.VERIFICATION_RATE_LIMITS = {"certifinfo": {"source": [(3, 60.0)]}}
    settings.VERIFICATION_RATE_LIMIT_MARGIN = 0.0
    sandbox_settings.configure(certifinfo_limit=3, certifinfo_window=60)
    active = person_with(certification=CertificationOutcome.ACTIVE)
    first = request_for(claim_for(active, ClaimKind.CERTIFICATION, institution))
    second = request_for(claim_for(active, ClaimKind.CERTIFICATION, institution))
    assert verification_run(request_id=first.pk).status == "done"
    assert first.attempts.count() == 2  # search + detail: two slots
    # Do not wait for the slot in a test: the check goes back to pending at once.
    monkeypatch.setattr("verifications.pipeline.gates.FOLLOW_UP_MAX_WAIT", 0.1)
    outcome = verification_run(request_id=second.pk)
    assert outcome.status == "retry"
    stats = sandbox_settings.stats()["apis"]["certifinfo"]
    assert stats["requests"] == 3
    assert stats["rate_limited"] == 0
    assert get_limiter().breaker(Source.CERTIFINFO).failures == 0  # our limiter, not the source


def test_dispatcher_interleaves_sources_in_the_order_of_their_slots():
    from verifications.services.dispatch import interleave

    order = interleave({"fast": [1, 2, 3, 4], "slow": [10, 11]}, {"fast": 20.0, "slow": 10.0})
    # fast: 0, .05, .10, .15 s; slow: 0, .10 s.
    assert order == [1, 10, 2, 3, 11, 4]


def test_a_half_open_breaker_lets_its_probe_check_finish(institution, settings):
    # The probe is a whole check: a Certif Info check's follow-up call goes through although
    # the half-open breaker admits nothing else until the probe reports; the check's answer
    # closes the breaker.
    settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD = 1
    settings.VERIFICATION_BREAKER_OPEN_SECONDS = 0.3
    active = person_with(certification=CertificationOutcome.ACTIVE)
    request = request_for(claim_for(active, ClaimKind.CERTIFICATION, institution))
    limiter = get_limiter()
    limiter.record_failure(Source.CERTIFINFO, error="test")
    assert limiter.breaker(Source.CERTIFINFO).state == "open"
    time.sleep(0.4)
    assert limiter.breaker(Source.CERTIFINFO).state == "half_open"
    outcome = verification_run(request_id=request.pk)
    assert outcome.status == "done"
    assert request.attempts.count() == 2  # search and detail
    assert limiter.breaker(Source.CERTIFINFO).state == "closed"
