"""The people every view test is written with (STYLE.md): the owner, a second
user of the same organisation, and an outsider from another organisation who
must be refused. Anonymous visitors use the plain ``client`` fixture."""

from __future__ import annotations

import pytest
from django.test import Client

from console import crypto, services
from console.models import Organization, Workspace
from delivery import wakeup
from delivery.sandbox import IntercomSandbox
from mappings.actions import new_mapping
from mappings.models import Mapping

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest needs `collectstatic`; tests serve static files from the finders.
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _isolated_outside_integration(request, monkeypatch, settings):
    # Unit tests drain deliveries themselves, and keep their cache to themselves (test
    # runs in parallel must not clear each other's); integration tests share Redis with
    # their worker processes.
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setattr(wakeup, "wake_workers", lambda: None)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": request.node.nodeid,
            }
        }


@pytest.fixture
def organization(db) -> Organization:
    return services.organization_create(name="Acme")


@pytest.fixture
def other_organization(db) -> Organization:
    return services.organization_create(name="Globex")


@pytest.fixture
def owner(organization):
    return services.user_create(
        organization=organization, email="owner@acme.test", password=PASSWORD, is_superuser=True
    )


@pytest.fixture
def teammate(organization):
    return services.user_create(
        organization=organization, email="teammate@acme.test", password=PASSWORD
    )


@pytest.fixture
def outsider(other_organization):
    return services.user_create(
        organization=other_organization, email="outsider@globex.test", password=PASSWORD
    )


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _signed_in(owner)


@pytest.fixture
def teammate_client(teammate) -> Client:
    return _signed_in(teammate)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _signed_in(outsider)


@pytest.fixture
def sandbox():
    server = IntercomSandbox()
    server.start(host="127.0.0.1", port=0)
    yield server
    server.stop()


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
