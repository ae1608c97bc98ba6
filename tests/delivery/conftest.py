from __future__ import annotations

import pytest
from django.core.cache import cache as django_cache

from delivery import ratelimit
from delivery.intercom.actions import MemoryContactCache
from delivery.intercom.client import IntercomClient


@pytest.fixture(autouse=True)
def _empty_cache():
    # Contact ids and rate-limit counters must not leak from one test to the next.
    django_cache.clear()
    ratelimit._quotas.clear()


@pytest.fixture
def intercom(sandbox) -> IntercomClient:
    return IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token)


@pytest.fixture
def cache() -> MemoryContactCache:
    return MemoryContactCache()


def api_calls(sandbox) -> list[tuple[str, str]]:
    """(method, path) of every API request the sandbox received, in order."""
    return [(request.method, request.path) for request in sandbox.requests]
