"""When to try a delivery again, and when to give up.

Exponential backoff with jitter from 10 seconds to 30 minutes; a delivery is
failed only once it is older than ``FERRY_RETRY_HOURS`` *and* has had at least
``FERRY_RETRY_MIN_ATTEMPTS`` attempts, as Segment and RudderStack do. A replay
starts the budget afresh: age and attempts count from the replay.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings

FIRST_DELAY = timedelta(seconds=10)
LONGEST_DELAY = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling from 10 s,
    capped at 30 min, each drawn between half and all of that (never under 10 s)."""
    ceiling = min(LONGEST_DELAY, FIRST_DELAY * 2 ** max(attempts - 1, 0))
    return max(FIRST_DELAY, ceiling * random.uniform(0.5, 1.0))


def next_attempt(*, attempts: int, now: datetime, earliest: datetime | None) -> datetime:
    """The backoff, or Intercom's own earliest time (rate-limit reset,
    Retry-After) when that is later."""
    planned = now + backoff(attempts)
    return max(planned, earliest) if earliest else planned


def exhausted(*, budget_from: datetime, attempts: int, now: datetime) -> bool:
    """Whether a delivery whose budget started at ``budget_from`` (its creation,
    or its latest replay) and has had ``attempts`` since then is out of retries."""
    too_old = now - budget_from >= timedelta(hours=settings.FERRY_RETRY_HOURS)
    return too_old and attempts >= settings.FERRY_RETRY_MIN_ATTEMPTS


def contact_wait_over(*, budget_from: datetime, now: datetime) -> bool:
    """Whether an event for a person Intercom does not know has waited long
    enough (since ``budget_from``) for the Identify that would create them."""
    return now - budget_from >= timedelta(minutes=settings.FERRY_CONTACT_WAIT_MINUTES)
