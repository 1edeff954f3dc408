"""Point the test process's Celery app at another broker and back, without stale connections."""

from typing import Any

from kombu import pools


def reset_broker_connections(app: Any) -> None:
    """Close and forget every broker connection the app keeps, so its next publish connects to
    the broker its configuration names now.

    The app's connection pool is kombu's global pool for the broker URL, and its producer pool
    is registered globally too: closing the first without forgetting both leaves a closed pool
    that the next publish to the same URL acquires from ("Acquire on closed pool").
    """
    pools.reset()  # closes and forgets kombu's global connection and producer pools
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
