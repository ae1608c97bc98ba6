from __future__ import annotations

import pytest

from console import services


@pytest.fixture
def destination(source):
    """A destination not yet tied to a workspace, as one is when first made."""
    return services.destination_create(source=source, name="Intercom production")
