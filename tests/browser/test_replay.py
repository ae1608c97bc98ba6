"""Issue 7 in the browser, against the Intercom sandbox over HTTP: a delivery fails
because of its mapping; the user finds it with the Deliveries page's filters, opens
it, fixes the mapping in the editor, replays the delivery and sees it delivered, as
a second attempt of the same delivery."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from delivery import replay, services, tasks
from delivery.models import Delivery
from delivery.pipeline import Incoming, accept_messages

pytestmark = pytest.mark.django_db(transaction=True)

expect.set_options(timeout=10_000)


def _send(source, *messages):
    accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


def _track(message_id, user, event):
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": event,
        "timestamp": "2026-11-29T10:00:00Z",
        "properties": {"total": 30},
    }


def test_find_a_failed_delivery_fix_its_mapping_and_replay_it(
    page, page_problems, signed_in_page, live_server, sandbox, source, destination, add_mapping
):
    # Orders takes the event name from a property these events do not have.
    orders = add_mapping(
        "track_event", name="Orders", fields={"event_name": {"@path": "$.properties.product"}}
    )
    add_mapping("identify_contact", role="user", name="People")
    sandbox.add_contact(role="user", external_id="ann")
    _send(
        source,
        {"type": "identify", "messageId": "m-1", "userId": "bob", "traits": {"name": "Bob"}},
        _track("m-2", "bob", "Order Completed"),
        _track("m-3", "ann", "Order Completed"),
    )
    services.deliveries_drain(seconds=5)
    failed = Delivery.objects.get(mapping=orders, person="ann")
    assert failed.status == Delivery.Status.FAILED
    assert sandbox.events == []

    # The Deliveries page, narrowed to ann's failed deliveries with the filters.
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deliveries").click()
    table = page.locator("#deliveries table")
    expect(table.locator("tbody tr")).to_have_count(3)
    filters = page.get_by_role("search", name="Filter deliveries")
    filters.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(table.locator("tbody tr")).to_have_count(2)
    filters.get_by_label("userId").fill("ann")
    filters.get_by_label("Error text").fill("event name")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"user=ann"))
    expect(page).to_have_url(re.compile(r"error=event\+name"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Orders")
    expect(rows).to_contain_text("Event Name is required.")
    # The filtered address is shareable: opened as it is, it shows the same.
    page.reload()
    expect(page.locator("#deliveries table tbody tr")).to_have_count(1)

    # The delivery's page: nothing was sent, and why.
    page.locator("#deliveries table tbody tr").get_by_role("link").first.click()
    expect(page.get_by_test_id("delivery-status")).to_have_text("Failed")
    expect(page.get_by_role("region", name="You sent")).to_contain_text('"userId": "ann"')
    expect(page.get_by_role("region", name="Request to Intercom")).to_contain_text(
        "No request was made: Event Name is required."
    )
    detail_url = page.url

    # Fix the mapping in the editor: the event name is the event's own.
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_role("heading", name="Edit “Orders”")).to_be_visible()
    page.get_by_label("Event Name: path in the event").fill("$.event")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_text("Mapping “Orders” saved.")).to_be_visible()

    # Replay it, and let a worker do its job.
    page.goto(detail_url)
    page.get_by_role("button", name="Replay this delivery").click()
    expect(page.get_by_role("status")).to_contain_text("Replayed: attempt 2")
    expect(page.get_by_test_id("delivery-status")).to_have_text("Pending")
    services.deliveries_drain(seconds=5)
    page.reload()

    expect(page.get_by_test_id("delivery-status")).to_have_text("Delivered")
    expect(page.get_by_role("button", name="Replay this delivery")).to_have_count(0)
    expect(page.get_by_role("region", name="Request to Intercom")).to_contain_text(
        f"POST {sandbox.base_url}/events"
    )
    expect(page.get_by_role("region", name="Response from Intercom")).to_contain_text("202")
    attempts = page.locator("ol.attempts > li")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("Permanent")
    expect(attempts.nth(1)).to_contain_text("Delivered")
    assert [(e["event_name"], e["user_id"]) for e in sandbox.events] == [("Order Completed", "ann")]
    assert Delivery.objects.filter(mapping=orders, person="ann").count() == 1

    # Ann has no failed delivery left; bob's, made before the fix, still has.
    page.goto(f"{live_server.url}/deliveries/?status=failed")
    rows = page.locator("#deliveries table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("bob")
    assert page_problems == []


def test_replay_every_failed_delivery_of_a_filter_with_progress(
    page, page_problems, signed_in_page, live_server, sandbox, source, destination, add_mapping,
    monkeypatch,
):  # fmt: skip
    queued: list[int] = []
    monkeypatch.setattr(tasks.replay_run, "delay", queued.append)
    orders = add_mapping(
        "track_event", name="Orders", fields={"event_name": {"@path": "$.properties.product"}}
    )
    for user in ("ann", "bob", "cid"):
        sandbox.add_contact(role="user", external_id=user)
        _send(source, _track(f"m-{user}", user, "Order Completed"))
    services.deliveries_drain(seconds=5)
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    orders.fields = {**orders.fields, "event_name": {"@path": "$.event"}}
    orders.save()

    page = signed_in_page
    page.goto(f"{live_server.url}/deliveries/?mapping={orders.pk}")
    page.get_by_role("link", name="Replay 3 failed deliveries…").click()
    expect(page.get_by_role("heading", name="Replay failed deliveries")).to_be_visible()
    expect(page.locator("main")).to_contain_text("3 failed deliveries match this filter")
    page.get_by_role("button", name="Replay 3 deliveries").click()

    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("max", "3")
    expect(progress).to_have_attribute("value", "0")
    expect(page.get_by_role("status")).to_contain_text("Running")
    assert len(queued) == 1
    replay.replay_job_run(job_id=queued[0])

    # The page polls: it shows the end without a reload.
    expect(page.get_by_role("status")).to_contain_text("Finished", timeout=5_000)
    expect(progress).to_have_attribute("value", "3")
    services.deliveries_drain(seconds=5)
    page.get_by_role("link", name="See these deliveries").click()
    rows = page.locator("#deliveries table tbody tr")
    expect(rows).to_have_count(3)
    for row in rows.all():
        expect(row).to_contain_text("Delivered")
    assert sorted(e["user_id"] for e in sandbox.events) == ["ann", "bob", "cid"]
    assert page_problems == []
