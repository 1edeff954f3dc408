"""One JSON object per log line (``VIGIE_LOG_FORMAT=json``).

Written with the standard library (a ``logging.Formatter`` subclass) rather than
python-json-logger: what we need is a fixed, short list of fields, and a whitelist of ``extra``
attributes is the point here, since ``extra`` may carry objects whose text holds personal data
(``django.request`` passes the request itself, whose repr has the query string). A library
that dumps every extra attribute would have to be fenced in anyway.

The redaction filters (``admissions.infra.log_filters``) run before any formatter, on the record
itself, so the JSON ``message`` is as redacted as the plain one.

No Django import here (``LOGGING`` names ``JsonFormatter``).
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from admissions.ops.context import FIELDS


# Structured attributes a record may carry through ``extra=`` and that are safe to write: ids,
# codes and numbers only (the provider layer sets them; see verifications/providers/http.py).
EXTRA_FIELDS = (
    "source",
    "route",
    "http_status",
    "duration_ms",
    "upstream_request_id",
    "error",
    "status_code",
)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", <context ids>, <whitelisted extras>,
    "exception"?}``; fields that are not set are left out."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*FIELDS, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None and value != "":
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
