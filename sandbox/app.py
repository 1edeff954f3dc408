"""The sandbox's WSGI application: the four APIs and a time-stamping authority under their path
prefixes, and ``/_sandbox``.

=================  ======================================  ==========================
prefix             stands in for                           Vigie setting
=================  ======================================  ==========================
``/particulier``   https://particulier.api.gouv.fr         ``API_PARTICULIER_BASE_URL``
``/cvec``          https://cvec-ctrl.etudiant.gouv.fr      ``CVEC_BASE_URL``
``/certifinfo``    https://api-certifinfo.intercariforef…  ``CERTIFINFO_BASE_URL``
``/covoiturage``   https://api.covoiturage.beta.gouv.fr    ``COVOITURAGE_BASE_URL``
``/tsa``           an RFC 3161 time-stamping authority     ``VIGIE_TSA_URL``
=================  ======================================  ==========================

and ``/webhooks/receiver/<name>``: webhook receivers that fail on demand (``receivers.py``).

For every API request: count it (stats), refuse a banned client (no answer at all), apply the
outage switch, then hand over to the API's handler. A handler may raise ``NoAnswer``: the
connection is then closed without a byte (with a TCP reset for "reset").
"""

import errno
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sandbox import control
from sandbox.certifinfo import CertifInfo
from sandbox.covoiturage import Covoiturage
from sandbox.cvec import Cvec
from sandbox.httpkit import NoAnswer, Request, Response, json_response
from sandbox.parking import reset_on_close
from sandbox.particulier import Particulier
from sandbox.receivers import PREFIX as RECEIVERS_PREFIX
from sandbox.state import Context, State
from sandbox.tsa import Tsa


logger = logging.getLogger(__name__)

# The server puts cheroot's connection here (server.SandboxGateway), so that the application
# can park it or close it with a reset.
CONNECTION_KEY = "sandbox.connection"


class Api(Protocol):
    name: str
    bans: bool  # its clients can be banned (API Particulier)
    # An "error" outage is the provider's, answered behind the gateway (limits, token and
    # parameters are still checked): the handler sees it through ``simulate_upstream``.
    outage_upstream: bool

    def endpoint_of(self, method: str, path: str) -> str: ...
    def token_label(self, req: Request) -> str | None: ...
    def outage_response(self, ctx: Context) -> Response: ...
    def handle(self, ctx: Context) -> Response: ...


class SandboxApp:
    def __init__(self, state: State | None = None, *, admin_secret: str = "") -> None:
        self.state = state or State()
        self.admin_secret = admin_secret
        apis: list[Api] = [Particulier(), Cvec(), CertifInfo(), Covoiturage(), Tsa()]
        self.apis = {api.name: api for api in apis}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        knobs = self.state.knobs.current
        req = Request.from_environ(environ, trust_forwarded_for=knobs.trust_forwarded_for)
        if req.path == control.PREFIX or req.path.startswith(control.PREFIX + "/"):
            response = control.handle(self.state, req, secret=self.admin_secret)
        elif req.path.startswith(RECEIVERS_PREFIX):
            try:
                response = self.state.receivers.handle(req)
            except NoAnswer as exc:
                self._drop(environ, exc)
                raise ConnectionResetError(errno.ECONNRESET, "sandbox: no answer") from exc
        else:
            prefix, _, rest = req.path.lstrip("/").partition("/")
            api = self.apis.get(prefix)
            if api is None:
                response = json_response(404, {"error": "not_found", "apis": list(self.apis)})
            else:
                try:
                    response = self._serve(api, req, "/" + rest)
                except NoAnswer as exc:
                    self._drop(environ, exc)
                    raise ConnectionResetError(errno.ECONNRESET, "sandbox: no answer") from exc
        start_response(response.status_line(), response.wsgi_headers())
        return [b""] if req.method == "HEAD" else [response.body]

    def _serve(self, api: Api, req: Request, path: str) -> Response:
        state = self.state
        knobs = state.knobs.current
        endpoint = api.endpoint_of(req.method, path)
        # Handlers see the path within their API.
        req.path = path
        visit = state.stats.arrive(
            api=api.name,
            endpoint=f"{api.name}.{endpoint}",
            client=req.client,
            token=api.token_label(req),
            now=time.monotonic(),
        )
        try:
            ctx = Context(req, api.name, endpoint, knobs, knobs.faults_for(api.name), state)
            if api.bans:
                self._refuse_banned(ctx)
            faults = ctx.faults
            upstream = api.outage_upstream and faults.outage_mode == "error"
            down_here = faults.outage and not upstream
            response = self._outage(api, ctx) if down_here else api.handle(ctx)
        except NoAnswer as exc:
            state.stats.finish(visit, exc.reason, answered=False)
            raise
        except Exception:
            logger.exception("sandbox: %s.%s failed", api.name, endpoint)
            response = json_response(500, {"error": "sandbox_failure"})
        state.stats.finish(visit, str(response.status))
        return response

    def _drop(self, environ: dict[str, Any], exc: NoAnswer) -> None:
        """Leave the connection without an answer: parked open for ``exc.hold`` seconds (no
        thread waits), then closed; or closed now (cheroot closes it once we raise)."""
        conn = environ.get(CONNECTION_KEY)
        if conn is None:  # not under cheroot (direct WSGI calls in tests)
            self.state.sleep(exc.hold)
            return
        if exc.hold > 0:
            self.state.parking.park(conn.socket, exc.hold, reset=exc.hard_reset)
            conn.linger = True  # so that cheroot does not shut the parked connection down
        elif exc.hard_reset:
            reset_on_close(conn.socket)  # cheroot closes it once we raise

    def _refuse_banned(self, ctx: Context) -> None:
        knobs = ctx.knobs
        banned = ctx.state.bans.check(
            ctx.request.client,
            time.time(),
            threshold=knobs.ban_threshold,
            ban_seconds=knobs.ban_seconds,
        )
        if banned:
            # The real ban: the connection just hangs and the client times out ("hang"), or
            # it is closed at once ("close").
            hold = knobs.ban_hang_seconds if knobs.ban_mode == "hang" else 0.0
            raise NoAnswer("banned", hard_reset=False, hold=hold)

    def _outage(self, api: Api, ctx: Context) -> Response:
        mode = ctx.faults.outage_mode
        if mode == "reset":
            raise NoAnswer("outage")
        if mode == "timeout":
            raise NoAnswer("outage", hard_reset=False, hold=ctx.faults.timeout_seconds)
        return api.outage_response(ctx)
