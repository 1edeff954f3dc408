"""The OpenAPI document and the reference page."""

import re

import pytest
from django.test import Client


pytestmark = pytest.mark.django_db


def test_the_openapi_document_is_3_1_and_describes_the_door():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert schema["components"]["securitySchemes"]["KeyAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    create = schema["paths"]["/api/v1/applicants"]["post"]
    assert create["security"] == [{"KeyAuth": []}]
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "application/json" not in create["responses"]["422"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    listing = schema["paths"]["/api/v1/applicants"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "file_reference",
        "verdict",
        "kind",
        "updated_since",
        "cursor",
    }


def test_the_reference_page_has_no_inline_script_and_a_strict_csp():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    for attributes, body in scripts:
        # Either a static file, or the JSON data block Swagger UI's settings are read from.
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
        assert "src=" not in attributes or not body.strip()
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "/static/api/docs.js" in html
