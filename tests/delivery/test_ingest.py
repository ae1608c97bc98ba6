"""Segment's HTTP tracking API as Ferry serves it: who may send, what is
refused whole, what is stored as rejected, and how messages are normalised."""

from __future__ import annotations

import base64
import gc
import gzip
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from segment.analytics import request as segment_request
from segment.analytics.client import Client
from segment.analytics.request import APIError

from console import services
from delivery.models import Event

pytestmark = pytest.mark.django_db

BODY_LIMIT = 500 * 1024
MESSAGE_LIMIT = 32 * 1024
ISO_MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

VALID_MESSAGES = {
    "identify": {"userId": "user-1", "traits": {"email": "ada@example.com"}},
    "track": {"userId": "user-1", "event": "Order Completed", "properties": {"total": 30}},
    "group": {"userId": "user-1", "groupId": "company-9", "traits": {"name": "Acme"}},
    "page": {"anonymousId": "anon-1", "name": "Pricing", "properties": {"path": "/pricing"}},
    "screen": {"anonymousId": "anon-1", "name": "Home"},
    "alias": {"userId": "user-1", "previousId": "anon-1"},
}


@pytest.fixture
def write_key(source_and_key):
    return source_and_key[1]


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def send(client, path, body, *, key=None, content_type="application/json", **headers):
    """POST ``body`` (a dict, or bytes sent as they are) to ``path``."""
    data = body if isinstance(body, bytes) else json.dumps(body)
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = basic(f"{key}:")
    return client.post(path, data, content_type=content_type, **headers)


def track(**fields):
    return {"type": "track", "userId": "user-1", "event": "Signed Up", **fields}


def events():
    return list(Event.objects.order_by("id"))


def padded(document: dict, size: int) -> bytes:
    """``document`` as JSON of exactly ``size`` bytes (whitespace is free in JSON)."""
    body = json.dumps(document).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def message_of_size(size: int, **fields) -> dict:
    """A valid track message whose compact JSON is exactly ``size`` bytes."""
    message = track(properties={"padding": ""}, **fields)
    compact = len(json.dumps(message, separators=(",", ":")).encode())
    message["properties"]["padding"] = "x" * (size - compact)
    return message


# Endpoints


@pytest.mark.parametrize("call", list(VALID_MESSAGES))
def test_each_single_message_endpoint_stores_its_call(client, source_and_key, call):
    source, write_key = source_and_key

    response = send(client, f"/v1/{call}", VALID_MESSAGES[call], key=write_key)

    assert response.status_code == 200
    assert response.json() == {"success": True}
    [event] = events()
    assert event.source == source
    assert event.type == call
    assert event.payload["type"] == call
    assert event.status == Event.Status.NO_MATCH


def test_the_endpoint_decides_the_type_of_a_single_message(client, write_key):
    send(client, "/v1/track", track(type="identify"), key=write_key)

    [event] = events()
    assert event.type == "track"
    assert event.payload["type"] == "track"
    assert event.event_name == "Signed Up"


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/batch/", "/v1/import", "/v1/import/"])
def test_batch_and_its_import_alias_store_every_message(client, write_key, path):
    batch = [{"type": call, **message} for call, message in VALID_MESSAGES.items()]

    response = send(client, path, {"batch": batch}, key=write_key)

    assert response.status_code == 200
    assert [event.type for event in events()] == list(VALID_MESSAGES)


def test_a_trailing_slash_is_optional(client, write_key):
    assert send(client, "/v1/track/", track(), key=write_key).status_code == 200
    assert send(client, "/v1/track", track(), key=write_key).status_code == 200
    assert len(events()) == 2


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_allowed(client, write_key, method):
    response = getattr(client, method)("/v1/track", HTTP_AUTHORIZATION=basic(f"{write_key}:"))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"
    assert events() == []


# Authentication


def test_basic_auth_with_the_trailing_colon(client, source_and_key):
    source, write_key = source_and_key

    response = client.post(
        "/v1/track",
        json.dumps(track()),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(f"{write_key}:"),
    )

    assert response.status_code == 200
    assert events()[0].source == source


def test_basic_auth_without_the_colon_still_works(client, source_and_key):
    source, write_key = source_and_key

    response = client.post(
        "/v1/track",
        json.dumps(track()),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )

    assert response.status_code == 200
    assert events()[0].source == source


def test_write_key_in_the_body_and_it_is_not_stored(client, source_and_key):
    source, write_key = source_and_key

    single = send(client, "/v1/track", track(writeKey=write_key))
    batched = send(
        client, "/v1/batch", {"writeKey": write_key, "batch": [track(writeKey=write_key)]}
    )

    assert single.status_code == batched.status_code == 200
    stored = events()
    assert [event.source for event in stored] == [source, source]
    assert all("writeKey" not in event.payload for event in stored)
    assert write_key not in json.dumps([event.payload for event in stored])


def test_an_oauth_bearer_token_leaves_the_write_key_to_the_body(client, source_and_key):
    source, write_key = source_and_key

    response = send(
        client, "/v1/track", track(writeKey=write_key), HTTP_AUTHORIZATION="Bearer token"
    )

    assert response.status_code == 200
    assert events()[0].source == source


def test_basic_auth_wins_over_the_body(client, organization, source_and_key):
    source, write_key = source_and_key
    _, other_key = services.source_create(organization=organization, name="Backend")

    accepted = send(client, "/v1/track", track(writeKey=other_key), key=write_key)
    refused = send(client, "/v1/track", track(writeKey=write_key), key="not-a-key")

    assert accepted.status_code == 200
    assert [event.source for event in events()] == [source]
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("authorization", "body_key", "expected"),
    [
        (None, None, "No write key"),
        (None, "", "No write key"),
        (None, 42, "No write key"),
        (basic(":"), None, "No write key"),
        ("Bearer some-oauth-token", None, "No write key"),
        (basic("wrong-key:"), None, "belongs to no source"),
        (None, "wrong-key", "belongs to no source"),
        ("Basic not base64!", None, "not valid Basic credentials"),
    ],
)
def test_a_missing_or_unknown_write_key_is_refused(
    client, write_key, authorization, body_key, expected
):
    body = track() if body_key is None else track(writeKey=body_key)
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = send(client, "/v1/track", body, **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Ferry"'
    assert response.json()["code"] == "unauthorized"
    assert expected in response.json()["message"]
    assert events() == []


# Content type and encoding


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/plain"]
)
def test_json_bodies_are_accepted_under_json_and_plain_text(client, write_key, content_type):
    response = send(client, "/v1/track", track(), key=write_key, content_type=content_type)

    assert response.status_code == 200
    assert len(events()) == 1


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/html", ""])
def test_other_content_types_are_refused(client, write_key, content_type):
    response = send(client, "/v1/track", track(), key=write_key, content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert "application/json" in response.json()["message"]
    assert events() == []


def test_a_gzip_body_is_decompressed(client, write_key):
    body = gzip.compress(json.dumps({"batch": [track(), track(event="Logged In")]}).encode())

    response = send(client, "/v1/batch", body, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert [event.event_name for event in events()] == ["Signed Up", "Logged In"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"batch": []}',
        gzip.compress(b'{"batch": []}')[:-6],
        gzip.compress(b'{"batch": []}') + b"trailing garbage",
    ],
    ids=["not gzip", "truncated", "trailing garbage"],
)
def test_a_bad_gzip_body_is_refused(client, write_key, body):
    response = send(client, "/v1/batch", body, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_gzip"


def test_a_zip_bomb_is_refused_without_inflating_it(client, write_key):
    bomb = gzip.compress(b'{"batch": [], "padding": "' + b"0" * 50_000_000 + b'"}')
    assert len(bomb) < 100_000

    response = send(client, "/v1/batch", bomb, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "too_large"


def test_another_content_encoding_is_refused(client, write_key):
    response = send(client, "/v1/track", track(), key=write_key, HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    assert "Content-Encoding 'br'" in response.json()["message"]


# Limits


def test_a_body_of_exactly_500_kb_is_accepted(client, write_key):
    response = send(client, "/v1/batch", padded({"batch": [track()]}, BODY_LIMIT), key=write_key)

    assert response.status_code == 200
    assert len(events()) == 1


def test_a_body_one_byte_over_500_kb_is_refused(client, write_key):
    body = padded({"batch": [track()]}, BODY_LIMIT + 1)

    response = send(client, "/v1/batch", body, key=write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "too_large",
        "message": "The body is larger than 512000 bytes (500 KB).",
    }
    assert events() == []


def test_a_body_far_beyond_djangos_upload_limit_still_gets_a_json_answer(client, write_key):
    body = padded({"batch": [track()]}, 3 * 1024 * 1024)

    response = send(client, "/v1/batch", body, key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == "too_large"


@pytest.mark.parametrize(("size", "status"), [(BODY_LIMIT, 200), (BODY_LIMIT + 1, 400)])
def test_the_body_limit_applies_after_decompression(client, write_key, size, status):
    body = gzip.compress(padded({"batch": [track()]}, size))
    assert len(body) < 10_000

    response = send(client, "/v1/batch", body, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == status
    assert len(events()) == (1 if status == 200 else 0)


def test_a_batch_of_2500_messages_is_accepted(client, write_key):
    batch = [track(messageId=f"m-{number}") for number in range(2500)]

    response = send(client, "/v1/batch", {"batch": batch}, key=write_key)

    assert response.status_code == 200
    assert Event.objects.count() == 2500


def test_a_batch_of_2501_messages_is_refused_whole(client, write_key):
    batch = [track(messageId=f"m-{number}") for number in range(2501)]

    response = send(client, "/v1/batch", {"batch": batch}, key=write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "too_many_messages",
        "message": "The batch has 2501 messages; the limit is 2500.",
    }
    assert Event.objects.count() == 0


def test_a_message_of_exactly_32_kb_is_accepted(client, write_key):
    single = send(client, "/v1/track", message_of_size(MESSAGE_LIMIT), key=write_key)
    batched = send(client, "/v1/batch", {"batch": [message_of_size(MESSAGE_LIMIT)]}, key=write_key)

    assert single.status_code == batched.status_code == 200
    assert [event.status for event in events()] == [Event.Status.NO_MATCH] * 2


def test_a_single_message_one_byte_over_32_kb_is_refused(client, write_key):
    response = send(client, "/v1/track", message_of_size(MESSAGE_LIMIT + 1), key=write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "too_large",
        "message": "The message is 32769 bytes of JSON; the limit is 32768 bytes (32 KB).",
    }
    assert events() == []


def test_a_batched_message_over_32_kb_is_stored_as_a_small_stand_in(client, write_key):
    oversized = message_of_size(
        MESSAGE_LIMIT + 1, messageId="big-1", anonymousId="anon-1", event="Exported"
    )

    response = send(client, "/v1/batch", {"batch": [oversized, track()]}, key=write_key)

    assert response.status_code == 200
    rejected, accepted = events()
    assert rejected.status == Event.Status.REJECTED
    assert rejected.reason == (
        "The message is 32769 bytes of JSON; the limit is 32768 bytes (32 KB)."
    )
    assert rejected.payload == {
        "type": "track",
        "messageId": "big-1",
        "userId": "user-1",
        "anonymousId": "anon-1",
        "event": "Exported",
        "size": MESSAGE_LIMIT + 1,
    }
    assert accepted.status == Event.Status.NO_MATCH


# Requests refused whole


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        ("/v1/batch", b'{"batch": [', "invalid_json", "The body is not valid JSON"),
        ("/v1/track", b"  ", "invalid_json", "The body is not valid JSON"),
        ("/v1/track", b"\xff\xfe\xfd", "invalid_json", "The body is not valid JSON"),
        ("/v1/track", b'{"userId": NaN}', "invalid_json", "NaN is not a JSON value"),
        ("/v1/track", b"[" * 100_000 + b"]" * 100_000, "invalid_json", "nested too deeply"),
        ("/v1/track", b'["not", "an", "object"]', "invalid_body", "must be a JSON object"),
        ("/v1/batch", b'{"batch": {"type": "track"}}', "invalid_body", "batch must be a list"),
        ("/v1/batch", b"{}", "invalid_body", "batch must be a list"),
        ("/v1/batch", b'{"batch": [], "context": []}', "invalid_body", "context must be"),
        (
            "/v1/batch",
            b'{"batch": [], "context": {"ip": "\\u0000"}}',
            "invalid_body",
            "context.ip contains a NUL character",
        ),
    ],
)
def test_a_malformed_request_is_refused_and_nothing_is_stored(
    client, write_key, path, body, code, message
):
    before = Event.objects.count()

    response = send(client, path, body, key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert message in response.json()["message"]
    assert Event.objects.count() == before


def test_basic_credentials_are_checked_before_the_body_is_read(client, write_key):
    with_basic = send(client, "/v1/track", b"{not json", key="wrong-key")
    without = send(client, "/v1/track", b"{not json")

    assert with_basic.status_code == 401
    assert without.status_code == 400
    assert without.json()["code"] == "invalid_json"


# Messages stored as rejected


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("just a string", "The message is not a JSON object."),
        (
            {"userId": "user-1", "event": "Signed Up"},
            "The message has no type; it must be one of identify, track, group, page, screen, "
            "alias.",
        ),
        (
            track(type="purchase"),
            'The type "purchase" is not one of identify, track, group, page, screen, alias.',
        ),
        (
            track(userId=None),
            "The message has neither a userId nor an anonymousId; a call needs one of them.",
        ),
        (
            track(userId="", anonymousId=None),
            "The message has neither a userId nor an anonymousId; a call needs one of them.",
        ),
        (track(userId={"id": 1}), "userId must be a string or a number."),
        (track(anonymousId=True), "anonymousId must be a string or a number."),
        (track(event=None), "A track call needs an event name (a non-empty string)."),
        (track(event=""), "A track call needs an event name (a non-empty string)."),
        (track(event=["Signed Up"]), "A track call needs an event name (a non-empty string)."),
        ({"type": "group", "userId": "user-1"}, "A group call needs a groupId."),
        ({"type": "alias", "previousId": "anon-1"}, "An alias call needs a userId (the new id)."),
        (
            {"type": "alias", "userId": "user-1"},
            "An alias call needs a previousId (the id it replaces).",
        ),
        (track(messageId=12345), "messageId must be a string."),
        (track(messageId="m" * 101), "messageId is 101 characters long; the limit is 100."),
        (track(properties=["a", "b"]), "properties must be a JSON object."),
        ({"type": "identify", "userId": "u", "traits": "vip"}, "traits must be a JSON object."),
        (track(context="web"), "context must be a JSON object."),
        (track(integrations=True), "integrations must be a JSON object."),
        (
            track(properties={"note": "a\x00b"}),
            "properties.note contains a NUL character or an unpaired surrogate, which cannot "
            "be stored.",
        ),
        (
            track(properties={"items": [{"name": "\ud800"}]}),
            "properties.items[0].name contains a NUL character or an unpaired surrogate, "
            "which cannot be stored.",
        ),
        (
            track(properties={"bad\x00key": 1}),
            "A key in properties contains a NUL character or an unpaired surrogate, which "
            "cannot be stored.",
        ),
        (
            track(properties={"deep": json.loads("[" * 100 + "]" * 100)}),
            "The message is nested more than 100 levels deep.",
        ),
    ],
)
def test_an_invalid_message_is_stored_as_rejected_beside_the_rest(
    client, write_key, message, reason
):
    response = send(client, "/v1/batch", {"batch": [message, track()]}, key=write_key)

    assert response.status_code == 200
    rejected, accepted = events()
    assert rejected.status == Event.Status.REJECTED
    assert rejected.reason == reason
    assert accepted.status == Event.Status.NO_MATCH
    assert accepted.event_name == "Signed Up"


def test_a_message_nested_exactly_100_levels_deep_is_accepted(client, write_key):
    # The message is level 1 and properties level 2: 98 lists inside reach level 100.
    message = track(properties={"deep": json.loads("[" * 98 + "]" * 98)})

    send(client, "/v1/batch", {"batch": [message]}, key=write_key)

    assert [event.status for event in events()] == [Event.Status.NO_MATCH]


@pytest.mark.parametrize(
    "properties",
    [{"path": "C:\\u0000"}, {"rows": [[] for _ in range(150)]}],
    ids=["an escaped backslash before u0000", "many brackets, little depth"],
)
def test_a_message_that_only_looks_unstorable_is_kept_whole(client, write_key, properties):
    send(client, "/v1/batch", {"batch": [track(properties=properties)]}, key=write_key)

    [event] = events()
    assert event.status == Event.Status.NO_MATCH
    assert event.payload["properties"] == properties


def test_a_number_too_large_for_a_double_is_rejected(client, write_key):
    body = (
        b'{"batch": [{"type": "track", "userId": "u", "event": "E", "properties": {"n": 1e999}}]}'
    )

    response = send(client, "/v1/batch", body, key=write_key)

    assert response.status_code == 200
    [rejected] = events()
    assert rejected.reason == "properties.n is a number too large to store."


def test_a_message_that_cannot_be_stored_keeps_only_what_identifies_it(client, write_key):
    message = track(messageId="m-1", properties={"note": "\x00"})

    send(client, "/v1/batch", {"batch": [message]}, key=write_key)

    [rejected] = events()
    assert rejected.payload == {
        "type": "track",
        "messageId": "m-1",
        "userId": "user-1",
        "event": "Signed Up",
    }


def test_a_rejected_message_keeps_what_was_sent(client, write_key):
    message = {"type": "track", "anonymousId": None, "properties": {"plan": "pro"}}

    send(client, "/v1/batch", {"batch": [message]}, key=write_key)

    [rejected] = events()
    assert rejected.payload["properties"] == {"plan": "pro"}
    assert rejected.payload["anonymousId"] is None


def test_a_single_invalid_message_is_answered_200_and_stored_as_rejected(client, write_key):
    response = send(client, "/v1/identify", {"traits": {"email": "ada@example.com"}}, key=write_key)

    assert response.status_code == 200
    [rejected] = events()
    assert rejected.type == "identify"
    assert rejected.status == Event.Status.REJECTED
    assert "neither a userId nor an anonymousId" in rejected.reason


# Normalisation


def test_batch_context_and_integrations_are_merged_into_every_message(client, write_key):
    body = {
        "context": {
            "ip": "203.0.113.9",
            "library": {"name": "analytics-ruby", "version": "2.4.0"},
            "app": {"name": "Shop", "version": "1.0"},
        },
        "integrations": {"All": False, "Intercom": {"appId": "batch"}},
        "batch": [
            track(context={"app": {"version": "2.0"}, "locale": "fr-FR"}),
            track(context={"ip": "198.51.100.1"}, integrations={"Intercom": {"appId": "own"}}),
            track(),
        ],
    }

    send(client, "/v1/batch", body, key=write_key)

    first, second, third = (event.payload for event in events())
    assert first["context"] == {
        "ip": "203.0.113.9",
        "library": {"name": "analytics-ruby", "version": "2.4.0"},
        "app": {"name": "Shop", "version": "2.0"},
        "locale": "fr-FR",
    }
    assert first["integrations"] == {"All": False, "Intercom": {"appId": "batch"}}
    assert second["context"]["ip"] == "198.51.100.1"
    assert second["integrations"] == {"All": False, "Intercom": {"appId": "own"}}
    assert third["context"] == body["context"]


def test_a_missing_message_id_is_filled_and_a_given_one_kept(client, write_key):
    batch = [
        track(),
        track(messageId=None),
        track(messageId=""),
        track(messageId="client-chosen"),
        track(messageId="m" * 100),
    ]

    send(client, "/v1/batch", {"batch": batch}, key=write_key)

    stored = events()
    filled = [event.payload["messageId"] for event in stored[:3]]
    assert all(re.fullmatch(r"ferry-[0-9a-f-]{36}", message_id) for message_id in filled)
    assert len(set(filled)) == 3
    assert [event.message_id for event in stored[:3]] == filled
    assert stored[3].payload["messageId"] == "client-chosen"
    assert stored[4].status == Event.Status.NO_MATCH


def test_a_repeated_message_id_is_recorded_as_a_duplicate(client, write_key):
    send(client, "/v1/track", track(messageId="m-1"), key=write_key)
    send(client, "/v1/track", track(messageId="m-1"), key=write_key)

    assert [event.status for event in events()] == [
        Event.Status.NO_MATCH,
        Event.Status.DUPLICATE,
    ]


def test_numeric_ids_become_strings_and_null_ids_count_as_absent(client, write_key):
    batch = [
        {"type": "track", "userId": 42, "anonymousId": None, "event": "Paid"},
        {"type": "group", "anonymousId": 7, "groupId": 1001},
        {"type": "alias", "userId": 43, "previousId": 42},
    ]

    send(client, "/v1/batch", {"batch": batch}, key=write_key)

    tracked, grouped, aliased = events()
    assert tracked.payload["userId"] == "42"
    assert tracked.payload["anonymousId"] is None
    assert tracked.user_id == "42"
    assert grouped.payload["anonymousId"] == "7"
    assert grouped.payload["groupId"] == "1001"
    assert (aliased.payload["userId"], aliased.payload["previousId"]) == ("43", "42")


def received_moment(event: Event) -> datetime:
    return datetime.fromisoformat(event.payload["receivedAt"])


def test_received_at_is_the_server_time_in_milliseconds(client, write_key):
    before = datetime.now(UTC)
    send(client, "/v1/track", track(receivedAt="2000-01-01T00:00:00Z"), key=write_key)
    after = datetime.now(UTC)

    [event] = events()
    assert ISO_MILLISECONDS_UTC.match(event.payload["receivedAt"])
    assert before - timedelta(milliseconds=1) <= received_moment(event) <= after
    assert event.received_at == received_moment(event)


def test_timestamp_is_corrected_for_the_clock_skew_of_the_client(client, write_key):
    # The client's clock runs ahead: it says it sent the batch 10.5 s after the event.
    body = {
        "sentAt": "2030-01-01T00:00:10.500Z",
        "batch": [track(timestamp="2030-01-01T00:00:00.000Z")],
    }

    send(client, "/v1/batch", body, key=write_key)

    [event] = events()
    payload = event.payload
    assert payload["sentAt"] == "2030-01-01T00:00:10.500Z"
    assert payload["originalTimestamp"] == "2030-01-01T00:00:00.000Z"
    expected = received_moment(event) - timedelta(seconds=10.5)
    assert payload["timestamp"] == expected.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    assert event.timestamp == expected


def test_the_messages_own_sent_at_and_original_timestamp_win(client, write_key):
    body = {
        "sentAt": "2030-01-01T00:00:00Z",
        "batch": [
            track(
                sentAt="2024-05-01T12:00:05+02:00",
                originalTimestamp="2024-05-01T10:00:00Z",
                timestamp="1999-01-01T00:00:00Z",
            )
        ],
    }

    send(client, "/v1/batch", body, key=write_key)

    [event] = events()
    assert event.payload["sentAt"] == "2024-05-01T12:00:05+02:00"
    assert event.payload["originalTimestamp"] == "2024-05-01T10:00:00Z"
    assert event.timestamp == received_moment(event) - timedelta(seconds=5)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"timestamp": "2024-05-01T10:00:00+02:00"}, "2024-05-01T08:00:00.000Z"),
        ({"timestamp": "2024-05-01T08:00:00"}, "2024-05-01T08:00:00.000Z"),
        ({"timestamp": "2024-05-01T08:00:00Z", "sentAt": "yesterday"}, "2024-05-01T08:00:00.000Z"),
    ],
)
def test_without_a_usable_sent_at_the_clients_timestamp_is_kept(
    client, write_key, fields, expected
):
    send(client, "/v1/track", track(**fields), key=write_key)

    [event] = events()
    assert event.payload["timestamp"] == expected
    assert event.payload["originalTimestamp"] == fields["timestamp"]


@pytest.mark.parametrize("fields", [{}, {"timestamp": "last tuesday"}, {"timestamp": 1714550400}])
def test_without_a_usable_timestamp_the_event_happened_when_received(client, write_key, fields):
    send(client, "/v1/track", track(**fields), key=write_key)

    [event] = events()
    assert event.payload["timestamp"] == event.payload["receivedAt"]
    assert event.timestamp == event.received_at


def test_a_correction_beyond_the_calendar_keeps_the_clients_timestamp(client, write_key):
    fields = {"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}

    send(client, "/v1/track", track(**fields), key=write_key)

    [event] = events()
    assert event.payload["timestamp"] == "0001-01-01T00:00:00.000Z"


# The real client library


@pytest.fixture
def segment_http_session(monkeypatch):
    """analytics-python posts through one module-wide keep-alive session, and
    the live server serves each connection in a thread that shares the test's
    database connection: those threads must end before the server stops. So
    the connections are closed (an APIError's traceback holds its connection
    until collected) and the threads awaited."""
    session = requests.Session()
    monkeypatch.setattr(segment_request, "_session", session)
    yield
    session.close()
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_segments_python_library_is_served(
    live_server, segment_http_session, source_and_key, compressed
):
    source, write_key = source_and_key
    analytics = Client(write_key, host=live_server.url, sync_mode=True, gzip=compressed)

    analytics.identify("user-1", {"email": "ada@example.com"}, message_id="m-identify")
    analytics.track("user-1", "Order Completed", {"total": 30})
    analytics.group("user-1", "company-9", {"name": "Acme"})
    analytics.page(anonymous_id="anon-1", name="Pricing", properties={"path": "/pricing"})
    analytics.screen("user-1", name="Home")
    analytics.alias("anon-1", "user-1")
    analytics.flush()

    stored = events()
    assert [event.type for event in stored] == [
        "identify",
        "track",
        "group",
        "page",
        "screen",
        "alias",
    ]
    assert {event.source for event in stored} == {source}
    assert {event.status for event in stored} == {Event.Status.NO_MATCH}
    identify, tracked, grouped, page, screen, alias = (event.payload for event in stored)
    assert identify["messageId"] == "m-identify"
    assert identify["traits"] == {"email": "ada@example.com"}
    assert identify["context"]["library"]["name"] == "analytics-python"
    assert tracked["event"] == "Order Completed"
    assert tracked["properties"] == {"total": 30}
    assert grouped["groupId"] == "company-9"
    assert page["anonymousId"] == "anon-1"
    assert page["userId"] is None
    assert screen["name"] == "Home"
    assert (alias["previousId"], alias["userId"]) == ("anon-1", "user-1")
    for payload in (event.payload for event in stored):
        assert "writeKey" not in payload
        assert payload["sentAt"]
        assert payload["originalTimestamp"]
        assert ISO_MILLISECONDS_UTC.match(payload["timestamp"])


@pytest.mark.django_db(transaction=True)
def test_segments_python_library_reads_a_refusal(live_server, segment_http_session, write_key):
    analytics = Client("not-a-write-key", host=live_server.url, sync_mode=True)

    with pytest.raises(APIError) as refusal:
        analytics.track("user-1", "Order Completed")

    assert (refusal.value.status, refusal.value.code) == (401, "unauthorized")
    assert refusal.value.message == "This write key belongs to no source."
    assert events() == []
