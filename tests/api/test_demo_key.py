import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api.models import ApiKey
from tests.api.conftest import ApiClient


pytestmark = pytest.mark.django_db


def test_the_demo_key_is_written_once_next_to_the_logins_and_opens_the_api(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    with pytest.raises(CommandError, match="demo"):
        call_command("demo_api_key")
    call_command("demo", applicants=30)
    call_command("demo_api_key", if_empty=True)
    logins = (tmp_path / "demo-logins.txt").read_text()
    assert "agent" in logins
    secret = next(w for w in logins.split() if w.startswith("vgk_"))
    key = ApiKey.objects.get()
    assert sorted(key.scopes) == ["evidence", "read", "verify", "write"]
    assert secret not in key.secret_hash
    answer = ApiClient(secret).get("/api/v1/applicants", {"limit": 1})
    assert answer.status_code == 200
    assert answer.json()["items"]
    call_command("demo_api_key", if_empty=True)  # make run again: the same key, kept
    assert ApiKey.objects.count() == 1
    assert (tmp_path / "demo-logins.txt").read_text() == logins
