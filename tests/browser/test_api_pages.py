"""The API's reference page under the CSP, and creating a key on the settings' keys page."""

import re

from api.models import ApiKey


CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def test_the_reference_page_renders_under_the_csp_from_this_origin_only(new_page, live_server):
    page = new_page()
    requested: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(CSP_WATCH)
    response = page.goto("/api/v1/docs")
    assert response.status == 200
    page.locator(".swagger-ui .info .title").filter(has_text="Vigie").wait_for()
    page.get_by_text("/api/v1/applicants/by-reference/{file_reference}").first.wait_for()
    # Open one operation: its parameters and responses render too.
    page.locator(
        ".opblock-summary-path", has_text="/api/v1/applicants/{applicant_id}"
    ).first.click()
    page.locator(".opblock-body").first.wait_for()
    assert page.evaluate("window.__csp") == []
    assert not [text for text in console if "Content Security Policy" in text], console
    outside = [url for url in requested if not url.startswith((live_server.url, "data:"))]
    assert outside == [], outside
    assert any(url.endswith("/api/v1/openapi.json") for url in requested)


def test_an_admin_creates_a_key_sees_it_once_and_it_opens_the_api(institution_admin_page, axe):
    page = institution_admin_page
    page.add_init_script(CSP_WATCH)
    page.goto("/etablissement/parametres/")
    page.get_by_role("link", name="Gérer les clés d'API").click()
    page.get_by_label("Nom de la clé").fill("SI scolarité")
    page.get_by_label("Écriture (créer et modifier candidats et déclarations)").check()
    page.get_by_role("button", name="Créer la clé").click()
    secret = page.locator("#api-key-secret").input_value()
    assert re.fullmatch(r"vgk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    assert page.locator("#api-keys").get_by_text("SI scolarité").is_visible()
    axe(page)
    key = ApiKey.objects.get()
    assert sorted(key.scopes) == ["read", "write"]
    answer = page.request.get("/api/v1/applicants", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200
    # Shown once: reloading the list shows the prefix, not the key.
    page.goto("/etablissement/cles-api/")
    assert secret not in page.content()
    assert key.prefix in page.content()
    page.get_by_role("link", name="Révoquer").click()
    page.get_by_role("button", name="Révoquer la clé").click()
    page.get_by_text("Clé révoquée").wait_for()
    assert page.evaluate("window.__csp") == []
    answer = page.request.get("/api/v1/applicants", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
