from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from delivery import services
from delivery.intercom.client import Exchange, IntercomError, RateLimit
from delivery.models import Delivery
from delivery.pipeline import Incoming, accept_messages
from delivery.ratelimit import UNKNOWN_QUOTA, WINDOW_SECONDS, WorkspaceLimiter


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def limiter(clock) -> WorkspaceLimiter:
    return WorkspaceLimiter(7, clock=clock, sleep=clock.sleep)


def answer(*, status=200, limit=None, remaining=None, reset=None) -> Exchange:
    return Exchange(
        method="POST",
        url="http://sandbox/events",
        request_body=None,
        status=status,
        rate_limit=RateLimit(limit, remaining, reset),
    )


def test_until_intercom_tells_its_quota_calls_are_probed_slowly(limiter, clock):
    for _ in range(int(UNKNOWN_QUOTA * 0.98)):
        limiter.before_request()

    assert clock.slept == []
    limiter.before_request()
    assert clock.slept == [pytest.approx(WINDOW_SECONDS)]


def test_the_quota_intercom_announces_is_used_with_a_small_margin(limiter, clock):
    limiter.after_response(answer(limit=167, remaining=166, reset=int(clock.now) + 10))

    for _ in range(163):
        limiter.before_request()

    assert clock.slept == []
    assert limiter.earliest_call() == WINDOW_SECONDS * (clock.now // WINDOW_SECONDS + 1)


def test_nothing_left_stops_every_call_until_the_reset(limiter, clock):
    reset = int(clock.now) + 4
    limiter.after_response(answer(limit=167, remaining=0, reset=reset))

    assert limiter.earliest_call() == reset
    limiter.before_request()
    assert clock.now >= reset


def test_a_429_blocks_even_without_headers(limiter, clock):
    limiter.after_response(Exchange(method="GET", url="u", request_body=None, status=429))

    assert limiter.earliest_call() == clock.now + WINDOW_SECONDS


def test_a_long_block_refuses_the_call_instead_of_sleeping(limiter, clock):
    reset = int(clock.now) + 60
    limiter.after_response(answer(status=429, limit=167, remaining=0, reset=reset))

    with pytest.raises(IntercomError, match="no call was made") as refusal:
        limiter.before_request()

    assert refusal.value.retry_at == datetime.fromtimestamp(reset, UTC)
    assert clock.slept == []


def test_workspaces_are_counted_apart(clock):
    first = WorkspaceLimiter(1, clock=clock, sleep=clock.sleep)
    second = WorkspaceLimiter(2, clock=clock, sleep=clock.sleep)
    first.after_response(answer(status=429, limit=10, remaining=0, reset=int(clock.now) + 9))

    assert first.earliest_call() is not None
    assert second.earliest_call() is None


def test_the_file_cache_counts_atomically_across_threads(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    from concurrent.futures import ThreadPoolExecutor

    from delivery.ratelimit import _blocked_and_counted

    def count(_):
        return _blocked_and_counted("ferry:test:blocked", "ferry:test:count", 30)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(count, range(200)))

    assert count(None) == (None, 201)


@pytest.mark.django_db
def test_a_blocked_workspace_s_deliveries_wait_without_an_attempt(
    source, add_mapping, sandbox, workspace
):
    add_mapping("track_event")
    accept_messages(
        source=source,
        incoming=[Incoming({"type": "track", "messageId": "m", "userId": "u", "event": "E"})],
        received_at=timezone.now(),
    )
    reset = int(time.time()) + 30
    WorkspaceLimiter(workspace.pk).after_response(answer(status=429, remaining=0, reset=reset))

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 0
    assert delivery.next_attempt_at == datetime.fromtimestamp(reset, UTC)
    assert sandbox.requests == []
