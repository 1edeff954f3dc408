"""The sandbox's webhook receivers, over HTTP: modes, what they record, reset."""

import time

import pytest
import requests


def test_modes_and_what_is_recorded(sandbox_settings):
    url = sandbox_settings.receiver_url("modes")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
    assert requests.post(url, data=b'{"a":1}', headers=headers, timeout=5).status_code == 200
    sandbox_settings.receiver_mode("modes", "500")
    assert requests.post(url, data=b"{}", timeout=5).status_code == 500
    sandbox_settings.receiver_mode("modes", "down")
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=b"{}", timeout=5)
    sandbox_settings.receiver_mode("modes", "slow", seconds=0.5)
    started = time.monotonic()
    assert requests.post(url, data=b"{}", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.5
    received = sandbox_settings.receiver_received("modes")
    assert [r["status"] for r in received] == [200, 500, 200]
    assert received[0]["body"] == '{"a":1}'
    assert received[0]["headers"] == headers


def test_a_wrong_mode_is_refused_and_reset_forgets(sandbox_settings):
    url = sandbox_settings.receiver_url("reset")
    answer = requests.post(f"{url}/mode", json={"mode": "404"}, timeout=5)
    assert answer.status_code == 400
    requests.post(url, data=b"{}", timeout=5)
    assert len(sandbox_settings.receiver_received("reset")) == 1
    assert requests.delete(url, timeout=5).status_code == 204
    assert sandbox_settings.receiver_received("reset") == []
    requests.post(url, data=b"{}", timeout=5)
    sandbox_settings.reset()
    assert sandbox_settings.receiver_received("reset") == []
    assert requests.get(f"{url}/other", timeout=5).status_code == 404
