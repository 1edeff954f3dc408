"""The directory where every process of the machine writes its metrics (prometheus_client's
multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``), prepared when the settings are loaded.

Each process writes ``<type>_<pid>.db`` files; the ``/metrics`` view adds them all up. At each
process start, the files of processes that are no longer running are removed (and those of this
very pid, left by an earlier process that had it): otherwise they pile up over restarts. A
counter whose files go away counts as reset, which Prometheus's ``rate()`` handles.

No Django import here: the settings call ``prepare`` before the app registry exists.
"""

import os
import re
from pathlib import Path


_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare(path: str | Path) -> None:
    """Create ``path`` and remove the files of processes that have ended."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    for entry in directory.iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        pid = int(match[1])
        if pid == me or not _alive(pid):
            entry.unlink(missing_ok=True)
