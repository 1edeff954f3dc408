import pytest

from webhooks.urls_check import url_problem


@pytest.mark.parametrize(
    ("url", "loopback_http", "problem"),
    [
        ("https://si.exemple.fr/vigie", False, None),
        ("https://si.exemple.fr:8443/hooks?x=1", False, None),
        ("http://si.exemple.fr/vigie", True, "https_required"),
        ("http://127.0.0.1:8000/hook", False, "https_required"),
        ("http://127.0.0.1:8000/hook", True, None),
        ("http://localhost/hook", True, None),
        ("http://[::1]:9/hook", True, None),
        ("https://user:pass@si.exemple.fr/", False, "credentials"),
        ("ftp://si.exemple.fr/", False, "invalid"),
        ("https://", False, "invalid"),
        ("https://si.exemple.fr:port/", False, "invalid"),
        ("si.exemple.fr/vigie", False, "invalid"),
        ("https://si.exemple.fr/" + "a" * 500, False, "too_long"),
    ],
)
def test_url_problem(url, loopback_http, problem):
    assert url_problem(url, allow_http_loopback=loopback_http) == problem
