"""The people every view test is written with (STYLE.md): the owner, a second
user of the same organisation, and an outsider from another organisation who
must be refused. Anonymous visitors use the plain ``client`` fixture."""

from __future__ import annotations

import pytest
from django.test import Client

from console import services
from console.models import Organization

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
