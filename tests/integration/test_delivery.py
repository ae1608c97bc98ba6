"""The delivery pipeline on PostgreSQL + Redis with real Celery worker processes
and the sandbox over HTTP: crashes, races, a lost broker, a 429 storm."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from delivery import services
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import Incoming, accept_messages
from delivery.tasks import sweep
from tests.support import wait_for

pytestmark = pytest.mark.timeout(180)

Status = Delivery.Status
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def track(number: int, user: str = "u-1", event: str = "Order Completed"):
    return {
        "type": "track",
        "messageId": f"m-{number}",
        "userId": user,
        "event": event,
        "timestamp": f"2026-11-29T10:{number // 60:02}:{number % 60:02}Z",
        "properties": {"number": number},
    }


def send(source, *messages):
    return accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


def statuses() -> list[str]:
    return list(Delivery.objects.order_by("id").values_list("status", flat=True))


def all_delivered(count: int):
    def check():
        return Delivery.objects.filter(status=Status.DELIVERED).count() == count

    return check


def test_events_are_delivered_by_a_worker_process(start_worker, sandbox, source, add_mapping):
    add_mapping("track_event")
    for person in ("ann", "bob", "cy"):
        sandbox.add_contact(role="user", external_id=person)
    start_worker("alpha", concurrency=2)

    send(source, *(track(n, user) for n, user in enumerate(["ann", "bob", "cy", "ann"])))

    wait_for(all_delivered(4), 30, "four deliveries")
    assert len(sandbox.events) == 4
    assert [e["metadata"]["number"] for e in sandbox.events if e["user_id"] == "ann"] == [0, 3]


def test_a_worker_killed_mid_delivery_is_replaced_after_the_lease(
    start_worker, sandbox, source, add_mapping
):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    sandbox.fail(path="/events", delay=30)
    doomed = start_worker("doomed", FERRY_LEASE_SECONDS="15")

    send(source, track(1))
    wait_for(lambda: sandbox.requests, 30, "the delivery to reach Intercom")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    start_worker("heir", FERRY_LEASE_SECONDS="15")

    def swept():
        sweep.apply()
        return Attempt.objects.filter(outcome=Attempt.Outcome.INTERRUPTED).exists()

    wait_for(swept, 30, "the lease to expire")

    wait_for(all_delivered(1), 30, "the heir to deliver")
    delivery = Delivery.objects.get()
    assert [a.outcome for a in delivery.attempt_set.all()] == ["interrupted", "delivered"]
    # Intercom received the first request before the kill: the copy is visible as an
    # interrupted attempt, and Intercom drops the repeat (same person, name and time).
    assert len([r for r in sandbox.requests if r.path == "/events"]) == 2
    assert len(sandbox.events) == 1


def test_two_workers_racing_for_one_delivery_one_wins(
    services_required, transactional_db, source, add_mapping
):
    add_mapping("track_event")
    send(source, track(1))
    claims: list[list[int]] = []
    barrier = threading.Barrier(4)

    def race():
        barrier.wait()
        claims.append(services.deliveries_claim(limit=1))
        connection.close()

    racers = [threading.Thread(target=race) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert sorted(len(claim) for claim in claims) == [0, 0, 0, 1]
    assert statuses() == [Status.IN_FLIGHT]


def test_events_are_accepted_while_the_broker_is_down_and_delivered_after(
    start_worker, sandbox, source, add_mapping
):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    start_worker("patient")
    subprocess.run(["redis-cli", "shutdown", "nosave"], check=False, capture_output=True)
    try:
        started = time.monotonic()
        events = send(source, track(1), track(2))
        accepted_in = time.monotonic() - started
    finally:
        subprocess.run(REDIS_START, shell=True, check=True)
    wait_for(
        lambda: (
            subprocess.run(["redis-cli", "ping"], capture_output=True).stdout.strip() == b"PONG"
        ),
        10,
        "Redis to come back",
    )

    assert [e.status for e in events] == [Event.Status.ROUTED, Event.Status.ROUTED]
    assert accepted_in < 5
    assert statuses() == [Status.PENDING, Status.PENDING]

    sweep.apply()
    wait_for(all_delivered(2), 60, "the deliveries after Redis came back")
    assert [e["metadata"]["number"] for e in sandbox.events] == [1, 2]


def test_a_429_storm_stops_every_call_until_the_reset(start_worker, sandbox, source, add_mapping):
    add_mapping("track_event")
    people = [f"p{n}" for n in range(8)]
    for person in people:
        sandbox.add_contact(role="user", external_id=person)
    reset = int(time.time()) + 6
    sandbox.fail(
        count=2,
        status=429,
        path="/events",
        headers={
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        },
    )
    start_worker("storm", concurrency=2, beat=True)

    send(source, *(track(n, person) for n, person in enumerate(people)))

    wait_for(all_delivered(len(people)), 60, "every delivery after the storm")
    first_429 = min(r.at for r in sandbox.requests if r.status == 429)
    during = [r for r in sandbox.requests if first_429 < r.at < reset and r.status != 429]
    assert during == []
    assert sorted(e["user_id"] for e in sandbox.events) == people
    retried = Attempt.objects.filter(outcome=Attempt.Outcome.RETRYABLE)
    # Each retried attempt was refused by Intercom, or held back by the limiter itself.
    reasons = [attempt.error for attempt in retried]
    assert all("429" in reason or "no call was made" in reason for reason in reasons), reasons
