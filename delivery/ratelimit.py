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
QUOTA_REFRESH = 60
LONGEST_SLEEP = WINDOW_SECONDS

_thread_lock = threading.Lock()
# Each workspace's quota as this process last read it from, or wrote it to, the
# cache, and when: Intercom repeats it on every answer and it rarely changes, so
# the cache is asked, and told, only when it changes or once a minute.
_quotas: dict[str, tuple[int | None, float]] = {}


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


def _blocked_and_counted(blocked_key: str, counter_key: str, ttl: int) -> tuple[int | None, int]:
    """Read the block marker and add one to a counter kept ``ttl`` seconds,
    atomically for every process: one round trip on Redis."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # Django's RedisCache stores integers as themselves, so raw commands read them.
        client = backend._cache.get_client(write=True)
        counter = backend.make_and_validate_key(counter_key)
        pipeline = client.pipeline(transaction=False)
        pipeline.get(backend.make_and_validate_key(blocked_key))
        pipeline.incr(counter)
        pipeline.expire(counter, ttl)
        blocked, count, _ = pipeline.execute()
        return (int(blocked) if blocked is not None else None), int(count)
    blocked = cache.get(blocked_key)
    if isinstance(backend, LocMemCache):
        cache.add(counter_key, 0, ttl)
        return blocked, int(cache.incr(counter_key))
    with _counter_lock():
        count = int(cache.get(counter_key, 0)) + 1
        cache.set(counter_key, count, ttl)
        return blocked, count


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

    def _budget(self) -> int:
        """Calls this window may take: the quota Intercom announced, less a margin.
        Read from the cache at most once a minute per process."""
        known = _quotas.get(self.prefix)
        if known is None or self.clock() - known[1] > QUOTA_REFRESH:
            known = (cache.get(self.prefix + "quota"), self.clock())
            _quotas[self.prefix] = known
        return max(1, math.floor((known[0] or UNKNOWN_QUOTA) * (1 - MARGIN)))

    def earliest_call(self) -> float | None:
        """None when a call may go now, else the unix time it may; counts nothing."""
        now = self.clock()
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        counter = f"{self.prefix}{window}"
        known = cache.get_many([self.prefix + "blocked", counter])
        blocked = known.get(self.prefix + "blocked")
        if blocked is not None and blocked > now:
            return float(blocked)
        if int(known.get(counter, 0)) >= self._budget():
            return float(window + WINDOW_SECONDS)
        return None

    def _take(self) -> float | None:
        """Count one call in the current window; None if it fits, else when to retry."""
        now = self.clock()
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        blocked, count = _blocked_and_counted(
            self.prefix + "blocked", f"{self.prefix}{window}", WINDOW_SECONDS * 3
        )
        if blocked is not None and blocked > now:
            return float(blocked)
        if count > self._budget():
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
            known = _quotas.get(self.prefix)
            if known is None or known[0] != limits.limit or self.clock() - known[1] > QUOTA_REFRESH:
                cache.set(self.prefix + "quota", limits.limit, QUOTA_TTL)
                _quotas[self.prefix] = (limits.limit, self.clock())
        if exchange.status == 429 or (limits is not None and limits.exhausted):
            now = self.clock()
            reset = limits.reset if limits is not None and limits.reset else None
            until = reset if reset and reset > now else math.ceil(now + WINDOW_SECONDS)
            cache.set(self.prefix + "blocked", until, math.ceil(until - now) + 1)
