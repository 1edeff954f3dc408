"""The directory where every process of the machine writes its metrics (prometheus_client's
multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``), prepared when the settings are loaded.

Each process writes ``<type>_<pid>.db`` files; the ``/metrics`` view adds them all up. A process
that ends leaves its files, and its counts must stay in the totals: a counter that went down
when a worker was restarted would read, to Prometheus, as a reset followed by as many new
events as the remaining total (``rate()`` and ``increase()`` would show a spike). So at each
process start the files of ended processes (and a file of this very pid, left by an earlier
process that had it) are not deleted but folded into one ``<type>_archive.db`` per type: the
totals are unchanged and the directory does not grow with restarts.

Folding and scraping take a lock on the directory (``.lock``, exclusive to fold, shared to
read), so a scrape never sees a file counted twice or not at all, nor one removed between its
listing and its reading. Only counters and histograms are written to files here (the gauges are
read at scrape time), and both add up, so folding is a sum.

No Django import here: the settings call ``prepare`` before the app registry exists.
"""

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict


_FILE = re.compile(r"^(counter|histogram|summary)_(\d+)\.db$")
_OTHER = re.compile(r"^[a-z]+_[a-z]*_?(\d+)\.db$")  # gauge_<mode>_<pid>.db: not summed
ARCHIVE = "archive"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextmanager
def locked(path: str | Path, *, shared: bool) -> Iterator[None]:
    """Hold the directory's lock: shared to read the files, exclusive to fold them."""
    with open(Path(path) / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fold(entry: Path, archive: Path) -> None:
    into = MmapedDict(str(archive))
    try:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(entry)):
            total, _ = into.read_value(key)
            into.write_value(key, total + value, timestamp)
    finally:
        into.close()
    entry.unlink()


def prepare(path: str | Path) -> None:
    """Create ``path`` and fold the files of ended processes into the archives."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    with locked(directory, shared=False):
        for entry in sorted(directory.iterdir()):
            match = _FILE.match(entry.name)
            if match:
                pid = int(match[2])
                if pid == me or not _alive(pid):
                    _fold(entry, directory / f"{match[1]}_{ARCHIVE}.db")
                continue
            other = _OTHER.match(entry.name)
            if other and (int(other[1]) == me or not _alive(int(other[1]))):
                entry.unlink(missing_ok=True)  # a gauge of an ended process means nothing now
