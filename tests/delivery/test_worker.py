"""The worker side, against the sandbox over HTTP: claim, attempt, record, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import Workspace
from delivery import services
from delivery.models import Attempt, Delivery, Event, MessageKey
from delivery.pipeline import Incoming, accept_messages
from tests.delivery.conftest import api_calls

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def send(source, *messages):
    return accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


def identify(message_id, user, email=None):
    traits = {"email": email} if email else {}
    return {"type": "identify", "messageId": message_id, "userId": user, "traits": traits}


def track(message_id, user, event="Order Completed", **properties):
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": event,
        "timestamp": "2026-11-29T10:00:00Z",
        "properties": properties,
    }


def make_due(*deliveries):
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        next_attempt_at=timezone.now()
    )


def test_a_delivery_is_attempted_recorded_and_delivered(source, add_mapping, sandbox):
    add_mapping("identify_contact", role="user")
    send(source, identify("m-1", "u-1", "ann@example.test"))

    assert services.deliveries_drain(seconds=5) == 1

    delivery = Delivery.objects.get()
    assert delivery.status == Status.DELIVERED
    assert delivery.attempts == 1
    assert delivery.finished_at is not None
    attempt = delivery.attempt_set.get()
    assert attempt.outcome == Attempt.Outcome.DELIVERED
    assert attempt.payload == {"role": "user", "external_id": "u-1", "email": "ann@example.test"}
    assert [(e["method"], e["status"]) for e in attempt.exchanges] == [
        ("POST", 200),
        ("POST", 200),
    ]
    assert attempt.duration_ms is not None
    assert sandbox.contacts[0]["external_id"] == "u-1"
    assert sandbox.access_token not in str(attempt.exchanges)


def test_a_person_s_deliveries_go_out_in_event_order(source, add_mapping, sandbox):
    add_mapping("identify_contact", role="user")
    add_mapping("track_event")
    send(source, identify("m-1", "u-1"), track("m-2", "u-1"), track("m-3", "u-1", "Refunded"))

    services.deliveries_drain(seconds=5)

    assert api_calls(sandbox) == [
        ("POST", "/contacts/search"),
        ("POST", "/contacts"),
        ("POST", "/events"),
        ("POST", "/events"),
    ]
    assert [e["event_name"] for e in sandbox.events] == ["Order Completed", "Refunded"]


def test_a_retrying_delivery_holds_its_person_not_everyone(source, add_mapping, sandbox):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="ann")
    sandbox.add_contact(role="user", external_id="bob")
    sandbox.fail(status=503, path="/events")
    send(source, track("m-1", "ann"), track("m-2", "ann", "Second"), track("m-3", "bob"))

    services.deliveries_drain(seconds=1)

    first, second, bobs = Delivery.objects.order_by("id")
    assert first.status == Status.RETRYING
    assert first.next_attempt_at > timezone.now() + timedelta(seconds=4)
    assert "503" in first.last_error
    assert second.status == Status.PENDING
    assert bobs.status == Status.DELIVERED

    make_due(first)
    services.deliveries_drain(seconds=5)

    assert [e["event_name"] for e in sandbox.events] == [
        "Order Completed",
        "Order Completed",
        "Second",
    ]
    assert [e["user_id"] for e in sandbox.events] == ["bob", "ann", "ann"]
    first.refresh_from_db()
    assert first.attempts == 2
    assert [a.outcome for a in first.attempt_set.all()] == ["retryable", "delivered"]


def test_an_event_waiting_for_its_person_does_not_hold_their_identify(source, add_mapping, sandbox):
    add_mapping("identify_contact", role="user")
    add_mapping("track_event")
    send(source, track("m-1", "new"), identify("m-2", "new"))

    services.deliveries_drain(seconds=1)

    waiting, identified = Delivery.objects.order_by("id")
    assert waiting.status == Status.RETRYING
    assert not waiting.blocking
    assert "an Identify for this person may not have arrived yet" in waiting.last_error
    assert identified.status == Status.DELIVERED

    make_due(waiting)
    services.deliveries_drain(seconds=5)
    waiting.refresh_from_db()
    assert waiting.status == Status.DELIVERED


def test_waiting_for_a_person_ends_after_the_contact_wait(source, add_mapping, sandbox, settings):
    settings.FERRY_CONTACT_WAIT_MINUTES = 30
    add_mapping("track_event")
    send(source, track("m-1", "ghost"))
    Delivery.objects.update(created_at=timezone.now() - timedelta(minutes=31))

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert "User ID “ghost”" in delivery.last_error


def test_an_invalid_payload_fails_without_a_request(source, add_mapping, sandbox):
    add_mapping("track_event")
    send(source, {**track("m-1", "u-1"), "timestamp": "not a time"})

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert "Event Timestamp" in delivery.last_error
    attempt = delivery.attempt_set.get()
    assert attempt.outcome == Attempt.Outcome.PERMANENT
    assert attempt.exchanges == []
    assert sandbox.requests == []


def test_a_permanent_refusal_fails_at_once(source, add_mapping, sandbox):
    add_mapping("identify_company")
    sandbox.fail(status=400, path="/companies")
    send(source, {"type": "group", "messageId": "m-1", "userId": "u-1", "groupId": "acme"})

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert delivery.last_error.startswith("Intercom answered 400")
    assert delivery.attempts == 1


def test_retries_give_up_after_both_budgets(source, add_mapping, sandbox, settings):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    send(source, track("m-1", "u-1"))
    Delivery.objects.update(
        created_at=timezone.now() - timedelta(hours=5), attempts=settings.FERRY_RETRY_MIN_ATTEMPTS
    )
    sandbox.fail(status=500, path="/events")

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert delivery.last_error.startswith("Gave up after 9 attempts: Intercom answered 500")


def test_old_but_few_attempts_keeps_retrying(source, add_mapping, sandbox):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    send(source, track("m-1", "u-1"))
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=5), attempts=2)
    sandbox.fail(status=500, path="/events")

    services.deliveries_drain(seconds=1)

    assert Delivery.objects.get().status == Status.RETRYING


def test_a_revoked_token_pauses_the_workspace_until_it_reconnects(
    source, add_mapping, sandbox, workspace
):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    sandbox.revoke(sandbox.access_token)
    send(source, track("m-1", "u-1"), track("m-2", "u-1", "Second"))

    services.deliveries_drain(seconds=1)

    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.NEEDS_RECONNECT
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PAUSED}
    send(source, track("m-3", "u-1", "Third"))
    assert Delivery.objects.order_by("id").last().status == Status.PAUSED
    assert len(sandbox.requests) == 1

    sandbox.reset()
    sandbox.add_contact(role="user", external_id="u-1")
    workspace.status = Workspace.Status.CONNECTED
    workspace.save()
    assert services.workspace_resume(workspace=workspace) == 3
    services.deliveries_drain(seconds=5)

    assert [e["event_name"] for e in sandbox.events] == ["Order Completed", "Second", "Third"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.DELIVERED}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("disable_mapping", "The mapping was disabled"),
        ("delete_mapping", "The mapping was deleted"),
        ("disable_destination", "The destination was disabled"),
    ],
)
def test_deliveries_whose_route_went_away_are_discarded(
    source, add_mapping, sandbox, destination, change, reason
):
    mapping = add_mapping("track_event")
    send(source, track("m-1", "u-1"))
    if change == "disable_mapping":
        mapping.enabled = False
        mapping.save()
    elif change == "delete_mapping":
        mapping.delete()
    else:
        destination.enabled = False
        destination.save()

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.DISCARDED
    assert delivery.last_error.startswith(reason)
    assert sandbox.requests == []


def test_a_lost_worker_s_delivery_is_taken_back_after_its_lease(source, add_mapping, sandbox):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="u-1")
    send(source, track("m-1", "u-1"))
    [claimed] = services.deliveries_claim()
    delivery = Delivery.objects.get(pk=claimed)
    Attempt.objects.create(delivery=delivery, number=1, started_at=timezone.now())
    Delivery.objects.filter(pk=claimed).update(attempts=1)

    assert services.deliveries_sweep().recovered == 0
    Delivery.objects.filter(pk=claimed).update(lease_until=timezone.now() - timedelta(seconds=1))
    sweep = services.deliveries_sweep()

    assert (sweep.recovered, sweep.due) == (1, 1)
    interrupted = Attempt.objects.get()
    assert interrupted.outcome == Attempt.Outcome.INTERRUPTED
    assert "whether Intercom received the request is unknown" in interrupted.error
    services.deliveries_drain(seconds=5)
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert [a.outcome for a in delivery.attempt_set.all()] == ["interrupted", "delivered"]


def test_a_claimed_delivery_is_not_claimed_again(source, add_mapping, sandbox):
    add_mapping("track_event")
    send(source, track("m-1", "u-1"), track("m-2", "u-2"))

    first = services.deliveries_claim(limit=1)
    second = services.deliveries_claim(limit=5)

    assert len(first) == 1 and len(second) == 1
    assert set(first).isdisjoint(second)
    assert services.deliveries_claim(limit=5) == []


def test_retention_forgets_old_bodies_then_old_events(source, add_mapping, sandbox, settings):
    add_mapping("identify_contact", role="user")
    send(source, identify("m-1", "u-1"))
    services.deliveries_drain(seconds=5)
    now = timezone.now()

    kept = services.retention_apply(now=now)
    assert kept == {"bodies": 0, "events": 0, "message_ids": 0}

    bodies = services.retention_apply(
        now=now + timedelta(days=settings.FERRY_RETENTION_BODY_DAYS, seconds=1)
    )
    attempt = Attempt.objects.get()
    assert bodies == {"bodies": 1, "events": 0, "message_ids": 1}
    assert (attempt.exchanges, attempt.payload) == ([], None)
    assert attempt.outcome == Attempt.Outcome.DELIVERED

    everything = services.retention_apply(
        now=now + timedelta(days=settings.FERRY_RETENTION_DAYS, seconds=1)
    )
    assert everything["events"] == 1
    assert not Event.objects.exists() and not Attempt.objects.exists()
    assert not MessageKey.objects.exists()


def test_retention_keeps_events_with_unfinished_deliveries(source, add_mapping, settings):
    add_mapping("track_event")
    send(source, track("m-1", "u-1"))
    Delivery.objects.update(status=Status.PAUSED)

    result = services.retention_apply(
        now=timezone.now() + timedelta(days=settings.FERRY_RETENTION_DAYS + 1)
    )

    assert result["events"] == 0
    assert Event.objects.exists()
