"""What a deployment needs to watch Vigie (docs/DEPLOYMENT.md, "Health, metrics and logs").

* ``health``: ``/healthz`` (the process is up) and ``/readyz`` (database, migrations, cache,
  broker, the dispatcher's last tick, each source's breaker), JSON for load balancers;
* ``metrics``: the Prometheus endpoint ``/metrics`` (a bearer token and/or a network allow-list,
  404 when neither is set), aggregating every gunicorn and Celery process of the machine through
  prometheus_client's multiprocess mode;
* ``context`` and ``jsonlog``: a request id per web request, carried to the Celery tasks it
  sends, on every log record; ``VIGIE_LOG_FORMAT=json`` writes one JSON object per line;
* ``heartbeat``: when the dispatcher last ran and the audit chains were last verified.

``context``, ``jsonlog`` and ``metrics_dir`` import nothing from Django: ``LOGGING`` and the
settings name them before the app registry is ready.
"""
