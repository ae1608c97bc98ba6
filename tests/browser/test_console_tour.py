"""A tour of issue 7's pages in the browser, on a console with a day of traffic: live
events unfolded to what happened, the deliveries narrowed by the filters, a delivery's
three panes, a replay's progress, the destination's overview charts, a user deletion,
API tokens, and the health banner of a destination that needs reconnection.

With ``FERRY_SCREENSHOTS=1`` it also saves the issue's screenshots in docs/screenshots/."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Page, expect

from console import crypto
from console.models import Workspace
from console.services import destination_create, source_create
from delivery import replay, services, tasks
from delivery.models import Delivery, Event
from delivery.pipeline import Incoming, accept_messages

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
USERS = [f"user-{number:02}" for number in range(1, 9)]

expect.set_options(timeout=10_000)


def _shoot(page: Page, name: str, *, top: str | None = None) -> None:
    """Save the viewport as docs/screenshots/``name`` when FERRY_SCREENSHOTS=1, scrolled
    so that the element ``top`` (a selector) starts it."""
    if os.environ.get("FERRY_SCREENSHOTS") != "1":
        return
    if top is not None:
        page.locator(top).first.evaluate(
            "element => { element.scrollIntoView(); window.scrollBy(0, -16); }"
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), animations="disabled", caret="hide")


def _day_of_traffic(source, sandbox) -> None:
    """Eight people over the last 20 hours: each identified, then an order and a signup."""
    now = timezone.now()
    for index, user in enumerate(USERS):
        sandbox.add_contact(role="user", external_id=user, email=f"{user}@example.com")
        received_at = now - timedelta(hours=20 - 2.5 * index)
        messages = [
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}},
            {"type": "track", "userId": user, "event": "Order Completed",
             "properties": {"total": 30 + index, "currency": "EUR"}},
            {"type": "track", "userId": user, "event": "Signed Up",
             "properties": {"plan": "Team"}},
        ]  # fmt: skip
        for number, message in enumerate(messages):
            message |= {"messageId": f"m-{user}-{number}", "timestamp": received_at.isoformat()}
        accept_messages(
            source=source,
            incoming=[Incoming(message) for message in messages],
            received_at=received_at,
        )
    services.deliveries_drain(seconds=5)
    # The worker ran just now; date each delivery back to its event, as if it had kept up.
    for number, delivery in enumerate(Delivery.objects.select_related("event")):
        delivery.created_at = delivery.event.received_at + timedelta(milliseconds=40)
        delivery.finished_at = delivery.created_at + timedelta(milliseconds=180 + 97 * number)
        delivery.save(update_fields=["created_at", "finished_at"])


def test_a_tour_of_events_deliveries_replay_overview_and_deletion(
    page, page_problems, signed_in_page, live_server, sandbox, organization, source_and_key,
    destination, add_mapping, monkeypatch,
):  # fmt: skip
    source, write_key = source_and_key
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    queued: list[int] = []
    monkeypatch.setattr(tasks.replay_run, "delay", queued.append)

    # Given a destination with four mappings, one of which cannot name its events,
    add_mapping("identify_contact", role="user", name="People")
    add_mapping("track_event", name="Orders", trigger='event = "Order Completed"')
    revenue = add_mapping(
        "track_event",
        name="Revenue",
        trigger='event = "Order Completed"',
        fields={"event_name": {"@path": "$.properties.product"}},
    )
    add_mapping("track_event", name="Signups", trigger='event = "Signed Up"')
    add_mapping("track_event", name="Legacy export", enabled=False)
    # a second destination whose workspace Intercom no longer accepts,
    mobile, _ = source_create(organization=organization, name="iOS app")
    revoked = Workspace.objects.create(
        organization=organization,
        app_id_code="eu0042",
        name="Europe",
        api_base=sandbox.base_url,
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal("revoked"),
        status=Workspace.Status.NEEDS_RECONNECT,
    )
    destination_create(source=mobile, name="Intercom Europe", workspace=revoked, enabled=True)
    # a day of traffic, one order that Intercom keeps refusing with a 503,
    _day_of_traffic(source, sandbox)
    sandbox.add_contact(role="user", external_id="user-09")
    sandbox.fail(1, status=503, path="/events")
    late = {"type": "track", "messageId": "m-late", "userId": "user-09",
            "event": "Order Completed", "properties": {"total": 99},
            "timestamp": timezone.now().isoformat()}  # fmt: skip
    accept_messages(source=source, incoming=[Incoming(late)], received_at=timezone.now())
    services.deliveries_drain(seconds=1)
    retrying = Delivery.objects.get(event__message_id="m-late", mapping__name="Orders")
    assert retrying.status == Delivery.Status.RETRYING, retrying.last_error
    # and, through the API, a message with no user and a message sent twice.
    for body in (
        {"event": "Checkout Started", "messageId": "m-anonymous"},
        {"event": "Signed Up", "userId": "user-01", "messageId": "m-user-01-2"},
    ):
        answer = requests.post(
            f"{live_server.url}/v1/track", json=body, auth=(write_key, ""), timeout=5
        )
        assert answer.status_code == 200
    assert set(Event.objects.values_list("status", flat=True)) == {
        Event.Status.ROUTED, Event.Status.DUPLICATE, Event.Status.REJECTED,
    }  # fmt: skip

    # Every page says that Intercom Europe needs reconnection.
    page.goto(f"{live_server.url}/events/")
    banner = page.get_by_role("alert").filter(has_text="needs attention")
    expect(banner).to_contain_text("Intercom Europe needs reconnection")
    expect(banner.get_by_role("link", name="Give a new access token")).to_be_visible()

    # Events: newest first, each unfolding to what happened.
    rows = page.locator("#event-rows li.event")
    expect(rows).to_have_count(27)
    expect(rows.nth(0)).to_contain_text("Duplicate messageId")
    expect(rows.nth(1)).to_contain_text("Rejected")
    order = rows.filter(has_text="user-08").filter(has_text="Order Completed")
    order.locator("summary").click()
    outcome = order.locator(".event-outcome")
    expect(outcome.get_by_role("heading", name="What happened")).to_be_visible()
    mappings = outcome.locator("table.event-mappings tbody tr")
    expect(mappings.filter(has_text="Orders")).to_contain_text("Delivered")
    expect(mappings.filter(has_text="Revenue")).to_contain_text("Event Name is required.")
    expect(mappings.filter(has_text="Signups")).to_contain_text("Not sent: trigger did not match")
    expect(mappings.filter(has_text="Legacy export")).to_contain_text("Not sent: mapping disabled")
    expect(outcome.locator("pre")).to_contain_text('"userId": "user-08"')
    page.set_viewport_size({"width": 1280, "height": 960})
    _shoot(page, "events.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Deliveries: the failed ones of Revenue, found with the filters.
    page.goto(f"{live_server.url}/deliveries/")
    table = page.locator("#deliveries table")
    expect(table.locator("tbody tr")).to_have_count(34)
    filters = page.get_by_role("search", name="Filter deliveries")
    filters.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    filters.get_by_label("Mapping").select_option(label="Intercom · Revenue")
    expect(page).to_have_url(re.compile(rf"mapping={revenue.pk}"))
    filters.get_by_label("Error text").fill("event name")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"error=event\+name"))
    expect(table.locator("tbody tr")).to_have_count(8)
    for row in table.locator("tbody tr").all():
        expect(row).to_contain_text("Event Name is required.")
    expect(page.get_by_role("link", name="Replay 8 failed deliveries…")).to_be_visible()
    _shoot(page, "deliveries-filtered.png")

    # The retrying delivery's page: the request, Intercom's 503, the next attempt.
    page.goto(f"{live_server.url}/deliveries/{retrying.pk}/")
    expect(page.get_by_test_id("delivery-status")).to_have_text("Retrying")
    expect(page.locator(".delivery-facts")).to_contain_text("next attempt")
    expect(page.get_by_role("region", name="You sent")).to_contain_text('"userId": "user-09"')
    expect(page.get_by_role("region", name="Request to Intercom")).to_contain_text(
        f"POST {sandbox.base_url}/events"
    )
    expect(page.get_by_role("region", name="Response from Intercom")).to_contain_text("503")
    expect(page.locator("ol.attempts > li")).to_have_count(1)
    assert "Authorization" not in page.content()
    _shoot(page, "delivery-detail.png")

    # The destination's overview: figures, charts, top errors; the install's on Overview
    # (whose figures, cached for a minute, were computed at sign-in, before any traffic).
    cache.clear()
    page.goto(f"{live_server.url}/destinations/{destination.pk}/?tab=overview")
    insights = page.locator("#insights")
    expect(insights.locator(".insight-figures")).to_contain_text("Failed")
    expect(insights.get_by_role("img", name=re.compile("Delivered and failed"))).to_be_visible()
    expect(insights.get_by_role("img", name=re.compile("p95 latency"))).to_be_visible()
    expect(insights.locator("table.top-errors")).to_contain_text("Event Name is required.")
    _shoot(page, "destination-overview.png", top=".tabs")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    insights = page.locator("#insights")
    expect(insights.get_by_role("alert")).to_contain_text("Intercom Europe")
    expect(insights.get_by_role("img", name=re.compile("Delivered and failed"))).to_be_visible()
    _shoot(page, "overview.png", top="h2:text-is('Deliveries')")

    # Fix Revenue, replay its failed deliveries, watch the progress.
    failed = list(
        Delivery.objects.filter(mapping=revenue, status=Delivery.Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    revenue.fields = {**revenue.fields, "event_name": {"@path": "$.event"}}
    revenue.save()
    page.goto(f"{live_server.url}/deliveries/?mapping={revenue.pk}&status=failed")
    page.get_by_role("link", name="Replay 8 failed deliveries…").click()
    expect(page.locator("main")).to_contain_text("8 failed deliveries match this filter")
    page.get_by_role("button", name="Replay 8 deliveries").click()
    expect(page.get_by_role("progressbar")).to_have_attribute("max", "8")
    [job] = queued
    replay.replay_job_run(job_id=job)
    expect(page.get_by_role("status")).to_contain_text("Finished", timeout=5_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("value", "8")
    _shoot(page, "replay-progress.png")
    services.deliveries_drain(seconds=3)
    replayed = Delivery.objects.filter(pk__in=failed)
    assert set(replayed.values_list("status", "attempts")) == {(Delivery.Status.DELIVERED, 2)}

    # Delete a user from Intercom, and find the request done.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Delete a user").click()
    page.on("dialog", lambda dialog: dialog.accept())
    for user in ("user-03", "user-99"):
        page.get_by_label("userId").fill(user)
        page.get_by_label("Delete from").select_option(label="Intercom")
        page.get_by_role("button", name="Delete from Intercom").click()
        expect(page.locator("#deletion-requests")).to_contain_text(user)
    services.deliveries_drain(seconds=3)
    page.reload()
    requests_made = page.locator("#deletion-requests tbody tr")
    expect(requests_made.filter(has_text="user-03")).to_contain_text("Contact deleted.")
    expect(requests_made.filter(has_text="user-99")).to_contain_text("External ID")
    assert not [c for c in sandbox.contacts if c.get("external_id") == "user-03"]
    _shoot(page, "deletions.png")

    # API tokens: a new one shown once, then only masked.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Data warehouse")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("api-token").inner_text()
    page.reload()
    expect(page.get_by_role("row", name=re.compile("Data warehouse"))).to_be_visible()
    assert secret not in page.content()
    _shoot(page, "api-tokens.png")
    assert page_problems == []
