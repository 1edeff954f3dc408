"""``make run``'s stack survives a dead worker: the Procfile's four processes under honcho, on the
embedded defaults (SQLite database and broker in a VIGIE_VAR_DIR of the test's own), the worker
SIGKILLed; bin/respawn starts a new one, which takes the beat's ticks, while the web, beat and the
sandbox keep running (honcho alone would have stopped them all).

Heavy (about a minute): one test. The processes are found through /proc by the VIGIE_VAR_DIR in
their environment, so that nothing else on the machine is touched.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bench.stack import free_port, wait_for


ROOT = Path(__file__).resolve().parents[2]
HONCHO = Path(sys.executable).parent / "honcho"
DISPATCH_DONE = re.compile(r"worker\.1 .*Task verifications\.dispatch\[[0-9a-f-]+\] succeeded")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc"),
]


def ours(var_dir: Path) -> dict[int, str]:
    """pid -> command line of every process whose environment has this VIGIE_VAR_DIR."""
    marker = f"VIGIE_VAR_DIR={var_dir}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found[int(proc.name)] = cmdline
        except OSError:
            continue
    return found


def respawns(var_dir: Path) -> dict[int, str]:
    """The bin/respawn processes (not the shells honcho runs them through)."""
    return {
        pid: cmd
        for pid, cmd in ours(var_dir).items()
        if len(cmd.split()) > 1 and cmd.split()[1].endswith("bin/respawn")
    }


def celery_worker_main(var_dir: Path) -> int | None:
    """The worker's main process: the one whose parent is bin/respawn."""
    wrappers = respawns(var_dir)
    for pid, cmdline in ours(var_dir).items():
        if "celery -A admissions worker" in cmdline and pid not in wrappers:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid in wrappers:
                return pid
    return None


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


def test_a_killed_worker_is_started_again_and_the_rest_keeps_running(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    port, sandbox_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "VIGIE_"))
        and not key.endswith("_BASE_URL")
    }
    env.update(
        {
            "VIGIE_VAR_DIR": str(var_dir),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "VIGIE_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
            "RESPAWN_DELAY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [str(HONCHO), "start", "--no-colour"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log() -> str:
        return log_path.read_text(errors="replace")

    web = f"http://127.0.0.1:{port}/"
    try:
        assert wait_for(lambda: answers(web), timeout=120), log()[-3000:]
        assert wait_for(lambda: len(DISPATCH_DONE.findall(log())) >= 2, timeout=120), log()[-3000:]
        first = celery_worker_main(var_dir)
        assert first is not None, ours(var_dir)
        others = {pid for pid, cmd in respawns(var_dir).items() if " worker " not in cmd}
        assert len(others) == 3  # web, beat and the sandbox, each under its bin/respawn

        os.kill(first, signal.SIGKILL)
        assert wait_for(
            lambda: "[respawn] worker.1 exited (killed by SIGKILL)" in log(), timeout=30
        )
        assert answers(web)  # the web did not go down with the worker
        assert wait_for(lambda: celery_worker_main(var_dir) not in (None, first), timeout=60)
        restarted_at = log().index("[respawn] worker.1 exited")
        assert wait_for(
            lambda: len(DISPATCH_DONE.findall(log()[restarted_at:])) >= 2, timeout=120
        ), log()[restarted_at:][-3000:]
        assert honcho.poll() is None
        assert answers(web)
        still = set(respawns(var_dir))
        assert others <= still  # nobody else was restarted or stopped
        assert log().count("[respawn]") == 1
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(timeout=10)
        for pid in ours(var_dir):  # anything left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # A normal stop (Ctrl-C, SIGTERM to honcho) stops everything for good, restarting nothing.
    assert log().count("exited (") == 1
