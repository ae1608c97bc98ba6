"""Pacing calls to one Intercom workspace, shared by every worker on every host.

Intercom counts calls per workspace in 10-second windows and tells, on every
answer, the window's quota (``X-RateLimit-Limit``), what is left of it and when
it resets. ``WorkspaceLimiter`` counts Ferry's own calls per window in Django's
cache (Redis in production: atomic there; the embedded file cache is made
atomic with a file lock, which holds on one host), keeps a small margin under
the quota Intercom announced, and stops every call to the workspace until the
reset once Intercom says nothing is left or answers 429.
"""

from __future__ import annotations

import fcntl
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from delivery.intercom.client import Exchange, IntercomError, Outcome

WINDOW_SECONDS = 10
# Calls per window before Intercom has told its quota: one window's worth of probing.
UNKNOWN_QUOTA = 20
# A call counted near a window's end may land in Intercom's next window.
MARGIN = 0.02
QUOTA_TTL = 24 * 60 * 60
LONGEST_SLEEP = WINDOW_SECONDS

_thread_lock = threading.Lock()


@contextmanager
def _counter_lock() -> Iterator[None]:
    """Makes get-then-set atomic for caches without an atomic increment."""
    path = Path(settings.VAR_DIR) / "ratelimit.lock"
    with _thread_lock, path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _increment(key: str, ttl: int) -> int:
    if isinstance(caches["default"], RedisCache | LocMemCache):
        cache.add(key, 0, ttl)
        return int(cache.incr(key))
    with _counter_lock():
        count = int(cache.get(key, 0)) + 1
        cache.set(key, count, ttl)
        return count


class WorkspaceLimiter:
    """The ``Pacer`` of an ``IntercomClient`` for one workspace."""

    def __init__(
        self,
        workspace_id: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.prefix = f"ferry:ratelimit:{workspace_id}:"
        self.clock = clock
        self.sleep = sleep

    def budget(self) -> int:
        quota = cache.get(self.prefix + "quota") or UNKNOWN_QUOTA
        return max(1, math.floor(quota * (1 - MARGIN)))

    def earliest_call(self) -> float | None:
        """None when a call may go now, else the unix time it may; counts nothing."""
        now = self.clock()
        blocked = cache.get(self.prefix + "blocked")
        if blocked is not None and blocked > now:
            return float(blocked)
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        if int(cache.get(f"{self.prefix}{window}", 0)) >= self.budget():
            return float(window + WINDOW_SECONDS)
        return None

    def _take(self) -> float | None:
        """Count one call in the current window; None if it fits, else when to retry."""
        now = self.clock()
        blocked = cache.get(self.prefix + "blocked")
        if blocked is not None and blocked > now:
            return float(blocked)
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        if _increment(f"{self.prefix}{window}", WINDOW_SECONDS * 3) > self.budget():
            return float(window + WINDOW_SECONDS)
        return None

    def before_request(self) -> None:
        """Wait for room in the window (at most one window), or refuse the call."""
        while (until := self._take()) is not None:
            wait = until - self.clock()
            if wait > LONGEST_SLEEP:
                moment = datetime.fromtimestamp(until, UTC)
                raise IntercomError(
                    outcome=Outcome.RETRYABLE,
                    message=f"Intercom's rate limit for this workspace is spent until "
                    f"{moment:%H:%M:%S} UTC; no call was made.",
                    retry_at=moment,
                )
            self.sleep(max(wait, 0.01))

    def after_response(self, exchange: Exchange) -> None:
        limits = exchange.rate_limit
        if limits is not None and limits.limit:
            cache.set(self.prefix + "quota", limits.limit, QUOTA_TTL)
        if exchange.status == 429 or (limits is not None and limits.exhausted):
            now = self.clock()
            reset = limits.reset if limits is not None and limits.reset else None
            until = float(reset) if reset and reset > now else now + WINDOW_SECONDS
            cache.set(self.prefix + "blocked", until, math.ceil(until - now) + 1)
