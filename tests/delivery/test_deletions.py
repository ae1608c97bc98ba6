"""User deletion (the contract's delete_contact): the request, the worker against
the sandbox, the console page and the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from console.models import ApiToken, Workspace
from delivery import services
from delivery.deletions import DELETE_CONTACT, user_deletion_request
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import Incoming, accept_messages
from tests.delivery.conftest import api_calls

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def request_deletion(organization, user_id="u-1", **options):
    return user_deletion_request(organization=organization, user_id=user_id, **options)


def refusal(error: ValidationError) -> tuple[str, str]:
    (errors,) = error.error_dict.values()
    return errors[0].code, " ".join(errors[0].messages)


# --- The request ----------------------------------------------------------------------------


def test_a_request_stores_a_delete_event_and_a_delivery_per_destination(
    organization, source, destination, workspace
):
    other_source, _ = console_services.source_create(organization=organization, name="App")
    second = console_services.destination_create(
        source=other_source, name="Intercom app", workspace=workspace
    )
    console_services.destination_create(source=source, name="Not connected")

    made = request_deletion(organization, " u-1 ", requested_by="owner@acme.test")

    assert [(d.destination, d.action, d.person, d.status) for d in made] == [
        (destination, DELETE_CONTACT, "u-1", Status.PENDING),
        (second, DELETE_CONTACT, "u-1", Status.PENDING),
    ]
    assert all(d.mapping is None and d.next_attempt_at is not None for d in made)
    events = Event.objects.order_by("id")
    assert [(e.source, e.type, e.status, e.user_id) for e in events] == [
        (source, "delete", Event.Status.DELETION, "u-1"),
        (other_source, "delete", Event.Status.DELETION, "u-1"),
    ]
    payload = events[0].payload
    assert payload["type"] == "delete"
    assert payload["userId"] == "u-1"
    assert payload["context"] == {"ferry": {"requestedBy": "owner@acme.test"}}
    assert payload["messageId"] != events[1].payload["messageId"]
    assert payload["receivedAt"].endswith("Z")


def test_one_event_per_source_however_many_of_its_destinations(organization, source, workspace):
    for name in ("One", "Two"):
        console_services.destination_create(source=source, name=name, workspace=workspace)

    made = request_deletion(organization)

    assert len(made) == 2
    assert Event.objects.count() == 1
    assert {d.event_id for d in made} == {Event.objects.get().pk}


def test_a_disabled_destination_is_included_and_a_paused_workspace_holds_it(
    organization, destination, workspace
):
    console_services.destination_set_enabled(destination=destination, enabled=False)
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.save()

    (made,) = request_deletion(organization)

    assert made.destination == destination
    assert made.status == Status.PAUSED


@pytest.mark.parametrize(
    ("user_id", "message"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("x" * 256, "256 characters long; Ferry keeps at most 255"),
        (42, "must be a string"),
    ],
)
def test_a_bad_user_id_is_refused_and_nothing_stored(organization, destination, user_id, message):
    with pytest.raises(ValidationError) as refused:
        request_deletion(organization, user_id)

    assert refusal(refused.value)[0] == "invalid_user_id"
    assert message in refusal(refused.value)[1]
    assert not Delivery.objects.exists()
    assert not Event.objects.exists()


def test_a_named_destination_without_workspace_is_refused(organization, source, destination):
    bare = console_services.destination_create(source=source, name="Not connected")

    with pytest.raises(ValidationError) as refused:
        request_deletion(organization, destinations=[destination, bare])

    assert refusal(refused.value) == (
        "no_workspace",
        "The destination “Not connected” has no Intercom workspace: "
        "there is nowhere to delete the person from.",
    )
    assert not Delivery.objects.exists()


def test_nowhere_to_delete_from_is_refused(organization, source):
    console_services.destination_create(source=source, name="Not connected")

    with pytest.raises(ValidationError) as refused:
        request_deletion(organization)

    assert refusal(refused.value)[0] == "no_destination"


def test_another_organisation_s_destination_is_refused(other_organization, destination):
    with pytest.raises(ValidationError) as refused:
        request_deletion(other_organization, destinations=[destination])

    assert refusal(refused.value)[0] == "unknown_destination"


# --- The worker, against the sandbox ------------------------------------------------------------


def only_attempt(delivery: Delivery) -> Attempt:
    delivery.refresh_from_db()
    return delivery.attempt_set.get()


def test_a_found_contact_is_deleted(organization, destination, sandbox):
    sandbox.add_contact(role="user", external_id="u-1", email="ann@example.test")
    sandbox.add_contact(role="user", external_id="u-2")
    (deletion,) = request_deletion(organization)

    services.deliveries_drain(seconds=5)

    attempt = only_attempt(deletion)
    deletion.refresh_from_db()
    assert deletion.status == Status.DELIVERED
    assert [c["external_id"] for c in sandbox.contacts] == ["u-2"]
    assert api_calls(sandbox)[0] == ("POST", "/contacts/search")
    assert api_calls(sandbox)[1][0] == "DELETE"
    assert attempt.payload == {"user_id": "u-1"}
    assert attempt.outcome == Attempt.Outcome.DELIVERED
    assert attempt.warnings == []
    assert [(e["method"], e["status"]) for e in attempt.exchanges] == [
        ("POST", 200),
        ("DELETE", 200),
    ]


def test_no_contact_means_nothing_deleted_and_says_so(organization, destination, sandbox):
    sandbox.add_contact(role="user", external_id="someone-else")
    (deletion,) = request_deletion(organization, "ghost")

    services.deliveries_drain(seconds=5)

    attempt = only_attempt(deletion)
    assert deletion.status == Status.DELIVERED
    assert api_calls(sandbox) == [("POST", "/contacts/search")]
    assert len(sandbox.contacts) == 1
    assert attempt.warnings == ["No Intercom contact has External ID “ghost”: nothing was deleted."]


def test_a_refused_token_pauses_the_deletion(organization, destination, workspace, sandbox):
    sandbox.add_contact(role="user", external_id="u-1")
    sandbox.revoke(sandbox.access_token)
    (deletion,) = request_deletion(organization)

    services.deliveries_drain(seconds=1)

    deletion.refresh_from_db()
    workspace.refresh_from_db()
    assert deletion.status == Status.PAUSED
    assert workspace.status == Workspace.Status.NEEDS_RECONNECT


def test_a_server_error_is_retried(organization, destination, sandbox):
    sandbox.add_contact(role="user", external_id="u-1")
    sandbox.fail(status=500, path="/contacts/search")
    (deletion,) = request_deletion(organization)

    services.deliveries_drain(seconds=1)

    deletion.refresh_from_db()
    assert deletion.status == Status.RETRYING
    assert "500" in deletion.last_error
    assert deletion.next_attempt_at > timezone.now()
    assert len(sandbox.contacts) == 1

    Delivery.objects.filter(pk=deletion.pk).update(next_attempt_at=timezone.now())
    services.deliveries_drain(seconds=5)

    deletion.refresh_from_db()
    assert deletion.status == Status.DELIVERED
    assert sandbox.contacts == []


def test_a_deletion_waits_behind_the_person_s_earlier_deliveries(
    organization, source, destination, add_mapping, sandbox
):
    add_mapping("identify_contact", role="user")
    sandbox.fail(status=503, path="/contacts")
    accept_messages(
        source=source,
        incoming=[Incoming({"type": "identify", "messageId": "m-1", "userId": "u-1"})],
        received_at=timezone.now(),
    )
    services.deliveries_drain(seconds=1)
    identify = Delivery.objects.get(action="identify_contact")
    assert identify.status == Status.RETRYING
    (deletion,) = request_deletion(organization)

    services.deliveries_drain(seconds=1)

    deletion.refresh_from_db()
    assert deletion.status == Status.PENDING
    assert deletion.attempts == 0

    Delivery.objects.filter(pk=identify.pk).update(next_attempt_at=timezone.now())
    services.deliveries_drain(seconds=5)

    deletion.refresh_from_db()
    assert deletion.status == Status.DELIVERED
    assert sandbox.contacts == []
    assert [method for method, _ in api_calls(sandbox)][-1] == "DELETE"


def test_a_destination_disabled_meanwhile_still_deletes(organization, destination, sandbox):
    sandbox.add_contact(role="user", external_id="u-1")
    (deletion,) = request_deletion(organization)
    console_services.destination_set_enabled(destination=destination, enabled=False)

    services.deliveries_drain(seconds=5)

    deletion.refresh_from_db()
    assert deletion.status == Status.DELIVERED
    assert sandbox.contacts == []


def test_a_destination_that_lost_its_workspace_discards_the_deletion(
    organization, destination, sandbox
):
    (deletion,) = request_deletion(organization)
    console_services.destination_update(
        destination=destination, name=destination.name, workspace=None, enabled=False
    )

    services.deliveries_drain(seconds=1)

    deletion.refresh_from_db()
    assert deletion.status == Status.DISCARDED
    assert deletion.last_error == "The destination has no Intercom workspace any more."
    assert sandbox.requests == []


# --- The console page ---------------------------------------------------------------------------


def test_the_form_requests_a_deletion_and_lists_it(owner_client, destination, sandbox):
    response = owner_client.post(
        reverse("user_deletion"), {"user_id": "u-1", "destination": ""}, follow=True
    )

    deletion = Delivery.objects.get(action=DELETE_CONTACT)
    page = response.content.decode()
    assert "Deletion of “u-1” requested from “Intercom”" in page
    assert deletion.event.payload["context"]["ferry"]["requestedBy"] == "owner@acme.test"
    assert "Pending" in page
    assert reverse("delivery_detail", args=[deletion.pk]) in page
    assert 'hx-trigger="every 3s"' in page

    services.deliveries_drain(seconds=5)
    fragment = owner_client.get(reverse("user_deletion"), headers={"HX-Request": "true"})

    text = fragment.content.decode()
    assert "<h1>" not in text
    assert "Delivered" in text
    assert "No Intercom contact has External ID “u-1”: nothing was deleted." in text
    assert "every 3s" not in text


def test_the_form_can_name_one_destination(owner_client, organization, source, destination):
    other = console_services.destination_create(
        source=source, name="Second", workspace=destination.workspace
    )

    owner_client.post(reverse("user_deletion"), {"user_id": "u-1", "destination": other.pk})

    assert list(Delivery.objects.values_list("destination", flat=True)) == [other.pk]


def test_the_form_shows_why_it_refuses(owner_client, destination):
    response = owner_client.post(reverse("user_deletion"), {"user_id": "  ", "destination": ""})

    assert response.status_code == 400
    assert "Give the userId of the person to delete: it is empty." in response.content.decode()
    assert not Delivery.objects.exists()


def test_the_page_says_when_nothing_was_requested(teammate_client, destination):
    page = teammate_client.get(reverse("user_deletion")).content.decode()

    assert "No deletion requested yet." in page
    assert f'<option value="{destination.pk}">Intercom</option>' in page


def test_an_outsider_neither_sees_nor_targets_another_organisation(
    outsider_client, organization, destination
):
    request_deletion(organization, "secret-person")

    page = outsider_client.get(reverse("user_deletion")).content.decode()
    refused = outsider_client.post(
        reverse("user_deletion"), {"user_id": "u-2", "destination": destination.pk}
    )

    assert "secret-person" not in page
    assert f'<option value="{destination.pk}"' not in page
    assert refused.status_code == 400
    assert Delivery.objects.count() == 1


# --- The API ------------------------------------------------------------------------------------


@pytest.fixture
def token(organization, owner):
    return console_services.api_token_create(
        organization=organization, name="GDPR tool", created_by=owner
    )[1]


@pytest.fixture
def other_token(other_organization):
    return console_services.api_token_create(
        organization=other_organization, name="Globex tool", created_by=None
    )[1]


def post(client, body, token=None, **headers):
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api/v1/deletions", data, content_type="application/json", headers=headers)


def get(client, pk, token=None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1/deletions/{pk}", headers=headers)


def test_the_api_requests_a_deletion(client, organization, destination, token, sandbox):
    sandbox.add_contact(role="user", external_id="u-1")

    response = post(client, {"userId": "u-1"}, token)

    assert response.status_code == 202
    deletion = Delivery.objects.get(action=DELETE_CONTACT)
    assert response.json() == {
        "deletions": [
            {"id": deletion.pk, "userId": "u-1", "destination": destination.pk, "status": "pending"}
        ]
    }
    assert deletion.event.payload["context"]["ferry"]["requestedBy"] == "api token GDPR tool"
    assert ApiToken.objects.get().last_used_at is not None

    services.deliveries_drain(seconds=5)
    status = get(client, deletion.pk, token)

    assert status.status_code == 200
    body = status.json()
    assert (body["status"], body["attempts"], body["lastError"], body["warnings"]) == (
        "delivered",
        1,
        "",
        [],
    )
    assert body["finishedAt"] is not None
    assert sandbox.contacts == []


def test_the_api_reports_warnings_and_errors(client, destination, token, sandbox):
    sandbox.fail(status=500, path="/contacts/search")
    first = post(client, {"userId": "u-1"}, token).json()["deletions"][0]["id"]
    services.deliveries_drain(seconds=1)

    retrying = get(client, first, token).json()
    assert retrying["status"] == "retrying"
    assert "500" in retrying["lastError"]
    assert retrying["nextAttemptAt"] is not None

    Delivery.objects.filter(pk=first).update(next_attempt_at=timezone.now())
    services.deliveries_drain(seconds=5)

    done = get(client, first, token).json()
    assert done["status"] == "delivered"
    assert done["warnings"] == ["No Intercom contact has External ID “u-1”: nothing was deleted."]


def test_the_api_takes_chosen_destinations(client, source, destination, token):
    other = console_services.destination_create(
        source=source, name="Second", workspace=destination.workspace
    )

    response = post(client, {"userId": "u-1", "destinations": [other.pk]}, token)

    assert response.status_code == 202
    assert [d["destination"] for d in response.json()["deletions"]] == [other.pk]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("{not json", "invalid_json", "not valid JSON"),
        ("[1, 2]", "invalid_json", "must be a JSON object"),
        ({}, "invalid_user_id", "Give the person's “userId”"),
        ({"userId": ""}, "invalid_user_id", "it is empty"),
        ({"userId": None}, "invalid_user_id", "must be a string"),
        ({"userId": "x" * 300}, "invalid_user_id", "Ferry keeps at most 255"),
        ({"userId": "u", "destinations": "all"}, "invalid_destinations", "list of destination"),
        ({"userId": "u", "destinations": [True]}, "invalid_destinations", "list of destination"),
        ({"userId": "u", "destinations": [999999]}, "unknown_destination", "999999"),
    ],
)
def test_the_api_refuses_bad_requests(client, destination, token, body, code, message):
    response = post(client, body, token)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert message in response.json()["message"]
    assert not Delivery.objects.exists()


def test_the_api_refuses_a_destination_without_workspace(client, source, destination, token):
    bare = console_services.destination_create(source=source, name="Not connected")

    response = post(client, {"userId": "u-1", "destinations": [bare.pk]}, token)

    assert response.status_code == 400
    assert response.json()["code"] == "no_workspace"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_token"),
        ("Basic dXNlcjo=", "missing_token"),
        ("Bearer ", "missing_token"),
        ("Bearer ferry_not-a-token", "invalid_token"),
    ],
)
def test_the_api_needs_a_known_token(client, destination, token, authorization, code):
    headers = {"authorization": authorization} if authorization else {}

    created = post(client, {"userId": "u-1"}, **headers)
    looked_up = client.get("/api/v1/deletions/1", headers=headers)

    for response in (created, looked_up):
        assert response.status_code == 401
        assert response.json()["code"] == code
        assert response["WWW-Authenticate"].startswith('Bearer realm="Ferry"')
    assert not Delivery.objects.exists()


def test_a_deleted_token_stops_working(client, destination, token):
    console_services.api_token_delete(api_token=ApiToken.objects.get())

    response = post(client, {"userId": "u-1"}, token)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_token_cannot_touch_another_organisation(
    client, organization, destination, token, other_token
):
    (theirs,) = request_deletion(organization)

    named = post(client, {"userId": "u-1", "destinations": [destination.pk]}, other_token)
    everywhere = post(client, {"userId": "u-1"}, other_token)
    looked_up = get(client, theirs.pk, other_token)

    assert named.status_code == 400
    assert named.json()["code"] == "unknown_destination"
    assert everywhere.status_code == 400
    assert everywhere.json()["code"] == "no_destination"
    assert looked_up.status_code == 404
    assert looked_up.json()["code"] == "not_found"
    assert Delivery.objects.count() == 1
    assert get(client, theirs.pk, token).status_code == 200


def test_only_deletions_are_looked_up(client, source, destination, add_mapping, token):
    add_mapping("track_event")
    accept_messages(
        source=source,
        incoming=[Incoming({"type": "track", "messageId": "m", "userId": "u", "event": "E"})],
        received_at=timezone.now(),
    )

    response = get(client, Delivery.objects.get().pk, token)

    assert response.status_code == 404


def test_the_api_answers_its_methods_only(client, token):
    wrong_create = client.get("/api/v1/deletions", headers={"authorization": f"Bearer {token}"})
    wrong_status = client.delete(
        "/api/v1/deletions/1", headers={"authorization": f"Bearer {token}"}
    )

    assert (wrong_create.status_code, wrong_create["Allow"]) == (405, "POST")
    assert (wrong_status.status_code, wrong_status["Allow"]) == (405, "GET")
    assert wrong_create.json()["code"] == "method_not_allowed"


def test_the_api_is_not_behind_the_console_login_nor_csrf(destination, token):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    response = post(strict, {"userId": "u-1"}, token)

    assert response.status_code == 202


def test_last_use_is_written_at_most_once_a_minute(client, destination, token):
    api_token = ApiToken.objects.get()
    a_while_ago = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=a_while_ago)

    post(client, {"userId": "u-1"}, token)
    api_token.refresh_from_db()
    assert api_token.last_used_at == a_while_ago

    ApiToken.objects.update(last_used_at=a_while_ago - timedelta(minutes=1))
    post(client, {"userId": "u-1"}, token)
    api_token.refresh_from_db()
    assert api_token.last_used_at > a_while_ago
