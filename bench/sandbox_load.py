"""Throughput of the sandbox: how many cheap answers per second it serves.

    python bench/sandbox_load.py [--url URL] [--duration 10] [--connections 32]
                                 [--load-threads 2] [--mix mixed|particulier|cvec|covoiturage]

Without ``--url`` it starts ``manage.py sandbox --port 0`` itself and stops it afterwards.
Limits are raised for the measurement (they are still computed on every request; only their
values change), then put back with a reset. The requests rotate over thousands of
generated people whose answers are 200s, so the figure is for real answers (population
lookups, JSON bodies, limit windows, stats), not for errors. The load comes from ``wrk`` (Debian
package ``wrk``) when installed, otherwise from a small threaded Python client, which is
itself CPU-bound and then understates the sandbox.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox import tokens  # noqa: E402
from sandbox.population import (  # noqa: E402
    CERTIFICATIONS,
    STAGING_RECIPIENT,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
    cvec_name_key,
    person,
)


WRK_SCRIPT = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  counter = math.random(#paths)
end
request = function()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
"""
RAISED_LIMITS = {
    "particulier_token_limit": 10**9,
    "particulier_ip_limit": 10**9,
    "particulier_endpoint_limit": 10**9,
    "covoiturage_limit": 10**9,
}


def paths_for(mix: str, people: int = 3000) -> list[str]:
    out = []
    for i in range(people):
        p = person(i)
        if mix in ("mixed", "particulier") and p.scolarite == ScolariteOutcome.ENROLLED:
            query = {
                "recipient": STAGING_RECIPIENT,
                "nomNaissance": p.birth_name,
                "prenoms[]": p.first_names[0],
                "sexeEtatCivil": p.sex,
                "anneeDateNaissance": p.birth_date.year,
                "moisDateNaissance": p.birth_date.month,
                "jourDateNaissance": p.birth_date.day,
                "codeEtablissement": p.uai,
                "anneeScolaire": p.school_year,
            }
            out.append(f"/particulier/v4/men/scolarites/identite?{urlencode(query)}")
        if mix in ("mixed", "cvec") and p.cvec == CvecOutcome.VALID:
            key = cvec_name_key(p.birth_name)
            out.append(f"/cvec/api/attestation/{p.cvec_code}?etudiant={key}")
        if mix in ("mixed", "covoiturage") and p.covoiturage == CovoiturageOutcome.OK:
            out.append(f"/covoiturage/v3.2/certificates/{p.covoiturage_uuid}")
        if mix == "mixed" and i % 10 == 0:
            out.append(f"/certifinfo/certification?id={CERTIFICATIONS[i % 16].certifinfo_id}")
    return out


HEADERS = {
    "Authorization": f"Bearer {tokens.DEFAULT_TOKEN}",
    "token-connexion": tokens.CERTIFINFO_TOKEN,
}


def admin(url: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/_sandbox/{path}", data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.load(response)


def start_sandbox(threads: int) -> tuple[str, subprocess.Popen]:
    log = tempfile.NamedTemporaryFile(prefix="sandbox-", suffix=".log", delete=False)  # noqa: SIM115
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "manage.py", "sandbox", "--port", "0", "--threads", str(threads)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://\S+)", Path(log.name).read_text())
        if match:
            return match.group(1), process
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the sandbox did not start; see {log.name}")


def run_wrk(url: str, paths: list[str], args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp, "rotate.lua"), Path(tmp, "paths.txt")
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        command = ["wrk", f"-t{args.load_threads}", f"-c{args.connections}"]
        command += [f"-d{args.duration}s", "--latency", "-s", str(script)]
        for name, value in HEADERS.items():
            command += ["-H", f"{name}: {value}"]
        command += [url, "--", str(listing)]
        printable = " ".join(
            c if not c.startswith("Authorization") else "Authorization: …" for c in command
        )
        print("$", printable)
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def run_python(url: str, paths: list[str], args: argparse.Namespace) -> str:
    """A keep-alive HTTP/1.1 client per connection, in threads (fallback when wrk is absent)."""
    target = urlsplit(url)
    stop_at = time.monotonic() + args.duration
    counts = [0] * args.connections
    errors = [0] * args.connections

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        i = n * 997
        while time.monotonic() < stop_at:
            i = (i + 1) % len(paths)
            conn.request("GET", paths[i], headers=HEADERS)
            response = conn.getresponse()
            response.read()
            counts[n] += 1
            errors[n] += response.status >= 400

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return (
        f"python client: {sum(counts)} requests in {elapsed:.2f}s, "
        f"{sum(errors)} errors\nRequests/sec: {sum(counts) / elapsed:.2f}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running sandbox (default: start one)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--load-threads", type=int, default=2)
    parser.add_argument("--server-threads", type=int, default=32)
    parser.add_argument(
        "--mix", default="mixed", choices=["mixed", "particulier", "cvec", "covoiturage"]
    )
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args()

    process = None
    url = args.url
    if not url:
        url, process = start_sandbox(args.server_threads)
    try:
        deadline = time.monotonic() + 60
        while not admin(url, "health")["population_ready"]:
            if time.monotonic() > deadline:
                raise SystemExit("the population index is not ready")
            time.sleep(0.1)
        admin(url, "reset", {})
        admin(url, "knobs", RAISED_LIMITS)
        paths = paths_for(args.mix)
        print(f"{len(paths)} distinct requests ({args.mix}), {args.duration} s")
        use_wrk = shutil.which("wrk") and not args.python_client
        print(run_wrk(url, paths, args) if use_wrk else run_python(url, paths, args))
        stats = admin(url, "stats")["total"]
        print(
            "sandbox stats: requests={requests} statuses={statuses} "
            "max_per_second={max_per_second}".format(**stats)
        )
    finally:
        try:
            admin(url, "reset", {})
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
