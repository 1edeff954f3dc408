"""Verification certificates: a signed one-page PDF per check that anyone can authenticate,
online (the public page, by number and code) or offline (``manage.py certificate_verify``, or
any Ed25519 tool). How and why: docs/CERTIFICATES.md."""
