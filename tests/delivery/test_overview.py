"""The overview: counts, buckets, p95 latency and top errors over thousands of
deliveries, and the pages that show them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from delivery import insights
from delivery.bulk import insert_rows
from delivery.models import Delivery, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def now() -> datetime:
    return timezone.now().replace(microsecond=0)


def add_deliveries(destination, *, at: datetime, status: str, count: int, **columns) -> list[int]:
    """``count`` deliveries created at ``at``, each of an event received then; a
    delivered one finishes ``latencies[n]`` seconds later."""
    latencies = columns.pop("latencies", None)
    errors = columns.pop("errors", None)
    event_ids = insert_rows(
        Event,
        [
            {
                "source_id": destination.source_id,
                "message_id": f"{status}-{at.isoformat()}-{number}",
                "type": "track",
                "payload": {},
                "received_at": at,
                "status": columns.get("event_status", Event.Status.ROUTED),
            }
            for number in range(count)
        ],
    )
    columns.pop("event_status", None)
    ids = insert_rows(
        Delivery,
        [
            {
                "event_id": event_id,
                "destination_id": destination.pk,
                "action": "track_event",
                "status": status,
                "created_at": at,
                "finished_at": at + timedelta(seconds=latencies[number]) if latencies else None,
                "last_error": errors[number % len(errors)] if errors else "",
                **columns,
            }
            for number, event_id in enumerate(event_ids)
        ],
    )
    # SQLite's bulk_create stamps auto_now_add fields with the present: set the time after.
    Delivery.objects.filter(pk__in=ids).update(created_at=at)
    return ids


@pytest.fixture
def busy_hour(destination, now):
    """Twelve 5-minute buckets: in bucket i, 100 delivered (1 to 100 s after their
    event arrived) and i failed; then noise that must not count."""
    since = now - timedelta(hours=1)
    for index in range(12):
        at = since + timedelta(minutes=5 * index + 1)
        add_deliveries(
            destination,
            at=at,
            status=Delivery.Status.DELIVERED,
            count=100,
            latencies=list(range(1, 101)),
        )
        if index:
            add_deliveries(
                destination,
                at=at,
                status=Delivery.Status.FAILED,
                count=index,
                latencies=[0] * index,
                errors=["Email is invalid", "Email is invalid", "User not found"],
            )
    add_deliveries(destination, at=now - timedelta(minutes=3), status="retrying", count=7)
    add_deliveries(destination, at=now - timedelta(minutes=3), status="discarded", count=3)
    add_deliveries(destination, at=now - timedelta(minutes=3), status="pending", count=4)
    # Outside the window, or test sends: not counted.
    add_deliveries(
        destination, at=since - timedelta(minutes=1), status="failed", count=50, errors=["Old"]
    )
    add_deliveries(
        destination,
        at=now - timedelta(minutes=2),
        status="failed",
        count=40,
        errors=["Test only"],
        is_test=True,
        event_status=Event.Status.TEST,
    )
    return since


def hour_of(destination, now) -> insights.Overview:
    return insights.overview(
        destination_ids=[destination.pk],
        source_ids=[destination.source_id],
        window=insights.WINDOWS["hour"],
        now=now,
    )


def test_counts_over_the_window_leave_out_older_and_test_deliveries(destination, now, busy_hour):
    result = hour_of(destination, now)

    assert result.counts["delivered"] == 1200
    assert result.counts["failed"] == sum(range(12)) == 66
    assert (result.counts["retrying"], result.counts["discarded"]) == (7, 3)
    assert result.in_progress == 4
    # One event per real delivery in the window; test sends and older events aside.
    assert result.received == 1200 + 66 + 7 + 3 + 4


def test_delivered_and_failed_per_bucket(destination, now, busy_hour):
    result = hour_of(destination, now)

    assert len(result.buckets) == 12
    assert [b.start for b in result.buckets][:2] == [busy_hour, busy_hour + timedelta(minutes=5)]
    assert [b.delivered for b in result.buckets] == [100] * 12
    assert [b.failed for b in result.buckets] == list(range(12))


def test_p95_latency_per_bucket_and_overall(destination, now, busy_hour):
    result = hour_of(destination, now)

    # 1..100 seconds: the 95th percentile interpolates between 95 and 96.
    assert {b.p95 for b in result.buckets} == {timedelta(seconds=95.05)}
    assert result.p95 == timedelta(seconds=95.05)


def test_top_errors_are_grouped_and_counted(destination, now, busy_hour):
    result = hour_of(destination, now)

    assert result.top_errors == [("Email is invalid", 48), ("User not found", 18)]


def test_the_day_and_the_week_have_their_own_buckets(destination, now, busy_hour):
    for key, buckets in (("day", 24), ("week", 28)):
        result = insights.overview(
            destination_ids=[destination.pk], source_ids=[], window=insights.WINDOWS[key], now=now
        )
        assert len(result.buckets) == buckets
        assert result.counts["delivered"] == 1200
        assert result.counts["failed"] == 66 + 50
        assert sum(b.failed for b in result.buckets) == 66 + 50


def test_the_destination_tab_shows_figures_charts_and_error_links(
    owner_client, destination, busy_hour
):
    url = reverse("destination_overview", args=[destination.pk])
    html = owner_client.get(url, {"range": "hour"}, HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in html
    assert "<dd>1200</dd>" in html
    assert "<dd>66</dd>" in html
    assert "<dd>95 s</dd>" in html
    assert html.count('class="bar-delivered"') == 12
    assert 'role="img"' in html and "<title>" in html
    deliveries = reverse("destination_deliveries", args=[destination.pk])
    assert (
        f'href="{deliveries}?status=failed&amp;error=Email%20is%20invalid&amp;range=hour"' in html
    )
    assert "Test only" not in html


def test_the_range_switch_defaults_to_a_day(owner_client, destination, busy_hour):
    url = reverse("destination_overview", args=[destination.pk])
    html = owner_client.get(url).content.decode()

    assert "<html" in html
    assert 'href="?range=day"' not in html
    assert f'href="{url}?range=day" hx-get="{url}?range=day" aria-current="true"' in html
    assert html.count('class="bar-delivered"') == 24


def test_the_install_overview_adds_up_every_destination_of_the_organisation(
    owner_client, organization, other_organization, destination, workspace, busy_hour, now
):
    second = console_services.destination_create(
        source=destination.source, name="Second", workspace=workspace, enabled=True
    )
    add_deliveries(second, at=now - timedelta(minutes=1), status="failed", count=4, errors=["X"])
    foreign_source, _ = console_services.source_create(organization=other_organization, name="F")
    foreign = console_services.destination_create(source=foreign_source, name="Foreign")
    add_deliveries(foreign, at=now - timedelta(minutes=1), status="failed", count=9, errors=["F"])

    html = owner_client.get(
        reverse("install_overview"), {"range": "hour"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "<dd>70</dd>" in html
    assert f'href="{reverse("delivery_list")}?status=failed&amp;error=X&amp;range=hour"' in html
    assert "error=F&amp;" not in html


def test_an_outsider_gets_no_destination_overview(outsider_client, destination):
    url = reverse("destination_overview", args=[destination.pk])
    assert outsider_client.get(url).status_code == 404


def test_the_console_overview_loads_the_install_overview(owner_client, destination):
    page = owner_client.get(reverse("overview")).content.decode()
    url = reverse("install_overview")

    assert f'hx-get="{url}"' in page
    assert f'<a href="{url}">' in page


def test_the_destination_page_has_an_overview_tab(owner_client, destination):
    page = owner_client.get(
        reverse("destination_detail", args=[destination.pk]), {"tab": "overview"}
    ).content.decode()

    assert 'aria-current="page">Overview</a>' in page
    assert f'hx-get="{reverse("destination_overview", args=[destination.pk])}"' in page


def test_an_empty_window_has_no_latency(destination, now):
    result = hour_of(destination, now)

    assert result.p95 is None
    assert {b.p95 for b in result.buckets} == {None}
    assert sum(result.counts.values()) == result.received == 0
