"""Replaying failed deliveries: one from its page, or all that match a filter as a
job with progress. The same delivery goes again, through its mapping as it is now."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery import replay, services, tasks
from delivery.bulk import insert_rows
from delivery.models import Attempt, Delivery, Event, ReplayJob
from delivery.pipeline import Incoming, accept_messages
from delivery.selectors import DeliveryFilter
from tests.delivery.conftest import api_calls

pytestmark = pytest.mark.django_db

Status = Delivery.Status
MISSING_NAME = {"@path": "$.properties.no_such_thing"}


def track(message_id, user="ann", event="Order Completed"):
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": event,
        "timestamp": "2026-11-29T10:00:00Z",
    }


def send(source, *messages):
    accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


@pytest.fixture
def failed(source, add_mapping, sandbox):
    """A Track Event delivery that failed for good: its mapping took the event
    name from a property the event does not have."""
    sandbox.add_contact(role="user", external_id="ann")
    add_mapping("track_event", name="Orders", fields={"event_name": MISSING_NAME})
    send(source, track("m-1"))
    services.deliveries_drain(seconds=2)
    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert "Event Name" in delivery.last_error
    return delivery


def fix(mapping):
    mapping.fields = {**mapping.fields, "event_name": {"@path": "$.event"}}
    mapping.save()


def test_a_replay_sends_the_same_delivery_again_through_the_mapping_as_it_is_now(
    failed, owner, sandbox
):
    fix(failed.mapping)

    replayed = replay.delivery_replay(delivery=failed, user=owner)

    assert replayed.pk == failed.pk
    assert replayed.status == Status.PENDING
    assert replayed.budget_attempts == 1
    assert replayed.budget_from is not None
    assert replayed.last_error == ""
    assert replayed.finished_at is None
    services.deliveries_drain(seconds=2)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == (Status.DELIVERED, "")
    assert delivery.attempts == 2
    assert [(a.number, a.outcome) for a in delivery.attempt_set.all()] == [
        (1, Attempt.Outcome.PERMANENT),
        (2, Attempt.Outcome.DELIVERED),
    ]
    assert [event["event_name"] for event in sandbox.events] == ["Order Completed"]


def test_a_replay_gets_a_whole_new_retry_budget(source, add_mapping, sandbox, owner, settings):
    add_mapping("track_event")
    sandbox.add_contact(role="user", external_id="ann")
    send(source, track("m-1"))
    Delivery.objects.update(
        status=Status.FAILED,
        created_at=timezone.now() - timedelta(hours=settings.FERRY_RETRY_HOURS + 1),
        attempts=settings.FERRY_RETRY_MIN_ATTEMPTS + 3,
        last_error="Gave up",
    )
    sandbox.fail(status=503, path="/events")

    replay.delivery_replay(delivery=Delivery.objects.get(), user=owner)
    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.RETRYING
    assert delivery.attempts == settings.FERRY_RETRY_MIN_ATTEMPTS + 4
    assert "503" in delivery.last_error
    assert api_calls(sandbox) == [("POST", "/events")]


def test_a_replayed_delivery_gives_up_once_its_new_budget_is_spent(
    failed, owner, sandbox, settings
):
    fix(failed.mapping)
    replay.delivery_replay(delivery=failed, user=owner)
    Delivery.objects.update(
        budget_from=timezone.now() - timedelta(hours=settings.FERRY_RETRY_HOURS + 1),
        attempts=1 + settings.FERRY_RETRY_MIN_ATTEMPTS,
    )
    sandbox.fail(status=503, path="/events")

    services.deliveries_drain(seconds=1)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert delivery.last_error.startswith(
        f"Gave up after {settings.FERRY_RETRY_MIN_ATTEMPTS + 1} attempts"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": Status.DELIVERED}, "this one is delivered"),
        ({"status": Status.RETRYING}, "this one is retrying"),
        ({"is_test": True}, "A test send cannot be replayed"),
        ({"mapping": None}, "Its mapping was deleted"),
    ],
)
def test_what_cannot_be_replayed_is_refused_with_the_reason(failed, owner, change, reason):
    Delivery.objects.filter(pk=failed.pk).update(**change)
    failed.refresh_from_db()

    with pytest.raises(replay.NotReplayable, match=reason):
        replay.delivery_replay(delivery=failed, user=owner)

    assert Delivery.objects.get().status == change.get("status", Status.FAILED)


def test_a_disabled_mapping_is_refused(failed, owner):
    failed.mapping.enabled = False
    failed.mapping.save()

    with pytest.raises(replay.NotReplayable, match="“Orders” is disabled"):
        replay.delivery_replay(delivery=failed, user=owner)


def test_a_user_deletion_without_a_mapping_can_be_replayed(failed, owner):
    Delivery.objects.filter(pk=failed.pk).update(mapping=None, action="delete_contact")
    failed.refresh_from_db()

    assert replay.delivery_replay(delivery=failed, user=owner).status == Status.PENDING


# --- From the console ---------------------------------------------------------------------


def test_the_replay_button_replays_and_says_so(owner_client, failed):
    fix(failed.mapping)
    detail = reverse("delivery_detail", args=[failed.pk])

    page = owner_client.get(detail).content.decode()
    response = owner_client.post(reverse("delivery_replay", args=[failed.pk]), follow=True)

    assert "Replay this delivery" in page
    assert response.redirect_chain == [(detail, 302)]
    assert "Replayed: attempt 2 will be made in a moment." in response.content.decode()
    assert Delivery.objects.get().status == Status.PENDING
    services.deliveries_drain(seconds=2)
    page = owner_client.get(detail).content.decode()
    assert "Attempt 2" in page
    assert '<span class="badge status-delivered" data-testid="delivery-status">' in page
    assert "Replay this delivery" not in page


def test_the_replay_button_refuses_clearly(owner_client, failed):
    Delivery.objects.filter(pk=failed.pk).update(status=Status.DELIVERED)

    response = owner_client.post(reverse("delivery_replay", args=[failed.pk]), follow=True)

    assert "Not replayed: Only a failed or discarded delivery can be replayed" in (
        response.content.decode()
    )


def test_another_organisation_cannot_replay(outsider_client, client, failed):
    url = reverse("delivery_replay", args=[failed.pk])

    assert outsider_client.post(url).status_code == 404
    assert client.post(url).status_code == 302
    assert outsider_client.get(reverse("deliveries_replay") + "?status=failed").content.count(
        b"No failed delivery"
    )
    assert Delivery.objects.get().status == Status.FAILED


# --- Replaying many -----------------------------------------------------------------------


@pytest.fixture
def many(destination, source, add_mapping):
    """1,200 failed Orders deliveries (more than two batches), with others beside them:
    delivered ones, a failed one of another mapping, a failed test send."""
    orders = add_mapping("track_event", name="Orders")
    people = add_mapping("identify_contact", role="user", name="People")
    plans = [(orders, Status.FAILED, False)] * 1200 + [
        (orders, Status.DELIVERED, False),
        (people, Status.FAILED, False),
        (orders, Status.FAILED, True),
    ]
    return {"orders": orders, "ids": make(source, destination, plans)}


def make(source, destination, plans):
    events = insert_rows(
        Event,
        [
            {
                "source_id": source.pk,
                "message_id": f"bulk-{timezone.now().timestamp()}-{n}",
                "type": "track",
                "payload": track(f"bulk-{n}"),
                "received_at": timezone.now(),
                "status": Event.Status.ROUTED,
            }
            for n in range(len(plans))
        ],
    )
    return insert_rows(
        Delivery,
        [
            {
                "event_id": event,
                "destination_id": destination.pk,
                "mapping_id": mapping.pk,
                "action": mapping.action,
                "person": "ann",
                "status": status,
                "attempts": 1,
                "last_error": "" if status == Status.DELIVERED else "Event Name is required.",
                "is_test": is_test,
                "finished_at": timezone.now(),
            }
            for event, (mapping, status, is_test) in zip(events, plans, strict=True)
        ],
    )


def test_replaying_many_asks_for_confirmation_with_the_count(owner_client, many):
    query = f"?mapping={many['orders'].pk}&error=event+name"

    page = owner_client.get(reverse("delivery_list") + query).content.decode()
    confirm = owner_client.get(reverse("deliveries_replay") + query).content.decode()

    assert "Replay 1000+ failed deliveries…" in page
    assert f'href="/deliveries/replay?mapping={many["orders"].pk}&amp;error=event+name"' in page
    assert "1200 failed deliveries</strong> match this filter" in confirm
    assert '<input type="hidden" name="error" value="event name">' in confirm
    assert '<input type="hidden" name="from" value="' in confirm
    assert "searched among the deliveries of the last 7 days" in confirm
    assert not ReplayJob.objects.exists()


def test_replaying_many_runs_as_a_job_with_progress(
    owner_client, outsider_client, many, destination, source, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    queued = []
    monkeypatch.setattr(tasks.replay_run, "delay", lambda *args: queued.append(args))
    filter_fields = {"mapping": str(many["orders"].pk), "status": "failed"}

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("deliveries_replay"), filter_fields)

    job = ReplayJob.objects.get()
    assert response.url == reverse("replay_job", args=[job.pk])
    assert (job.total, job.done, job.state) == (1200, 0, ReplayJob.State.RUNNING)
    assert job.up_to == max(many["ids"][:1200])
    assert queued == [(job.pk,)]
    running = owner_client.get(response.url).content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert f'<progress id="replay-bar-{job.pk}" max="1200" value="0">' in running
    assert outsider_client.get(response.url).status_code == 404

    later = make(source, destination, [(many["orders"], Status.FAILED, False)])
    (job_id,) = json.loads(json.dumps(queued[0]))
    tasks.replay_run(job_id)

    job.refresh_from_db()
    assert (job.done, job.total, job.state) == (1200, 1200, ReplayJob.State.FINISHED)
    statuses = dict(Delivery.objects.filter(id__in=many["ids"][:1200]).values_list("id", "status"))
    assert set(statuses.values()) == {Status.PENDING}
    replayed = Delivery.objects.get(pk=many["ids"][0])
    assert (replayed.attempts, replayed.budget_attempts, replayed.last_error) == (1, 1, "")
    others = Delivery.objects.filter(id__in=many["ids"][1200:] + later)
    assert sorted(others.values_list("status", flat=True)) == [
        Status.DELIVERED, Status.FAILED, Status.FAILED, Status.FAILED,
    ]  # fmt: skip
    assert Delivery.objects.count() == 1204
    finished = owner_client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in finished
    assert "Finished" in finished
    assert f'href="/deliveries/?status=failed&amp;mapping={many["orders"].pk}"' in finished


def test_a_replay_job_that_breaks_says_why(owner, organization, many, monkeypatch):
    job = replay.replay_job_create(
        organization=organization,
        user=owner,
        filter=DeliveryFilter(mapping=many["orders"].pk),
    )
    assert job is not None

    def broken(deliveries):
        raise RuntimeError("database went away")

    monkeypatch.setattr(replay, "_replay_rows", broken)
    replay.replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == ReplayJob.State.FAILED
    assert job.error == "RuntimeError: database went away"
    assert job.finished_at is not None


def test_nothing_to_replay_makes_no_job(owner_client, many):
    response = owner_client.post(reverse("deliveries_replay"), {"status": "delivered"}, follow=True)

    assert "No failed delivery matches this filter any more." in response.content.decode()
    assert not ReplayJob.objects.exists()
