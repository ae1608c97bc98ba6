"""The mapping editor's Test panel: events to test with, the dry run, and a real
test send against the sandbox, recorded in the logs as a test."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from console.models import Workspace
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import Incoming, accept_messages
from delivery.testing import event_sample
from tests.delivery.conftest import api_calls

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
IDENTIFY_FIELDS = {
    "role": "user",
    "external_id": {"@path": "$.userId"},
    "email": {"@path": "$.traits.email"},
    "name": {"@path": "$.traits.name"},
}


def accept(source, *messages):
    return accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


def track(message_id, *, user="user-7", event="Order Completed", **extra):
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": event,
        "timestamp": "2026-11-29T10:00:00.000Z",
        "properties": {"total": 30, "currency": "EUR"},
        **extra,
    }


def identify(message_id, *, user="user-7", email="grace@example.com"):
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": user,
        "timestamp": "2026-11-29T10:00:00.000Z",
        "traits": {"email": email, "name": "Grace Hopper"},
    }


def draft(action="identify_contact", trigger='type = "identify"', fields=None, **extra):
    return {
        "action": action,
        "trigger": trigger,
        "fields": json.dumps(IDENTIFY_FIELDS if fields is None else fields),
        **extra,
    }


def post(client, destination, data, **headers):
    return client.post(reverse("mapping_test", args=[destination.pk]), data, **headers)


def textarea(page: str) -> str:
    start = page.index('id="mapping-test-event"')
    start = page.index(">", start) + 1
    return page[start : page.index("</textarea>", start)]


# --- Choosing the event -----------------------------------------------------------------------


def test_the_panel_opens_with_the_newest_event_matching_the_trigger(owner_client, destination):
    accept(destination.source, identify("id-old", email="old@example.com"))
    accept(destination.source, track("tr-1"), identify("id-new", email="new@example.com"))

    response = post(owner_client, destination, draft(), **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "The latest events that match the trigger, newest first." in page
    assert "<h1>" not in page  # the fragment, for the editor to swap in
    events = page[page.index("<tbody>") : page.index("</tbody>")]
    assert events.count("<tr>") == 2
    assert "Order Completed" not in events
    assert "new@example.com" in textarea(page)


def test_without_a_matching_event_the_latest_events_are_offered_anyway(owner_client, destination):
    accept(destination.source, track("tr-1"))

    page = post(owner_client, destination, draft(trigger='event = "Signed Up"'), **HTMX)

    text = page.content.decode()
    assert "None of the latest events of Website matches the trigger" in text
    assert "Order Completed" in text


def test_a_source_without_events_says_so_and_offers_a_sample(owner_client, destination):
    page = post(owner_client, destination, draft(), **HTMX).content.decode()

    assert "Website has not received any event yet" in page
    sample = json.loads(textarea(page).replace("&quot;", '"').replace("&#x27;", "'"))
    assert sample["type"] == "identify"
    assert sample["traits"]["email"] == "ada.lovelace@example.com"


def test_a_recent_event_can_be_loaded_into_the_editor(owner_client, destination):
    [stored] = accept(destination.source, track("tr-42", user="user-42"))

    page = post(
        owner_client,
        destination,
        draft(action="track_event", trigger='type = "track"', load_event=stored.id, event="{}"),
        **HTMX,
    ).content.decode()

    assert "tr-42" in textarea(page)
    assert "user-42" in textarea(page)


def test_another_organisations_event_cannot_be_loaded(
    owner_client, destination, other_organization
):
    foreign_source, _ = console_services.source_create(organization=other_organization, name="X")
    [foreign] = accept(foreign_source, track("secret-1"))

    response = post(owner_client, destination, draft(load_event=foreign.id), **HTMX)

    assert response.status_code == 404


def test_a_generated_sample_takes_the_values_the_trigger_asks_for(owner_client, destination):
    page = post(
        owner_client,
        destination,
        draft(
            action="track_event",
            trigger='type = "track" and event = "Signed Up" and properties.plan = "Pro"',
            intent="sample",
            sample_type="track",
            event="{}",
        ),
        **HTMX,
    ).content.decode()

    sample = json.loads(textarea(page).replace("&quot;", '"').replace("&#x27;", "'"))
    assert sample["type"] == "track"
    assert sample["event"] == "Signed Up"
    assert sample["properties"]["plan"] == "Pro"
    assert sample["properties"]["order_id"] == "50314b8e9bcf000000000000"


@pytest.mark.parametrize("event_type", ["identify", "track", "group", "page", "screen"])
def test_samples_look_like_what_segment_libraries_send(event_type):
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    sample = event_sample(event_type=event_type, now=now)

    assert sample["type"] == event_type
    assert sample["timestamp"] == "2026-11-29T12:00:00.000Z"
    assert sample["messageId"] != event_sample(event_type=event_type)["messageId"]
    assert sample["context"]["library"]["name"] in ("analytics.js", "analytics-ios")
    if event_type == "group":
        assert sample["groupId"] and sample["traits"]["name"]


# --- Preview ------------------------------------------------------------------------------------


def test_preview_shows_the_mapped_payload_and_sends_nothing(owner_client, destination, sandbox):
    event = json.dumps(identify("id-1"))

    page = post(
        owner_client, destination, draft(intent="preview", event=event), **HTMX
    ).content.decode()

    assert "nothing was sent" in page
    assert "Payload for Identify Contact" in page
    assert "&quot;external_id&quot;: &quot;user-7&quot;" in page
    assert "&quot;email&quot;: &quot;grace@example.com&quot;" in page
    assert sandbox.requests == []
    assert not Event.objects.filter(status=Event.Status.TEST).exists()


def test_preview_lists_every_validation_error(owner_client, destination):
    event = json.dumps({"type": "track", "userId": "user-7"})

    page = post(
        owner_client,
        destination,
        draft(
            action="track_event", trigger='type = "track"', fields={}, intent="preview", event=event
        ),
        **HTMX,
    ).content.decode()

    assert "This event cannot be sent to Intercom:" in page
    assert '<li class="error">Event Name is required.</li>' in page
    assert '<li class="error">Event Timestamp is required.</li>' in page


def test_preview_warns_of_what_intercom_will_not_keep(owner_client, destination):
    sample = json.dumps(event_sample(event_type="track"))

    page = post(
        owner_client,
        destination,
        draft(
            action="track_event",
            trigger='type = "track"',
            fields={},
            intent="preview",
            event=sample,
        ),
        **HTMX,
    ).content.decode()

    assert "because Intercom ignores nested objects and lists: “products”" in page


def test_preview_says_when_the_trigger_does_not_match(owner_client, destination):
    page = post(
        owner_client,
        destination,
        draft(trigger='type = "group"', intent="preview", event=json.dumps(identify("id-1"))),
        **HTMX,
    ).content.decode()

    assert "The trigger does not match this event" in page
    assert "Payload for Identify Contact" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": '{"type": "identify",'}, "The event is not valid JSON"),
        ({"event": "[1, 2]"}, "The event must be a JSON object"),
        ({"event": '{"type": "identify", "n": NaN}'}, "NaN is not a JSON value"),
        ({"event": '{"type": "identify", "n": "a\\u0000"}'}, "holds a NUL character"),
        ({"event": '{"type": "identify", "\\ud800": 1}'}, "or an unpaired surrogate"),
        ({"event": json.dumps({"type": "identify", "x": "y" * 40_000})}, "Ferry&#x27;s, is 32768"),
        ({"event": ""}, "There is no event to test with"),
        ({"fields": '{"role": '}, "The field mapping is not valid JSON"),
        ({"fields": "[]"}, "The field mapping must be a JSON object"),
        ({"fields": '{"name": "\\u0000"}'}, "The field mapping holds a NUL character"),
        ({"action": "delete_everything"}, "Choose the mapping&#x27;s action"),
        ({"trigger": 'type = "identify'}, "The trigger is invalid: "),
        ({"fields": '{"email": {"@path": 3}}'}, "The field mapping is invalid: "),
    ],
)
@pytest.mark.parametrize("intent", ["preview", "send"])
def test_bad_input_gets_a_message_and_nothing_is_sent(
    owner_client, destination, sandbox, changes, message, intent
):
    data = draft(intent=intent, event=json.dumps(identify("id-1")))
    data.update(changes)

    response = post(owner_client, destination, data, **HTMX)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert sandbox.requests == []
    assert not Event.objects.filter(status=Event.Status.TEST).exists()


# --- Test send -------------------------------------------------------------------------------


def test_send_performs_the_action_and_records_it_as_a_test(
    owner_client, destination, add_mapping, sandbox
):
    mapping = add_mapping("identify_contact", role="user", name="Contacts")
    event = identify("id-send", user="user-99", email="ada@example.com")

    response = post(
        owner_client,
        destination,
        draft(intent="send", event=json.dumps(event), mapping=mapping.pk),
        **HTMX,
    )

    page = response.content.decode()
    assert api_calls(sandbox) == [("POST", "/contacts/search"), ("POST", "/contacts")]
    created = sandbox.requests[1].body
    assert created["external_id"] == "user-99"
    assert created["email"] == "ada@example.com"
    assert created["name"] == "Grace Hopper"
    assert [contact["email"] for contact in sandbox.contacts] == ["ada@example.com"]

    assert "Sent: Intercom accepted it in 2 requests." in page
    assert f"{sandbox.base_url}/contacts/search" in page
    assert "&quot;external_id&quot;: &quot;user-99&quot;" in page
    assert sandbox.access_token not in page

    stored = Event.objects.get(status=Event.Status.TEST)
    assert stored.message_id == "id-send"
    assert stored.payload == event
    delivery = Delivery.objects.get(event=stored)
    assert delivery.is_test
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.mapping == mapping
    assert delivery.attempts == 1
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.outcome == Attempt.Outcome.DELIVERED
    assert attempt.payload["email"] == "ada@example.com"
    assert [(x["method"], x["url"], x["status"]) for x in attempt.exchanges] == [
        ("POST", f"{sandbox.base_url}/contacts/search", 200),
        ("POST", f"{sandbox.base_url}/contacts", 200),
    ]
    assert attempt.exchanges[1]["request_body"]["email"] == "ada@example.com"
    assert sandbox.access_token not in json.dumps(attempt.exchanges)


def test_a_test_send_shows_in_the_logs_labelled_test(owner_client, destination, sandbox):
    post(owner_client, destination, draft(intent="send", event=json.dumps(identify("id-1"))))

    for url in (
        reverse("destination_deliveries", args=[destination.pk]),
        reverse("delivery_list"),
        reverse("event_list"),
    ):
        page = owner_client.get(url).content.decode()
        if "deliveries" in url:
            assert '<span class="badge test">Test</span>' in page
            assert "(unsaved draft)" in page
        else:
            assert '<span class="badge event-test">Test send</span>' in page


def test_a_test_send_intercom_does_not_take_is_failed_and_never_retried(
    owner_client, destination, sandbox
):
    event = track("tr-1", user="nobody-knows-me")

    page = post(
        owner_client,
        destination,
        draft(
            action="track_event",
            trigger='type = "track"',
            fields={},
            intent="send",
            event=json.dumps(event),
        ),
        **HTMX,
    ).content.decode()

    assert api_calls(sandbox) == [("POST", "/events")]
    assert "Not sent this time: Intercom has no contact for User ID “nobody-knows-me”" in page
    assert "a test is tried once" in page
    delivery = Delivery.objects.get(is_test=True)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert "nobody-knows-me" in delivery.last_error
    assert [x["status"] for x in delivery.attempt_set.get().exchanges] == [404]


def test_a_revoked_token_pauses_the_workspace(owner_client, destination, sandbox, add_mapping):
    waiting = add_mapping("track_event")
    accept(destination.source, track("tr-1"))
    sandbox.revoke(sandbox.access_token)

    page = post(
        owner_client, destination, draft(intent="send", event=json.dumps(identify("id-1"))), **HTMX
    ).content.decode()

    assert "The workspace now needs reconnecting" in page
    destination.workspace.refresh_from_db()
    assert destination.workspace.status == Workspace.Status.NEEDS_RECONNECT
    assert Delivery.objects.get(is_test=True).status == Delivery.Status.FAILED
    assert Delivery.objects.get(mapping=waiting).status == Delivery.Status.PAUSED


def test_nothing_is_sent_or_recorded_when_the_trigger_does_not_match(
    owner_client, destination, sandbox
):
    page = post(
        owner_client,
        destination,
        draft(trigger='type = "group"', intent="send", event=json.dumps(identify("id-1"))),
        **HTMX,
    ).content.decode()

    assert "The trigger does not match this event; nothing was sent." in page
    assert sandbox.requests == []
    assert not Delivery.objects.exists()


def test_a_destination_without_workspace_is_told_to_choose_one(owner_client, source, sandbox):
    destination = console_services.destination_create(source=source, name="No workspace yet")

    opened = post(owner_client, destination, draft(), **HTMX).content.decode()
    sent = post(
        owner_client, destination, draft(intent="send", event=json.dumps(identify("id-1"))), **HTMX
    ).content.decode()

    assert 'value="send" disabled' in opened
    assert "This destination has no Intercom workspace yet" in sent
    assert sandbox.requests == []
    assert not Event.objects.exists()


def test_a_workspace_that_needs_reconnecting_is_not_called(owner_client, destination, sandbox):
    Workspace.objects.filter(pk=destination.workspace_id).update(
        status=Workspace.Status.NEEDS_RECONNECT
    )

    page = post(
        owner_client, destination, draft(intent="send", event=json.dumps(identify("id-1"))), **HTMX
    ).content.decode()

    assert "needs reconnecting (Intercom refused its token): reconnect it" in page
    assert sandbox.requests == []
    assert not Event.objects.exists()


def test_a_mapping_that_fails_on_the_event_is_recorded_as_a_failed_test(
    owner_client, destination, sandbox
):
    event = json.dumps({"type": "track", "userId": "user-7", "event": "Order Completed"})

    page = post(
        owner_client,
        destination,
        draft(
            action="track_event", trigger='type = "track"', fields={}, intent="send", event=event
        ),
        **HTMX,
    ).content.decode()

    assert "Failed: Event Timestamp is required." in page
    assert sandbox.requests == []
    delivery = Delivery.objects.get(is_test=True)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_set.get().outcome == Attempt.Outcome.PERMANENT


# --- The page of its own, and access ---------------------------------------------------------


def test_a_saved_mapping_can_be_tested_on_a_page_of_its_own(
    owner_client, teammate_client, destination, add_mapping
):
    mapping = add_mapping("track_event", name="Orders", trigger='event = "Order Completed"')
    url = reverse("mapping_test", args=[destination.pk]) + f"?mapping={mapping.pk}"

    for client in (owner_client, teammate_client):
        page = client.get(url).content.decode()
        assert "<h1>Test “Orders”</h1>" in page
        assert 'value="event = &quot;Order Completed&quot;"' in page
        assert "delivery.js" in page


def test_the_panel_is_refused_outside_the_organisation(
    outsider_client, client, destination, add_mapping
):
    mapping = add_mapping("track_event")
    url = reverse("mapping_test", args=[destination.pk])

    assert outsider_client.post(url, draft(), **HTMX).status_code == 404
    assert outsider_client.get(f"{url}?mapping={mapping.pk}").status_code == 404
    assert outsider_client.post(url, draft(intent="send", event="{}")).status_code == 404
    assert client.post(url, draft()).status_code == 302


def test_another_destinations_mapping_is_not_found(owner_client, destination, source, add_mapping):
    other = console_services.destination_create(source=source, name="Other")
    foreign = add_mapping("track_event", destination=other)

    response = post(owner_client, destination, draft(mapping=foreign.pk), **HTMX)

    assert response.status_code == 404
