"""A destination's Deliveries tab and the per-mapping delivery summary."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from delivery import services as delivery_services
from delivery import views
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import Incoming, accept_messages

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = Delivery.Status
TRACK = {
    "type": "track",
    "messageId": "m-1",
    "userId": "ann",
    "event": "Order Completed",
    "timestamp": "2026-11-29T10:00:00Z",
}


@pytest.fixture
def deliver(destination):
    """Record a delivery of a fresh event through ``mapping``."""
    count = 0

    def make(mapping, status=Status.DELIVERED, *, is_test=False, age=None, **fields):
        nonlocal count
        count += 1
        event = Event.objects.create(
            source=destination.source,
            message_id=f"m-{count}",
            type="track",
            event_name=fields.pop("event_name", "Order Completed"),
            user_id=f"user-{count}",
            payload={"type": "track"},
            received_at=timezone.now(),
            status=Event.Status.TEST if is_test else Event.Status.ROUTED,
        )
        delivery = Delivery.objects.create(
            event=event,
            destination=mapping.destination if mapping else destination,
            mapping=mapping,
            action=fields.pop("action", mapping.action if mapping else "track_event"),
            status=status,
            is_test=is_test,
            person=fields.pop("person", f"user-{count}"),
            **fields,
        )
        if age is not None:
            Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age)
        return delivery

    return make


def tab(client, destination, query="", **headers):
    url = reverse("destination_deliveries", args=[destination.pk]) + query
    return client.get(url, **headers)


def test_the_tab_lists_the_destinations_latest_deliveries(
    owner_client, destination, add_mapping, deliver
):
    orders = add_mapping("track_event", name="Orders")
    deliver(orders, Status.FAILED, attempts=3, last_error="Email Address must be valid.")
    deliver(orders, Status.DELIVERED, attempts=1, event_name="Signed Up")
    deliver(None, Status.DELIVERED, is_test=True, event_name="Tested Thing")

    page = tab(owner_client, destination, **HTMX).content.decode()

    assert "<h1>" not in page
    rows = page[page.index("<tbody>") : page.index("</tbody>")].split("<tr ")[1:]
    assert "Tested Thing" in rows[0]
    assert '<span class="badge test">Test</span>' in rows[0]
    assert "(unsaved draft)" in rows[0]
    assert "Signed Up" in rows[1]
    assert '<span class="badge status-delivered">Delivered</span>' in rows[1]
    assert "Track Event" in rows[1]
    assert "Orders" in rows[2]
    assert '<span class="badge status-failed">Failed</span>' in rows[2]
    assert "Email Address must be valid." in rows[2]
    assert "Test" not in rows[1] + rows[2]


def test_the_tab_counts_real_deliveries_by_status(owner_client, destination, add_mapping, deliver):
    orders = add_mapping("track_event")
    for status in (Status.DELIVERED, Status.DELIVERED, Status.RETRYING):
        deliver(orders, status)
    deliver(orders, Status.FAILED, is_test=True)

    page = tab(owner_client, destination, **HTMX).content.decode()

    counts = page[page.index('class="status-counts"') : page.index("</nav>")]
    assert re.search(r"Delivered</span> 2</a>", counts)
    assert re.search(r"Retrying</span> 1</a>", counts)
    assert "Failed" not in counts
    assert "not test sends" in counts


def test_older_deliveries_are_reached_by_id_not_offset(
    owner_client, destination, add_mapping, deliver, monkeypatch
):
    monkeypatch.setattr(views, "PAGE_SIZE", 25)
    orders = add_mapping("track_event")
    made = [deliver(orders, event_name=f"Event {n:02}") for n in range(30)]

    first = tab(owner_client, destination, **HTMX).content.decode()
    oldest_shown = made[5]
    older = f"?destination={destination.pk}&amp;before={oldest_shown.pk}"
    second = tab(owner_client, destination, older.replace("&amp;", "&"), **HTMX).content.decode()

    assert "Event 29" in first
    assert "Event 05" in first
    assert "Event 04" not in first
    assert f'hx-get="/destinations/{destination.pk}/deliveries{older}"' in first
    assert [f"Event {n:02}" in second for n in (4, 3, 2, 1, 0)] == [True] * 5
    assert "Event 05" not in second
    assert "Older" not in second
    assert "Newest" in second


def test_the_tab_can_show_one_status(owner_client, destination, add_mapping, deliver):
    orders = add_mapping("track_event")
    deliver(orders, Status.DELIVERED, event_name="Went Through")
    deliver(orders, Status.FAILED, event_name="Stuck")

    page = tab(owner_client, destination, "?status=failed", **HTMX).content.decode()
    ignored = tab(owner_client, destination, "?status=bogus", **HTMX).content.decode()

    assert "Stuck" in page
    assert "Went Through" not in page
    assert "Stuck" in ignored
    assert "Went Through" in ignored


def test_without_htmx_the_tab_is_a_page(owner_client, destination):
    page = tab(owner_client, destination).content.decode()

    assert "<h1>Deliveries</h1>" in page
    assert "No delivery yet: deliveries appear here once an event of Website matches" in page


def test_another_destinations_deliveries_are_not_shown(
    owner_client, destination, source, add_mapping, deliver
):
    other = console_services.destination_create(source=source, name="Other")
    deliver(add_mapping("track_event", destination=other), event_name="Elsewhere")

    page = tab(owner_client, destination, **HTMX).content.decode()

    assert "Elsewhere" not in page


def test_the_tab_is_refused_outside_the_organisation(outsider_client, client, destination):
    assert tab(outsider_client, destination, **HTMX).status_code == 404
    assert tab(client, destination).status_code == 302


# --- Per-mapping summary ----------------------------------------------------------------------


def summary(client, mapping, **headers):
    return client.get(reverse("mapping_delivery_summary", args=[mapping.pk]), **headers)


def test_the_summary_shows_the_last_delivery_and_a_days_counts(
    owner_client, teammate_client, add_mapping, deliver
):
    orders = add_mapping("track_event", name="Orders")
    deliver(orders, Status.DELIVERED, age=timedelta(hours=30))
    deliver(orders, Status.FAILED, age=timedelta(hours=2))
    deliver(orders, Status.DELIVERED, age=timedelta(hours=1))
    deliver(orders, Status.DELIVERED)
    deliver(orders, Status.RETRYING, age=timedelta(minutes=5))
    deliver(orders, Status.FAILED, is_test=True)

    for client in (owner_client, teammate_client):
        page = summary(client, orders, **HTMX).content.decode()
        assert "<h1>" not in page
        assert '<span class="badge status-retrying">Retrying</span>' in page
        assert "5\xa0minutes ago" in page
        assert "2 delivered" in page
        assert "1 failed" in page
        assert "1 retrying" in page


def test_a_mapping_without_deliveries_says_so(owner_client, add_mapping):
    page = summary(owner_client, add_mapping("track_event")).content.decode()

    assert "No delivery yet" in page
    assert "0 delivered" in page
    assert "Deliveries of “track_event”" in page


def test_the_summary_is_refused_outside_the_organisation(outsider_client, client, add_mapping):
    mapping = add_mapping("track_event")

    assert summary(outsider_client, mapping, **HTMX).status_code == 404
    assert summary(client, mapping).status_code == 302


# --- The organisation's Deliveries page -------------------------------------------------------


def deliveries(client, query="", **headers):
    return client.get(reverse("delivery_list") + query, **headers)


def test_the_deliveries_page_filters_and_swaps_only_the_list(
    owner_client, destination, add_mapping, deliver
):
    orders = add_mapping("track_event", name="Orders")
    people = add_mapping("identify_contact", role="user", name="People")
    deliver(orders, Status.FAILED, last_error="Email Address must be valid.", person="ann")
    deliver(orders, Status.FAILED, last_error="Intercom answered 503", person="bob")
    deliver(people, Status.DELIVERED, person="ann", event_name="Signed Up")

    page = deliveries(owner_client).content.decode()
    by_error = deliveries(owner_client, "?error=EMAIL", **HTMX).content.decode()
    by_person = deliveries(owner_client, f"?user=ann&mapping={people.pk}", **HTMX).content.decode()

    assert "<h1>Deliveries</h1>" in page
    assert 'method="get" action="/deliveries/"' in page
    assert 'hx-push-url="true"' in page
    assert page.count('<tr id="delivery-') == 3
    assert "<h1>" not in by_error
    assert by_error.count('<tr id="delivery-') == 1
    assert "Email Address must be valid." in by_error
    assert "searched among the deliveries of the last 7 days" in by_error
    assert by_person.count('<tr id="delivery-') == 1
    assert "Signed Up" in by_person
    assert f'<option value="{people.pk}" selected>' in by_person


def test_the_deliveries_page_offers_to_replay_the_failed_ones(
    owner_client, destination, add_mapping, deliver
):
    orders = add_mapping("track_event", name="Orders")
    deliver(orders, Status.FAILED)
    deliver(orders, Status.FAILED)
    deliver(orders, Status.DELIVERED)

    page = deliveries(owner_client, f"?mapping={orders.pk}").content.decode()
    delivered_only = deliveries(owner_client, "?status=delivered").content.decode()

    assert f'href="/deliveries/replay?mapping={orders.pk}">Replay 2 failed deliveries…' in page
    assert "Replay" not in delivered_only


def test_another_organisations_deliveries_are_not_on_the_page(
    outsider_client, destination, add_mapping, deliver
):
    deliver(add_mapping("track_event"), Status.FAILED, event_name="Private Thing")

    page = deliveries(outsider_client, f"?destination={destination.pk}").content.decode()

    assert "Private Thing" not in page
    assert '<tr id="delivery-' not in page


def test_the_destination_tab_keeps_its_destination_whatever_the_query(
    owner_client, destination, source, add_mapping, deliver
):
    other = console_services.destination_create(source=source, name="Other")
    deliver(add_mapping("track_event", destination=other), event_name="Elsewhere")

    page = tab(owner_client, destination, f"?destination={other.pk}", **HTMX).content.decode()

    assert "Elsewhere" not in page


# --- A delivery's page ------------------------------------------------------------------------


def test_a_delivery_page_shows_what_was_sent_asked_and_answered(
    owner_client, teammate_client, source, add_mapping, sandbox
):
    orders = add_mapping("track_event", name="Orders")
    sandbox.add_contact(role="user", external_id="ann")
    accept_messages(
        source=source,
        incoming=[Incoming({**TRACK, "properties": {"note": "<b>bold</b>"}})],
        received_at=timezone.now(),
    )
    sandbox.fail(status=503, path="/events")
    delivery_services.deliveries_drain(seconds=1)
    Delivery.objects.update(next_attempt_at=timezone.now())
    delivery_services.deliveries_drain(seconds=1)
    delivery = Delivery.objects.get()
    assert delivery.status == Status.DELIVERED

    for client in (owner_client, teammate_client):
        page = client.get(reverse("delivery_detail", args=[delivery.pk])).content.decode()
        panes = page[page.index('<div class="panes">') : page.index("<h2>Attempts</h2>")]
        assert "You sent" in panes
        assert "&quot;Order Completed&quot;" in panes
        assert "&lt;b&gt;bold&lt;/b&gt;" in panes
        assert "Request to Intercom" in panes
        assert f"POST {sandbox.base_url}/events" in panes
        assert "Response from Intercom" in panes
        assert '<span class="badge">202</span>' in panes
        attempts = page[page.index("<h2>Attempts</h2>") :]
        assert "<strong>Attempt 1</strong>" in attempts
        assert "<strong>Attempt 2</strong>" in attempts
        assert "Retryable" in attempts
        assert '<span class="badge">503</span>' in attempts
        assert re.search(r"\d+ ms</span>", attempts)
        assert f'href="/mappings/{orders.pk}/"' in page
        assert "Replay this delivery" not in page
        for secret in (sandbox.access_token, "Authorization", "Bearer"):
            assert secret not in page


def test_a_retrying_delivery_shows_its_next_attempt(
    owner_client, destination, add_mapping, deliver
):
    later = timezone.now() + timedelta(minutes=7)
    delivery = deliver(add_mapping("track_event"), Status.RETRYING, next_attempt_at=later)

    page = owner_client.get(reverse("delivery_detail", args=[delivery.pk])).content.decode()

    assert f'next attempt <time datetime="{later.strftime("%Y-%m-%dT%H:%M:%S")}' in page
    assert "(in 6\xa0minutes)" in page or "(in 7\xa0minutes)" in page


def test_a_user_deletion_shows_as_such(owner_client, destination, deliver):
    delivery = deliver(None, Status.FAILED, action="delete_contact")

    page = owner_client.get(reverse("delivery_detail", args=[delivery.pk])).content.decode()
    listed = deliveries(owner_client).content.decode()

    assert "<dd>User deletion" in page
    assert "Replay this delivery" in page
    assert "User deletion" in listed


def test_a_delivery_page_is_refused_outside_the_organisation(
    outsider_client, client, add_mapping, deliver
):
    delivery = deliver(add_mapping("track_event"))
    url = reverse("delivery_detail", args=[delivery.pk])

    assert outsider_client.get(url).status_code == 404
    assert client.get(url).status_code == 302


def test_each_attempt_shows_its_warnings_and_exchanges(
    owner_client, destination, add_mapping, deliver
):
    delivery = deliver(add_mapping("track_event"), Status.DELIVERED, attempts=1)
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        duration_ms=87,
        outcome=Attempt.Outcome.DELIVERED,
        warnings=["Revenue was ignored: it is not a number."],
        exchanges=[
            {
                "method": "POST",
                "url": "https://api.intercom.io/events",
                "request_body": {"event_name": "Order Completed"},
                "status": 202,
                "response_body": "",
                "duration_ms": 61,
                "rate_limit": None,
                "error": None,
            }
        ],
    )

    page = owner_client.get(reverse("delivery_detail", args=[delivery.pk])).content.decode()
    attempt = page[page.index('<li class="attempt" id="attempt-1">') :]

    assert "· 87 ms" in attempt
    assert '<li class="warn">Revenue was ignored: it is not a number.</li>' in attempt
    assert "<code>POST https://api.intercom.io/events</code>" in attempt
    assert '<span class="muted">61 ms</span>' in attempt
    assert "&quot;event_name&quot;: &quot;Order Completed&quot;" in attempt
