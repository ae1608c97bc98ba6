"""Faults on the real stack: PostgreSQL restarted under ingestion, Redis gone for
a minute, Intercom misbehaving, workers killed again and again. Nothing may be
lost; what is sent twice must be visible and explained."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import Incoming, accept_messages
from tests.support import wait_for

pytestmark = pytest.mark.timeout(600)

Status = Delivery.Status
POSTGRES_VERSION = "15"
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _pg(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else ""
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version or POSTGRES_VERSION, "main", action],
        check=True,
        capture_output=True,
    )


def _redis_up() -> bool:
    answer = subprocess.run(["redis-cli", "ping"], capture_output=True, text=True)
    return answer.stdout.strip() == "PONG"


def _track(number: int, person: str) -> dict:
    return {
        "type": "track",
        "messageId": f"m-{number}-{uuid.uuid4().hex[:8]}",
        "userId": person,
        "event": "Order Completed",
        "timestamp": (datetime(2026, 11, 29, tzinfo=UTC) + timedelta(seconds=number)).isoformat(),
        "properties": {"number": number},
    }


def _fresh_connection():
    """After a database restart this process's own connection is dead too."""
    connection.close()


def test_a_database_restart_during_ingestion_loses_and_halves_nothing(
    start_web, source_and_key, add_mapping
):
    add_mapping("track_event")
    _, write_key = source_and_key
    web = start_web(workers=2)
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    batches = [[_track(b * 20 + n, f"p{n}") for n in range(20)] for b in range(60)]
    answers: Counter[int | str] = Counter()

    def send_all() -> None:
        with httpx.Client(base_url=web, timeout=10) as http:
            for batch in batches:
                for _ in range(60):  # a client library retries 5xx and connection errors
                    try:
                        status = http.post(
                            "/v1/batch",
                            content=json.dumps({"batch": batch}),
                            headers={"Content-Type": "application/json", "Authorization": auth},
                        ).status_code
                    except httpx.TransportError:
                        status = "connection error"
                    answers[status] += 1
                    if status == 200:
                        break
                    time.sleep(0.25)
                time.sleep(0.05)

    sender = threading.Thread(target=send_all)
    sender.start()
    time.sleep(1.0)
    _pg("restart")
    sender.join(timeout=300)
    _fresh_connection()

    assert not sender.is_alive()
    assert answers[200] == len(batches)
    refused = {status for status in answers if status != 200}
    assert refused, "the restart went unnoticed"
    assert refused <= {503, "connection error"}, answers
    for batch in batches:
        ids = [message["messageId"] for message in batch]
        stored = Counter(
            Event.objects.filter(message_id__in=ids)
            .exclude(status=Event.Status.DUPLICATE)
            .values_list("message_id", flat=True)
        )
        assert stored == Counter(ids), "a batch was stored partly, or twice"
    routed = Event.objects.exclude(status=Event.Status.DUPLICATE).count()
    assert Delivery.objects.count() == routed == len(batches) * 20


def test_redis_gone_for_a_minute_loses_and_doubles_nothing(
    start_worker, sandbox, source, add_mapping
):
    add_mapping("track_event")
    people = [f"p{n}" for n in range(10)]
    for person in people:
        sandbox.add_contact(role="user", external_id=person)
    start_worker("steady", concurrency=2, beat=True)
    first = [_track(n, people[n % 10]) for n in range(20)]
    accept_messages(
        source=source, incoming=[Incoming(m) for m in first], received_at=timezone.now()
    )
    wait_for(lambda: Delivery.objects.filter(status=Status.DELIVERED).count() == 20, 60, "before")

    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
    try:
        during = [_track(100 + n, people[n % 10]) for n in range(30)]
        for chunk in (during[:10], during[10:20], during[20:]):
            stored = accept_messages(
                source=source, incoming=[Incoming(m) for m in chunk], received_at=timezone.now()
            )
            assert all(event.status == Event.Status.ROUTED for event in stored)
            time.sleep(20)
    finally:
        subprocess.run(REDIS_START, shell=True, check=True)
    wait_for(_redis_up, 20, "Redis to come back")

    wait_for(lambda: Delivery.objects.filter(status=Status.DELIVERED).count() == 50, 120, "after")
    sent = Counter(event["metadata"]["number"] for event in sandbox.events)
    assert sorted(sent) == sorted([m["properties"]["number"] for m in first + during])
    assert set(sent.values()) == {1}
    assert len([r for r in sandbox.requests if r.path == "/events" and r.status == 202]) == 50


def test_intercom_misbehaving_is_classified_and_retried(start_worker, sandbox, source, add_mapping):
    add_mapping("track_event")
    for person in ("a", "b", "c", "d"):
        sandbox.add_contact(role="user", external_id=person)
    sandbox.fail(path="/events", status=502, html=True)
    sandbox.fail(path="/events", status=500, garbage=True)
    sandbox.fail(path="/events", delay=12)
    sandbox.fail(path="/events", drop_connection=True)
    start_worker("patient", concurrency=1, beat=True)

    accept_messages(
        source=source,
        incoming=[Incoming(_track(n, person)) for n, person in enumerate("abcd")],
        received_at=timezone.now(),
    )

    wait_for(lambda: Delivery.objects.filter(status=Status.DELIVERED).count() == 4, 180, "recovery")
    errors = list(
        Attempt.objects.filter(outcome=Attempt.Outcome.RETRYABLE).values_list("error", flat=True)
    )
    assert len(errors) == 4, errors
    assert any(error.startswith("Intercom answered 502: ") for error in errors)
    assert any(error.startswith("Intercom answered 500: ") for error in errors)
    assert any(error == "No answer within 10 seconds" for error in errors)
    assert any(error.startswith("Connection failed") for error in errors)
    assert len(sandbox.events) == 4


def test_workers_killed_again_and_again_deliver_everything(
    start_worker, sandbox, source, add_mapping
):
    add_mapping("track_event")
    people = [f"p{n}" for n in range(200)]
    for person in people:
        sandbox.add_contact(role="user", external_id=person)
    total = 4_000
    for start in range(0, total, 500):
        accept_messages(
            source=source,
            incoming=[Incoming(_track(n, people[n % 200])) for n in range(start, start + 500)],
            received_at=timezone.now(),
        )
    settings = {"FERRY_LEASE_SECONDS": "15"}
    start_worker("steady", concurrency=4, beat=True, **settings)
    kills = 0
    deadline = time.monotonic() + 400
    while Delivery.objects.filter(status=Status.DELIVERED).count() < total:
        assert time.monotonic() < deadline, "deliveries stalled"
        victim = start_worker(f"victim{kills}", concurrency=4, **settings)
        time.sleep(random.uniform(2, 5))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        kills += 1
        if kills >= 6:
            break
    wait_for(lambda: Delivery.objects.filter(status=Status.DELIVERED).count() == total, 400, "all")

    assert kills >= 3
    assert not Delivery.objects.exclude(status=Status.DELIVERED).exists()
    # A kill can cut a request short: the sandbox then holds a partial body, not an event.
    requests = Counter(
        r.body["metadata"]["number"]
        for r in sandbox.requests
        if r.path == "/events" and r.method == "POST" and isinstance(r.body, dict)
    )
    assert set(requests) == set(range(total))
    duplicates = sum(count - 1 for count in requests.values())
    interrupted = Attempt.objects.filter(outcome=Attempt.Outcome.INTERRUPTED).count()
    # Every second copy Intercom received comes from an attempt cut short by a kill.
    assert duplicates <= interrupted
    print(f"{kills} kills, {interrupted} interrupted attempts, {duplicates} duplicates")
