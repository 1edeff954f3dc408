"""The limiter's margin adapts to the measured grant-to-send delay (issue 18): a worker that
sends late widens every window of the source for every worker, the widening decays, and the
delay is measured on the real path (the pipeline's grant, the provider session's send)."""

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from tests.limits.conftest import T0, make_config
from verifications.pipeline.gates import admit
from verifications.providers.http import build_session
from verifications.providers.limits import get_limiter, send_delay
from verifications.providers.limits.base import SEND_DELAY_CAP, SEND_DELAY_HALF_LIFE
from verifications.providers.limits.redis_backend import RedisLimiter


pytestmark = pytest.mark.redis

RATES = {"cvec": {"source": [(2, 1.0)]}}


@pytest.fixture
def limiters(redis_url: str) -> Iterator[tuple[RedisLimiter, RedisLimiter]]:
    """Two workers' limiters on the same Redis."""
    pair = (
        RedisLimiter(make_config(RATES), redis_url),
        RedisLimiter(make_config(RATES), redis_url),
    )
    yield pair
    for limiter in pair:
        limiter.close()


def test_without_a_measured_delay_the_margin_is_the_configured_one(limiters):
    worker, _other = limiters
    assert worker.send_delay("cvec", now=T0) == 0.0
    assert worker.margin("cvec", now=T0) == pytest.approx(0.03)
    assert worker.acquire("cvec", now=T0).granted
    assert worker.acquire("cvec", now=T0 + 0.1).granted
    assert worker.acquire("cvec", now=T0 + 1.04).granted  # the window (1 s + 30 ms) has passed


def test_a_late_send_in_one_worker_widens_the_windows_of_every_worker(limiters):
    worker, other = limiters
    assert worker.acquire("cvec", now=T0).granted
    assert worker.acquire("cvec", now=T0 + 0.1).granted
    worker.note_send_delay("cvec", 0.2, now=T0 + 0.3)  # its request left 200 ms after its grant
    assert other.send_delay("cvec", now=T0 + 0.3) == pytest.approx(0.2)
    refused = other.acquire("cvec", now=T0 + 1.04)
    assert not refused.granted
    # The oldest grant leaves the widened window (1 s + 30 ms + the delay, decayed a little).
    assert 0.18 < refused.wait < 0.21
    assert other.acquire("cvec", now=T0 + 1.04 + refused.wait + 0.001).granted


def test_the_delay_keeps_the_largest_decays_by_half_and_is_capped(limiters):
    worker, other = limiters
    worker.note_send_delay("cvec", 0.4, now=T0)
    worker.note_send_delay("cvec", 0.1, now=T0 + 1)  # smaller: the larger one stays
    assert other.send_delay("cvec", now=T0 + 1) == pytest.approx(0.4 * 0.5 ** (1 / 30), rel=1e-6)
    assert other.send_delay("cvec", now=T0 + SEND_DELAY_HALF_LIFE) == pytest.approx(0.2)
    assert other.send_delay("cvec", now=T0 + 2 * SEND_DELAY_HALF_LIFE) == pytest.approx(0.1)
    worker.note_send_delay("cvec", 0.3, now=T0 + 2 * SEND_DELAY_HALF_LIFE)  # larger: replaces
    assert other.send_delay("cvec", now=T0 + 2 * SEND_DELAY_HALF_LIFE) == pytest.approx(0.3)
    worker.note_send_delay("cvec", 30.0, now=T0 + 100)  # a worker stopped for 30 s
    assert other.send_delay("cvec", now=T0 + 100) == SEND_DELAY_CAP
    assert worker.send_delay("api_particulier", now=T0) == 0.0  # per source


def test_a_process_reads_the_shared_delay_at_most_every_quarter_second(limiters):
    worker, other = limiters
    assert other.send_delay("cvec") == 0.0
    worker.note_send_delay("cvec", 0.5)
    assert other.send_delay("cvec") == 0.0  # its cached read
    time.sleep(0.3)
    assert 0.49 < other.send_delay("cvec") <= 0.5


class _Quick(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quick)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_pipeline_measures_from_its_grant_to_the_sessions_send(
    settings, redis_url, loopback_server
):
    settings.REDIS_URL = redis_url
    settings.VERIFICATION_RATE_LIMITS = {"cvec": {"source": [(100, 1.0)]}}
    limiter = get_limiter()
    assert admit("cvec", "", max_wait=1.0).granted
    time.sleep(0.25)  # the worker is starved between its grant and its send
    session = build_session()
    assert session.get(loopback_server).status_code == 200
    assert 0.25 <= limiter.send_delay("cvec", now=time.time()) < SEND_DELAY_CAP
    # One measure per grant: a request sent without a grant of its own (none pending) adds none.
    limiter.note_send_delay("cvec", 0.0)
    session.get(loopback_server)
    session.close()
    assert limiter.send_delay("cvec", now=time.time()) < 0.5
    send_delay._local.pending = None
