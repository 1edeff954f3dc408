"""Small facts every process of a deployment must see: when the dispatcher last ran, when the
audit chains were last verified and whether they were intact.

Kept in the Django cache when it is shared (Redis: ``REDIS_URL``), otherwise in a file under
``VAR_DIR/ops/`` (the embedded setup runs every process on one machine, and its cache is
per-process memory). Writing is one cache ``SET`` or one small file replaced atomically: cheap
enough for the dispatcher's 2-second tick.
"""

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache


logger = logging.getLogger(__name__)

DISPATCH_TICK = "dispatch_tick"
AUDIT_CHAIN_CHECK = "audit_chain_check"

_KEY_PREFIX = "vigie:ops:"
_LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _shared_cache() -> bool:
    return settings.CACHES["default"]["BACKEND"] not in _LOCAL_BACKENDS


def _path(name: str) -> Path:
    return Path(settings.VAR_DIR) / "ops" / f"{name}.json"


def record(name: str, **data: Any) -> None:
    """Record that ``name`` happened now, with ``data`` (JSON values). Never raises: a
    heartbeat that cannot be written shows as stale, which is what it should show."""
    value = {"at": time.time(), **data}
    try:
        if _shared_cache():
            cache.set(_KEY_PREFIX + name, value, timeout=None)
            return
        path = _path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(value, f)
        os.replace(f.name, path)
    except Exception as exc:  # the cache or the disk is unwell: readiness will say so
        logger.warning("could not record the %s heartbeat: %s", name, type(exc).__name__)


def last(name: str) -> dict[str, Any] | None:
    """What ``record`` last stored for ``name`` (``{"at": epoch seconds, ...}``), or None."""
    if _shared_cache():
        value = cache.get(_KEY_PREFIX + name)
        return value if isinstance(value, dict) else None
    try:
        value = json.loads(_path(name).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
