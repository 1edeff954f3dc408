"""What a log record is about: the web request, the user, the Celery task, the verification.

Values live in context variables, set by ``RequestIdMiddleware``/``LogUserMiddleware`` for a web
request and by the Celery signal handlers (``admissions.ops.celery_signals``) for a task; the
``LogContext`` filter copies them onto every record a handler emits. Only ids: never a name.

No Django import here (``LOGGING`` names ``LogContext``).
"""

import logging
import re
import uuid
from contextvars import ContextVar, Token
from typing import Any


# The fields, in the order the JSON formatter writes them.
FIELDS = ("request_id", "user_id", "institution_id", "task_id", "task", "verification_request_id")

_vars: dict[str, ContextVar[Any]] = {
    name: ContextVar(f"vigie_{name}", default=None) for name in FIELDS
}

# An incoming X-Request-ID is kept only if it looks like an id: letters, digits and a few
# separators, at most 64 characters (a header is client input: no newline, no personal data
# smuggled into the logs at length).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable request id, else None."""
    if value and _REQUEST_ID.match(value):
        return value
    return None


def get(name: str) -> Any:
    return _vars[name].get()


def current() -> dict[str, Any]:
    """The fields set now (None ones left out)."""
    found = {name: var.get() for name, var in _vars.items()}
    return {name: value for name, value in found.items() if value is not None}


def bind(**values: Any) -> dict[str, Token]:
    """Set fields; returns the tokens that ``unbind`` takes to restore the previous values."""
    return {name: _vars[name].set(value) for name, value in values.items()}


def unbind(tokens: dict[str, Token]) -> None:
    for name, token in tokens.items():
        try:
            _vars[name].reset(token)
        except ValueError:  # set in another context (a signal pair split across threads)
            _vars[name].set(None)


def clear() -> None:
    for var in _vars.values():
        var.set(None)


class LogContext(logging.Filter):
    """Copies the context's ids onto each record (``record.request_id`` ...; None if unset),
    unless the record already carries one (``extra=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True
