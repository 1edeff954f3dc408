"""Browser tests: Playwright (sync API) driving the system Chromium against a live server.

What is real here: the web app (pytest-django's ``live_server``, a thread of the test process
serving the transactional test database), the sandbox (``tests/fixtures/sandbox.py``, one
process per session), a Celery worker process (``tests/workers/cluster.py``, one per session,
started only by the tests that ask for ``browser_worker``) consuming ``gov_api`` and ``default``
from a broker of its own, on the same test database, and the browser (``/usr/bin/chromium``).

Fixtures (use them from any test module under ``tests/browser/``):

* ``browser`` (package: once for all of tests/browser): the Chromium browser. Skips, with the
  reason printed, when Chromium or the Playwright package is missing (``.ci/browser-deps``
  installs Chromium in CI).
* ``browser_worker`` (package): the worker process; the test process's Celery app publishes to
  its broker until the last browser test ends (so a "Vérifier" clicked in the page reaches
  it). Ask for it in a test that needs checks to run; ``browser_worker.log("worker")`` gives
  its log.
* ``institution``: a fresh institution; ``make_user(role)``: a user of it ("clerk",
  "supervisor", "institution_admin") whose password is ``PASSWORD``.
* ``new_page()``: a fresh browser context and page (French, base URL = the live server), closed
  at the end of the test; ``signed_in_page(user)``: the same, already signed in as ``user``
  (session cookie set directly, no login form); ``clerk_page`` / ``supervisor_page`` /
  ``institution_admin_page``: a page signed in as a new user of that role in ``institution``
  (the user is ``page.user``). Several pages in one test are several people at once.
* ``axe``: ``axe(page)`` runs axe-core and fails on any ``serious`` or ``critical``
  violation, printing them all. Our CSP refuses the injected script, so the scan loads
  ``page.url`` again in a second context with ``bypass_csp=True`` and the same cookies (a GET
  of an applicant page is the same person's view again: within the audit view window, no new
  "viewed" event). Skips when axe-core is missing
  (``npm ci`` in ``tests/browser``, done by ``.ci/browser-deps``).
* ``new_page`` resets the sandbox (``sandbox_settings``): knobs, stats and limits of one test
  do not leak into the next.
* Screenshots: when a test fails, every page it opened is saved as
  ``var/browser-artifacts/<test>-<n>.png`` (with the page's HTML next to it).

Example::

    def test_the_list(clerk_page, axe):
        clerk_page.goto("/candidats/")
        axe(clerk_page)
"""

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from admissions.infra import broker
from tests.celery_pools import reset_broker_connections
from tests.factories import InstitutionFactory, UserFactory
from tests.workers.cluster import (
    ROOT,
    Cluster,
    RedisServer,
    embedded_broker_url,
    redis_server_available,
    worker_env,
)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_JS = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "var" / "browser-artifacts"
PASSWORD = "un mot de passe solide"  # tests.factories.UserFactory's
TIMEOUT_MS = 20_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the test, for the screenshot-on-failure teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- The browser ------------------------------------------------------------------------------


# Package scope: one browser and one worker for all of tests/browser, torn down as soon as its
# last test ends, so the rest of the suite runs with the ORM's async guard and the in-memory
# broker as usual (a worker left running would take the tasks other tests queue).
@pytest.fixture(scope="package")
def _playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run .ci/browser-deps (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: make install (dev extra)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
    # where a loop is running. Tests and fixtures touch the ORM between browser calls (never
    # concurrently with the loop's own work), so lift the guard while the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright()
    playwright = manager.start()
    try:
        yield playwright
    finally:
        manager.__exit__(None, None, None)
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_playwright: Any) -> Iterator[Any]:
    browser = _playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


# --- The worker -------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser_worker(
    django_db_setup: None, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """One Celery worker for the browser tests, on the test database and the session's sandbox,
    with a broker of its own (a private redis-server, or the embedded SQLite broker)."""
    from admissions.celery import app

    directory = tmp_path_factory.mktemp("browser-worker")
    var_dir = directory / "var"
    var_dir.mkdir()
    server = None
    if redis_server_available():
        server = RedisServer(directory)
        server.start()
        broker_url = server.url
        transport: str | None = None
        transport_options: dict[str, Any] = {"visibility_timeout": 3600}
    else:
        broker_url = embedded_broker_url(var_dir)
        transport = broker.TRANSPORT
        transport_options = dict(broker.TRANSPORT_OPTIONS)
    cluster = Cluster(
        directory=directory,
        env=worker_env(
            var_dir=var_dir,
            broker_url=broker_url,
            sandbox=sandbox,
            redis_url=server.url if server else None,
        ),
    )
    # The files the worker writes (a batch's results, its certificates) where this process,
    # which serves them, reads them: one shared volume, as docs/DEPLOYMENT.md asks.
    cluster.env["VIGIE_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    # The web side (this process) publishes where the worker consumes, for the session.
    saved = (app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options)
    reset_broker_connections(app)
    app.conf.broker_url = broker_url
    app.conf.broker_transport = transport
    app.conf.broker_transport_options = transport_options
    try:
        cluster.start_worker("worker")
        yield cluster
    finally:
        cluster.stop()
        reset_broker_connections(app)
        app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options = saved
        if server:
            server.stop()


# --- Users and pages --------------------------------------------------------------------------


@pytest.fixture
def institution(transactional_db: None) -> Any:
    return InstitutionFactory()


@pytest.fixture
def make_user(institution: Any) -> Callable[..., Any]:
    def make(role: str = "clerk", **kwargs: Any) -> Any:
        traits = {
            "supervisor": {"supervisor": True},
            "institution_admin": {"institution_admin": True},
        }
        return UserFactory(institution=institution, **traits.get(role, {}), **kwargs)

    return make


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, browser: Any, live_server: Any, sandbox_settings: Any
) -> Iterator[Callable[..., Any]]:
    """Pages opened by the test; screenshots of each on failure. ``sandbox_settings`` resets
    the sandbox and points this process's settings at it."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_page(**context_options: Any) -> Any:
        context = browser.new_context(base_url=live_server.url, locale="fr-FR", **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_page

    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        _save_artifacts(request.node.name, pages)
    for context in contexts:
        context.close()


def _save_artifacts(test_name: str, pages: list[Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", test_name)
    for n, page in enumerate(pages, start=1):
        if page.is_closed():
            continue
        try:
            page.screenshot(path=str(ARTIFACTS / f"{safe}-{n}.png"), full_page=True)
            (ARTIFACTS / f"{safe}-{n}.html").write_text(page.content(), encoding="utf-8")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"[browser] no screenshot of page {n} of {test_name}: {exc}")  # noqa: T201
        else:
            print(f"[browser] saved {ARTIFACTS / f'{safe}-{n}.png'}")  # noqa: T201


@pytest.fixture
def signed_in_page(new_page: Callable[..., Any], live_server: Any) -> Callable[..., Any]:
    def open_as(user: Any, **context_options: Any) -> Any:
        client = Client()
        client.force_login(user)
        page = new_page(**context_options)
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        page.user = user
        return page

    return open_as


@pytest.fixture
def clerk_page(signed_in_page: Callable[..., Any], make_user: Callable[..., Any]) -> Any:
    return signed_in_page(make_user("clerk"))


@pytest.fixture
def supervisor_page(signed_in_page: Callable[..., Any], make_user: Callable[..., Any]) -> Any:
    return signed_in_page(make_user("supervisor"))


@pytest.fixture
def institution_admin_page(
    signed_in_page: Callable[..., Any], make_user: Callable[..., Any]
) -> Any:
    return signed_in_page(make_user("institution_admin"))


# --- Accessibility ----------------------------------------------------------------------------


def _inject_axe(page: Any) -> bool:
    try:
        page.add_script_tag(path=str(AXE_JS))
    except Exception:  # the CSP refused the inline script: Playwright reports an error
        return False
    return bool(page.evaluate("typeof window.axe !== 'undefined'"))


@pytest.fixture
def axe(browser: Any) -> Callable[..., list[dict[str, Any]]]:
    """``axe(page)``: scan the page with axe-core; fail on serious or critical violations."""
    if not AXE_JS.exists():
        pytest.skip(f"{AXE_JS} is missing: run .ci/browser-deps (npm ci in tests/browser)")

    def scan(page: Any) -> list[dict[str, Any]]:
        target = page
        scan_context = None
        if not _inject_axe(page):
            # Our CSP (script-src 'self' + nonce) refuses the inline <script> that
            # add_script_tag writes, as it should. For the scan only, open the same URL in a
            # context that bypasses the CSP, with the same cookies; the pages under test keep
            # the strict policy everywhere else.
            scan_context = browser.new_context(
                bypass_csp=True,
                locale="fr-FR",
                storage_state=page.context.storage_state(),
                viewport=page.viewport_size,
            )
            target = scan_context.new_page()
            target.goto(page.url)
            assert _inject_axe(target), "axe-core could not be injected even without the CSP"
        try:
            result = target.evaluate(
                """async () => {
                    const r = await window.axe.run(document, {resultTypes: ['violations']});
                    return r.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                        nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                                  summary: n.failureSummary})),
                    }));
                }"""
            )
        finally:
            if scan_context is not None:
                scan_context.close()
        blocking = [v for v in result if v["impact"] in {"serious", "critical"}]
        if result:
            print(f"[axe] {page.url}: " + json.dumps(result, indent=1, ensure_ascii=False))  # noqa: T201
        assert not blocking, (
            f"axe-core: {len(blocking)} serious/critical violation(s) on {page.url}: "
            + "; ".join(f"{v['id']} ({v['impact']}): {v['help']}" for v in blocking)
        )
        return result

    return scan


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts() -> None:
    """Screenshots of this run only."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
