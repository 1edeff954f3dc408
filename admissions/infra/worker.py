"""The Celery worker's consumer, reconnecting to a lost broker every few seconds.

Celery retries a lost broker connection after 2, 4, 6… seconds, up to 30 (kombu's
``ensure_connection`` defaults, which Celery passes no setting for): after an outage of a
minute a worker would come back up to 14 s after the broker, and a batch would wait that much
longer than the outage itself. This consumer retries every ``VIGIE_BROKER_RECONNECT_SECONDS``
(1) instead: a connection attempt a second costs nothing, and the workers are back within about
that of the broker (docs/DEPLOYMENT.md, "Broker outage"). Configured in ``admissions/celery.py``
(``worker_consumer``), with no limit on the attempts (``broker_connection_max_retries``): a
worker waits for its broker however long it is away.
"""

import functools

from celery.worker.consumer import Consumer as CeleryConsumer


class Consumer(CeleryConsumer):
    def ensure_connected(self, conn):
        from django.conf import settings

        every = settings.VIGIE_BROKER_RECONNECT_SECONDS
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=every, interval_step=0, interval_max=every
        )
        return super().ensure_connected(conn)
