"""The probes' and the metrics' URLs (answered early by ``ProbeMiddleware``)."""

from django.urls import path

from admissions.ops.health import healthz, readyz
from admissions.ops.metrics import metrics_view


# (path, view, name): plain English paths, as load balancers and Prometheus expect them.
PROBES = (
    ("healthz", healthz, "healthz"),
    ("readyz", readyz, "readyz"),
    ("metrics", metrics_view, "metrics"),
)

urlpatterns = [path(route, view, name=name) for route, view, name in PROBES]
