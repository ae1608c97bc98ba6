"""Ingestion and delivery throughput, rate-limit use and latency, end to end.

    .venv/bin/python bench/pipeline.py [ingest] [deliver] [ratelimited] [latency]

With no argument every scenario runs. Needs PostgreSQL (127.0.0.1:5432, trust
auth: a database ``ferry_bench`` is dropped and made anew) and Redis
(127.0.0.1:6379, databases 2 and 3, flushed). Ferry runs as it would in
production: gunicorn for the API, ``celery worker`` processes, the Intercom
sandbox in its own process; this process only sends events and watches.

Targets (issue 5):
- ingest: >= 5,000 events/s accepted through /v1/batch (100 events a batch);
- deliver: >= 300 events/s delivered to the sandbox with no rate limit, 2 worker processes;
- ratelimited: with the sandbox at 1,000 calls a minute, >= 95 % of it used and no 429;
- latency: p95 from ingestion to delivered < 2 s at 100 events/s.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE = "ferry_bench"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
BROKER = "redis://127.0.0.1:6379/2"
CACHE = "redis://127.0.0.1:6379/3"
PEOPLE = 1000
BATCH = 100


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


VAR = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
ENVIRONMENT = {
    **os.environ,
    "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
    "CELERY_BROKER_URL": BROKER,
    "CACHE_URL": CACHE,
    "SECRET_KEY": "bench-" + "x" * 50,
    "FERRY_VAR_DIR": str(VAR),
    "LOG_LEVEL": "WARNING",
    # Plain HTTP on 127.0.0.1, as with `make run`.
    "FERRY_HTTPS": "false",
}
os.environ.update(ENVIRONMENT)
os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
sys.path.insert(0, str(ROOT))


def reset_services() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    for url in (BROKER, CACHE):
        database = url.rsplit("/", 1)[1]
        subprocess.run(["redis-cli", "-n", database, "flushdb"], check=True, capture_output=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENVIRONMENT, check=True)


class Processes:
    """Child processes of one scenario, stopped together."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, *command: str, **extra: str) -> subprocess.Popen[bytes]:
        log = VAR / f"{command[2] if len(command) > 2 else 'child'}-{len(self.children)}.log"
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**ENVIRONMENT, **extra},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self.children.clear()


def wait_until_listening(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def configure(sandbox_url: str, token: str) -> str:
    """An organisation, a source, a workspace on the sandbox, a destination with
    the default Track Event mapping; returns the write key."""
    import django

    django.setup()
    from console import crypto, services
    from console.models import Workspace
    from mappings.actions import new_mapping
    from mappings.models import Mapping

    organization = services.organization_create(name="Bench")
    source, write_key = services.source_create(organization=organization, name="Load")
    workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="sandbox01",
        name="Sandbox",
        api_base=sandbox_url,
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal(token),
    )
    destination = services.destination_create(
        source=source, name="Intercom", workspace=workspace, enabled=True
    )
    template = new_mapping("track_event")
    Mapping.objects.create(
        destination=destination,
        name="Track",
        action="track_event",
        trigger=template["trigger"],
        fields=template["fields"],
        enabled=True,
    )
    return write_key


def start_sandbox(
    processes: Processes, rate_limit: int | None, *, people: int = PEOPLE
) -> tuple[str, str]:
    port = free_port()
    limit = ["--rate-limit", str(rate_limit)] if rate_limit else []
    processes.start(PYTHON, "manage.py", "intercom_sandbox", "--port", str(port), *limit)
    url = f"http://127.0.0.1:{port}"
    wait_until_listening(url + "/_sandbox/state")
    from delivery.sandbox import IntercomSandbox

    token = IntercomSandbox().access_token
    with httpx.Client(base_url=url) as client:
        for number in range(people):
            contact = {"role": "user", "external_id": f"user-{number}"}
            client.post("/_sandbox/contacts", json=contact).raise_for_status()
    return url, token


def start_web(processes: Processes, workers: int = 4) -> str:
    port = free_port()
    processes.start(
        PYTHON, "-m", "gunicorn", "console.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "sync", "--no-control-socket",
        "--keep-alive", "30",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_listening(url + "/login/")
    return url


def start_workers(
    processes: Processes, count: int = 2, *, threads: int = 8, beat: bool = True
) -> None:
    """``count`` worker processes, each running ``threads`` deliveries at once."""
    for number in range(count):
        processes.start(
            PYTHON, "-m", "celery", "-A", "console", "worker", "--loglevel", "WARNING",
            "--pool", "threads", "--concurrency", str(threads), "--hostname", f"w{number}@%h",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip
    if beat:
        processes.start(
            PYTHON, "-m", "celery", "-A", "console", "beat", "--loglevel", "WARNING",
            "--schedule", str(VAR / "beat-schedule"),
        )  # fmt: skip


def batch_body(size: int, first: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "batch": [
                {
                    "type": "track",
                    "messageId": str(uuid.uuid4()),
                    "userId": f"user-{(first + n) % PEOPLE}",
                    "event": "Order Completed",
                    "timestamp": now,
                    "properties": {"order_id": f"o-{first + n}", "revenue": 19.99, "n": first + n},
                    "context": {"library": {"name": "bench", "version": "1"}},
                }
                for n in range(size)
            ],
            "sentAt": now,
        }
    ).encode()


def _post_batches(url: str, write_key: str, bodies: list[bytes], results) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    accepted = 0
    started = time.perf_counter()
    for body in bodies:
        connection.request(
            "POST", "/v1/batch", body, {"Content-Type": "application/json", "Authorization": auth}
        )
        answer = connection.getresponse()
        answer.read()
        if answer.status == 200:
            accepted += BATCH
    results.put((accepted, time.perf_counter() - started))


def ingest(url: str, write_key: str, *, batches: int, senders: int = 3) -> float:
    """Events accepted per second by /v1/batch, ``senders`` clients at once."""
    per_sender = [
        [batch_body(BATCH, (s * batches + b) * BATCH) for b in range(batches // senders)]
        for s in range(senders)
    ]
    results: multiprocessing.Queue = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=_post_batches, args=(url, write_key, bodies, results))
        for bodies in per_sender
    ]
    started = time.perf_counter()
    for client in clients:
        client.start()
    outcomes = [results.get() for _ in clients]
    elapsed = time.perf_counter() - started
    for client in clients:
        client.join()
    return sum(accepted for accepted, _ in outcomes) / elapsed


def delivered_count() -> int:
    from delivery.models import Delivery

    return Delivery.objects.filter(status=Delivery.Status.DELIVERED).count()


def scenario_ingest(rounds: int = 3) -> dict[str, float]:
    """The median of ``rounds`` runs of 30,000 events each (the machine is shared)."""
    reset_services()
    processes = Processes()
    try:
        sandbox_url, token = start_sandbox(processes, None, people=0)
        write_key = configure(sandbox_url, token)
        web = start_web(processes)
        ingest(web, write_key, batches=30)
        rates = [ingest(web, write_key, batches=300) for _ in range(rounds)]
    finally:
        processes.stop()
    return {
        "ingest_events_per_second": statistics.median(rates),
        "ingest_slowest_round": min(rates),
        "ingest_fastest_round": max(rates),
    }


def scenario_deliver(events: int = 12_000) -> dict[str, float]:
    reset_services()
    processes = Processes()
    try:
        sandbox_url, token = start_sandbox(processes, None)
        write_key = configure(sandbox_url, token)
        web = start_web(processes)
        ingest(web, write_key, batches=events // BATCH)
        start_workers(processes)
        first = last = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = delivered_count()
            now = time.monotonic()
            if done and first is None:
                first = (now, done)
            if done >= events:
                last = (now, done)
                break
            time.sleep(0.2)
        if first is None or last is None:
            raise RuntimeError(f"only {delivered_count()} of {events} delivered in 300 s")
        rate = (last[1] - first[1]) / (last[0] - first[0])
    finally:
        processes.stop()
    return {"deliver_events_per_second": rate}


def scenario_ratelimited(seconds: int = 120) -> dict[str, float]:
    """1,000 calls a minute is 166.7 per 10-second window; the sandbox allows 167."""
    reset_services()
    processes = Processes()
    try:
        sandbox_url, token = start_sandbox(processes, 167)
        write_key = configure(sandbox_url, token)
        web = start_web(processes)
        ingest(web, write_key, batches=(seconds * 1000 // 60 * 2) // BATCH)
        start_workers(processes)
        time.sleep(seconds + 5)
        requests = httpx.get(sandbox_url + "/_sandbox/requests", timeout=60).json()
    finally:
        processes.stop()
    calls = sorted(r["at"] for r in requests["requests"] if not r["path"].startswith("/_"))
    refused = sum(1 for r in requests["requests"] if r["status"] == 429)
    # Whole 10-second windows from the first call on, as Intercom counts them.
    start = (int(calls[0]) // 10 + 1) * 10
    windows = seconds // 10 - 1
    counted = [c for c in calls if start <= c < start + windows * 10]
    used = len(counted) / (windows * 1000 / 6)
    return {"ratelimited_share_used": used, "ratelimited_429s": refused}


def scenario_latency(seconds: int = 60, per_second: int = 100) -> dict[str, float]:
    reset_services()
    processes = Processes()
    try:
        sandbox_url, token = start_sandbox(processes, None)
        write_key = configure(sandbox_url, token)
        web = start_web(processes, workers=2)
        start_workers(processes)
        time.sleep(3)
        host, port = web.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        batch = 10
        started = time.monotonic()
        for tick in range(seconds * per_second // batch):
            due = started + tick * batch / per_second
            time.sleep(max(0.0, due - time.monotonic()))
            connection.request(
                "POST",
                "/v1/batch",
                batch_body(batch, tick * batch),
                {"Content-Type": "application/json", "Authorization": auth},
            )
            connection.getresponse().read()
        expected = seconds * per_second
        deadline = time.monotonic() + 60
        while delivered_count() < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        from delivery.models import Delivery

        delays = sorted(
            (finished - received).total_seconds()
            for finished, received in Delivery.objects.filter(
                status=Delivery.Status.DELIVERED
            ).values_list("finished_at", "event__received_at")
        )
    finally:
        processes.stop()
    return {
        "latency_delivered": len(delays),
        "latency_p50_seconds": statistics.median(delays),
        "latency_p95_seconds": delays[int(len(delays) * 0.95) - 1],
    }


SCENARIOS = {
    "ingest": scenario_ingest,
    "deliver": scenario_deliver,
    "ratelimited": scenario_ratelimited,
    "latency": scenario_latency,
}


def main() -> None:
    chosen = sys.argv[1:] or list(SCENARIOS)
    print(f"Ferry pipeline benchmark, {os.cpu_count()} cores, files in {VAR}")
    for name in chosen:
        figures = SCENARIOS[name]()
        for key, value in figures.items():
            print(f"{key:<32} {value:>14,.2f}", flush=True)


if __name__ == "__main__":
    main()
