"""The live events page in a browser: new events arrive on top without a reload,
unfold to what happened, and the overview draws its charts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.pipeline import Incoming, accept_messages

pytestmark = pytest.mark.django_db(transaction=True)


def track(message_id: str, user: str) -> Incoming:
    return Incoming(
        {"type": "track", "messageId": message_id, "userId": user, "event": "Order Completed"}
    )


def test_new_events_come_in_on_top_and_unfold(
    page, page_problems, signed_in_page, live_server, source, add_mapping
):
    add_mapping("track_event", name="Orders", trigger='event = "Order Completed"')
    add_mapping("identify_contact", role="user", name="People")
    earlier = timezone.now() - timedelta(minutes=1)
    accept_messages(source=source, incoming=[track("m-1", "first-user")], received_at=earlier)
    page = signed_in_page
    page.goto(f"{live_server.url}/events/")
    page.get_by_text("first-user").wait_for()
    page.on("framenavigated", lambda frame: pytest.fail("the page reloaded"))

    accept_messages(
        source=source, incoming=[track("m-2", "second-user")], received_at=timezone.now()
    )

    rows = page.locator("#event-rows li.event")
    rows.first.get_by_text("second-user").wait_for(timeout=8_000)
    assert rows.count() == 2
    rows.first.locator("summary").click()
    outcome = rows.first.locator(".event-outcome")
    outcome.get_by_role("heading", name="What happened").wait_for()
    assert outcome.get_by_role("link", name="Orders").is_visible()
    assert "Not sent: trigger did not match" in outcome.inner_text()
    assert '"userId": "second-user"' in outcome.locator("pre").inner_text()
    assert page_problems == []


def test_the_overview_tab_draws_its_charts(
    page, page_problems, signed_in_page, live_server, destination
):
    page = signed_in_page
    page.goto(f"{live_server.url}/destinations/{destination.pk}/?tab=overview")

    page.get_by_role("link", name="Last hour").click()
    page.locator('.window-switch a[aria-current="true"]', has_text="Last hour").wait_for()
    assert page.get_by_text("No delivery in this time range.").is_visible()
    assert page_problems == []
