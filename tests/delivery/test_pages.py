from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services
from delivery.models import Delivery, Event
from mappings.models import Mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(organization):
    source, _ = services.source_create(organization=organization, name="Website")
    destination = services.destination_create(source=source, name="Intercom")
    mapping = Mapping.objects.create(
        destination=destination, name="Orders", action="track_event", trigger='type = "track"'
    )
    event = Event.objects.create(
        source=source,
        message_id="m-1",
        type=Event.Type.TRACK,
        event_name="Order Completed",
        user_id="user-42",
        payload={"type": "track", "event": "Order Completed", "userId": "user-42"},
        received_at=timezone.now(),
        status=Event.Status.ROUTED,
    )
    return Delivery.objects.create(
        event=event,
        destination=destination,
        mapping=mapping,
        action="track_event",
        status=Delivery.Status.FAILED,
        attempts=3,
        last_error="Email Address must be a valid email address.",
    )


def test_events_are_listed_for_their_organisation(owner_client, outsider_client, delivered):
    page = owner_client.get(reverse("event_list")).content.decode()
    assert "Order Completed" in page
    assert "user-42" in page

    foreign = outsider_client.get(reverse("event_list")).content.decode()
    assert "Order Completed" not in foreign
    assert "No event received yet." in foreign


def test_deliveries_are_listed_for_their_organisation(owner_client, outsider_client, delivered):
    page = owner_client.get(reverse("delivery_list")).content.decode()
    assert "Orders" in page
    assert "Failed" in page
    assert "Email Address must be a valid email address." in page

    foreign = outsider_client.get(reverse("delivery_list")).content.decode()
    assert "Orders" not in foreign
    assert "No delivery yet" in foreign
