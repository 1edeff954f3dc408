"""Serving the sandbox: a threaded cheroot WSGI server in one process (limits, stats and bans
live in this process's memory, so there must be exactly one)."""

import errno
import logging
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from cheroot import wsgi

from sandbox.app import CONNECTION_KEY, SandboxApp
from sandbox.knobs import Knobs, KnobStore
from sandbox.state import State


logger = logging.getLogger(__name__)

DEFAULT_THREADS = 32


class SandboxGateway(wsgi.Gateway_10):
    """WSGI 1.0, plus cheroot's connection in the environ (to park it or reset it)."""

    # cheroot's stub types the base Gateway's get_environ as returning None; Gateway_10's
    # returns the environ.
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ = super().get_environ()
        environ[CONNECTION_KEY] = self.req.conn
        return environ


class SandboxServer(wsgi.Server):
    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        # cheroot writes to stderr; route it to logging instead (messages carry no query).
        logger.log(level, "cheroot: %s", msg)
        if traceback:
            logger.log(level, "%s", _format_exception())


def _format_exception() -> str:
    return traceback.format_exc()


def _quiet_closed_sockets(unraisable: "sys.UnraisableHookArgs") -> None:
    """The buffered writers of connections a client abandoned mid-answer (timeouts, bans,
    load tools stopping) try to flush into closed sockets when garbage-collected; drop that
    noise, and only that."""
    exc = unraisable.exc_value
    if isinstance(exc, OSError) and exc.errno in (errno.EBADF, errno.EPIPE, errno.ECONNRESET):
        return
    sys.__unraisablehook__(unraisable)


def build(
    app: SandboxApp, *, host: str, port: int, threads: int = DEFAULT_THREADS
) -> SandboxServer:
    server = SandboxServer(
        (host, port),
        app,
        numthreads=threads,
        server_name="vigie-sandbox",
        request_queue_size=1024,  # listen backlog: load tools open many connections at once
        shutdown_timeout=2,
    )
    server.gateway = SandboxGateway
    return server


def serve(
    *,
    host: str,
    port: int,
    threads: int = DEFAULT_THREADS,
    knobs: Knobs | None = None,
    admin_secret: str = "",
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT or SIGTERM. ``announce`` receives the line that gives the bound
    address (``sandbox listening on http://HOST:PORT``), written once the socket listens."""
    state = State(knobs=KnobStore(knobs))
    state.people.start()
    app = SandboxApp(state, admin_secret=admin_secret)
    server = build(app, host=host, port=port, threads=threads)
    server.prepare()
    bound_port = server.bind_addr[1]
    url_host = f"[{host}]" if ":" in host else host
    announce(f"sandbox listening on http://{url_host}:{bound_port}")
    logger.info("sandbox serving with %d threads", threads)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sys.unraisablehook = _quiet_closed_sockets
    try:
        server.serve()
    except KeyboardInterrupt:
        logger.info("sandbox stopping")
    finally:
        state.stopping.set()  # wake every sleeping request
        state.parking.close_all()
        server.stop()
