"""Several "hosts" on one machine, for the multi-host worker test: Linux network namespaces on a
test network of their own.

``TestNetwork`` makes a bridge in the root namespace with the address ``10.213.<n>.1/24`` (``n``
chosen so that nothing on the machine already uses that /24) and, for each host, a namespace
with a veth pair: one end on the bridge, the other in the namespace with ``10.213.<n>.<k>`` and
the namespace's own loopback. A process in a namespace reaches the root namespace only through
the bridge address: ``127.0.0.1`` there is the namespace's own, empty, loopback. So the
services the hosts use (Redis, the sandbox, a forwarder to PostgreSQL) are started in the root
namespace bound to the bridge address, and a host that reaches one reached it over the network.

Names carry the pytest process's id (``vigie-<pid>x<k>-<host>``, links ``vb…``, ``vh…``,
``vn…``): ``destroy()`` removes what a run made, even after a failure, and a new run removes
what a run killed before its clean-up left behind (its pid no longer alive).

Needs root, iproute2 (``ip``) and network-namespace support: ``unavailable()`` says which one is
missing, for the test's skip reason.
"""

import contextlib
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.stack import wait_for


ROOT = Path(__file__).resolve().parents[2]
PREFIX = "10.213"
_LOCK = Path("/run/vigie-test-netns.lock")
_OURS = re.compile(r"^(?:vigie-|v[bhn])(\d+)x\d+")
_counter = iter(range(1_000_000))


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces are Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (run as root, as .ci/run does)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    tag = f"{os.getpid()}x{next(_counter)}"
    probe, veth = f"vigie-{tag}-probe", f"vh{tag}p"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"no network namespace support: ip netns add: {made.stderr.strip()}"
    try:
        inside = _ip("netns", "exec", probe, "ip", "link", "set", "lo", "up", check=False)
        if inside.returncode != 0:
            return f"no network namespace support: ip netns exec: {inside.stderr.strip()}"
        pair = ["link", "add", veth, "type", "veth", "peer", "name", f"vn{tag}p", "netns", probe]
        made = _ip(*pair, check=False)
        if made.returncode != 0:
            return f"no veth support: ip link add type veth: {made.stderr.strip()}"
        made = _ip("link", "add", f"vb{tag}", "type", "bridge", check=False)
        if made.returncode != 0:
            return f"no bridge support: ip link add type bridge: {made.stderr.strip()}"
    finally:
        _ip("link", "del", f"vb{tag}", check=False)
        _ip("link", "del", veth, check=False)
        _ip("netns", "del", probe, check=False)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> list[str]:
    """Remove the namespaces and links of earlier runs whose pytest process is gone."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _OURS.match(name)
        if match and not _alive(int(match[1])):
            _kill_pids(_netns_pids(name))
            _ip("netns", "del", name, check=False)
            removed.append(name)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        match = _OURS.match(name)
        if match and not _alive(int(match[1])):
            _ip("link", "del", name, check=False)
            removed.append(name)
    return removed


def _netns_pids(name: str) -> list[int]:
    out = _ip("netns", "pids", name, check=False).stdout
    return [int(p) for p in out.split()]


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the machine has an address or a route in."""
    nets = []
    for line in _ip("-4", "-o", "addr", "show", check=False).stdout.splitlines():
        match = re.search(r"inet (\S+)", line)
        if match:
            nets.append(ipaddress.ip_interface(match[1]).network)
    for line in _ip("-4", "route", "show", "table", "all", check=False).stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first == "default":
            continue
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.ip_network(first, strict=False))
    return nets


@dataclass
class Host:
    """One "machine": a network namespace with one address on the test network."""

    name: str
    label: str
    address: str
    veth_host: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def prefix(self) -> list[str]:
        """What runs a command in this host's namespace."""
        return ["ip", "netns", "exec", self.name]

    def pids(self) -> list[int]:
        """Every process in this host's namespace."""
        return _netns_pids(self.name)

    def spawn(
        self, key: str, args: list[str], *, env: dict[str, str], log: Path, nice: int = 0
    ) -> None:
        """Start ``args`` in this host's namespace (at ``nice``: see ``PRIORITY``)."""
        with log.open("wb") as out:
            self.processes[key] = subprocess.Popen(
                [*self.prefix(), "nice", "-n", str(nice), *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run(self, args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix(), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )

    def kill(self) -> list[int]:
        """SIGKILL every process of the host (a power cut); returns their pids."""
        pids = self.pids()
        _kill_pids(pids)
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        wait_for(lambda: not self.pids(), timeout=10, interval=0.05)
        return pids

    def unplug(self) -> None:
        """Delete the namespace (and so its end of the cable) and the bridge's end."""
        _kill_pids(self.pids())
        _ip("netns", "del", self.name, check=False)
        _ip("link", "del", self.veth_host, check=False)


@dataclass
class TestNetwork:
    """A bridge on ``10.213.<n>.0/24`` in the root namespace, and hosts plugged into it."""

    __test__ = False  # not a pytest test class

    tag: str = field(default_factory=lambda: f"{os.getpid()}x{next(_counter)}")
    network: ipaddress.IPv4Network | None = None
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def bridge(self) -> str:
        return f"vb{self.tag}"

    @property
    def address(self) -> str:
        """The root namespace's address on the test network: where the services listen."""
        assert self.network is not None
        return str(self.network.network_address + 1)

    def create(self) -> None:
        remove_leftovers()
        # Two runs at once must not pick the same /24: choose and claim it under a lock.
        with _LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = _used_networks()
            for n in range(1, 255):
                candidate = ipaddress.ip_network(f"{PREFIX}.{n}.0/24")
                if not any(candidate.overlaps(u) for u in used):
                    self.network = candidate
                    break
            else:
                raise RuntimeError(f"no free /24 in {PREFIX}.0.0/16")
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")

    def add_host(self, label: str) -> Host:
        assert self.network is not None
        k = len(self.hosts) + 2
        host = Host(
            name=f"vigie-{self.tag}-{label}",
            label=label,
            address=str(self.network.network_address + k),
            veth_host=f"vh{self.tag}{label}",
        )
        veth_ns = f"vn{self.tag}{label}"
        self.hosts[label] = host
        _ip("netns", "add", host.name)
        _ip("link", "add", host.veth_host, "type", "veth", "peer", "name", veth_ns)
        _ip("link", "set", host.veth_host, "master", self.bridge, "up")
        _ip("link", "set", veth_ns, "netns", host.name)
        _ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", veth_ns)
        _ip("-n", host.name, "link", "set", veth_ns, "up")
        _ip("-n", host.name, "link", "set", "lo", "up")
        return host

    def destroy(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.kill()
            host.unplug()
        _ip("link", "del", self.bridge, check=False)


def raise_priority(pid: int, nice: int = -10) -> None:
    """Every thread of ``pid`` at a higher CPU priority (Linux's nice value is per thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def listening(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, port)) == 0


class Service:
    """A process of the root namespace serving the test network (Redis, the forwarder)."""

    def __init__(
        self, name: str, args: list[str], *, address: str, port: int, log: Path, nice: int = 0
    ):
        self.name, self.address, self.port = name, address, port
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["nice", "-n", str(nice), *args],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_for(lambda: listening(address, port), timeout=20, interval=0.05):
            self.stop()
            raise RuntimeError(f"{name} did not listen on {address}:{port}:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGKILL its process group: socat's forked children (one per connection) too."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def redis_on(address: str, directory: Path, password: str, *, nice: int = 0) -> Service:
    """A Redis for other machines: with a password (and so out of protected mode), as any Redis
    reached over a network must be."""
    port = free_port(address)
    args = ["redis-server", "--bind", address, "--port", str(port), "--requirepass", password]
    args += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    log = directory / "redis.log"
    return Service("redis-server", args, address=address, port=port, log=log, nice=nice)


def forwarder_on(address: str, target: tuple[str, int], log: Path, *, nice: int = 0) -> Service:
    """``address:<free port>`` relayed to ``target``: socat when installed, else ours."""
    port = free_port(address)
    if shutil.which("socat"):
        listen = f"TCP-LISTEN:{port},bind={address},reuseaddr,fork"
        args = ["socat", listen, f"TCP:{target[0]}:{target[1]}"]
        name = "socat"
    else:
        args = [sys.executable, "-m", "tests.workers.forwarder", address, str(port)]
        args += [target[0], str(target[1])]
        name = "tests.workers.forwarder"
    return Service(name, args, address=address, port=port, log=log, nice=nice)
