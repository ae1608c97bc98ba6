"""The deliveries filter, its keyset pages and its counts, on thousands of rows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from console import services as console_services
from delivery import selectors
from delivery.bulk import insert_rows
from delivery.models import Delivery, Event
from delivery.selectors import DeliveryFilter

pytestmark = pytest.mark.django_db

Status = Delivery.Status
ROWS = 2000
# Hours back; ids grow as deliveries get newer, as they do in production.
AGES = [400, 200, 30, 2, 0.1]
ERRORS = ["", "Email Address must be valid.", "Intercom answered 503", "EMAIL bounced", ""]


@dataclass
class Row:
    id: int
    destination: int
    status: str
    mapping: int | None
    action: str
    person: str
    created_at: datetime
    last_error: str
    is_test: bool


@pytest.fixture
def world(organization, other_organization, destination, source, add_mapping):
    """ROWS deliveries over two destinations of the organisation, and some of
    another organisation's, with every status, mapping, person, age and error."""
    other_destination = console_services.destination_create(source=source, name="Second")
    orders = add_mapping("track_event", name="Orders")
    people = add_mapping("identify_contact", role="user", name="People")
    elsewhere = add_mapping("track_event", destination=other_destination, name="Elsewhere")
    outside_source, _ = console_services.source_create(organization=other_organization, name="X")
    outside = console_services.destination_create(source=outside_source, name="Outside")
    choices = random.Random(7)
    now = timezone.now()
    plans = []
    for n in range(ROWS + 200):
        foreign = n >= ROWS
        mapping = choices.choice([orders, people, elsewhere, None])
        deletion = mapping is None and choices.random() < 0.5
        plans.append(
            {
                "destination": outside if foreign else (mapping or orders).destination,
                "mapping": None if foreign else mapping,
                "action": "delete_contact" if deletion else (mapping or orders).action,
                "status": choices.choice(Status.values),
                "person": f"user-{choices.randrange(40)}",
                "age": AGES[n * len(AGES) // (ROWS + 200)] if not foreign else 1,
                "last_error": choices.choice(ERRORS),
                "is_test": choices.random() < 0.05,
            }
        )
    event_ids = insert_rows(
        Event,
        [
            {
                "source_id": outside_source.pk if plan["destination"] == outside else source.pk,
                "message_id": f"m-{n}",
                "type": "track",
                "payload": {"type": "track"},
                "received_at": now,
                "status": Event.Status.ROUTED,
            }
            for n, plan in enumerate(plans)
        ],
    )
    ids = insert_rows(
        Delivery,
        [
            {
                "event_id": event_id,
                "destination_id": plan["destination"].pk,
                "mapping_id": plan["mapping"].pk if plan["mapping"] else None,
                "action": plan["action"],
                "status": plan["status"],
                "person": plan["person"],
                "last_error": "" if plan["status"] == Status.DELIVERED else plan["last_error"],
                "is_test": plan["is_test"],
            }
            for event_id, plan in zip(event_ids, plans, strict=True)
        ],
    )
    for age in {*AGES, 1}:
        chosen = [pk for pk, plan in zip(ids, plans, strict=True) if plan["age"] == age]
        Delivery.objects.filter(id__in=chosen).update(created_at=now - timedelta(hours=age))
    fields = ["pk", "destination_id", "status", "mapping_id", "action", "person"]
    fields += ["created_at", "last_error", "is_test"]
    rows = [
        Row(*(getattr(delivery, field) for field in fields))
        for delivery in Delivery.objects.filter(destination__source__organization=organization)
    ]
    return {
        "rows": rows,
        "now": now,
        "orders": orders,
        "second": other_destination,
        "outside": outside,
    }


def page_through(organization, filter, size=97):
    """Every delivery id the pages show, following "older" to the end."""
    shown, before = [], None
    while True:
        page = selectors.deliveries_page(
            organization=organization, filter=filter, before=before, size=size
        )
        shown += [delivery.pk for delivery in page.deliveries]
        if page.older_than is None:
            return shown
        before = page.older_than


def expected(world, keep):
    return sorted((row.id for row in world["rows"] if keep(row)), reverse=True)


def parse(world, **query):
    return DeliveryFilter.from_query(query, now=world["now"])


def test_pages_show_every_delivery_once_newest_first(organization, world):
    shown = page_through(organization, parse(world))

    assert len(world["rows"]) == ROWS
    assert shown == expected(world, lambda row: True)


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ({"status": "failed"}, lambda row, w: row.status == Status.FAILED),
        ({"action": "delete_contact"}, lambda row, w: row.action == "delete_contact"),
        ({"user": "user-7"}, lambda row, w: row.person == "user-7"),
        ({"user": "user-"}, lambda row, w: False),
        ({"range": "hour"}, lambda row, w: row.created_at >= w["now"] - timedelta(hours=1)),
        ({"range": "day"}, lambda row, w: row.created_at >= w["now"] - timedelta(days=1)),
        (
            {"from": "FROM", "to": "TO"},
            lambda row, w: (
                w["now"] - timedelta(hours=250) <= row.created_at < w["now"] - timedelta(hours=1)
            ),
        ),
        (
            {"error": "email", "range": "week"},
            lambda row, w: (
                "email" in row.last_error.lower() and row.created_at >= w["now"] - timedelta(days=7)
            ),
        ),
        (
            {"status": "retrying", "user": "user-3", "range": "week"},
            lambda row, w: (
                row.status == Status.RETRYING
                and row.person == "user-3"
                and row.created_at >= w["now"] - timedelta(days=7)
            ),
        ),
    ],
)
def test_each_filter_shows_exactly_what_matches(organization, world, query, keep):
    times = {
        "FROM": (world["now"] - timedelta(hours=250)).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "TO": (world["now"] - timedelta(hours=1)).isoformat(),
    }
    query = {key: times.get(value, value) for key, value in query.items()}

    shown = page_through(organization, parse(world, **query))

    assert shown == expected(world, lambda row: keep(row, world))


def test_the_mapping_and_destination_filters(organization, world):
    orders, second = world["orders"], world["second"]

    by_mapping = page_through(organization, parse(world, mapping=str(orders.pk)))
    by_destination = page_through(organization, parse(world, destination=str(second.pk)))
    outside = page_through(organization, parse(world, destination=str(world["outside"].pk)))

    assert by_mapping == expected(world, lambda row: row.mapping == orders.pk)
    assert by_destination == expected(world, lambda row: row.destination == second.pk)
    assert outside == []


def test_an_error_search_without_a_time_range_looks_at_the_last_week(organization, world):
    filter = parse(world, error="EMAIL")

    shown = page_through(organization, filter)

    assert filter.error_window_implied
    assert shown == expected(
        world,
        lambda row: (
            "email" in row.last_error.lower() and row.created_at >= world["now"] - timedelta(days=7)
        ),
    )
    assert any(row.created_at < world["now"] - timedelta(days=7) for row in world["rows"])


def test_another_organisations_deliveries_are_never_shown(other_organization, world):
    assert page_through(other_organization, parse(world)) == sorted(
        Delivery.objects.filter(destination=world["outside"]).values_list("id", flat=True),
        reverse=True,
    )


def test_counts_are_by_status_of_real_deliveries_within_the_filter(organization, world):
    filter = parse(world, range="day", status="failed")

    counts = selectors.delivery_status_counts(organization=organization, filter=filter, cap=ROWS)

    recent = [
        row
        for row in world["rows"]
        if not row.is_test and row.created_at >= world["now"] - timedelta(days=1)
    ]
    assert {count.status: count.count for count in counts} == {
        status: sum(row.status == status for row in recent)
        for status in Status.values
        if any(row.status == status for row in recent)
    }
    assert not any(count.capped for count in counts)


def test_counts_stop_at_the_cap(organization, world):
    counts = selectors.delivery_status_counts(organization=organization, filter=parse(world), cap=5)

    assert [(count.count, count.capped) for count in counts] == [(5, True)] * len(Status.values)


def test_an_error_search_counts_no_delivered_deliveries(organization, world):
    counts = selectors.delivery_status_counts(
        organization=organization, filter=parse(world, error="503"), cap=ROWS
    )

    assert Status.DELIVERED not in [count.status for count in counts]
    assert sum(count.count for count in counts) == sum(
        "503" in row.last_error
        and not row.is_test
        and row.created_at >= world["now"] - timedelta(days=7)
        for row in world["rows"]
    )


def test_what_a_replay_would_send_again(organization, world):
    filter = parse(world, range="week")
    newest = max(row.id for row in world["rows"])
    up_to = newest - 100

    chosen = selectors.deliveries_to_replay(organization=organization, filter=filter, up_to=up_to)

    assert sorted(chosen.values_list("id", flat=True), reverse=True) == expected(
        world,
        lambda row: (
            row.status == Status.FAILED
            and not row.is_test
            and (row.mapping is not None or row.action == "delete_contact")
            and row.created_at >= world["now"] - timedelta(days=7)
            and row.id <= up_to
        ),
    )
    other_status = parse(world, status="delivered")
    assert not selectors.deliveries_to_replay(organization=organization, filter=other_status)


def test_a_filter_ignores_what_means_nothing_and_pins_its_time_range(world):
    junk = parse(world, status="lost", mapping="x", destination="-1", range="year", to="soon")
    recent = parse(world, range="hour", error="503", user=" ann ")

    assert junk == DeliveryFilter()
    assert not junk.narrowed
    assert recent.query() == {"range": "hour", "user": "ann", "error": "503"}
    pinned = DeliveryFilter.from_query(recent.pinned(), now=world["now"] + timedelta(days=2))
    assert pinned.since is not None
    assert abs(pinned.since - (world["now"] - timedelta(hours=1))) < timedelta(seconds=1)
    assert (pinned.person, pinned.error, pinned.window) == ("ann", "503", "")


def test_a_time_range_finds_deliveries_written_a_little_out_of_time_order(
    organization, destination, source, add_mapping
):
    # Two workers: the one that drew the larger id set its created_at first.
    mapping = add_mapping("track_event")
    now = timezone.now()
    ages = {"long ago": 180, "inside": 58, "just before": 62}
    events = insert_rows(
        Event,
        [
            {
                "source_id": source.pk,
                "message_id": name,
                "type": "track",
                "payload": {},
                "received_at": now,
                "status": Event.Status.ROUTED,
            }
            for name in ages
        ],
    )
    ids = insert_rows(
        Delivery,
        [
            {"event_id": event, "destination_id": destination.pk, "mapping_id": mapping.pk}
            for event in events
        ],
    )
    for pk, minutes in zip(ids, ages.values(), strict=True):
        Delivery.objects.filter(pk=pk).update(created_at=now - timedelta(minutes=minutes))

    shown = page_through(organization, DeliveryFilter.from_query({"range": "hour"}, now=now))

    assert shown == [ids[1]]
