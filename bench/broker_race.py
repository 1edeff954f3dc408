"""Producers and Celery workers racing on one broker: what the embedded broker must survive.

    .venv/bin/python bench/broker_race.py [--seconds 20] [--producers 4] [--workers 3]
        [--rate 0] [--candidates filesystem,sqlite,redis]

For each candidate transport, ``--producers`` processes publish a numbered task as fast as they
can (or ``--rate`` per second each) for ``--seconds``, while ``--workers`` real Celery workers
(prefork, one pool process, ``acks_late`` and ``reject_on_worker_lost`` as Vigie's tasks) consume
them and append what they ran to one file. Then, once the queue is drained (or nothing moved for
a while), it counts the messages lost, run twice and unreadable, the workers that died, the
throughput and the CPU time of everything (producers, workers, the broker), and the CPU the idle
workers and broker burn per second. ``tests/workers/test_broker_race.py`` runs the same race.

Candidates: ``filesystem`` (kombu's filesystem transport, the old embedded default), ``sqlite``
(``admissions.infra.broker``, the embedded default), ``redis`` (a ``redis-server`` of our own on a
unix socket, when one is installed).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stack import cpu_seconds, process_tree, wait_for  # noqa: E402


QUEUE = "race"
CRASH_SIGNS = ("Unrecoverable error", "JSONDecodeError", "Traceback")


# --- The Celery app the workers and producers load (configured from the environment) ----------


def _make_app():
    from celery import Celery

    app = Celery("broker_race", set_as_current=False)
    app.conf.update(
        broker_url=os.environ.get("BROKER_RACE_URL", "memory://"),
        broker_transport=os.environ.get("BROKER_RACE_TRANSPORT") or None,
        broker_transport_options=json.loads(os.environ.get("BROKER_RACE_OPTIONS", "{}")),
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        accept_content=["json"],
    )

    @app.task(name="broker_race.record")
    def record(producer: int, seq: int, padding: str = "") -> None:
        # One short append per message: O_APPEND writes of a line are not interleaved.
        line = f"{producer} {seq}" if padding == _padding(producer, seq, len(padding)) else "bad"
        fd = os.open(os.environ["BROKER_RACE_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)

    return app


app = _make_app()


def _padding(producer: int, seq: int, size: int) -> str:
    """What a message carries besides its number: ``size`` characters that say whose it is."""
    unit = f"{producer}.{seq}|"
    return (unit * (size // len(unit) + 1))[:size]


def produce(producer: int, seconds: float, rate: float, payload_bytes: int = 0) -> None:
    """Publish numbered tasks for ``seconds``; print how many were published and failed."""
    task = app.tasks["broker_race.record"]
    sent = failed = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            task.apply_async((producer, sent, _padding(producer, sent, payload_bytes)), queue=QUEUE)
        except Exception as exc:
            failed += 1
            print(f"publish failed: {exc!r}", file=sys.stderr, flush=True)
        else:
            sent += 1
        if rate:
            ahead = (sent + failed) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    print(json.dumps({"sent": sent, "failed": failed}), flush=True)


# --- Candidates ---------------------------------------------------------------------------


@dataclass
class Broker:
    name: str
    url: str
    transport: str = ""
    options: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {
            "BROKER_RACE_URL": self.url,
            "BROKER_RACE_TRANSPORT": self.transport,
            "BROKER_RACE_OPTIONS": json.dumps(self.options),
        }

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def filesystem_broker(directory: Path) -> Broker:
    """The old embedded default, as admissions/settings.py configured it."""
    folders = {name: directory / "celery" / name for name in ("queue", "control", "processed")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return Broker(
        "filesystem",
        "filesystem://",
        options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "control_folder": str(folders["control"]),
            "processed_folder": str(folders["processed"]),
            "store_processed": False,
            "polling_interval": 0.05,
        },
    )


def sqlite_broker(directory: Path) -> Broker:
    """The embedded default: admissions/infra/broker.py on an SQLite file."""
    from admissions.infra.broker import TRANSPORT, TRANSPORT_OPTIONS

    return Broker(
        "sqlite",
        f"sqlite:///{directory / 'broker.sqlite3'}",
        transport=TRANSPORT,
        options=dict(TRANSPORT_OPTIONS),
    )


def redis_broker(directory: Path) -> Broker:
    """A redis-server of our own on a unix socket (what ``make run`` could start)."""
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server is not installed")
    sock = directory / "redis.sock"
    process = subprocess.Popen(
        [
            "redis-server",
            *("--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for(sock.exists, timeout=10, interval=0.05):
        raise RuntimeError("redis-server did not start")
    return Broker(
        "redis", f"redis+socket://{sock}", options={"visibility_timeout": 3600}, process=process
    )


CANDIDATES = {"filesystem": filesystem_broker, "sqlite": sqlite_broker, "redis": redis_broker}


# --- The race -----------------------------------------------------------------------------


@dataclass
class Result:
    transport: str
    producers: int
    workers: int
    seconds: float
    payload_bytes: int = 0
    sent: int = 0
    publish_failed: int = 0
    consumed: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0
    crashed_workers: list[str] = field(default_factory=list)
    crash_lines: list[str] = field(default_factory=list)
    drain_seconds: float = 0.0
    throughput: float = 0.0  # messages consumed per second, from the first publish to drained
    cpu_seconds: float = 0.0  # producers, workers and broker, during the race
    cpu_ms_per_message: float = 0.0
    idle_cpu_percent: float = 0.0  # workers and broker, per worker, queue empty

    @property
    def ok(self) -> bool:
        return (
            not (self.lost or self.duplicated or self.corrupted or self.crashed_workers)
            and self.consumed == self.sent
        )

    def summary(self) -> str:
        crashes = f"{len(self.crashed_workers)} ({'; '.join(self.crash_lines)[:300]})"
        return (
            f"{self.transport}: {self.producers} producers x {self.seconds:.0f} s "
            f"({self.payload_bytes} bytes of padding), "
            f"{self.workers} workers: sent {self.sent} (publish failed {self.publish_failed}), "
            f"consumed {self.consumed}, lost {self.lost}, duplicated {self.duplicated}, "
            f"corrupted {self.corrupted}, workers crashed {crashes}; "
            f"{self.throughput:.0f} msg/s, drained {self.drain_seconds:.1f} s after the last "
            f"publish; CPU {self.cpu_seconds:.1f} s ({self.cpu_ms_per_message:.2f} ms/msg); "
            f"idle {self.idle_cpu_percent:.1f} % of a core per worker"
        )


def _worker_command(name: str) -> list[str]:
    return [
        sys.executable,
        *("-m", "celery", "-A", "bench.broker_race", "worker"),
        *("--queues", QUEUE, "--concurrency", "1", "--pool", "prefork"),
        *("--hostname", f"{name}@%h", "--prefetch-multiplier", "1"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"),
    ]


def _read_consumed(path: Path) -> tuple[dict[tuple[int, int], int], int]:
    counts: dict[tuple[int, int], int] = {}
    corrupted = 0
    if not path.exists():
        return counts, 0
    for line in path.read_text(errors="replace").splitlines():
        match = re.fullmatch(r"(\d+) (\d+)", line)
        if not match:
            corrupted += 1
            continue
        key = (int(match[1]), int(match[2]))
        counts[key] = counts.get(key, 0) + 1
    return counts, corrupted


def race(
    transport: str,
    directory: Path,
    *,
    producers: int = 4,
    workers: int = 3,
    seconds: float = 20,
    rate: float = 0,
    payload_bytes: int = 0,
    drain_timeout: float = 120,
    stall_seconds: float = 15,
    idle_seconds: float = 5,
) -> Result:
    """Run one race on ``transport`` (a key of CANDIDATES) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    broker = CANDIDATES[transport](directory)
    out = directory / "consumed.txt"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "BROKER_RACE_"))},
        **broker.env(),
        "BROKER_RACE_OUT": str(out),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    result = Result(transport, producers, workers, seconds, payload_bytes)
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}

    def spawn(name: str, command: list[str]) -> subprocess.Popen:
        logs[name] = directory / f"{name}.log"
        with logs[name].open("wb") as log:
            procs[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return procs[name]

    def log(name: str) -> str:
        return logs[name].read_text(errors="replace") if logs[name].exists() else ""

    worker_names = [f"worker{i}" for i in range(1, workers + 1)]
    try:
        for name in worker_names:
            spawn(name, _worker_command(name))
        for name in worker_names:
            if not wait_for(lambda n=name: "ready." in log(n), timeout=90):
                raise RuntimeError(f"{name} did not start:\n{log(name)[-3000:]}")
        cpu_before = sum(cpu_seconds(process_tree(procs[n].pid)) for n in worker_names)
        if broker.process:
            cpu_before += cpu_seconds({broker.process.pid})
        started = time.monotonic()
        producer_names = [f"producer{i}" for i in range(1, producers + 1)]
        for i, name in enumerate(producer_names, start=1):
            code = (
                "from bench.broker_race import produce; "
                f"produce({i}, {seconds}, {rate}, {payload_bytes})"
            )
            spawn(name, [sys.executable, "-c", code])
        producer_cpu = 0.0
        for name in producer_names:
            _pid, _status, usage = os.wait4(procs[name].pid, 0)
            procs[name].returncode = 0
            producer_cpu += usage.ru_utime + usage.ru_stime
            counts = [line for line in log(name).splitlines() if line.startswith("{")]
            if counts:
                figures = json.loads(counts[-1])
                result.sent += figures["sent"]
                result.publish_failed += figures["failed"]
        published = time.monotonic()

        # Drain: until everything sent was consumed, or nothing moved for stall_seconds.
        last, moved_at = -1, time.monotonic()
        while time.monotonic() - published < drain_timeout:
            consumed, _ = _read_consumed(out)
            total = sum(consumed.values())
            if total >= result.sent:
                break
            if total != last:
                last, moved_at = total, time.monotonic()
            elif time.monotonic() - moved_at > stall_seconds:
                break
            time.sleep(0.2)
        drained = time.monotonic()
        result.drain_seconds = drained - published
        alive = [n for n in worker_names if procs[n].poll() is None]
        cpu_after = sum(cpu_seconds(process_tree(procs[n].pid)) for n in alive)
        if broker.process:
            cpu_after += cpu_seconds({broker.process.pid})
        result.cpu_seconds = cpu_after - cpu_before + producer_cpu
        # Idle: the workers (and broker) polling an empty queue.
        if alive and idle_seconds:
            time.sleep(1)
            idle_pids = {p for n in alive for p in process_tree(procs[n].pid)}
            if broker.process:
                idle_pids.add(broker.process.pid)
            before = cpu_seconds(idle_pids)
            time.sleep(idle_seconds)
            result.idle_cpu_percent = (
                100 * (cpu_seconds(idle_pids) - before) / idle_seconds / len(alive)
            )
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        broker.stop()

    consumed, result.corrupted = _read_consumed(out)
    result.consumed = sum(consumed.values())
    result.duplicated = sum(n - 1 for n in consumed.values() if n > 1)
    sent_ids = set()
    for name in producer_names:
        i = int(name.removeprefix("producer"))
        figures = [line for line in log(name).splitlines() if line.startswith("{")]
        n = json.loads(figures[-1])["sent"] if figures else 0
        sent_ids |= {(i, seq) for seq in range(n)}
    result.lost = len(sent_ids - consumed.keys())
    result.corrupted += len(consumed.keys() - sent_ids)  # ran something never published
    for name in worker_names:
        text = log(name)
        # A worker that exited before we stopped it, or logged a crash, died in the race.
        if any(sign in text for sign in CRASH_SIGNS) or procs[name].returncode not in (0, -15):
            result.crashed_workers.append(name)
            crash = [line for line in text.splitlines() if "Error" in line]
            result.crash_lines.append(f"{name}: {crash[-1].strip() if crash else 'exited'}")
    elapsed = drained - started
    result.throughput = result.consumed / elapsed if elapsed else 0.0
    result.cpu_ms_per_message = 1000 * result.cpu_seconds / max(result.consumed, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0, help="per producer; 0: as fast as it can")
    parser.add_argument("--payload-bytes", type=int, default=0, help="padding in each message")
    parser.add_argument("--candidates", default="filesystem,sqlite,redis")
    parser.add_argument("--json", type=Path, help="also write the results there")
    args = parser.parse_args()
    results = []
    for name in args.candidates.split(","):
        with tempfile.TemporaryDirectory(prefix=f"broker-race-{name}-") as tmp:
            try:
                result = race(
                    name,
                    Path(tmp),
                    producers=args.producers,
                    workers=args.workers,
                    seconds=args.seconds,
                    rate=args.rate,
                    payload_bytes=args.payload_bytes,
                )
            except RuntimeError as exc:
                print(f"{name}: skipped ({exc})", flush=True)
                continue
        results.append(result)
        print(result.summary(), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
