"""A destination's Deliveries tab and the per-mapping delivery summary."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from delivery.models import Delivery, Event

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = Delivery.Status


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
            action=mapping.action if mapping else "track_event",
            status=status,
            is_test=is_test,
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
    rows = page[page.index("<tbody>") : page.index("</tbody>")].split("<tr>")[1:]
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


def test_the_tab_counts_deliveries_by_status(owner_client, destination, add_mapping, deliver):
    orders = add_mapping("track_event")
    for status in (Status.DELIVERED, Status.DELIVERED, Status.RETRYING):
        deliver(orders, status)
    deliver(orders, Status.FAILED, is_test=True)

    page = tab(owner_client, destination, **HTMX).content.decode()

    counts = page[page.index('class="status-counts"') : page.index("</nav>")]
    assert re.search(r"Delivered</span> 2</a>", counts)
    assert re.search(r"Retrying</span> 1</a>", counts)
    assert "Failed" not in counts
    assert "1 test send" in counts


def test_older_deliveries_are_reached_by_id_not_offset(
    owner_client, destination, add_mapping, deliver
):
    orders = add_mapping("track_event")
    made = [deliver(orders, event_name=f"Event {n:02}") for n in range(30)]

    first = tab(owner_client, destination, **HTMX).content.decode()
    oldest_shown = made[5]
    older = f"?before={oldest_shown.pk}"
    second = tab(owner_client, destination, older, **HTMX).content.decode()

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
