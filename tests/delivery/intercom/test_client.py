from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from delivery.intercom.client import (
    RESPONSE_BODY_LIMIT,
    USER_AGENT,
    IntercomClient,
    IntercomError,
    Outcome,
    classify,
)
from delivery.sandbox import IntercomSandbox


def test_every_request_carries_the_contract_headers(sandbox, intercom):
    intercom.request("POST", "/contacts", body={"role": "user", "external_id": "u1"})

    sent = sandbox.requests[-1].headers
    assert sent["authorization"] == f"Bearer {sandbox.access_token}"
    assert sent["accept"] == "application/json"
    assert sent["content-type"] == "application/json"
    assert sent["intercom-version"] == "2.13"
    assert sent["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("Ferry/")


def test_the_version_is_pinned_per_workspace(sandbox):
    intercom = IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token, version="2.14")

    intercom.request("GET", "/me")

    assert sandbox.requests[-1].headers["intercom-version"] == "2.14"
    assert "content-type" not in sandbox.requests[-1].headers


def test_an_exchange_is_recorded_as_data_without_the_token(sandbox, intercom):
    response = intercom.request("POST", "/contacts", body={"role": "user", "email": "a@b.test"})

    exchange = response.exchange
    assert exchange.method == "POST"
    assert exchange.url == f"{sandbox.base_url}/contacts"
    assert exchange.request_body == {"role": "user", "email": "a@b.test"}
    assert exchange.status == 200
    assert json.loads(exchange.response_body)["email"] == "a@b.test"
    assert exchange.duration_ms >= 0
    assert exchange.rate_limit is not None and exchange.rate_limit.remaining is not None
    assert sandbox.access_token not in json.dumps(exchange.as_dict())
    assert intercom.exchanges == [exchange]


def test_connections_are_reused(sandbox, intercom):
    for number in range(5):
        intercom.request("POST", "/contacts", body={"role": "user", "external_id": f"u{number}"})

    connections = {request.connection for request in sandbox.requests}
    assert len(connections) == 1


def test_long_response_bodies_are_truncated(sandbox, intercom):
    sandbox.fail(status=500, body="x" * (RESPONSE_BODY_LIMIT * 2))

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert len(failure.value.exchange.response_body) == RESPONSE_BODY_LIMIT


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (400, Outcome.PERMANENT),
        (401, Outcome.NEEDS_RECONNECT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (406, Outcome.PERMANENT),
        (408, Outcome.RETRYABLE),
        (409, Outcome.PERMANENT),
        (422, Outcome.PERMANENT),
        (423, Outcome.RETRYABLE),
        (429, Outcome.RETRYABLE),
        (500, Outcome.RETRYABLE),
        (502, Outcome.RETRYABLE),
        (503, Outcome.RETRYABLE),
        (504, Outcome.RETRYABLE),
    ],
)
def test_statuses_are_classified_as_the_contract_says(status, outcome):
    assert classify(status) is outcome


@pytest.mark.parametrize("status", [400, 403, 404, 422, 500, 503])
def test_an_error_answer_is_raised_with_intercoms_words(sandbox, intercom, status):
    sandbox.fail(status=status)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.status == status
    assert failure.value.outcome is classify(status)
    assert failure.value.message.startswith(f"Intercom answered {status}: ")
    assert failure.value.exchange.status == status


def test_a_revoked_token_needs_reconnection(sandbox, intercom):
    sandbox.revoke(sandbox.access_token)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.NEEDS_RECONNECT
    assert "Access Token Invalid" in failure.value.message


def test_a_429_is_retried_at_the_window_reset():
    sandbox = IntercomSandbox(rate_limit=2)
    sandbox.start(host="127.0.0.1", port=0)
    try:
        intercom = IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token)
        intercom.request("GET", "/me")
        second = intercom.request("GET", "/me")
        assert second.exchange.rate_limit.remaining == 0

        with pytest.raises(IntercomError) as failure:
            intercom.request("GET", "/me")
    finally:
        sandbox.stop()

    assert failure.value.outcome is Outcome.RETRYABLE
    assert failure.value.status == 429
    reset = second.exchange.rate_limit.reset
    assert failure.value.retry_at == datetime.fromtimestamp(reset, UTC)
    assert "rate limit" in failure.value.message.lower()


def test_retry_after_wins_over_the_reset(sandbox, intercom):
    sandbox.fail(status=503, headers={"Retry-After": "120"})

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    wait = (failure.value.retry_at - datetime.now(UTC)).total_seconds()
    assert 110 < wait <= 120


def test_a_timeout_is_retryable(sandbox):
    intercom = IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token, timeout=0.3)
    sandbox.fail(delay=2)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.RETRYABLE
    assert failure.value.message == "No answer within 0.3 seconds"
    assert failure.value.exchange.status is None
    assert failure.value.exchange.error == "No answer within 0.3 seconds"


def test_a_dropped_connection_is_retryable(sandbox, intercom):
    sandbox.fail(drop_connection=True)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.RETRYABLE
    assert failure.value.message.startswith("Connection failed")


def test_nobody_listening_is_retryable():
    intercom = IntercomClient(api_base="http://127.0.0.1:9", token="t")

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.RETRYABLE


def test_an_html_502_is_retryable_and_described(sandbox, intercom):
    sandbox.fail(status=502, html=True)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.RETRYABLE
    assert failure.value.message.startswith("Intercom answered 502: ")
    assert failure.value.data is None


def test_garbage_instead_of_json_is_kept_for_the_log(sandbox, intercom):
    sandbox.fail(status=500, garbage=True)

    with pytest.raises(IntercomError) as failure:
        intercom.request("GET", "/me")

    assert failure.value.outcome is Outcome.RETRYABLE
    assert failure.value.exchange.response_body
