"""The clerk workspace in a real browser: a check confirmed live, the audit view, the language
switch, and axe-core scans of the main pages."""

import re

import pytest

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import ScolariteOutcome
from tests.browser.conftest import PASSWORD, TIMEOUT_MS
from tests.browser.guards import no_navigation_guard
from tests.factories import ApplicantFactory, ClaimFactory
from tests.verifications.helpers import person_with


# Without the package (dev extra), the module is skipped with this reason, not an error.
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
).expect


def test_a_clerk_signs_in_creates_an_applicant_and_sees_the_check_confirmed_live(
    new_page, make_user, browser_worker
):
    clerk = make_user("clerk")
    pupil = person_with(scolarite=ScolariteOutcome.ENROLLED)
    page = new_page()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Connexion à Vigie")).to_be_visible()
    page.get_by_label("Identifiant").fill(clerk.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()

    page.get_by_role("link", name="Candidats", exact=True).click()
    page.get_by_role("link", name="Nouveau candidat").click()
    page.get_by_label("Référence du dossier").fill("NAV-0001")
    page.get_by_label("Nom de naissance").fill(pupil.birth_name)
    for n, name in enumerate(pupil.first_names):
        page.locator(f"#id_first_name_{n + 1}").fill(name)
    page.get_by_label("Féminin" if pupil.sex == "F" else "Masculin", exact=True).check()
    page.get_by_label("Date de naissance").fill(pupil.birth_date.isoformat())
    page.get_by_label("Code UAI de l'établissement").fill(pupil.uai)
    page.get_by_label("Année scolaire").fill(str(pupil.school_year))
    page.get_by_role("button", name=re.compile("Enregistrer")).click()

    expect(page.get_by_text("Candidat enregistré.")).to_be_visible()
    card = page.locator("article.claim-card")
    live_region = page.locator(".card-slot[aria-live=polite]")
    expect(card.locator(".badge")).to_contain_text("Non vérifié")
    navigations = no_navigation_guard(page)

    card.get_by_role("button", name="Vérifier").click()
    expect(live_region.locator(".badge")).to_contain_text("Confirmé", timeout=TIMEOUT_MS * 2)
    expect(live_region.locator(".reason")).to_be_visible()

    assert navigations == [], "the page navigated: the badge must change without a reload"
    assert page.evaluate("window.__vigieNoReload") is True
    assert page.locator("article.claim-card[hx-trigger]").count() == 0  # polling stopped
    assert AuditEvent.objects.filter(
        action=AuditAction.VERDICT_RECORDED, actor_label="vigie", details__verdict="confirmed"
    ).exists()


def test_the_supervisors_audit_view_shows_that_a_clerk_opened_an_applicant(
    clerk_page, signed_in_page, make_user
):
    applicant = ApplicantFactory(institution=clerk_page.user.institution, file_reference="VU-42")
    clerk_page.goto("/candidats/")
    clerk_page.get_by_role("link", name="VU-42").click()
    expect(clerk_page.get_by_role("heading", name="Historique du dossier")).to_be_visible()
    # A clerk has no audit view, not even in the navigation.
    expect(clerk_page.get_by_role("link", name="Journal d'audit")).to_have_count(0)

    supervisor_page = signed_in_page(make_user("supervisor"))
    supervisor_page.goto("/")
    supervisor_page.get_by_role("link", name="Journal d'audit").click()
    expect(supervisor_page.get_by_role("heading", name="Journal d'audit", level=1)).to_be_visible()
    no_navigation_guard(supervisor_page)
    supervisor_page.get_by_label("Action").select_option(label="Consultation")
    results = supervisor_page.locator("#audit-results")
    rows = results.locator("tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("Consultation")
    expect(row).to_contain_text(clerk_page.user.username)
    expect(row.get_by_role("link", name="VU-42")).to_have_attribute(
        "href", f"/candidats/{applicant.pk}/"
    )
    expect(row).to_contain_text("instruction du dossier")
    # The filters are in the address (hx-push-url: a same-document navigation), but the page
    # was not loaded again.
    expect(supervisor_page).to_have_url(re.compile(r"action=viewed"))
    assert supervisor_page.evaluate("window.__vigieNoReload") is True


def test_the_language_switch_turns_the_workspace_to_english(clerk_page):
    clerk_page.goto("/")
    expect(clerk_page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    clerk_page.get_by_label("Langue").select_option("en")
    clerk_page.get_by_role("button", name="Changer").click()
    expect(clerk_page.locator("html")).to_have_attribute("lang", "en")
    expect(clerk_page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(clerk_page.get_by_role("link", name="Applicants", exact=True)).to_be_visible()
    clerk_page.goto("/candidats/")
    expect(clerk_page.get_by_role("link", name="New applicant")).to_be_visible()


@pytest.fixture
def furnished(clerk_page, make_user):
    """A few applicants with claims in several states, so that the pages show their tables,
    badges and forms."""
    institution = clerk_page.user.institution
    applicant = ApplicantFactory(institution=institution, file_reference="AXE-1")
    ClaimFactory(applicant=applicant, verdict="confirmed", verdict_reason="ok")
    ClaimFactory(applicant=applicant, kind="cvec", declared={"code": "ABC", "campaign": 2025})
    supervisor = make_user("supervisor")
    for action in (AuditAction.CREATED, AuditAction.VIEWED, AuditAction.OVERRIDDEN):
        audit_record(
            action=action,
            actor=supervisor,
            institution=institution,
            obj=applicant,
            applicant_id=applicant.pk,
            ip="192.0.2.1",
            purpose="instruction du dossier d'admission",
            details={"kind": "scolarite", "from": "not_found", "to": "confirmed"},
        )
    for n in range(3):
        ClaimFactory(
            applicant=ApplicantFactory(institution=institution),
            verdict=["mismatch", "", "not_found"][n],
        )
    return applicant


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("clerk", "/"),
        ("clerk", "/candidats/"),
        ("clerk", "detail"),
        ("supervisor", "detail"),
        ("clerk", "/candidats/nouveau/"),
        ("supervisor", "/journal/"),
        ("clerk", "/journal/"),  # the 403 page
        (None, "/connexion/"),
        ("institution_admin", "/etablissement/parametres/"),
        ("supervisor", "erase"),
    ],
)
def test_axe_finds_no_serious_violation(
    role, path, furnished, signed_in_page, new_page, make_user, axe
):
    page = signed_in_page(make_user(role)) if role else new_page()
    if path == "detail":
        path = f"/candidats/{furnished.pk}/"
    elif path == "erase":
        path = f"/candidats/{furnished.pk}/effacer/"
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    if path == "/journal/" and role == "supervisor":
        expect(page.locator("#audit-results tbody tr")).to_have_count(3)
    axe(page)


def test_the_axe_helper_fails_on_a_serious_violation(new_page, axe):
    """The scan can fail: an image without a text alternative and an unlabelled field."""
    page = new_page()
    page.set_content(
        '<html lang="fr"><head><title>t</title></head><body><main><h1>t</h1>'
        '<img src="/static/none.png"><input type="text"></main></body></html>'
    )
    with pytest.raises(AssertionError, match=r"image-alt \(critical\)"):
        axe(page)


def test_a_polling_card_sends_a_clerk_whose_session_expired_to_the_login_page(clerk_page):
    """The card polls every 2 s; once the session is gone, htmx follows HX-Redirect to the
    login page in full (nothing swapped into the card), which says why and where it returns."""
    from datetime import timedelta
    from importlib import import_module

    from django.conf import settings
    from django.utils import timezone

    from verifications.enums import RequestState, Trigger
    from verifications.models import VerificationRequest

    claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk_page.user.institution))
    # A request waiting on the source, written directly: no worker will take it in this test.
    VerificationRequest.objects.create(
        institution=claim.institution,
        claim=claim,
        source="api_particulier",
        state=RequestState.PENDING,
        trigger=Trigger.MANUAL,
        not_before=timezone.now() + timedelta(hours=1),
    )
    detail = f"/candidats/{claim.applicant_id}/"
    clerk_page.goto(detail)
    expect(clerk_page.locator("article.claim-card[hx-trigger]")).to_have_count(1)
    session_key = next(
        c["value"]
        for c in clerk_page.context.cookies()
        if c["name"] == settings.SESSION_COOKIE_NAME
    )
    import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).delete()

    expect(clerk_page).to_have_url(re.compile(rf"/connexion/\?next={re.escape(detail)}$"))
    expect(clerk_page.get_by_role("heading", name="Connexion à Vigie")).to_be_visible()
    expect(clerk_page.get_by_text("Votre session a expiré")).to_be_visible()
    expect(clerk_page.locator("article.claim-card")).to_have_count(0)
