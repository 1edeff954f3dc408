"""The integration door: Vigie's versioned REST API (``/api/v1/``) and its keys.

A top-level package over both domains, like the views: it imports ``admissions`` and (in later
increments) ``verifications``; neither imports it. docs/DESIGN.md §The integration API.
"""
