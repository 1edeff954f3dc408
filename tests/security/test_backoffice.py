"""The back-office (Django admin) tools of issue 6, with the admin client: institutions with their
credential status, the providers' health page and its breaker reset, stuck requests and their
re-queue, batches, and the read-only audit trail with search."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from admissions.audit import audit_chains_verify
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import ClaimFactory, InstitutionFactory, UserFactory
from verifications.enums import AttemptOutcome, BatchKind, RequestState, Source, Trigger
from verifications.models import Batch, SourceAlert, VerificationAttempt, VerificationRequest
from verifications.providers.limits import get_limiter
from verifications.services import claims as claim_services
from verifications.services import credentials as credential_services


pytestmark = pytest.mark.django_db
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjIwODI3NTg0MDB9.c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.fixture
def staff():
    return UserFactory(backoffice=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


# --- Institutions and their credentials -----------------------------------------------------


def test_institution_pages_show_credential_status_never_the_token(staff_client):
    institution = InstitutionFactory(name="Lycée Vauban")
    credential_services.credential_set(
        acting_user=None, institution=institution, source=Source.API_PARTICULIER, token=TOKEN
    )
    credential = institution.credentials.get()
    credential.expires_at = timezone.now() + timedelta(days=40)
    credential.save(update_fields=["expires_at"])

    listing = staff_client.get(reverse("admin:admissions_institution_changelist"))
    assert listing.status_code == 200
    assert "Lycée Vauban" in listing.text
    assert "1/4" in listing.text  # one token set out of four sources

    page = staff_client.get(reverse("admin:admissions_institution_change", args=[institution.pk]))
    assert page.status_code == 200
    assert "État des identifiants d" in page.text
    assert credential.fingerprint in page.text
    assert "non défini" in page.text  # the three other sources
    assert TOKEN not in page.text
    assert TOKEN[20:40] not in page.text


# --- Provider health and the breaker reset --------------------------------------------------


def _open_breaker(source: str) -> None:
    limiter = get_limiter()
    for _ in range(limiter.config.failure_threshold):
        limiter.record_failure(source, error="http_503")
    assert limiter.breaker(source).state == "open"


def test_health_page_shows_breakers_rates_last_errors_and_alerts(staff_client):
    _open_breaker(Source.CVEC)
    assert get_limiter().acquire(Source.API_PARTICULIER, token="t").granted
    claim = ClaimFactory()
    request = VerificationRequest.objects.create(
        institution=claim.institution,
        claim=claim,
        source=Source.API_PARTICULIER,
        trigger=Trigger.MANUAL,
    )
    VerificationAttempt.objects.create(
        request=request,
        source=Source.API_PARTICULIER,
        outcome=AttemptOutcome.REJECTED,
        http_status=401,
        provider_error_code="00101",
    )
    SourceAlert.objects.create(
        institution=claim.institution,
        source=Source.API_PARTICULIER,
        code="00101",
        http_status=401,
        last_seen=timezone.now(),
    )

    response = staff_client.get(reverse("admin:verifications_provider_health"))
    assert response.status_code == 200
    text = response.text
    assert text.count("<tr data-source=") == 4
    cvec_row = text[text.index('data-source="cvec"') :].split("</tr>")[0]
    assert "Ouvert : les appels attendent" in cvec_row
    assert "Source indisponible ou en maintenance (HTTP 503)" in cvec_row  # in words
    assert "http_503" not in cvec_row
    assert "Prochain essai :" in cvec_row
    particulier_row = text[text.index('data-source="api_particulier"') :].split("</tr>")[0]
    assert "Fermé (normal)" in particulier_row
    assert "1 / 20 par s" in particulier_row  # one grant of the 20/s token budget
    # What each rate counts in words, its id aside (it read "token:3f2a… : 1 / 20 par s").
    assert "par jeton (<code>" in particulier_row
    assert "<code>token:" not in particulier_row
    assert "accès invalide ou absent, code 00101" in particulier_row
    assert claim.institution.name in particulier_row
    assert "Réinitialiser le disjoncteur" in particulier_row
    # Reached from the alerts' list.
    alerts = staff_client.get(reverse("admin:verifications_sourcealert_changelist"))
    assert reverse("admin:verifications_provider_health") in alerts.text


def test_breaker_reset_closes_it_for_everyone_and_is_audited(staff_client, staff):
    _open_breaker(Source.CVEC)
    response = staff_client.post(
        reverse("admin:verifications_breaker_reset"),
        {"source": Source.CVEC},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    assert get_limiter().breaker(Source.CVEC).state == "closed"
    assert get_limiter().acquire(Source.CVEC).granted
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert event.actor == staff
    assert event.chain == "backoffice"
    assert (event.object_type, event.object_id) == ("source", "cvec")
    assert event.details == {"breaker_reset": "cvec"}
    assert event.ip == "192.0.2.10"
    assert all(not report.breaks for report in audit_chains_verify())
    page = staff_client.get(response.headers["Location"])
    assert "réinitialisé" in page.text


def test_breaker_reset_refuses_unknown_sources_and_get(staff_client):
    response = staff_client.post(
        reverse("admin:verifications_breaker_reset"), {"source": "nope"}, follow=True
    )
    assert "Source inconnue" in response.text
    assert staff_client.get(reverse("admin:verifications_breaker_reset")).status_code == 405
    assert not AuditEvent.objects.exists()


def test_staff_without_permissions_can_neither_see_health_nor_reset(client):
    plain_staff = UserFactory(institution=None, is_staff=True, is_superuser=False)
    client.force_login(plain_staff)
    assert client.get(reverse("admin:verifications_provider_health")).status_code == 403
    _open_breaker(Source.CVEC)
    response = client.post(reverse("admin:verifications_breaker_reset"), {"source": "cvec"})
    assert response.status_code == 403
    assert get_limiter().breaker(Source.CVEC).state == "open"
    # With the view permission, the page but no reset button.
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_sourcealert"))
    page = client.get(reverse("admin:verifications_provider_health"))
    assert page.status_code == 200
    assert "Réinitialiser le disjoncteur" not in page.text


def test_members_of_an_institution_never_reach_the_back_office(client):
    client.force_login(UserFactory(role="institution_admin"))
    response = client.get(reverse("admin:verifications_provider_health"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("admin:login"))


# --- Stuck requests and their re-queue ------------------------------------------------------


def _request(state: str, **fields) -> VerificationRequest:
    claim = ClaimFactory()
    return VerificationRequest.objects.create(
        institution=claim.institution,
        claim=claim,
        source=Source.API_PARTICULIER,
        trigger=Trigger.MANUAL,
        state=state,
        **fields,
    )


@pytest.fixture
def requests_of_every_kind(settings):
    now = timezone.now()
    lease = settings.VERIFICATION_LEASE
    stuck_after = settings.VERIFICATION_STUCK_PENDING
    dead = _request(RequestState.RUNNING, claimed_at=now - lease * 2, claimed_by="w1")
    alive = _request(RequestState.RUNNING, claimed_at=now, claimed_by="w2")
    fresh = _request(RequestState.PENDING)
    old = _request(RequestState.PENDING)
    waiting = _request(RequestState.PENDING, not_before=now + timedelta(hours=1))
    done = _request(RequestState.DONE)
    old_rows = [old.pk, waiting.pk, done.pk]
    VerificationRequest.objects.filter(pk__in=old_rows).update(
        created_at=now - stuck_after - timedelta(minutes=1)
    )
    return {
        "dead": dead,
        "alive": alive,
        "fresh": fresh,
        "old": old,
        "waiting": waiting,
        "done": done,
    }


def test_stuck_filter_lists_expired_leases_and_long_waits_only(
    staff_client, requests_of_every_kind
):
    url = reverse("admin:verifications_verificationrequest_changelist")
    response = staff_client.get(url, {"stuck": "yes"})
    assert response.status_code == 200
    listed = {r.pk for r in response.context["cl"].result_list}
    expected = {requests_of_every_kind["dead"].pk, requests_of_every_kind["old"].pk}
    assert listed == expected


def test_requeue_action_goes_through_the_audited_service(
    staff_client, staff, requests_of_every_kind, django_capture_on_commit_callbacks
):
    rows = requests_of_every_kind
    chosen = [rows["dead"].pk, rows["alive"].pk, rows["done"].pk, rows["old"].pk]
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            reverse("admin:verifications_verificationrequest_changelist"),
            {"action": "requeue", "_selected_action": chosen},
            REMOTE_ADDR="192.0.2.11",
            follow=True,
        )
    assert response.status_code == 200
    assert "2 demande(s) remise(s) en file, 2 laissée(s)" in response.text
    assert len(callbacks) == 2  # one task message per re-queued request, after commit

    dead = VerificationRequest.objects.get(pk=rows["dead"].pk)
    assert (dead.state, dead.claimed_by, dead.claimed_at) == (RequestState.PENDING, "", None)
    assert dead.not_before <= timezone.now()
    alive = VerificationRequest.objects.get(pk=rows["alive"].pk)
    assert (alive.state, alive.claimed_by) == (RequestState.RUNNING, "w2")
    assert VerificationRequest.objects.get(pk=rows["done"].pk).state == RequestState.DONE

    events = AuditEvent.objects.filter(action=AuditAction.VERIFICATION_REQUESTED)
    assert events.count() == 2
    event = events.get(details__request=rows["dead"].pk)
    assert event.actor == staff
    assert event.institution_id == dead.institution_id  # in the institution's own chain
    assert event.applicant_id == dead.claim.applicant_id
    assert event.details["requeued"] is True
    assert event.details["previous_state"] == "running"
    assert event.ip == "192.0.2.11"
    assert event.purpose == "remise en file depuis le back-office"


def test_requeued_request_is_then_run_by_the_pipeline(
    staff, requests_of_every_kind, settings, sandbox_settings
):
    """The re-queued row is an ordinary pending request: the next run takes it."""
    from verifications.services import verification_run
    from verifications.services.backoffice import RequeueOutcome, verification_request_requeue

    dead = requests_of_every_kind["dead"]
    assert (
        verification_request_requeue(request_id=dead.pk, acting_user=staff)
        == RequeueOutcome.REQUEUED
    )
    outcome = verification_run(request_id=dead.pk, task_id="after-requeue")
    assert outcome.status == "done"
    dead.refresh_from_db()
    assert dead.state == RequestState.DONE


# --- Batches and the audit trail ------------------------------------------------------------


def test_batches_are_listed_with_their_institution(staff_client):
    institution = InstitutionFactory(name="Université de Brest")
    Batch.objects.create(
        institution=institution, kind=BatchKind.IMPORT, label="Rentrée 2026", total=120
    )
    response = staff_client.get(reverse("admin:verifications_batch_changelist"))
    assert response.status_code == 200
    assert "Rentrée 2026" in response.text
    assert "Université de Brest" in response.text


def test_audit_events_are_searchable_and_read_only(staff_client):
    clerk = UserFactory(username="agent.dupont")
    claim = ClaimFactory(applicant__institution=clerk.institution)
    claim_services.claim_update_declared(
        acting_user=clerk, claim=claim, declared={"uai": "0132733A", "school_year": 2026}
    )
    event = AuditEvent.objects.get(actor=clerk)
    listing = staff_client.get(reverse("admin:admissions_auditevent_changelist"), {"q": "dupont"})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [event]
    nothing = staff_client.get(reverse("admin:admissions_auditevent_changelist"), {"q": "zzz"})
    assert list(nothing.context["cl"].result_list) == []

    change = reverse("admin:admissions_auditevent_change", args=[event.pk])
    page = staff_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.text  # a view, not a form
    assert staff_client.post(change, {"purpose": "x"}).status_code == 403
    delete = reverse("admin:admissions_auditevent_delete", args=[event.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).hash == event.hash


def test_opening_an_applicant_claim_or_request_in_the_back_office_is_audited(staff_client, staff):
    claim = ClaimFactory()
    request = VerificationRequest.objects.create(
        institution=claim.institution, claim=claim, source=Source.API_PARTICULIER, trigger="manual"
    )
    pages = [
        reverse("admin:admissions_applicant_change", args=[claim.applicant_id]),
        reverse("admin:verifications_claim_change", args=[claim.pk]),
        reverse("admin:verifications_verificationrequest_change", args=[request.pk]),
    ]
    for url in pages:
        assert staff_client.get(url, REMOTE_ADDR="192.0.2.12").status_code == 200
    events = AuditEvent.objects.filter(action=AuditAction.VIEWED).order_by("seq")
    assert [(e.object_type, e.object_id) for e in events] == [
        ("applicant", str(claim.applicant_id)),
        ("claim", str(claim.pk)),
        ("verificationrequest", str(request.pk)),
    ]
    for event in events:
        assert event.actor == staff
        assert event.institution_id == claim.institution_id
        assert event.applicant_id == claim.applicant_id
        assert event.purpose == "consultation depuis le back-office"
        assert event.ip == "192.0.2.12"
    # Lists and unknown ids record nothing.
    staff_client.get(reverse("admin:admissions_applicant_changelist"))
    staff_client.get(reverse("admin:admissions_applicant_change", args=[999999]))
    assert AuditEvent.objects.filter(action=AuditAction.VIEWED).count() == 3


def test_resolving_alerts_is_audited_and_needs_the_permission(staff_client, staff):
    claim = ClaimFactory()
    alert = SourceAlert.objects.create(
        institution=claim.institution,
        source=Source.API_PARTICULIER,
        code="00101",
        http_status=401,
        last_seen=timezone.now(),
    )
    url = reverse("admin:verifications_sourcealert_changelist")
    # Staff who may only look: no action.
    looker = UserFactory(institution=None, is_staff=True, is_superuser=False)
    looker.user_permissions.add(Permission.objects.get(codename="view_sourcealert"))
    client = Client()
    client.force_login(looker)
    client.post(url, {"action": "resolve", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.resolved_at is None

    response = staff_client.post(
        url, {"action": "resolve", "_selected_action": [alert.pk]}, follow=True
    )
    assert "1 alerte(s) marquée(s) comme résolue(s)" in response.text
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert (event.actor, event.institution_id) == (staff, claim.institution_id)
    assert event.details == {"alert_resolved": "00101", "source": "api_particulier"}
    # Resolving again changes nothing.
    staff_client.post(url, {"action": "resolve", "_selected_action": [alert.pk]})
    assert AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED).count() == 1


def test_applicants_claims_batches_and_requests_are_not_written_from_the_admin(staff_client):
    """Writes go through the audited services (and erasure through the GDPR path), never
    through admin forms that would bypass the audit trail."""
    claim = ClaimFactory()
    request = VerificationRequest.objects.create(
        institution=claim.institution, claim=claim, source=Source.API_PARTICULIER, trigger="manual"
    )
    batch = Batch.objects.create(institution=claim.institution, kind=BatchKind.IMPORT, label="L")
    for model, pk in (
        ("admissions_applicant", claim.applicant_id),
        ("verifications_claim", claim.pk),
        ("verifications_batch", batch.pk),
    ):
        assert staff_client.get(reverse(f"admin:{model}_add")).status_code == 403, model
        change = reverse(f"admin:{model}_change", args=[pk])
        assert staff_client.post(change, {}).status_code == 403, model
        delete = reverse(f"admin:{model}_delete", args=[pk])
        assert staff_client.post(delete, {"post": "yes"}).status_code == 403, model
    assert staff_client.get(reverse("admin:verifications_verificationrequest_add")).status_code == (
        403
    )
    page = staff_client.get(
        reverse("admin:verifications_verificationrequest_change", args=[request.pk])
    )
    assert 'name="not_before"' not in page.text  # every field read-only
    assert claim.applicant.__class__.objects.filter(pk=claim.applicant_id).exists()


def test_institution_and_user_changes_in_the_admin_are_audited(staff_client, staff):
    institution = InstitutionFactory(name="Lycée Ancien Nom")
    response = staff_client.post(
        reverse("admin:admissions_institution_change", args=[institution.pk]),
        {
            "name": "Lycée Nouveau Nom",
            "siret": institution.siret,
            "uai": "",
            "enabled_sources": ["api_particulier", "cvec"],
            "credentials-TOTAL_FORMS": "0",
            "credentials-INITIAL_FORMS": "0",
            "credentials-MIN_NUM_FORMS": "0",
            "credentials-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert (event.actor, event.institution_id) == (staff, institution.pk)
    assert event.details == {"fields": ["enabled_sources", "name"]}

    response = staff_client.post(
        reverse("admin:admissions_user_add"),
        {
            "username": "agent.nouveau",
            "password1": "un mot de passe tres solide",
            "password2": "un mot de passe tres solide",
            "usable_password": "true",
            "institution": institution.pk,
            "role": "clerk",
        },
    )
    assert response.status_code == 302, response.text[:3000]
    created = AuditEvent.objects.get(action=AuditAction.CREATED, object_type="user")
    assert created.institution_id == institution.pk
    assert created.actor == staff
    assert "un mot de passe" not in str(created.details)
    delete = reverse("admin:admissions_institution_delete", args=[institution.pk])
    assert staff_client.get(delete).status_code == 403
    assert all(not report.breaks for report in audit_chains_verify())


def test_a_token_the_keys_cannot_read_is_shown_unreadable_and_can_be_replaced(
    staff_client, settings
):
    from admissions.infra import crypto

    institution = InstitutionFactory(name="Lycée Vauban")
    credential_services.credential_set(
        acting_user=None, institution=institution, source=Source.API_PARTICULIER, token=TOKEN
    )
    credential = institution.credentials.get()
    # A wrong rotation: the key that encrypted the token is no longer configured.
    settings.FIELD_ENCRYPTION_KEY = [crypto.generate_key()]
    unreadable = "illisible avec les clés actuelles"

    pages = [
        reverse("admin:verifications_institutioncredential_changelist"),
        reverse("admin:verifications_institutioncredential_change", args=[credential.pk]),
        reverse("admin:admissions_institution_changelist"),
        reverse("admin:admissions_institution_change", args=[institution.pk]),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert unreadable in response.text, url
    assert "1/4 (1 illisible avec les clés actuelles)" in staff_client.get(pages[2]).text

    response = staff_client.post(
        pages[1],
        {
            "institution": institution.pk,
            "source": Source.API_PARTICULIER,
            "new_token": "nouveau-jeton-lisible",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    credential = institution.credentials.get()
    assert credential.token == "nouveau-jeton-lisible"
    assert unreadable not in staff_client.get(pages[3]).text


def test_a_token_the_keys_cannot_read_breaks_neither_the_dashboard_nor_the_expiry_check(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    from admissions.enums import Role
    from admissions.infra import crypto
    from verifications.models import InstitutionCredential
    from verifications.services.notifications import credential_expiry_check

    admin = UserFactory(role=Role.INSTITUTION_ADMIN, email="admin@example.org")
    credential_services.credential_set(
        acting_user=None,
        institution=admin.institution,
        source=Source.CVEC,
        token="jeton-opaque",
        expires_at=timezone.now() + timedelta(days=10),
    )
    settings.FIELD_ENCRYPTION_KEY = [crypto.generate_key()]

    client.force_login(admin)
    assert client.get(reverse("home")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert credential_expiry_check() == 1
    assert len(mailoutbox) == 1
    # Where the token is sent, it is read, and the failure says what it is.
    credential = InstitutionCredential.objects.get()
    with pytest.raises(crypto.DecryptionError):
        _ = credential.token
