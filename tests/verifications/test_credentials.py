"""API tokens: the expiry read from the JWT when saved, the warnings 90, 60, 30 and 15 days
before (dashboard and one e-mail per threshold), and the alert when a source answers 401."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox import tokens
from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import ClaimKind, Source, Verdict
from verifications.models import InstitutionCredential, SourceAlert
from verifications.services import credentials as credential_services
from verifications.services.notifications import credential_expiry_check


pytestmark = pytest.mark.django_db
EXPIRES = dt.datetime(2027, 6, 30, 12, tzinfo=dt.UTC)


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def admin_user(institution):
    return UserFactory(institution=institution, institution_admin=True, email="admin@example.org")


def _jwt(expires: dt.datetime) -> str:
    return tokens.make_token("inst", scopes=["men_statut_scolarite"], exp=int(expires.timestamp()))


def _save(institution, token, **kwargs):
    return credential_services.credential_set(
        acting_user=None,
        institution=institution,
        source=Source.API_PARTICULIER,
        token=token,
        **kwargs,
    )


def test_the_expiry_is_read_from_the_jwt_when_the_token_is_saved(institution):
    credential = _save(institution, _jwt(EXPIRES))
    assert credential.expires_at == EXPIRES
    event = AuditEvent.objects.get(action=AuditAction.CREDENTIAL_CHANGED)
    assert event.details["expires_at"] == EXPIRES.isoformat()
    assert _jwt(EXPIRES) not in str(event.details)


def test_a_token_that_is_not_a_jwt_is_accepted_without_expiry(institution):
    assert _save(institution, "an-opaque-token").expires_at is None
    given = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert _save(institution, "another-opaque-token", expires_at=given).expires_at == given
    # A JWT's own exp wins over a date typed by hand.
    assert _save(institution, _jwt(EXPIRES), expires_at=given).expires_at == EXPIRES


@pytest.mark.parametrize(
    ("before", "threshold"),
    [
        (dt.timedelta(days=90, seconds=1), None),
        (dt.timedelta(days=90), 90),
        (dt.timedelta(days=60), 60),
        (dt.timedelta(days=30), 30),
        (dt.timedelta(days=15), 15),
    ],
)
def test_warnings_at_each_threshold(
    institution, admin_user, before, threshold, django_capture_on_commit_callbacks
):
    _save(institution, _jwt(EXPIRES))
    mail.outbox.clear()
    with (
        time_machine.travel(EXPIRES - before, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        credential_expiry_check()
    credential = InstitutionCredential.objects.get()
    assert credential.expiry_warned_days == threshold
    assert len(mail.outbox) == (0 if threshold is None else 1)
    if threshold is not None:
        (message,) = mail.outbox
        assert message.to == ["admin@example.org"]
        assert f"{threshold} jours" in message.subject
        assert "30/06/2027" in message.body
        assert _jwt(EXPIRES) not in message.body


def test_one_email_per_threshold_and_none_after_the_last(
    institution, admin_user, django_capture_on_commit_callbacks
):
    _save(institution, _jwt(EXPIRES))
    UserFactory(institution=institution, email="agent@example.org")  # clerks get no e-mail
    mail.outbox.clear()
    days = [100, 89, 88, 59, 45, 29, 14, 10, 1, -5]
    for left in days:
        with (
            time_machine.travel(EXPIRES - dt.timedelta(days=left), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            credential_expiry_check()
    assert [m.to for m in mail.outbox] == [["admin@example.org"]] * 4
    assert AuditEvent.objects.filter(action=AuditAction.CREDENTIAL_EXPIRY_WARNED).count() == 4
    # A new token starts afresh.
    renewed = _save(institution, _jwt(EXPIRES + dt.timedelta(days=365)))
    assert renewed.expiry_warned_days is None


def test_a_jump_past_several_thresholds_sends_one_email(
    institution, admin_user, django_capture_on_commit_callbacks
):
    _save(institution, _jwt(EXPIRES))
    mail.outbox.clear()
    with (
        time_machine.travel(EXPIRES - dt.timedelta(days=20), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        credential_expiry_check()
        credential_expiry_check()
    assert len(mail.outbox) == 1
    assert InstitutionCredential.objects.get().expiry_warned_days == 30


def test_the_dashboard_warns_institution_admins_only(institution, admin_user, client):
    _save(institution, _jwt(EXPIRES))
    with time_machine.travel(EXPIRES - dt.timedelta(days=45), tick=False):
        client.force_login(admin_user)
        page = client.get(reverse("home")).text
        assert "Jetons d'API à renouveler" in page
        assert "45 jours" in page
        assert "30/06/2027" in page
        client.force_login(UserFactory(institution=institution, supervisor=True))
        assert "Jetons d'API à renouveler" not in client.get(reverse("home")).text
    with time_machine.travel(EXPIRES - dt.timedelta(days=91), tick=False):
        client.force_login(admin_user)
        assert "Jetons d'API à renouveler" not in client.get(reverse("home")).text


@pytest.mark.usefixtures("sandbox_settings")
def test_an_expired_token_is_a_configuration_alert_on_the_dashboard(
    institution, admin_user, client
):
    # The sandbox answers this token with 401 00103 (its exp is 2025-01-01).
    _save(institution, tokens.EXPIRED_TOKEN)
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = run_until_done(request_for(claim))
    assert request.verdict == Verdict.REJECTED
    alert = SourceAlert.objects.get(institution=institution)
    assert (alert.source, alert.code, alert.http_status) == (Source.API_PARTICULIER, "00103", 401)
    client.force_login(admin_user)
    page = client.get(reverse("home")).text
    assert "Alertes de configuration" in page
    assert "code 00103" in page
    assert "a expiré le 01/01/2025" in page
