"""Shared infrastructure: plumbing that is about no applicant and no verification.

Encryption at rest (``crypto``, ``fields``), fast inserts (``bulk``), append-only rows
(``append_only``), spreadsheet exports (``exports``), ids read from requests (``integers``),
free text refused when it hides characters (``text_input``), middleware (``middleware``,
``session_security``), log filters (``log_filters``), reading API tokens (``tokens``), the
embedded broker, the single beat and the worker's reconnection (``broker``, ``beat``,
``worker``), choice labels (``choices``). Nothing here imports the applicant domain
(``admissions``' other modules) or ``verifications``: ``tests/test_imports.py`` checks it.
"""
