from __future__ import annotations

import pytest
from django.core.cache import cache as django_cache

from console import crypto, services
from console.models import Workspace
from delivery.intercom.actions import MemoryContactCache
from delivery.intercom.client import IntercomClient
from delivery.sandbox import IntercomSandbox
from mappings.actions import new_mapping
from mappings.models import Mapping


@pytest.fixture(autouse=True)
def _empty_cache():
    # Contact ids and rate-limit counters must not leak from one test to the next.
    django_cache.clear()


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


@pytest.fixture
def workspace(organization, sandbox) -> Workspace:
    return Workspace.objects.create(
        organization=organization,
        app_id_code=sandbox.workspace.id_code,
        name=sandbox.workspace.name,
        api_base=sandbox.base_url,
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal(sandbox.access_token),
    )


@pytest.fixture
def source_and_key(organization):
    return services.source_create(organization=organization, name="Website")


@pytest.fixture
def source(source_and_key):
    return source_and_key[0]


@pytest.fixture
def destination(source, workspace):
    return services.destination_create(
        source=source, name="Intercom", workspace=workspace, enabled=True
    )


@pytest.fixture
def add_mapping(destination):
    """Save an enabled mapping with the action's defaults (and any overrides)."""

    def add(action: str, *, role: str | None = None, name: str | None = None, **overrides):
        template = new_mapping(action, role=role)
        return Mapping.objects.create(
            destination=overrides.pop("destination", destination),
            name=name or action,
            action=action,
            trigger=overrides.pop("trigger", template["trigger"]),
            fields={**template["fields"], **overrides.pop("fields", {})},
            enabled=overrides.pop("enabled", True),
        )

    return add
