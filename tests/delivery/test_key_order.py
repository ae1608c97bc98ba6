"""Object keys keep the order they were sent in, on every database."""

from __future__ import annotations

import pytest
from django.utils import timezone

from delivery.models import Event
from delivery.pipeline import Incoming, accept_messages
from mappings.models import Mapping

pytestmark = pytest.mark.django_db

PROPERTIES = {"zeta": 1, "alpha": 2, "mid": 3, "b": 4, "aa": 5}


def test_an_event_is_stored_with_its_keys_in_order(source, add_mapping):
    add_mapping("track_event")
    message = {"type": "track", "messageId": "m-1", "userId": "u", "event": "E"}

    accept_messages(
        source=source,
        incoming=[Incoming({**message, "properties": PROPERTIES})],
        received_at=timezone.now(),
    )

    assert list(Event.objects.get().payload["properties"]) == list(PROPERTIES)


def test_a_mapping_keeps_its_keys_in_order(add_mapping):
    directive = {"@if": {"exists": {"@path": "$.a"}, "then": 1, "else": 2}}
    mapping = add_mapping("track_event", fields={"metadata": {"zeta": directive, "alpha": 1}})

    saved = Mapping.objects.get(pk=mapping.pk).fields["metadata"]

    assert list(saved) == ["zeta", "alpha"]
    assert list(saved["zeta"]["@if"]) == ["exists", "then", "else"]
