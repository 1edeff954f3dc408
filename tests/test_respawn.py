"""bin/respawn, the restart loop each Procfile line runs under: a command that exits is started
again after a delay, says why in the log, and a stop signal stops it (and the command) for good.
Real processes; the delays are shortened through the environment."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.stack import wait_for


ROOT = Path(__file__).resolve().parents[1]
RESPAWN = ROOT / "bin" / "respawn"


def start(tmp_path: Path, script: str, **env: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "respawn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(RESPAWN), sys.executable, "-c", script],
            cwd=tmp_path,
            env={
                **os.environ,
                "RESPAWN_NAME": "demo",
                "RESPAWN_DELAY": "0.2",
                "RESPAWN_STOP_SECONDS": "3",
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started.append(proc)
    return proc, log


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    return proc.wait(timeout=20)


@pytest.fixture(autouse=True)
def _nothing_left_running(tmp_path):
    """Whatever a failing test leaves (respawn, its commands), killed at the end."""
    yield
    for proc in list(_started):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        _started.remove(proc)
    for pid in pids(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


_started: list[subprocess.Popen] = []


def pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


# Each run appends its pid to ./pids, then does what the test asks.
RECORD = "import os, sys, time; open('pids', 'a').write(f'{os.getpid()}\\n'); "


def test_a_command_that_exits_is_started_again_and_the_log_says_why(tmp_path):
    proc, log = start(tmp_path, RECORD + "sys.exit(3)")
    try:
        assert wait_for(lambda: len(pids(tmp_path)) >= 3, timeout=30)
        assert proc.poll() is None  # respawn itself keeps running
    finally:
        stop(proc)
    text = log.read_text()
    assert "[respawn] demo exited (with code 3) after" in text
    assert "starting it again in 0.2 s (restart 1)" in text
    assert "(restart 2)" in text
    assert len(set(pids(tmp_path))) == len(pids(tmp_path))  # a new process each time


def test_a_killed_command_is_started_again_and_the_kill_is_named(tmp_path):
    proc, log = start(tmp_path, RECORD + "time.sleep(600)")
    try:
        assert wait_for(lambda: len(pids(tmp_path)) == 1, timeout=30)
        first = pids(tmp_path)[0]
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: len(pids(tmp_path)) == 2, timeout=30)
        second = pids(tmp_path)[1]
        assert second != first
        assert proc.poll() is None
        os.kill(second, 0)  # the new one is running
    finally:
        stop(proc)
    assert "[respawn] demo exited (killed by SIGKILL) after" in log.read_text()


def test_the_delay_grows_while_the_command_keeps_dying_at_once(tmp_path):
    proc, log = start(tmp_path, RECORD + "sys.exit(1)", RESPAWN_MAX_DELAY="0.8")
    try:
        assert wait_for(lambda: "(restart 4)" in log.read_text(), timeout=30)
    finally:
        stop(proc)
    text = log.read_text()
    for restart, delay in ((1, "0.2"), (2, "0.4"), (3, "0.8"), (4, "0.8")):
        assert f"starting it again in {delay} s (restart {restart})" in text


def test_a_stop_signal_stops_the_command_and_respawn_for_good(tmp_path):
    # The command catches SIGTERM and exits 0, as a Celery worker's warm shutdown does.
    script = RECORD + (
        "import signal; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(600)"
    )
    proc, log = start(tmp_path, script)
    assert wait_for(lambda: len(pids(tmp_path)) == 1, timeout=30)
    started = time.monotonic()
    assert stop(proc) == 0
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    assert len(pids(tmp_path)) == 1  # not started again
    assert "exited" not in log.read_text()
    child = pids(tmp_path)[0]
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_a_command_that_ignores_the_stop_signal_is_killed_with_what_it_started(tmp_path):
    # The command ignores SIGTERM and starts a grandchild that ignores it too (a worker's pool).
    script = RECORD + (
        "import signal, subprocess; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "g = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)']); "
        "open('pids', 'a').write(f'{g.pid}\\n'); time.sleep(600)"
    )
    proc, log = start(tmp_path, script, RESPAWN_STOP_SECONDS="1")
    assert wait_for(lambda: len(pids(tmp_path)) == 2, timeout=30)
    assert stop(proc) == 128 + signal.SIGKILL
    assert "did not stop within 1.0 s: killing it" in log.read_text()
    for pid in pids(tmp_path):
        assert wait_for(lambda p=pid: not _alive(p), timeout=10), f"{pid} still running"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
