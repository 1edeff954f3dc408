"""Receivers on private networks are refused unless allowed (server-side request forgery)."""

import pytest

from webhooks.addresses import non_public_address


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://192.168.0.10:8443/hook", "192.168.0.10"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]/hook", "::1"),
        ("https://[fd00::1]/hook", "fd00::1"),
        ("https://93.184.215.14/hook", None),
        ("https://[2606:4700::1]/hook", None),
        ("https://name.invalid/hook", "unresolved"),
    ],
)
def test_non_public_address(url, refused):
    assert non_public_address(url) == refused


def test_a_name_that_resolves_to_loopback_is_refused():
    assert non_public_address("https://localhost/hook") in {"127.0.0.1", "::1"}
