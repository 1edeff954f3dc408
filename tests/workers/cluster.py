"""Real Celery worker and beat processes for the worker tests, sharing the test database, a
broker (a Redis server of their own when `redis-server` is installed, the embedded SQLite broker
of ``admissions/infra/broker.py`` otherwise) and the sandbox."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

# The bench starts the same processes; the two small process helpers live there (not in tests/).
from bench.stack import free_port, wait_for


ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    """A Redis server of the test's own, which the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        if not wait_for(up, timeout=10, interval=0.05):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@dataclass
class Cluster:
    """Workers and one beat, started with ``start()``, all stopped by ``stop()``."""

    directory: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "admissions", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill takes its pool with it
        )
        log.close()

    def start_worker(self, name: str, *, concurrency: int = 1) -> None:
        self._spawn(
            name,
            [
                "worker",
                "--queues",
                "gov_api,default",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "INFO",
            ],
        )
        if not wait_for(lambda: "ready." in self.log(name), timeout=60):
            raise RuntimeError(f"worker {name} did not start:\n{self.log(name)[-3000:]}")

    def start_beat(self, name: str = "beat") -> None:
        """A beat (several may run: only the one holding the beat lock sends)."""
        self._spawn(
            name,
            ["beat", "--schedule", str(self.directory / f"{name}-schedule"), "--loglevel", "INFO"],
        )
        if not wait_for(lambda: "beat: Starting" in self.log(name), timeout=60):
            raise RuntimeError(f"beat {name} did not start:\n{self.log(name)[-3000:]}")

    def pids_of(self, name: str) -> set[int]:
        """The worker's main process and its pool's children."""
        main = self.processes[name].pid
        pids = {main}
        for task in Path(f"/proc/{main}/task").glob("*/children"):
            pids.update(int(p) for p in task.read_text().split())
        return pids

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool, as the kernel's OOM killer or a power cut would."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def embedded_broker_url(var_dir: Path) -> str:
    """The embedded broker's URL for processes whose VIGIE_VAR_DIR is ``var_dir``."""
    return f"sqlite:///{var_dir / 'celery-broker.sqlite3'}"


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None


def worker_env(
    *, var_dir: Path, broker_url: str, sandbox: object, redis_url: str | None = None
) -> dict[str, str]:
    """The environment of worker (and beat) processes: the test database, this broker, the
    sandbox's base URLs, and short leases so that recovery takes seconds in a test. Call it
    once the test database exists (``database_url()`` reads the test connection's settings)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_URL", "CELERY_", "VIGIE_TEST_BROKER_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "VIGIE_VAR_DIR": str(var_dir),
            "VIGIE_TEST_BROKER_URL": broker_url,
            "API_PARTICULIER_BASE_URL": sandbox.particulier_url,
            "CVEC_BASE_URL": sandbox.cvec_url,
            "CERTIFINFO_BASE_URL": sandbox.certifinfo_url,
            "COVOITURAGE_BASE_URL": sandbox.covoiturage_url,
            "VERIFICATION_LEASE_SECONDS": "5",
            "VERIFICATION_STALE_ENQUEUE_SECONDS": "6",
            "VERIFICATION_RETRY_BASE_SECONDS": "0.5",
            "VERIFICATION_RETRY_MAX_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env
