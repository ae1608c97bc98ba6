from __future__ import annotations

import pytest

from delivery.intercom.actions import MemoryContactCache
from delivery.intercom.client import IntercomClient
from delivery.sandbox import IntercomSandbox


@pytest.fixture
def sandbox():
    server = IntercomSandbox()
    server.start(host="127.0.0.1", port=0)
    yield server
    server.stop()


@pytest.fixture
def client(sandbox) -> IntercomClient:
    return IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token)


@pytest.fixture
def cache() -> MemoryContactCache:
    return MemoryContactCache()


def api_calls(sandbox) -> list[tuple[str, str]]:
    """(method, path) of every API request the sandbox received, in order."""
    return [(request.method, request.path) for request in sandbox.requests]
