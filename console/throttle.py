"""Refusing password guessing at the sign-in form.

After ``FAILURES_PER_ACCOUNT`` failed sign-ins for one email from one address,
or ``FAILURES_PER_ADDRESS`` for any emails from one address, within
``WINDOW_SECONDS``, further attempts from there are refused until the window
has passed. Counters live in Django's cache, shared by every web process.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 50
WINDOW_SECONDS = 15 * 60


def _keys(email: str, address: str) -> list[tuple[str, int]]:
    account = hashlib.sha256(f"{email.strip().lower()}|{address}".encode()).hexdigest()
    place = hashlib.sha256(address.encode()).hexdigest()
    return [
        (f"ferry:login:account:{account}", FAILURES_PER_ACCOUNT),
        (f"ferry:login:address:{place}", FAILURES_PER_ADDRESS),
    ]


def login_refused(*, email: str, address: str) -> bool:
    counts = cache.get_many([key for key, _ in _keys(email, address)])
    return any(counts.get(key, 0) >= limit for key, limit in _keys(email, address))


def login_failed(*, email: str, address: str) -> None:
    for key, _ in _keys(email, address):
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, WINDOW_SECONDS)


def login_succeeded(*, email: str, address: str) -> None:
    cache.delete(_keys(email, address)[0][0])
