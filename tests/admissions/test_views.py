import pytest
from django.urls import reverse

from tests.factories import ApplicantFactory, ClaimFactory, UserFactory


pytestmark = pytest.mark.django_db
PASSWORD = "un mot de passe solide"


def test_login_page_is_french_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert "Connexion à Vigie" in response.text
    assert "Content-Security-Policy" in response.headers
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_clerk_logs_in_and_sees_the_dashboard(client):
    clerk = UserFactory()
    ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution), verdict="confirmed")
    ClaimFactory(applicant=ApplicantFactory(institution=UserFactory().institution))  # elsewhere
    response = client.post(reverse("login"), {"username": clerk.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("home")
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert "<strong>1</strong> candidat enregistré" in page.text
    assert clerk.institution.name in page.text


def test_wrong_password_says_so_in_french(client):
    clerk = UserFactory()
    response = client.post(reverse("login"), {"username": clerk.username, "password": "non"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in response.text


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_user_without_institution_gets_a_clear_403(client):
    client.force_login(UserFactory(backoffice=True))
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "rattaché à aucun établissement" in response.text
    assert reverse("admin:index") in response.text


def test_language_switch_to_english(client):
    client.force_login(UserFactory())
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert response.status_code == 302
    page = client.get(reverse("home"))
    assert '<html lang="en">' in page.text
    assert "Dashboard" in page.text
