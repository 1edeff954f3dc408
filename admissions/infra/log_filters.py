"""Logging filters that keep personal data out of log records (docs/SECURITY.md, "Logs").

No Django import here: ``LOGGING`` names these classes, and logging is configured before the
app registry is ready.
"""

import logging
import re


class RedactQueryStrings(logging.Filter):
    """Replace query strings in log records with ``?<redacted>``.

    With ``paths=True``, request targets (string arguments that start with ``/``) are replaced
    whole: attestation numbers travel in paths (CVEC ``/api/attestation/{code}``, covoiturage
    ``/certificates/{uuid}``), and urllib3 logs each request line at DEBUG level. Our providers
    log the *route template* instead.

    Installed on ``urllib3.connectionpool`` (paths too) by ``verifications.providers.http``, and
    on ``django.server`` (runserver's request lines: a search is ``?q=<a name>``) by ``LOGGING``.
    """

    _QUERY = re.compile(r"\?[^\s\"']*")
    _TARGET = re.compile(r"(?<=[\s\"])/[^\s\"']*")

    def __init__(self, name: str = "", *, paths: bool = False) -> None:
        super().__init__(name)
        self.paths = paths

    def _clean(self, text: str, *, is_arg: bool) -> str:
        if self.paths:
            if is_arg and text.startswith("/"):
                return "/<redacted>"
            text = self._TARGET.sub("/<redacted>", text)
        return self._QUERY.sub("?<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._clean(record.msg, is_arg=False)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._clean(arg, is_arg=True) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
