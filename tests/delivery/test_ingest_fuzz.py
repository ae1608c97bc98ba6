"""Hostile input to every /v1 endpoint: never a 500, never a partial write,
always a JSON answer that says what was wrong."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.models import Event

pytestmark = pytest.mark.django_db

ENDPOINTS = ["identify", "track", "group", "page", "screen", "alias", "batch", "import"]
CONTENT_TYPES = ["application/json", "text/plain", "application/xml", "", "multipart/form-data"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "group", "page", "screen", "alias", "x"])
        | json_values,
        "userId": st.text(max_size=20) | json_values,
        "anonymousId": st.text(max_size=20) | json_values,
        "messageId": st.text(max_size=120) | json_values,
        "event": st.text(max_size=20) | json_values,
        "groupId": json_values,
        "previousId": json_values,
        "timestamp": st.text(max_size=30) | json_values,
        "sentAt": st.text(max_size=30) | json_values,
        "properties": json_values,
        "traits": json_values,
        "context": json_values,
        "integrations": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    messages.map(lambda message: json.dumps(message).encode()),
    st.lists(messages, max_size=8).map(lambda batch: json.dumps({"batch": batch}).encode()),
    st.builds(
        lambda batch, context: json.dumps({"batch": batch, "context": context}).encode(),
        st.lists(messages, max_size=3),
        json_values,
    ),
    st.integers(min_value=1, max_value=60).map(
        lambda depth: ("[" * depth * 10 + "]" * depth * 10).encode()
    ),
    st.just(b'{"batch": [' + b'{"type": "track", "userId": "u", "event": "x"},' * 3 + b"]}"),
    st.just(json.dumps({"userId": "u", "event": "e", "note": "\u0000"}).encode()),
    st.just(b'{"userId": "\xff\xfe", "event": "e"}'),
    st.just(json.dumps({"userId": "u", "event": "e", "big": "x" * 40_000}).encode()),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    compress=st.sampled_from(["none", "gzip", "broken gzip"]),
)
def test_no_input_breaks_the_api(client, source_and_key, endpoint, body, content_type, compress):
    _, write_key = source_and_key
    if compress == "gzip":
        body, headers = gzip.compress(body), {"HTTP_CONTENT_ENCODING": "gzip"}
    elif compress == "broken gzip":
        body, headers = b"\x1f\x8b\x08\x00" + body, {"HTTP_CONTENT_ENCODING": "gzip"}
    else:
        headers = {}
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    before = Event.objects.count()

    response = client.post(
        f"/v1/{endpoint}",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=auth,
        **headers,
    )

    assert response.status_code != 500
    answer = response.json()
    stored = Event.objects.count() - before
    if response.status_code == 200:
        assert answer == {"success": True}
        sent = json.loads(gzip.decompress(body) if compress == "gzip" else body)
        batch = endpoint in ("batch", "import")
        assert stored == (len(sent["batch"]) if batch else 1)
    else:
        assert set(answer) == {"code", "message"}
        assert answer["message"]
        assert stored == 0
