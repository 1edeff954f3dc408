"""The Celery application: queues, routing, reliability options and the beat ticks.

Beat runs a few fixed *ticks* defined here, in code; *what is due* at each tick is data in the
database. Exactly one beat sends them: each beat runs ``SingleBeatScheduler``, which sends only
while it holds the beat lock (``admissions/infra/beat.py``), so a second beat started by mistake
stands by instead of doubling the work.
"""

import os
from enum import StrEnum

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

from verifications.beat_ticks import RECHECK_TICK_SECONDS


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "admissions.settings")


class CeleryQueue(StrEnum):
    # Calls to government APIs: run these workers with low concurrency, as the upstream rate
    # limits (not our CPU) bound the throughput.
    GOV_API = "gov_api"
    DEFAULT = "default"


app = Celery("vigie", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(CeleryQueue.GOV_API.value), Queue(CeleryQueue.DEFAULT.value)]
app.conf.task_default_queue = CeleryQueue.DEFAULT.value
app.conf.task_routes = {"verifications.verification_run": {"queue": CeleryQueue.GOV_API.value}}
app.conf.beat_scheduler = "admissions.infra.beat:SingleBeatScheduler"
# Workers reconnect to a lost broker every second or so, not after Celery's growing back-off,
# and never give up (Celery's default, 100 attempts, would be 100 seconds at that pace).
app.conf.worker_consumer = "admissions.infra.worker:Consumer"
app.conf.broker_connection_max_retries = None
app.conf.beat_schedule = {
    # Sends due verification requests at the sources' pace; reclaims abandoned ones.
    "verifications-dispatch": {
        "task": "verifications.dispatch",
        "schedule": 2.0,
        "options": {"expires": 30},
    },
    "admissions-audit-verify": {
        "task": "admissions.audit_chain_check",
        "schedule": crontab(hour=3, minute=17),
    },
    # Re-checks what is due, inside each institution's night window, at a bounded share of each
    # source's rate.
    "verifications-scheduled-reverification": {
        "task": "verifications.scheduled_reverification",
        "schedule": float(RECHECK_TICK_SECONDS),
        "options": {"expires": 240},
    },
    # Retention: raw evidence and audit events past their period (institution settings).
    "verifications-retention-purge": {
        "task": "verifications.retention_purge",
        "schedule": crontab(hour=2, minute=41),
    },
    # Webhooks: sends every delivery that is due and whose task was lost (webhooks/).
    "webhooks-dispatch": {
        "task": "webhooks.deliveries_dispatch",
        "schedule": 5.0,
        "options": {"expires": 30},
    },
    # Webhook events whose deliveries have all ended, past their retention (30 days).
    "webhooks-purge": {
        "task": "webhooks.events_purge",
        "schedule": crontab(hour=2, minute=53),
    },
    # Background work whose worker was lost: a batch's preparation sent again, a results file
    # that never came marked failed.
    "verifications-background-sweep": {
        "task": "verifications.background_sweep",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Batch results files past VIGIE_EXPORT_RETENTION_HOURS: deleted (their rows stay).
    "verifications-exports-expire": {
        "task": "verifications.exports_expire",
        "schedule": crontab(minute=23),
    },
    # The analytics page's daily rollup: yesterday's answers, a few minutes after midnight (a
    # tick with nothing to roll reads two small tables).
    "verifications-analytics-rollup": {
        "task": "verifications.analytics_rollup",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    # API tokens close to their expiry: one e-mail per threshold (90, 60, 30, 15 days).
    "verifications-credential-expiry": {
        "task": "verifications.credential_expiry_check",
        "schedule": crontab(hour=7, minute=5),
    },
    # The integration API's kept answers (Idempotency-Key) past their 24-hour replay window.
    "api-idempotency-purge": {
        "task": "api.idempotent_answers_purge",
        "schedule": crontab(minute=23),
        "options": {"expires": 1800},
    },
}
app.autodiscover_tasks()
