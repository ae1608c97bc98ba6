"""HTML and scripts in what customers send, and in what Intercom answers, are
shown as text: nothing in them runs in the console."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from delivery import services
from delivery.models import Delivery
from delivery.pipeline import Incoming, accept_messages

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD_SCRIPT = "<script>window.__ferryHacked = 'payload'</script>"
PAYLOAD_IMAGE = "<img src=x onerror=\"window.__ferryHacked = 'image'\">"
RESPONSE_SCRIPT = "<script>window.__ferryHacked = 'response'</script>"


def test_hostile_markup_is_shown_escaped(
    page, page_problems, signed_in_page, live_server, sandbox, source, add_mapping, destination
):
    page = signed_in_page
    mapping = add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    sandbox.fail(path="/events", status=400, body=f"<html><body>{RESPONSE_SCRIPT}</body></html>")
    accept_messages(
        source=source,
        incoming=[
            Incoming(
                {
                    "type": "track",
                    "messageId": "m-1",
                    "userId": "u-1",
                    "event": PAYLOAD_SCRIPT,
                    "timestamp": "2026-11-29T10:00:00Z",
                    "properties": {"note": PAYLOAD_IMAGE},
                }
            )
        ],
        received_at=timezone.now(),
    )
    services.deliveries_drain(seconds=5)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert RESPONSE_SCRIPT in delivery.attempt_set.get().exchanges[0]["response_body"]

    visited = [
        "/events/",
        "/deliveries/",
        f"/destinations/{destination.pk}/",
        f"/destinations/{destination.pk}/deliveries",
        f"/destinations/{destination.pk}/mappings/test?mapping={mapping.pk}",
    ]
    for path in visited:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__ferryHacked") is None, path

    page.goto(live_server.url + "/events/")
    assert page.get_by_text(PAYLOAD_SCRIPT).first.is_visible()
    page.goto(live_server.url + f"/destinations/{destination.pk}/deliveries")
    assert page.get_by_text(RESPONSE_SCRIPT).first.is_visible()

    page.goto(
        live_server.url + f"/destinations/{destination.pk}/mappings/test?mapping={mapping.pk}"
    )
    page.locator("#mapping-test-event").fill(
        json.dumps({"type": "track", "userId": "u-1", "event": PAYLOAD_SCRIPT, "timestamp": 1})
    )
    page.get_by_role("button", name="Preview").click()
    page.get_by_text(f'"event_name": "{PAYLOAD_SCRIPT}"').wait_for()
    assert page.evaluate("window.__ferryHacked") is None
    assert page_problems == []
