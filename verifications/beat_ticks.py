"""How often beat runs the verification domain's periodic ticks. Imports nothing: the Celery app
(``admissions/celery.py``, loaded by ``admissions/__init__.py``) reads it while any module of
Vigie may still be importing (``tests/test_import_order.py``)."""

# The re-verification tick (verifications/freshness.py, services/scheduled.py).
RECHECK_TICK_SECONDS = 300
