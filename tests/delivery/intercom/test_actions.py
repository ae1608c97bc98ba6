"""Every row of the contract (intercom-actions.md), against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from delivery.intercom.actions import (
    delete_contact,
    identify_company,
    identify_contact,
    track_event,
)
from delivery.intercom.client import Outcome
from tests.delivery.conftest import api_calls

SEARCH = ("POST", "/contacts/search")


def _searched(sandbox) -> list[dict]:
    return [r.body["query"] for r in sandbox.requests if r.path == "/contacts/search"]


# Identify Contact


def test_a_new_user_is_searched_by_external_id_then_created(sandbox, intercom, cache):
    payload = {"role": "user", "external_id": "u-1", "email": "ann@example.test", "name": "Ann"}

    result = identify_contact(intercom, payload, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("POST", "/contacts")]
    assert _searched(sandbox) == [{"field": "external_id", "operator": "=", "value": "u-1"}]
    assert sandbox.requests[-1].body == payload
    assert [c["external_id"] for c in sandbox.contacts] == ["u-1"]
    assert len(result.exchanges) == 2


def test_a_known_user_is_updated(sandbox, intercom, cache):
    existing = sandbox.add_contact(role="user", external_id="u-1", email="old@example.test")

    result = identify_contact(
        intercom, {"role": "user", "external_id": "u-1", "email": "new@example.test"}, cache=cache
    )

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("PUT", f"/contacts/{existing['id']}")]
    assert sandbox.contacts[0]["email"] == "new@example.test"


def test_without_external_id_the_search_is_by_email(sandbox, intercom, cache):
    existing = sandbox.add_contact(role="user", email="ann@example.test")

    identify_contact(
        intercom, {"role": "user", "email": "ann@example.test", "name": "A"}, cache=cache
    )

    assert _searched(sandbox) == [{"field": "email", "operator": "=", "value": "ann@example.test"}]
    assert api_calls(sandbox)[-1] == ("PUT", f"/contacts/{existing['id']}")


def test_several_contacts_sharing_an_email_count_as_not_found(sandbox, intercom, cache):
    sandbox.add_contact(role="lead", email="shared@example.test")
    sandbox.add_contact(role="lead", email="shared@example.test")

    result = identify_contact(
        intercom, {"role": "user", "email": "shared@example.test"}, cache=cache
    )

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("POST", "/contacts")]
    assert cache.get("email", "shared@example.test") == sandbox.contacts[-1]["id"]


def test_a_malformed_search_answer_counts_as_not_found(sandbox, intercom, cache):
    sandbox.fail(status=200, path="/contacts/search", body={"total_count": True, "data": "?"})

    result = identify_contact(intercom, {"role": "user", "external_id": "u-1"}, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("POST", "/contacts")]


def test_a_lead_never_gets_an_external_id(sandbox, intercom, cache):
    result = identify_contact(
        intercom,
        {"role": "lead", "external_id": "u-1", "email": "lead@example.test"},
        cache=cache,
    )

    assert result.outcome is Outcome.DELIVERED
    assert _searched(sandbox) == [{"field": "email", "operator": "=", "value": "lead@example.test"}]
    assert sandbox.requests[-1].body == {"role": "lead", "email": "lead@example.test"}
    assert result.warnings == [
        "External IDs cannot be set for leads: External ID was not sent to Intercom."
    ]


def test_a_lead_identified_as_a_user_is_converted(sandbox, intercom, cache):
    lead = sandbox.add_contact(role="lead", email="lead@example.test")

    identify_contact(intercom, {"role": "user", "email": "lead@example.test"}, cache=cache)

    assert api_calls(sandbox)[-1] == ("PUT", f"/contacts/{lead['id']}")
    assert sandbox.contacts[0]["role"] == "user"


def test_a_409_on_create_updates_the_contact_intercom_named(sandbox, intercom, cache):
    """Intercom's search lags behind its writes: the search misses, the create conflicts."""
    hidden = sandbox.add_contact(role="user", external_id="u-1", visible=False)

    result = identify_contact(
        intercom, {"role": "user", "external_id": "u-1", "name": "Ann"}, cache=cache
    )

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [
        SEARCH,
        ("POST", "/contacts"),
        ("PUT", f"/contacts/{hidden['id']}"),
    ]
    assert sandbox.requests[1].status == 409
    assert cache.get("external_id", "u-1") == hidden["id"]


def test_a_409_without_an_id_is_retryable(sandbox, intercom, cache):
    sandbox.fail(
        status=409,
        path="/contacts",
        method="POST",
        body={"type": "error.list", "errors": [{"code": "conflict", "message": "Conflict"}]},
    )

    result = identify_contact(intercom, {"role": "user", "external_id": "u-1"}, cache=cache)

    assert result.outcome is Outcome.RETRYABLE
    assert "did not say which one" in result.error


def test_the_cache_makes_a_steady_stream_cost_one_call_per_event(sandbox, intercom, cache):
    people = [f"u-{number}" for number in range(10)]
    for person in people:
        identify_contact(intercom, {"role": "user", "external_id": person}, cache=cache)
    before = len(sandbox.requests)

    for _ in range(5):
        for person in people:
            identify_contact(
                intercom, {"role": "user", "external_id": person, "name": "x"}, cache=cache
            )

    calls = api_calls(sandbox)[before:]
    assert len(calls) == 50
    assert all(method == "PUT" for method, _ in calls)


def test_a_stale_cache_entry_is_dropped_and_the_search_runs_again(sandbox, intercom, cache):
    identify_contact(intercom, {"role": "user", "external_id": "u-1"}, cache=cache)
    stale = cache.get("external_id", "u-1")
    sandbox.delete_contact(stale)
    before = len(sandbox.requests)

    result = identify_contact(intercom, {"role": "user", "external_id": "u-1"}, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox)[before:] == [
        ("PUT", f"/contacts/{stale}"),
        SEARCH,
        ("POST", "/contacts"),
    ]
    assert cache.get("external_id", "u-1") not in (None, stale)


# Identify Company


def test_the_company_is_saved_and_the_contact_attached(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="user", external_id="u-1")
    payload = {
        "company_id": "acme",
        "name": "Acme",
        "plan": "pro",
        "remote_created_at": 1700000000,
        "external_id": "u-1",
        "email": "ann@example.test",
    }

    result = identify_company(intercom, payload, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    company = sandbox.companies[0]
    assert api_calls(sandbox) == [
        ("POST", "/companies"),
        SEARCH,
        ("POST", f"/contacts/{contact['id']}/companies"),
    ]
    assert sandbox.requests[0].body == {
        "company_id": "acme",
        "name": "Acme",
        "plan": "pro",
        "remote_created_at": 1700000000,
    }
    assert sandbox.requests[-1].body == {"id": company["id"]}
    assert company["id"] != "acme"


def test_a_given_contact_id_is_attached_without_a_search(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="user", external_id="u-1")

    identify_company(
        intercom,
        {"company_id": "acme", "contact_id": contact["id"], "external_id": "x"},
        cache=cache,
    )

    assert api_calls(sandbox) == [
        ("POST", "/companies"),
        ("POST", f"/contacts/{contact['id']}/companies"),
    ]


def test_the_contact_is_found_by_email_without_external_id(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="user", email="ann@example.test")

    identify_company(intercom, {"company_id": "acme", "email": "ann@example.test"}, cache=cache)

    assert _searched(sandbox) == [{"field": "email", "operator": "=", "value": "ann@example.test"}]
    assert api_calls(sandbox)[-1] == ("POST", f"/contacts/{contact['id']}/companies")


def test_no_contact_found_still_saves_the_company_with_a_warning(sandbox, intercom, cache):
    result = identify_company(intercom, {"company_id": "acme", "external_id": "ghost"}, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert [c["company_id"] for c in sandbox.companies] == ["acme"]
    assert api_calls(sandbox) == [("POST", "/companies"), SEARCH]
    assert result.warnings == [
        "The company was saved but no contact was attached: no unique Intercom contact has "
        "External ID “ghost”. Intercom does not show companies without contacts."
    ]


# Track Event


def test_an_event_for_a_user_id_goes_straight_to_events(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")

    result = track_event(
        intercom,
        {"event_name": "Order.Completed$", "created_at": 1700000000, "user_id": "u-1"},
        cache=cache,
    )

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [("POST", "/events")]
    assert sandbox.requests[0].status == 202
    assert sandbox.requests[0].body == {
        "event_name": "Order-Completed-",
        "created_at": 1700000000,
        "user_id": "u-1",
    }


def test_revenue_becomes_a_price_in_cents(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")

    track_event(
        intercom,
        {
            "event_name": "Order Completed",
            "created_at": 1,
            "user_id": "u-1",
            "revenue": 19.99,
            "currency": "EUR",
            "metadata": {"order_id": "o-1", "revenue": 19.99, "currency": "EUR", "email": "a@b"},
        },
        cache=cache,
    )

    assert sandbox.events[0]["metadata"] == {
        "price": {"amount": 1999, "currency": "EUR"},
        "order_id": "o-1",
    }


def test_zero_revenue_counts_and_the_currency_defaults_to_usd(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")

    track_event(
        intercom,
        {"event_name": "Refund", "created_at": 1, "user_id": "u-1", "revenue": 0},
        cache=cache,
    )

    assert sandbox.events[0]["metadata"] == {"price": {"amount": 0, "currency": "USD"}}


def test_currency_without_revenue_is_dropped(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")

    track_event(
        intercom,
        {"event_name": "Viewed", "created_at": 1, "user_id": "u-1", "currency": "EUR"},
        cache=cache,
    )

    assert "metadata" not in sandbox.requests[0].body


def test_metadata_is_flattened_to_ten_keys_with_warnings(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")
    metadata = {f"key{number:02}": number for number in range(12)}
    metadata["items"] = [{"sku": "a"}]
    metadata["address"] = {"city": "Paris"}
    metadata["article"] = {"url": "https://example.test/a", "value": "An article"}

    result = track_event(
        intercom,
        {
            "event_name": "Checkout",
            "created_at": 1,
            "user_id": "u-1",
            "revenue": 5,
            "metadata": metadata,
        },
        cache=cache,
    )

    sent = sandbox.requests[0].body["metadata"]
    assert list(sent) == ["price"] + [f"key{number:02}" for number in range(9)]
    assert result.warnings == [
        "Dropped from the event's metadata, because Intercom ignores nested objects and "
        "lists: “items”, “address”.",
        "Dropped from the event's metadata, because Intercom keeps at most 10 keys: "
        "“key09”, “key10”, “key11”, “article”.",
    ]


def test_a_rich_link_is_kept(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")
    link = {"url": "https://example.test/a", "value": "An article"}

    track_event(
        intercom,
        {"event_name": "Read", "created_at": 1, "user_id": "u-1", "metadata": {"article": link}},
        cache=cache,
    )

    assert sandbox.events[0]["metadata"] == {"article": link}


def test_email_only_searches_and_sends_the_contact_id_too(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="lead", email="lead@example.test")

    result = track_event(
        intercom,
        {"event_name": "Signed Up", "created_at": 1, "email": "lead@example.test"},
        cache=cache,
    )

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("POST", "/events")]
    assert sandbox.requests[-1].body == {
        "event_name": "Signed Up",
        "created_at": 1,
        "email": "lead@example.test",
        "id": contact["id"],
    }


def test_email_only_without_a_contact_waits_for_an_identify(sandbox, intercom, cache):
    result = track_event(
        intercom,
        {"event_name": "Signed Up", "created_at": 1, "email": "nobody@example.test"},
        cache=cache,
    )

    assert result.outcome is Outcome.RETRYABLE
    assert result.awaiting_contact
    assert result.error == "No unique contact found with Email Address “nobody@example.test”."
    assert api_calls(sandbox) == [SEARCH]


def test_user_not_found_on_events_waits_for_an_identify(sandbox, intercom, cache):
    result = track_event(
        intercom, {"event_name": "Viewed", "created_at": 1, "user_id": "ghost"}, cache=cache
    )

    assert result.outcome is Outcome.RETRYABLE
    assert result.awaiting_contact
    assert "User ID “ghost”" in result.error
    assert sandbox.requests[-1].status == 404


# Deleting a person


def test_deleting_finds_by_external_id_and_deletes_by_intercom_id(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="user", external_id="u-1")

    result = delete_contact(intercom, {"user_id": "u-1"}, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH, ("DELETE", f"/contacts/{contact['id']}")]
    assert sandbox.contacts == []
    assert cache.get("external_id", "u-1") is None


def test_deleting_nobody_sends_nothing_and_says_so(sandbox, intercom, cache):
    result = delete_contact(intercom, {"user_id": "ghost"}, cache=cache)

    assert result.outcome is Outcome.DELIVERED
    assert api_calls(sandbox) == [SEARCH]
    assert result.warnings == ["No Intercom contact has External ID “ghost”: nothing was deleted."]


# Outcomes


def test_a_revoked_token_pauses_for_reconnection(sandbox, intercom, cache):
    sandbox.revoke(sandbox.access_token)

    result = identify_contact(intercom, {"role": "user", "external_id": "u-1"}, cache=cache)

    assert result.outcome is Outcome.NEEDS_RECONNECT
    assert len(result.exchanges) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_server_trouble_is_retryable(sandbox, intercom, cache, status):
    sandbox.fail(status=status, path="/events")
    sandbox.add_contact(role="user", external_id="u-1")

    result = track_event(
        intercom, {"event_name": "E", "created_at": 1, "user_id": "u-1"}, cache=cache
    )

    assert result.outcome is Outcome.RETRYABLE
    assert not result.awaiting_contact


@pytest.mark.parametrize("status", [400, 403, 422])
def test_bad_requests_fail_for_good(sandbox, intercom, cache, status):
    sandbox.fail(status=status, path="/companies")

    result = identify_company(intercom, {"company_id": "acme"}, cache=cache)

    assert result.outcome is Outcome.PERMANENT
    assert result.error.startswith(f"Intercom answered {status}: ")
