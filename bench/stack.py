"""The processes a benchmark needs, on loopback: a fresh PostgreSQL database, Redis, the
sandbox, Celery workers and beat, gunicorn. Everything started here is stopped by ``stop()``.

PostgreSQL and Redis are the servers already running on this machine (``BENCH_DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432/vigie_bench``; ``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/5``); when no Redis answers there, a ``redis-server`` of our own is
started on a free port. The database is dropped and created afresh by ``fresh_database()``.
"""

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigie_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
# A fixed test key: the bench database holds no real personal data.
FIELD_ENCRYPTION_KEY = "3yR0b4ppV3mEJbHk1vYtq6Uu0mN9a2bXQh1pO5w8cLs="
SIGNING_KEY = "0Mk9n0bW2y8C2f0v6m3V0d9Qq2YH3e3l5m6JtRk0Yq8"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> dict[str, str]:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {"cores": str(os.cpu_count()), "cpu": cpu, "ram": f"{ram:.0f} GB"}


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU time of these processes (and of their children already reaped)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat (11-14 after the name).
        total += sum(int(v) for v in fields[11:15]) / tick
    return total


def process_tree(pid: int) -> set[int]:
    pids = {pid}
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in task.read_text().split():
                pids |= process_tree(int(child))
        except OSError:
            pass
    return pids


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


def _server_url(url: str) -> tuple[str, str]:
    """(URL of the server's ``postgres`` database, name of the bench database)."""
    match = re.match(r"^(.*)/([^/?]+)$", url)
    if not match:
        raise SystemExit(f"not a database URL: {url}")
    return f"{match[1]}/postgres", match[2]


def fresh_database(url: str) -> None:
    import psycopg

    server, name = _server_url(url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def versions(url: str, redis_url: str) -> dict[str, str]:
    import psycopg

    out = {"python": platform.python_version()}
    try:
        with psycopg.connect(url) as conn:
            out["postgresql"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except Exception as exc:
        out["postgresql"] = f"unknown ({exc.__class__.__name__})"
    try:
        import redis

        out["redis"] = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    except Exception as exc:
        out["redis"] = f"unknown ({exc.__class__.__name__})"
    return out


@dataclass
class Stack:
    """The bench's processes and the environment they share."""

    directory: Path
    database_url: str
    redis_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    sandbox_url: str = ""
    web_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "VIGIE_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "admissions.settings",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "vigie-bench-" + "k" * 50,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "FIELD_ENCRYPTION_KEY": FIELD_ENCRYPTION_KEY,
                "VIGIE_SIGNING_KEYS": SIGNING_KEY,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "VIGIE_VAR_DIR": str(self.directory / "var"),
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.sandbox_url:
            from sandbox import tokens

            env.update(
                {
                    "API_PARTICULIER_BASE_URL": f"{self.sandbox_url}/particulier",
                    "API_PARTICULIER_TOKEN": tokens.DEFAULT_TOKEN,
                    "API_PARTICULIER_RECIPIENT": "13002526500013",
                    "CVEC_BASE_URL": f"{self.sandbox_url}/cvec",
                    "CERTIFINFO_BASE_URL": f"{self.sandbox_url}/certifinfo",
                    "CERTIFINFO_TOKEN": tokens.CERTIFINFO_TOKEN,
                    "COVOITURAGE_BASE_URL": f"{self.sandbox_url}/covoiturage/v3.2",
                }
            )
        env.update(self.extra_env)
        return env

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        (self.directory / "var").mkdir(parents=True, exist_ok=True)
        with (self.directory / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes its children
            )
        self.processes[name] = proc
        return proc

    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    # --- Redis ------------------------------------------------------------------------------

    def ensure_redis(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.redis_url, socket_timeout=2).ping()
            return
        except redis.RedisError:
            print(f"no Redis at {self.redis_url}: starting redis-server")
        if not shutil.which("redis-server"):
            raise SystemExit(f"no Redis at {self.redis_url} and no redis-server to start")
        port = free_port()
        self.spawn(
            "redis",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        )
        self.redis_url = f"redis://127.0.0.1:{port}/5"
        if not wait_for(lambda: _connects(port), timeout=10, interval=0.05):
            raise SystemExit("redis-server did not start")

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()

    # --- Sandbox ----------------------------------------------------------------------------

    def start_sandbox(self, knobs: dict | None = None, threads: int = 32) -> None:
        port = free_port()
        config = self.directory / "sandbox-knobs.json"
        config.write_text(json.dumps(knobs or {}))
        self.spawn(
            "sandbox",
            [
                PYTHON,
                "manage.py",
                "sandbox",
                "--port",
                str(port),
                "--threads",
                str(threads),
                "--config",
                str(config),
            ],
        )
        self.sandbox_url = f"http://127.0.0.1:{port}"
        if not wait_for(self._sandbox_ready, timeout=60):
            raise SystemExit(f"sandbox did not start:\n{self.log('sandbox')[-3000:]}")

    def _sandbox_ready(self) -> bool:
        try:
            return bool(self.sandbox("GET", "health").get("population_ready"))
        except OSError:
            return False

    def sandbox(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback http
            f"{self.sandbox_url}/_sandbox/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    # --- Celery -----------------------------------------------------------------------------

    def start_workers(self, count: int, nice: int = 0) -> list[str]:
        """``count`` worker processes; ``nice`` > 0 starts them at a lower CPU priority (as
        docs/DEPLOYMENT.md runs workers that share a machine with the web server)."""
        names = [f"worker{i}" for i in range(1, count + 1)]
        for name in names:
            self.spawn(
                name,
                [
                    *(["nice", "-n", str(nice)] if nice else []),
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "admissions",
                    "worker",
                    "--queues",
                    "gov_api,default",
                    "--concurrency",
                    "1",
                    "--hostname",
                    f"{name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel",
                    "WARNING",
                ],
            )
        for name in names:
            if not wait_for(lambda n=name: "ready" in self.log(n) or self._pool_up(n), timeout=90):
                raise SystemExit(f"{name} did not start:\n{self.log(name)[-3000:]}")
        return names

    def _pool_up(self, name: str) -> bool:
        # At WARNING level the worker prints nothing when ready: its pool child is the sign.
        return len(process_tree(self.processes[name].pid)) > 1

    def start_beat(self) -> None:
        self.spawn(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "admissions",
                "beat",
                "--schedule",
                str(self.directory / "beat-schedule"),
                "--loglevel",
                "INFO",
            ],
        )
        if not wait_for(lambda: "beat: Starting" in self.log("beat"), timeout=60):
            raise SystemExit(f"beat did not start:\n{self.log('beat')[-3000:]}")

    def worker_pids(self) -> set[int]:
        pids: set[int] = set()
        for name, proc in self.processes.items():
            if name.startswith("worker") and proc.poll() is None:
                pids |= process_tree(proc.pid)
        return pids

    # --- Web --------------------------------------------------------------------------------

    def start_gunicorn(self, workers: int = 4, threads: int = 1) -> None:
        port = free_port()
        self.spawn(
            "gunicorn",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "admissions.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--access-logfile",
                "-",
                "--access-logformat",
                "%(m)s %(U)s %(s)s %(M)s",
            ],
            # The product's settings plus the pages benchmark's baseline routes (bench/urls.py).
            env={"DJANGO_SETTINGS_MODULE": "bench.settings"},
        )
        self.web_url = f"http://127.0.0.1:{port}"
        if not wait_for(lambda: _connects(port), timeout=60):
            raise SystemExit(f"gunicorn did not start:\n{self.log('gunicorn')[-3000:]}")

    # --- Stopping ---------------------------------------------------------------------------

    def stop_cluster(self) -> None:
        """Stop the sandbox, the workers and beat (not Redis, not gunicorn)."""
        self.stop(*[n for n in self.processes if n.startswith(("worker", "beat", "sandbox"))])

    def stop_all(self) -> None:
        self.stop(*self.processes)

    def stop(self, *names: str) -> None:
        chosen = [n for n in names if n in self.processes]
        for name in chosen:
            proc = self.processes[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name in chosen:
            proc = self.processes.pop(name)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if "sandbox" in chosen:
            self.sandbox_url = ""


def _connects(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
