from __future__ import annotations

import pytest

from console import services


@pytest.fixture
def source_with_key(organization):
    return services.source_create(organization=organization, name="Website")


@pytest.fixture
def source(source_with_key):
    return source_with_key[0]


@pytest.fixture
def destination(source):
    return services.destination_create(source=source, name="Intercom production")
