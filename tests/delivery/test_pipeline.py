from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from console import services as console_services
from console.models import Workspace
from delivery import wakeup
from delivery.models import Delivery, Event, MessageKey
from delivery.pipeline import Incoming, accept_messages
from mappings.models import Mapping

pytestmark = pytest.mark.django_db


def track(message_id: str, *, user: str = "u-1", event: str = "Order Completed", **extra):
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": event,
        "timestamp": "2026-11-29T10:00:00.000Z",
        "properties": {"total": 10},
        **extra,
    }


def identify(message_id: str, *, user: str = "u-1"):
    return {"type": "identify", "messageId": message_id, "userId": user, "traits": {}}


@pytest.fixture
def wake_ups(monkeypatch):
    calls = []
    monkeypatch.setattr(wakeup, "wake_workers", lambda: calls.append(1))
    return calls


def accept(source, *messages, at=None):
    return accept_messages(
        source=source,
        incoming=[m if isinstance(m, Incoming) else Incoming(m) for m in messages],
        received_at=at or timezone.now(),
    )


def test_each_matching_mapping_gets_one_pending_delivery(
    source, add_mapping, django_capture_on_commit_callbacks, wake_ups
):
    tracks = add_mapping("track_event")
    orders = add_mapping("track_event", name="orders", trigger='event = "Order Completed"')
    add_mapping("identify_contact", role="user")

    with django_capture_on_commit_callbacks(execute=True):
        [event] = accept(source, track("m-1"))

    assert event.status == Event.Status.ROUTED
    deliveries = Delivery.objects.order_by("id")
    assert [d.mapping for d in deliveries] == [tracks, orders]
    assert {d.status for d in deliveries} == {Delivery.Status.PENDING}
    assert {d.person for d in deliveries} == {"u-1"}
    assert wake_ups == [1]


def test_the_event_is_stored_once_as_received(source, add_mapping, wake_ups):
    add_mapping("track_event")
    message = track("m-1")

    accept(source, message)

    stored = Event.objects.get()
    assert stored.payload == message
    assert (stored.type, stored.event_name, stored.user_id) == ("track", "Order Completed", "u-1")
    assert stored.timestamp.isoformat() == "2026-11-29T10:00:00+00:00"


def test_an_event_nothing_matches_is_recorded_as_such(source, add_mapping, wake_ups):
    add_mapping("identify_contact", role="user")

    [event] = accept(source, track("m-1"))

    assert event.status == Event.Status.NO_MATCH
    assert not Delivery.objects.exists()
    assert wake_ups == []


@pytest.mark.parametrize("what", ["mapping", "destination"])
def test_disabled_mappings_and_destinations_receive_nothing(
    source, destination, add_mapping, wake_ups, what
):
    mapping = add_mapping("track_event")
    target = mapping if what == "mapping" else destination
    target.enabled = False
    target.save()

    [event] = accept(source, track("m-1"))

    assert event.status == Event.Status.NO_MATCH
    assert not Delivery.objects.exists()


def test_another_sources_destinations_receive_nothing(
    organization, source, workspace, add_mapping, wake_ups
):
    other, _ = console_services.source_create(organization=organization, name="App")
    elsewhere = console_services.destination_create(
        source=other, name="Other", workspace=workspace, enabled=True
    )
    add_mapping("track_event", destination=elsewhere)

    [event] = accept(source, track("m-1"))

    assert event.status == Event.Status.NO_MATCH


def test_a_repeated_message_id_is_a_duplicate_within_24_hours(source, add_mapping, wake_ups):
    add_mapping("track_event")
    now = timezone.now()
    accept(source, track("m-1"), at=now)

    [again] = accept(source, track("m-1"), at=now + timedelta(hours=23))
    [later] = accept(source, track("m-1"), at=now + timedelta(hours=25))

    assert again.status == Event.Status.DUPLICATE
    assert "within the last 24 hours" in again.reason
    assert later.status == Event.Status.ROUTED
    assert Delivery.objects.count() == 2
    assert Event.objects.count() == 3


def test_a_message_id_twice_in_one_batch_is_delivered_once(source, add_mapping, wake_ups):
    add_mapping("track_event")

    first, second = accept(source, track("m-1"), track("m-1"))

    assert (first.status, second.status) == (Event.Status.ROUTED, Event.Status.DUPLICATE)
    assert Delivery.objects.count() == 1


def test_message_ids_are_per_source(organization, source, add_mapping, wake_ups):
    other, _ = console_services.source_create(organization=organization, name="App")
    accept(other, track("m-1"))

    [event] = accept(source, track("m-1"))

    assert event.status != Event.Status.DUPLICATE


def test_a_rejected_message_is_kept_with_its_reason(source, add_mapping, wake_ups):
    add_mapping("track_event")

    rejected, accepted = accept(
        source,
        Incoming({"type": "track", "messageId": "m-1"}, rejection="No userId or anonymousId."),
        track("m-2"),
    )

    assert (rejected.status, rejected.reason) == (
        Event.Status.REJECTED,
        "No userId or anonymousId.",
    )
    assert accepted.status == Event.Status.ROUTED
    assert list(MessageKey.objects.values_list("message_id", flat=True)) == ["m-2"]
    [fixed] = accept(source, track("m-1"))
    assert fixed.status == Event.Status.ROUTED


def test_deliveries_for_a_workspace_that_needs_reconnecting_wait_paused(
    source, workspace, add_mapping, wake_ups
):
    add_mapping("track_event")
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.save()

    accept(source, track("m-1"))

    assert Delivery.objects.get().status == Delivery.Status.PAUSED


def test_anonymous_people_are_ordered_by_their_anonymous_id(source, add_mapping, wake_ups):
    add_mapping("track_event", fields={"user_id": {"@path": "$.anonymousId"}})
    message = track("m-1", user=None, anonymousId="anon-7")
    del message["userId"]

    accept(source, message)

    assert Delivery.objects.get().person == "anon-7"


def test_a_rollback_stores_and_enqueues_nothing(
    source, add_mapping, django_capture_on_commit_callbacks, wake_ups
):
    add_mapping("track_event")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        accept(source, track("m-1"))
        raise RuntimeError("the request failed after accepting")

    assert callbacks == []
    assert wake_ups == []
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()
    assert not MessageKey.objects.exists()


def test_each_mapping_that_made_no_delivery_is_recorded_with_why(
    source, workspace, add_mapping, wake_ups
):
    orders = add_mapping("track_event", name="orders", trigger='event = "Order Completed"')
    signups = add_mapping("track_event", name="signups", trigger='event = "Signed Up"')
    disabled = add_mapping("track_event", enabled=False)
    broken = add_mapping("track_event", name="broken")
    Mapping.objects.filter(pk=broken.pk).update(fields={"event_name": {"@path": 12}})
    staging = console_services.destination_create(source=source, name="Staging")
    staged = add_mapping("track_event", destination=staging)

    [event] = accept(source, track("m-1"))

    assert Event.objects.get(pk=event.id).skipped == {
        str(signups.pk): Event.Skip.TRIGGER,
        str(disabled.pk): Event.Skip.MAPPING_DISABLED,
        str(broken.pk): Event.Skip.INVALID,
        str(staged.pk): Event.Skip.DESTINATION_DISABLED,
    }
    assert [d.mapping for d in Delivery.objects.all()] == [orders]


def test_an_event_nothing_matches_records_every_mapping_as_skipped(source, add_mapping, wake_ups):
    people = add_mapping("identify_contact", role="user")

    [event] = accept(source, track("m-1"))

    assert event.status == Event.Status.NO_MATCH
    assert Event.objects.get(pk=event.id).skipped == {str(people.pk): Event.Skip.TRIGGER}


def test_refused_and_repeated_messages_record_no_mapping(source, add_mapping, wake_ups):
    add_mapping("track_event")

    accept(source, track("m-1"), track("m-1"), Incoming({"type": "track"}, rejection="no id"))

    assert [(e.status, e.skipped) for e in Event.objects.order_by("id")] == [
        (Event.Status.ROUTED, {}),
        (Event.Status.DUPLICATE, {}),
        (Event.Status.REJECTED, {}),
    ]
