"""The institution admin's settings page: policies, night window, share and retention."""

import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import UserFactory
from tests.html import region
from verifications.enums import ClaimKind
from verifications.models import FreshnessPolicy, InstitutionPolicy


pytestmark = pytest.mark.django_db
URL = reverse("institution_settings")


@pytest.fixture
def admin_user():
    return UserFactory(institution_admin=True)


def _form(**changes):
    data = {
        "night_start": "22:00",
        "night_end": "06:00",
        "timezone": "Europe/Paris",
        "scheduled_share": "50",
        "evidence_retention_months": "12",
        "audit_retention_months": "36",
        "scolarite-enabled": "on",
        "scolarite-interval_days": "7",
        "scolarite-active_from": "15/01",
        "scolarite-active_until": "31/10",
        "scolarite-recheck_on": "08/09",
        "cvec-enabled": "on",
        "cvec-recheck_on": "15/09",
        "cvec-recheck_on_campaign_change": "on",
        "certification-enabled": "on",
        "certification-interval_days": "30",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_page_shows_the_defaults(admin_user, client):
    client.force_login(admin_user)
    page = client.get(URL)
    assert page.status_code == 200
    text = page.text
    assert "Paramètres de l'établissement" in text
    assert 'value="22:00"' in text
    assert 'value="08/09"' in text  # stored 09-08, shown JJ/MM
    assert reverse("institution_settings") in text  # the admin's navigation link


def test_the_admin_changes_settings_and_it_is_audited(admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        URL,
        _form(
            night_start="23:30",
            scheduled_share="20",
            evidence_retention_months="6",
            **{
                "certification-interval_days": "14",
                "covoiturage-enabled": "on",
                "covoiturage-interval_days": "90",
            },
        ),
    )
    assert response.status_code == 302
    policy = InstitutionPolicy.objects.get(institution=admin_user.institution)
    assert policy.night_start == dt.time(23, 30)
    assert policy.scheduled_share == 20
    assert policy.evidence_retention_months == 6
    rows = {p.kind: p for p in FreshnessPolicy.objects.filter(institution=admin_user.institution)}
    assert rows[ClaimKind.CERTIFICATION].interval_days == 14
    assert rows[ClaimKind.COVOITURAGE].enabled
    assert rows[ClaimKind.SCOLARITE].recheck_on == "09-08"
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert event.actor == admin_user
    assert event.details["changes"]["night_start"] == ["22:00", "23:30"]
    assert event.details["changes"]["certification.interval_days"] == [30, 14]
    assert event.details["changes"]["covoiturage.enabled"] == [False, True]
    assert "scolarite.recheck_on" not in event.details["changes"]

    # Saving the same values again records nothing.
    client.post(
        URL,
        _form(
            night_start="23:30",
            scheduled_share="20",
            evidence_retention_months="6",
            **{
                "certification-interval_days": "14",
                "covoiturage-enabled": "on",
                "covoiturage-interval_days": "90",
            },
        ),
    )
    assert AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED).count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"audit_retention_months": "24"}, "36 mois au moins"),
        ({"scheduled_share": "0"}, "supérieure ou égale à 1"),
        ({"scheduled_share": "150"}, "inférieure ou égale à 100"),
        ({"evidence_retention_months": "0"}, "supérieure ou égale à 1"),
        ({"night_end": "22:00"}, "au moins une minute"),
        ({"night_start": "25:00"}, "Saisissez une heure valide"),
        ({"scolarite-recheck_on": "8 sep"}, "au format JJ/MM"),
        ({"scolarite-recheck_on": "31/02"}, "Le 31/02 n'existe pas"),
        ({"scolarite-active_until": ""}, "les deux dates de la période"),
        ({"certification-interval_days": ""}, "Indiquez quand re-vérifier"),
        ({"timezone": "America/New_York"}, "Sélectionnez un choix valide"),
    ],
)
def test_invalid_settings_are_refused_with_french_messages(admin_user, client, changes, message):
    client.force_login(admin_user)
    before = AuditEvent.objects.count()
    response = client.post(URL, _form(**changes))
    assert response.status_code == 400
    page = html.unescape(response.text)
    assert message in page
    # The summary above the form lists the error (and links to its field).
    summary = html.unescape(region(response.text, "error-summary"))
    assert "Le formulaire contient des erreurs" in summary
    assert message in summary
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scolarite-active_from": "31/02"}, "scolarite-active_from"),
        ({"scolarite-active_until": "30/02"}, "scolarite-active_until"),
        ({"scolarite-interval_days": "", "scolarite-recheck_on": "32/01"}, "scolarite-recheck_on"),
    ],
)
def test_an_impossible_day_is_named_and_brings_no_knock_on_error(
    admin_user, client, changes, field
):
    """31/02 is not a format error, and the valid date beside it is not "missing" too."""
    client.force_login(admin_user)
    response = client.post(URL, _form(**changes))
    assert response.status_code == 400
    summary = html.unescape(region(response.text, "error-summary"))
    assert len(re.findall(r"<li>", summary)) == 1, summary
    assert "n'existe pas" in summary
    assert f'href="#id_{field}"' in summary
    assert f'id="id_{field}" aria-invalid="true"' in response.text or re.search(
        rf'<input[^>]*aria-invalid="true"[^>]*id="id_{field}"', response.text
    )


@pytest.mark.parametrize("role", ["clerk", "supervisor"])
def test_clerks_and_supervisors_get_403(client, role):
    user = UserFactory(**({"supervisor": True} if role == "supervisor" else {}))
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, _form(scheduled_share="10")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED).exists()
    assert reverse("institution_settings") not in client.get(reverse("home")).text


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
