"""The applicant domain's pages, one module per area: ``applicants`` (list, create, edit, claims),
``imports`` (CSV import), ``audit`` (the audit trail and its export), ``login`` and ``errors``."""
