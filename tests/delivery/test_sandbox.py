"""The Intercom sandbox (delivery/sandbox.py), driven over real HTTP as Ferry drives it."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from delivery.sandbox import IntercomSandbox

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0  # the start of a 10-second window


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def shared_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def running_sandbox(shared_clock: FakeClock) -> Iterator[IntercomSandbox]:
    sandbox = IntercomSandbox(clock=shared_clock)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def clock(shared_clock: FakeClock) -> FakeClock:
    shared_clock.now = T0
    return shared_clock


@pytest.fixture
def sandbox(running_sandbox: IntercomSandbox, clock: FakeClock) -> IntercomSandbox:
    """One server for the module, reset before each test as Ferry's own tests use it."""
    running_sandbox.reset()
    return running_sandbox


def _plain_http(base_url: str, *, timeout: float = 5, **options) -> httpx.Client:
    # The sandbox speaks plain HTTP: not loading the CA bundle saves ~50 ms per client.
    return httpx.Client(base_url=base_url, timeout=timeout, verify=False, **options)


def _client(sandbox: IntercomSandbox, token: str, *, timeout: float = 5) -> httpx.Client:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Intercom-Version": "2.13",
    }
    return _plain_http(sandbox.base_url, headers=headers, timeout=timeout)


@pytest.fixture
def api(sandbox: IntercomSandbox) -> Iterator[httpx.Client]:
    with _client(sandbox, sandbox.access_token) as client:
        yield client


@pytest.fixture
def anonymous(sandbox: IntercomSandbox) -> Iterator[httpx.Client]:
    """A client sending no token, as a browser or the OAuth token exchange does."""
    with _plain_http(sandbox.base_url) as client:
        yield client


@pytest.fixture
def control(sandbox: IntercomSandbox) -> Iterator[httpx.Client]:
    with _plain_http(f"{sandbox.base_url}/_sandbox") as client:
        yield client


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["type"] == "error.list"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
    assert body["request_id"] == response.headers["X-Request-Id"]
    [error] = body["errors"]
    return response.status_code, error["code"], error["message"]


def _search(api: httpx.Client, field: str, value: str | None) -> list[dict]:
    response = api.post(
        "/contacts/search", json={"query": {"field": field, "operator": "=", "value": value}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "list"
    assert body["total_count"] == len(body["data"])
    return body["data"]


def _create(api: httpx.Client, **fields) -> dict:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


# Serving, /me and authentication


def test_me_describes_the_admin_and_the_workspace(sandbox, api, clock):
    response = api.get("/me")

    assert response.status_code == 200
    me = response.json()
    assert me["type"] == "admin"
    assert me["email_verified"] is True
    assert me["app"] == {
        "type": "app",
        "id_code": "sandbox01",
        "name": "Sandbox Workspace",
        "region": "US",
        "timezone": "America/New_York",
        "created_at": int(T0),
        "secure": False,
        "identity_verification": False,
    }
    assert sandbox.workspace.id_code == "sandbox01"
    assert sandbox.base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer"])
def test_a_missing_or_unknown_token_is_refused_without_rate_limit_headers(
    anonymous, sandbox, authorization
):
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization

    response = anonymous.get("/me", headers=headers)

    assert _error(response) == (401, "unauthorized", "Access Token Invalid")
    assert "X-RateLimit-Limit" not in response.headers


def test_a_revoked_token_is_refused(sandbox, api):
    assert api.get("/me").status_code == 200

    assert sandbox.revoke(sandbox.access_token) is True

    assert _error(api.get("/me"))[:2] == (401, "unauthorized")
    assert sandbox.revoke(sandbox.access_token) is False


@pytest.mark.parametrize("accept", [None, "*/*", "text/html", "application/xml"])
def test_an_accept_header_without_json_gets_406(sandbox, api, accept):
    del api.headers["Accept"]  # httpx would otherwise send */*
    if accept:
        api.headers["Accept"] = accept

    response = api.get("/me")

    assert _error(response)[:2] == (406, "media_type_not_acceptable")
    assert response.headers["X-RateLimit-Remaining"]
    assert sandbox.requests[0].headers.get("accept") == accept


def test_json_with_parameters_is_an_acceptable_accept_header(anonymous, sandbox):
    headers = {
        "Authorization": f"Bearer {sandbox.access_token}",
        "Accept": "text/html;q=0.5, application/json; charset=utf-8",
    }
    assert anonymous.get("/me", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nothing-here"), ("PATCH", "/contacts/abc"), ("GET", "/contacts/abc/companies")],
)
def test_unknown_routes_and_methods_get_404(api, method, path):
    assert _error(api.request(method, path)) == (404, "not_found", "Resource Not Found")


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_gets_400(api, content):
    response = api.post("/contacts", content=content, headers={"Content-Type": "application/json"})

    assert _error(response)[:2] == (400, "parameter_invalid")


def test_keep_alive_serves_several_requests_on_one_connection(sandbox):
    host, port = urlsplit(sandbox.base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Authorization": f"Bearer {sandbox.access_token}", "Accept": "application/json"}
    try:
        connection.request("GET", "/me", headers=headers)
        first = connection.getresponse()
        first.read()
        socket_after_first = connection.sock  # http.client drops it if the server closes

        connection.request("POST", "/contacts", body='{"external_id": "u1"}', headers=headers)
        second = connection.getresponse()
        second.read()
        socket_after_second = connection.sock
    finally:
        connection.close()

    assert (first.status, second.status) == (200, 200)
    assert socket_after_first is not None
    assert socket_after_second is socket_after_first


def test_requests_name_the_connection_they_came_over(sandbox, api):
    api.get("/me")
    api.get("/me")
    with _client(sandbox, sandbox.access_token) as other:
        other.get("/me")

    first, second, third = (request.connection for request in sandbox.requests)

    assert re.fullmatch(r"127\.0\.0\.1:\d+", first)
    assert first == second != third


def test_a_chunked_request_body_is_read(api, sandbox):
    response = api.post(
        "/contacts",
        content=iter([b'{"external_id": ', b'"chunked"}']),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert sandbox.requests[-1].headers["transfer-encoding"] == "chunked"
    assert sandbox.contacts[0]["external_id"] == "chunked"
    assert api.get("/me").status_code == 200


def test_stop_closes_kept_alive_connections(clock):
    sandbox = IntercomSandbox(clock=clock)
    sandbox.start()
    with _client(sandbox, sandbox.access_token) as client:
        assert client.get("/me").status_code == 200

        sandbox.stop()

        with pytest.raises(httpx.TransportError):
            client.get("/me")
    with pytest.raises(RuntimeError):
        sandbox.base_url  # noqa: B018 -- the property raises once stopped


# Rate limits


def test_rate_limit_headers_count_down_then_429_until_the_window_resets(sandbox, api, clock):
    sandbox.rate_limit = 3
    clock.advance(4)  # windows are aligned: this one still ends at T0 + 10

    answers = [api.get("/me") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert {r.headers["X-RateLimit-Reset"] for r in answers} == {str(int(T0) + 10)}
    assert _error(answers[3]) == (
        429,
        "rate_limit_exceeded",
        "Exceeded rate limit of 3 in 10_seconds",
    )

    clock.advance(5.9)
    assert api.get("/me").status_code == 429

    clock.advance(0.1)
    recovered = api.get("/me")
    assert recovered.status_code == 200
    assert recovered.headers["X-RateLimit-Remaining"] == "2"
    assert recovered.headers["X-RateLimit-Reset"] == str(int(T0) + 20)


def test_without_a_limit_the_headers_still_come_with_a_large_quota(api):
    response = api.get("/me")

    assert response.headers["X-RateLimit-Limit"] == "1000000"
    assert response.headers["X-RateLimit-Remaining"] == "999999"
    assert response.headers["X-RateLimit-Reset"] == str(int(T0) + 10)


def test_each_workspace_has_its_own_rate_window(sandbox, api):
    sandbox.rate_limit = 1
    other_token = sandbox.add_workspace(id_code="euspace1", name="Europe", region="EU")

    assert api.get("/me").status_code == 200
    assert api.get("/me").status_code == 429
    with _client(sandbox, other_token) as other:
        response = other.get("/me")
    assert response.status_code == 200
    assert response.json()["app"]["region"] == "EU"
    assert response.json()["app"]["timezone"] == "Europe/Dublin"


def test_constructor_takes_the_rate_limit(clock):
    sandbox = IntercomSandbox(rate_limit=2, clock=clock)
    sandbox.start()
    try:
        with _client(sandbox, sandbox.access_token) as client:
            statuses = [client.get("/me").status_code for _ in range(3)]
    finally:
        sandbox.stop()
    assert statuses == [200, 200, 429]


# Contacts


def test_create_contact_answers_with_intercoms_contact_shape(api, clock):
    contact = _create(
        api,
        role="user",
        external_id="u1",
        email="Ada@Example.com",
        name="Ada",
        phone="+44 20 0000 0000",
        avatar="https://example.com/ada.png",
        signed_up_at=1_600_000_000,
        last_seen_at=1_690_000_000,
        unsubscribed_from_emails=True,
        custom_attributes={"plan": "pro", "seats": 3, "beta": True, "note": None},
    )

    assert re.fullmatch(r"[0-9a-f]{24}", contact["id"])
    expected = {
        "type": "contact",
        "workspace_id": "sandbox01",
        "external_id": "u1",
        "role": "user",
        "email": "Ada@Example.com",
        "email_domain": "Example.com",
        "name": "Ada",
        "owner_id": None,
        "created_at": int(T0),
        "updated_at": int(T0),
        "signed_up_at": 1_600_000_000,
        "last_seen_at": 1_690_000_000,
        "unsubscribed_from_emails": True,
        "custom_attributes": {"plan": "pro", "seats": 3, "beta": True, "note": None},
    }
    assert expected.items() <= contact.items()
    assert contact["companies"]["data"] == []
    assert contact["companies"]["url"] == f"/contacts/{contact['id']}/companies"


def test_role_defaults_to_user_and_a_lead_needs_no_identifier(api):
    assert _create(api, email="a@example.com")["role"] == "user"
    assert _create(api, role="lead")["role"] == "lead"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "parameter_not_found", "email"),
        ({"name": "Nobody"}, "parameter_not_found", "email"),
        ({"role": "user"}, "parameter_not_found", "email"),
        ({"role": "lead", "external_id": "x1"}, "parameter_invalid", "external_id"),
        ({"role": "admin", "email": "a@example.com"}, "parameter_invalid", "role"),
        ({"email": "a@example.com", "nickname": "A"}, "parameter_invalid", "nickname"),
        ({"email": "a@example.com", "custom_attributes": ["x"]}, "parameter_invalid",
         "custom_attributes"),
        ({"email": "a@example.com", "custom_attributes": {"address": {"city": "Oslo"}}},
         "parameter_invalid", "custom_attributes.address"),
        ({"email": "a@example.com", "signed_up_at": "2024-01-01"}, "parameter_invalid",
         "signed_up_at"),
        ({"email": "a@example.com", "last_seen_at": 1.5}, "parameter_invalid", "last_seen_at"),
        ({"external_id": 42}, "parameter_invalid", "external_id"),
        ({"email": "a@example.com", "unsubscribed_from_emails": "yes"}, "parameter_invalid",
         "unsubscribed_from_emails"),
        ({"email": "a@example.com", "owner_id": 12}, "parameter_invalid", "owner_id"),
    ],
)  # fmt: skip
def test_create_contact_refuses_what_intercom_refuses(api, sandbox, body, code, field):
    response = api.post("/contacts", json=body)

    assert _error(response)[:2] == (400, code)
    assert response.json()["errors"][0]["field"] == field
    assert sandbox.contacts == []


def test_an_unknown_contact_parameter_is_named(api):
    response = api.post("/contacts", json={"email": "a@example.com", "nickname": "A"})

    assert _error(response) == (400, "parameter_invalid", "bad 'nickname' parameter")


def test_owner_id_must_be_an_admin_of_the_workspace(api):
    admin_id = int(api.get("/me").json()["id"])

    assert _create(api, email="a@example.com", owner_id=admin_id)["owner_id"] == admin_id


def test_duplicate_external_id_or_user_email_gets_409_naming_the_existing_contact(api):
    existing = _create(api, external_id="u1", email="ada@example.com")

    for body in (
        {"external_id": "u1"},
        {"email": "ADA@example.com"},
        {"role": "user", "external_id": "u2", "email": "ada@example.com"},
    ):
        response = api.post("/contacts", json=body)
        assert _error(response) == (
            409,
            "conflict",
            f"A contact matching those details already exists with id={existing['id']}",
        )


def test_leads_may_share_an_email_with_users_and_with_each_other(api, sandbox):
    _create(api, role="lead", email="ada@example.com")
    _create(api, role="lead", email="ada@example.com")
    _create(api, role="user", email="ada@example.com")

    assert [c["role"] for c in sandbox.contacts] == ["lead", "lead", "user"]


def test_get_contact_by_id_and_404_when_unknown(api):
    contact = _create(api, external_id="u1")

    assert api.get(f"/contacts/{contact['id']}").json() == contact
    assert _error(api.get("/contacts/unknown")) == (404, "not_found", "User Not Found")


def test_update_contact_changes_fields_and_merges_custom_attributes(api, clock):
    contact = _create(api, external_id="u1", name="Ada", custom_attributes={"a": 1, "b": 2})
    clock.advance(60)

    response = api.put(
        f"/contacts/{contact['id']}",
        json={"name": "Ada L.", "email": "ada@example.org", "custom_attributes": {"b": 3}},
    )

    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Ada L."
    assert updated["email_domain"] == "example.org"
    assert updated["custom_attributes"] == {"a": 1, "b": 3}
    assert (updated["created_at"], updated["updated_at"]) == (int(T0), int(T0) + 60)
    assert api.get(f"/contacts/{contact['id']}").json() == updated


def test_update_converts_a_lead_to_a_user_but_never_back(api):
    lead = _create(api, role="lead", email="ada@example.com")

    assert _error(api.put(f"/contacts/{lead['id']}", json={"external_id": "u1"}))[:2] == (
        400,
        "parameter_invalid",
    )
    converted = api.put(f"/contacts/{lead['id']}", json={"role": "user", "external_id": "u1"})
    assert converted.status_code == 200
    assert (converted.json()["role"], converted.json()["external_id"]) == ("user", "u1")
    assert _error(api.put(f"/contacts/{lead['id']}", json={"role": "lead"}))[:2] == (
        400,
        "parameter_invalid",
    )


def test_update_errors(api):
    first = _create(api, external_id="u1")
    _create(api, external_id="u2")

    assert _error(api.put("/contacts/unknown", json={"name": "X"})) == (
        404,
        "not_found",
        "User Not Found",
    )
    assert _error(api.put(f"/contacts/{first['id']}", json={"bogus": 1}))[:2] == (
        400,
        "parameter_invalid",
    )
    assert _error(api.put(f"/contacts/{first['id']}", json={"external_id": "u2"}))[:2] == (
        409,
        "conflict",
    )
    assert api.put(f"/contacts/{first['id']}", json={"external_id": "u1"}).status_code == 200


def test_delete_contact(api, sandbox):
    contact = _create(api, external_id="u1")

    response = api.delete(f"/contacts/{contact['id']}")

    assert response.status_code == 200
    assert response.json() == {
        "type": "contact",
        "object": "contact",
        "id": contact["id"],
        "external_id": "u1",
        "deleted": True,
    }
    assert sandbox.contacts == []
    assert _search(api, "external_id", "u1") == []
    assert _error(api.delete(f"/contacts/{contact['id']}"))[:2] == (404, "not_found")


# Search


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("external_id", "u1"),
        ("email", "ADA@example.com"),
        ("role", "user"),
        ("name", "Ada"),
        ("phone", "+1 555"),
        ("email_domain", "example.com"),
    ],
)
def test_search_finds_by_each_field_with_equals(api, field, value):
    ada = _create(api, external_id="u1", email="ada@example.com", name="Ada", phone="+1 555")
    _create(api, role="lead", email="bob@other.test", name="Bob")

    assert _search(api, field, value) == [ada]


def test_search_by_id_and_by_null(api):
    ada = _create(api, external_id="u1")
    lead = _create(api, role="lead", name="No email")

    assert _search(api, "id", ada["id"]) == [ada]
    assert _search(api, "external_id", None) == [lead]
    assert _search(api, "external_id", "nobody") == []


def test_search_combines_and_or_groups(api):
    ada = _create(api, external_id="u1", email="ada@example.com")
    bob = _create(api, external_id="u2", email="bob@example.com")
    _create(api, role="lead", email="ada@example.com")

    def search(query):
        response = api.post("/contacts/search", json={"query": query})
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    users_called_ada = {
        "operator": "AND",
        "value": [
            {"field": "role", "operator": "=", "value": "user"},
            {"field": "email", "operator": "=", "value": "ada@example.com"},
        ],
    }
    assert search(users_called_ada) == [ada["id"]]
    assert search(
        {
            "operator": "OR",
            "value": [users_called_ada, {"field": "external_id", "operator": "=", "value": "u2"}],
        }
    ) == [ada["id"], bob["id"]]


USERS = {"field": "role", "operator": "=", "value": "user"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": {"field": "email", "operator": "~", "value": "ada"}},
        {"query": {"field": "custom_attributes.plan", "operator": "=", "value": "pro"}},
        {"query": {"field": "email", "operator": "=", "value": 3}},
        {"query": {"operator": "AND", "value": []}},
        {"query": {"operator": "AND", "value": [USERS] * 16}},
        {"query": {"operator": "AND", "value": [
            {"operator": "OR", "value": [{"operator": "AND", "value": [USERS]}]}]}},
        {"query": USERS, "sort": {"field": "name"}},
        {"query": USERS, "pagination": {"per_page": 0}},
        {"query": "role = user"},
    ],
)  # fmt: skip
def test_search_refuses_what_the_sandbox_cannot_answer(api, body):
    status, code, _ = _error(api.post("/contacts/search", json=body))

    assert status == 400
    assert code in {"parameter_invalid", "parameter_not_found"}


def test_search_groups_nest_two_levels(api):
    ada = _create(api, external_id="u1")
    by_external_id = {"field": "external_id", "operator": "=", "value": "u1"}
    two_levels = {"operator": "AND", "value": [{"operator": "OR", "value": [by_external_id]}]}

    response = api.post("/contacts/search", json={"query": two_levels})

    assert response.json()["data"] == [ada]


def test_search_pages_with_a_cursor(api):
    created = [_create(api, external_id=f"u{i}", name="Same") for i in range(5)]
    query = {"field": "name", "operator": "=", "value": "Same"}

    first = api.post("/contacts/search", json={"query": query, "pagination": {"per_page": 2}})
    body = first.json()
    assert body["total_count"] == 5
    assert [c["id"] for c in body["data"]] == [c["id"] for c in created[:2]]
    assert body["pages"] == {
        "type": "pages",
        "page": 1,
        "per_page": 2,
        "total_pages": 3,
        "next": {"per_page": 2, "starting_after": created[1]["id"]},
    }

    last = api.post(
        "/contacts/search",
        json={"query": query, "pagination": {"per_page": 2, "starting_after": created[3]["id"]}},
    ).json()
    assert [c["id"] for c in last["data"]] == [created[4]["id"]]
    assert last["pages"]["page"] == 3
    assert "next" not in last["pages"]


def test_search_lags_behind_creates_and_updates(sandbox, api, clock):
    sandbox.search_lag = 30
    contact = _create(api, external_id="u1", name="Old")

    assert _search(api, "external_id", "u1") == []
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    clock.advance(30)
    assert [c["name"] for c in _search(api, "external_id", "u1")] == ["Old"]

    api.put(f"/contacts/{contact['id']}", json={"name": "New"})
    clock.advance(29)
    assert [c["name"] for c in _search(api, "name", "Old")] == ["Old"]
    assert _search(api, "name", "New") == []
    clock.advance(1)
    assert _search(api, "name", "Old") == []
    assert [c["name"] for c in _search(api, "name", "New")] == ["New"]


def test_search_lag_causes_the_create_after_search_conflict(sandbox, api):
    sandbox.search_lag = 60
    first = _create(api, external_id="u1")

    assert _search(api, "external_id", "u1") == []
    assert _error(api.post("/contacts", json={"external_id": "u1"}))[2].endswith(first["id"])


def test_seeded_contacts_are_searchable_at_once_unless_asked_otherwise(sandbox, api, clock):
    seen = sandbox.add_contact(external_id="seen", email="s@example.com")
    hidden = sandbox.add_contact(external_id="hidden", visible=False)

    assert _search(api, "external_id", "seen") == [seen]
    assert _search(api, "external_id", "hidden") == []
    assert _error(api.post("/contacts", json={"external_id": "hidden"}))[:2] == (409, "conflict")
    clock.advance(3600)
    assert _search(api, "external_id", "hidden") == []

    api.put(f"/contacts/{hidden['id']}", json={"name": "Written"})
    assert [c["name"] for c in _search(api, "external_id", "hidden")] == ["Written"]


def test_seeding_allows_several_users_sharing_an_email(sandbox, api):
    first = sandbox.add_contact(email="shared@example.com", external_id="a")
    second = sandbox.add_contact(email="shared@example.com", id="0123456789abcdef01234567")

    assert second["id"] == "0123456789abcdef01234567"
    assert [c["id"] for c in _search(api, "email", "shared@example.com")] == [
        first["id"],
        second["id"],
    ]


def test_deleting_a_contact_behind_ferrys_back(sandbox, api):
    contact = _create(api, external_id="u1")

    sandbox.delete_contact(contact["id"])

    assert _error(api.get(f"/contacts/{contact['id']}"))[:2] == (404, "not_found")
    with pytest.raises(ValueError, match="User Not Found"):
        sandbox.delete_contact(contact["id"])


@pytest.mark.parametrize(
    "fields",
    [{"role": "lead", "external_id": "x"}, {"email": "a@example.com", "colour": "red"}],
)
def test_seeding_refuses_fields_intercom_would_refuse(sandbox, fields):
    with pytest.raises(ValueError):
        sandbox.add_contact(**fields)


# Companies


def test_create_or_update_company_by_company_id(api, sandbox, clock):
    created = api.post(
        "/companies",
        json={
            "company_id": "acme",
            "name": "Acme",
            "plan": "pro",
            "size": 40,
            "website": "https://acme.test",
            "industry": "Anvils",
            "remote_created_at": 1_500_000_000,
            "monthly_spend": 99.9,
            "custom_attributes": {"tier": "gold"},
        },
    )
    assert created.status_code == 200
    company = created.json()
    assert re.fullmatch(r"[0-9a-f]{24}", company["id"])
    assert company["type"] == "company"
    assert company["app_id"] == "sandbox01"
    assert company["plan"] == {"type": "plan", "id": "1", "name": "pro"}
    assert company["monthly_spend"] == 99
    assert company["user_count"] == 0

    clock.advance(5)
    updated = api.post(
        "/companies", json={"company_id": "acme", "size": 41, "custom_attributes": {"x": 1}}
    ).json()

    assert updated["id"] == company["id"]
    assert (updated["name"], updated["size"]) == ("Acme", 41)
    assert updated["custom_attributes"] == {"tier": "gold", "x": 1}
    assert updated["updated_at"] == int(T0) + 5
    assert len(sandbox.companies) == 1


@pytest.mark.parametrize(
    ("body", "status_code"),
    [
        ({"name": "No id"}, (400, "parameter_not_found")),
        ({"company_id": ""}, (400, "parameter_not_found")),
        ({"company_id": "acme", "test": 1}, (400, "bad_request")),
        ({"company_id": 7}, (400, "parameter_invalid")),
        ({"company_id": "acme", "size": "big"}, (400, "parameter_invalid")),
        ({"company_id": "acme", "monthly_spend": 2**31}, (400, "parameter_invalid")),
        ({"company_id": "acme", "custom_attributes": {"x": [1]}}, (400, "parameter_invalid")),
    ],
)
def test_company_errors(api, sandbox, body, status_code):
    response = api.post("/companies", json=body)

    assert _error(response)[:2] == status_code
    assert sandbox.companies == []


def test_bad_company_parameter_is_named(api):
    assert _error(api.post("/companies", json={"company_id": "a", "test": 1}))[2] == (
        "bad 'test' parameter"
    )


def test_get_company_by_company_id_or_name(api):
    company = api.post("/companies", json={"company_id": "acme", "name": "Acme"}).json()

    assert api.get("/companies", params={"company_id": "acme"}).json() == company
    assert api.get("/companies", params={"name": "Acme"}).json() == company
    assert api.get("/companies").json()["data"] == [company]
    assert _error(api.get("/companies", params={"company_id": "nope"})) == (
        404,
        "company_not_found",
        "Company Not Found",
    )


def test_attach_a_contact_to_a_company_records_it_on_both(api, sandbox):
    contact = _create(api, external_id="u1")
    company = api.post("/companies", json={"company_id": "acme"}).json()

    response = api.post(f"/contacts/{contact['id']}/companies", json={"id": company["id"]})
    again = api.post(f"/contacts/{contact['id']}/companies", json={"id": company["id"]})

    assert response.status_code == again.status_code == 200
    assert response.json()["id"] == company["id"]
    assert again.json()["user_count"] == 1
    links = api.get(f"/contacts/{contact['id']}").json()["companies"]
    assert links["total_count"] == 1
    assert links["data"] == [
        {"type": "company", "id": company["id"], "url": f"/companies/{company['id']}"}
    ]

    api.delete(f"/contacts/{contact['id']}")
    assert sandbox.companies[0]["user_count"] == 0


def test_attach_errors(api):
    contact = _create(api, external_id="u1")
    company = api.post("/companies", json={"company_id": "acme"}).json()

    assert _error(api.post("/contacts/nope/companies", json={"id": company["id"]}))[:2] == (
        404,
        "not_found",
    )
    assert _error(api.post(f"/contacts/{contact['id']}/companies", json={"id": "acme"})) == (
        404,
        "company_not_found",
        "Company Not Found",
    )
    assert _error(api.post(f"/contacts/{contact['id']}/companies", json={})) == (
        400,
        "parameter_not_found",
        "company not specified",
    )


# Events


def test_an_event_is_accepted_with_202_and_an_empty_body(api, sandbox):
    contact = _create(api, external_id="u1", email="ada@example.com")

    response = api.post(
        "/events",
        json={
            "event_name": "ordered-item",
            "created_at": 1_700_000_000,
            "user_id": "u1",
            "metadata": {"item": "anvil", "price": {"amount": 1999, "currency": "USD"}},
        },
    )

    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    assert response.headers["X-RateLimit-Limit"]
    assert sandbox.events == [
        {
            "type": "event",
            "event_name": "ordered-item",
            "created_at": 1_700_000_000,
            "user_id": "u1",
            "email": "ada@example.com",
            "intercom_user_id": contact["id"],
            "metadata": {"item": "anvil", "price": {"amount": 1999, "currency": "USD"}},
        }
    ]


def test_events_name_their_contact_by_id_user_id_or_email(api, sandbox):
    user = _create(api, external_id="u1", email="ada@example.com")
    lead = _create(api, role="lead", email="lead@example.com")

    for n, identifier in enumerate(
        [
            {"user_id": "u1"},
            {"email": "ADA@example.com"},
            {"id": user["id"]},
            {"id": lead["id"], "email": "lead@example.com"},
        ]
    ):
        body = {"event_name": "e", "created_at": 1_700_000_000 + n, **identifier}
        assert api.post("/events", json=body).status_code == 202, identifier

    assert [e["intercom_user_id"] for e in sandbox.events] == [user["id"]] * 3 + [lead["id"]]


def test_events_for_unknown_people_get_404_user_not_found(sandbox, api):
    sandbox.search_lag = 60
    _create(api, role="lead", email="lead@example.com")
    _create(api, external_id="fresh")  # not yet searchable, but events find it at once

    event = {"event_name": "e", "created_at": 1}
    assert api.post("/events", json=event | {"user_id": "fresh"}).status_code == 202
    for identifier in ({"user_id": "nobody"}, {"email": "lead@example.com"}, {"id": "0" * 24}):
        response = api.post("/events", json=event | identifier)
        assert _error(response) == (404, "not_found", "User Not Found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"created_at": 1, "user_id": "u1"}, "event_name"),
        ({"event_name": "", "created_at": 1, "user_id": "u1"}, "event_name"),
        ({"event_name": "e", "user_id": "u1"}, "created_at"),
        ({"event_name": "e", "created_at": "2024-01-01", "user_id": "u1"}, "created_at"),
        ({"event_name": "e", "created_at": 1.5, "user_id": "u1"}, "created_at"),
        ({"event_name": "e", "created_at": 1_700_000_000_000, "user_id": "u1"}, "created_at"),
        ({"event_name": "e", "created_at": 1}, "user_id"),
        ({"event_name": "e", "created_at": 1, "user_id": 1}, "user_id"),
        ({"event_name": "e", "created_at": 1, "user_id": "u1", "metadata": [1]}, "metadata"),
        ({"event_name": "e", "created_at": 1, "user_id": "u1", "revenue": 3}, "revenue"),
    ],
)
def test_event_errors(api, sandbox, body, field):
    _create(api, external_id="u1")

    response = api.post("/events", json=body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert sandbox.events == []


def test_duplicate_events_are_accepted_but_kept_once(api, sandbox):
    _create(api, external_id="u1")
    body = {"event_name": "e", "created_at": 1_700_000_000, "user_id": "u1"}

    assert [api.post("/events", json=body).status_code for _ in range(2)] == [202, 202]
    assert len(sandbox.events) == 1


# Injected failures


def test_an_injected_failure_answers_intercoms_500_once(sandbox, api):
    sandbox.fail()

    failed = api.get("/me")

    assert _error(failed) == (500, "server_error", "Internal Server Error")
    assert "X-RateLimit-Limit" not in failed.headers
    assert api.get("/me").status_code == 200


def test_failures_match_method_and_path_pattern_and_count(sandbox, api):
    sandbox.fail(2, status=503, method="POST", path="/contacts/*")
    contact = _create(api, external_id="u1")

    assert api.get("/me").status_code == 200
    assert api.post(f"/contacts/{contact['id']}/companies", json={}).status_code == 503
    assert api.post("/contacts/search", json={}).status_code == 503
    assert api.post("/contacts/search", json={}).status_code == 400
    assert [r.status for r in sandbox.requests] == [200, 200, 503, 503, 400]


def test_failures_come_before_authentication_and_are_consumed_in_order(anonymous, sandbox):
    sandbox.fail(status=429, headers={"Retry-After": "7"})
    sandbox.fail(status=404, body={"anything": "goes"})

    first = anonymous.get("/me")
    second = anonymous.get("/me")

    assert _error(first)[:2] == (429, "rate_limit_exceeded")
    assert first.headers["Retry-After"] == "7"
    assert (second.status_code, second.json()) == (404, {"anything": "goes"})
    assert anonymous.get("/me").status_code == 401


def test_a_string_body_is_sent_as_plain_text(sandbox, api):
    sandbox.fail(status=503, body="upstream overloaded")

    response = api.get("/me")

    assert (response.status_code, response.text) == (503, "upstream overloaded")
    assert response.headers["Content-Type"] == "text/plain"


def test_an_html_error_page(sandbox, api):
    sandbox.fail(html=True)

    response = api.get("/me")

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_a_garbage_body(sandbox, api):
    sandbox.fail(garbage=True, path="/contacts/search")

    response = api.post("/contacts/search", json={})

    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_a_dropped_connection_is_a_transport_error(sandbox, api):
    sandbox.fail(drop_connection=True)

    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/me")

    assert sandbox.requests[-1].status == 0
    assert api.get("/me").status_code == 200


def test_a_delay_makes_the_client_time_out_after_the_work_was_done(sandbox):
    sandbox.fail(delay=2)

    with _client(sandbox, sandbox.access_token, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/contacts", json={"external_id": "u1"})
        assert client.post("/contacts", json={"external_id": "u1"}).status_code == 409

    assert [r.status for r in sandbox.requests] == [200, 409]
    assert len(sandbox.contacts) == 1


def test_a_delay_with_a_status_delays_that_failure(sandbox, api):
    sandbox.fail(status=504, delay=0.2)

    started = time.monotonic()
    response = api.get("/me")

    assert response.status_code == 504
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    "options",
    [
        {"count": 0},
        {"status": 99},
        {"delay": -1},
        {"html": True, "garbage": True},
        {"headers": {"Retry-After": 7}},
    ],
)
def test_fail_refuses_nonsense(sandbox, options):
    with pytest.raises(ValueError):
        sandbox.fail(**options)


# OAuth


def _authorize(anonymous: httpx.Client, **params) -> httpx.Response:
    query = {"client_id": "ferry-sandbox", "redirect_uri": "http://ferry.test/oauth/callback"}
    return anonymous.get("/oauth", params=query | params)


def _decide(anonymous: httpx.Client, decision: str, **fields) -> httpx.Response:
    form = {
        "client_id": "ferry-sandbox",
        "redirect_uri": "http://ferry.test/oauth/callback?from=ferry",
        "state": "s-1",
        "decision": decision,
    }
    return anonymous.post("/oauth", data=form | fields)


def _redirect_params(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "http",
        "ferry.test",
        "/oauth/callback",
    )
    return parse_qs(location.query)


def _exchange(anonymous: httpx.Client, code: str, **overrides) -> httpx.Response:
    data = {"code": code, "client_id": "ferry-sandbox", "client_secret": "sandbox-secret"}
    return anonymous.post("/auth/eagle/token", data=data | overrides)


def test_the_approval_page_names_the_workspace_and_carries_the_request(anonymous, sandbox):
    page = _authorize(anonymous, state="<xss>")

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Sandbox Workspace" in page.text
    assert 'value="approve"' in page.text and 'value="deny"' in page.text
    assert 'name="state" value="&lt;xss&gt;"' in page.text
    assert "<select" not in page.text


def test_the_approval_page_offers_a_workspace_picker_when_there_are_several(anonymous, sandbox):
    sandbox.add_workspace(id_code="euspace1", name="Europe Inc", region="EU")

    page = _authorize(anonymous)

    assert '<option value="sandbox01">Sandbox Workspace (US)</option>' in page.text
    assert '<option value="euspace1">Europe Inc (EU)</option>' in page.text


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "someone-else"},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": ""},
    ],
)
def test_the_approval_page_refuses_unknown_clients_and_bad_redirects(anonymous, sandbox, params):
    page = _authorize(anonymous, **params)

    assert page.status_code == 400
    assert "Cannot connect" in page.text


def test_oauth_round_trip_gives_a_working_token(anonymous, sandbox):
    params = _redirect_params(_decide(anonymous, "approve"))

    assert params["state"] == ["s-1"]
    assert params["from"] == ["ferry"]
    [code] = params["code"]
    assert code.endswith("=")
    response = _exchange(anonymous, code)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["token"] == body["access_token"] != sandbox.access_token
    with _client(sandbox, body["token"]) as client:
        assert client.get("/me").json()["app"]["id_code"] == "sandbox01"


def test_codes_are_single_use_and_must_be_kept_whole(anonymous, sandbox):
    [code] = _redirect_params(_decide(anonymous, "approve"))["code"]

    assert _error(_exchange(anonymous, code.rstrip("="))) == (
        401,
        "unauthorized",
        "Unauthorized Code",
    )
    assert _exchange(anonymous, code).status_code == 200
    assert _error(_exchange(anonymous, code))[2] == "Unauthorized Code"


def test_codes_expire_after_five_minutes(anonymous, sandbox, clock):
    [code] = _redirect_params(_decide(anonymous, "approve"))["code"]
    [fresh] = _redirect_params(_decide(anonymous, "approve"))["code"]

    clock.advance(300)
    assert _exchange(anonymous, fresh).status_code == 200
    clock.advance(1)
    assert _error(_exchange(anonymous, code))[2] == "Unauthorized Code"


def test_a_wrong_client_secret_gets_401(anonymous, sandbox):
    [code] = _redirect_params(_decide(anonymous, "approve"))["code"]

    assert _error(_exchange(anonymous, code, client_secret="guess"))[:2] == (401, "unauthorized")
    assert _exchange(anonymous, code).status_code == 200


def test_the_token_endpoint_also_takes_json(anonymous, sandbox):
    [code] = _redirect_params(_decide(anonymous, "approve"))["code"]

    response = anonymous.post(
        "/auth/eagle/token",
        json={"code": code, "client_id": "ferry-sandbox", "client_secret": "sandbox-secret"},
    )

    assert response.status_code == 200


def test_deny_redirects_with_access_denied(anonymous, sandbox):
    params = _redirect_params(_decide(anonymous, "deny"))

    assert params == {"from": ["ferry"], "error": ["access_denied"], "state": ["s-1"]}


def test_approving_another_workspace_gives_its_token(anonymous, sandbox):
    sandbox.add_workspace(id_code="euspace1", name="Europe Inc", region="EU")

    [code] = _redirect_params(_decide(anonymous, "approve", workspace="euspace1"))["code"]
    token = _exchange(anonymous, code).json()["token"]

    with _client(sandbox, token) as client:
        assert client.get("/me").json()["app"]["region"] == "EU"
    assert _decide(anonymous, "approve", workspace="nope").status_code == 400


def test_custom_client_credentials(clock):
    sandbox = IntercomSandbox(client_id="mine", client_secret="s3cret", clock=clock)
    sandbox.start()
    try:
        with _plain_http(sandbox.base_url) as anonymous:
            assert _authorize(anonymous).status_code == 400
            assert _authorize(anonymous, client_id="mine").status_code == 200
    finally:
        sandbox.stop()


# Recorded requests


def test_requests_record_exactly_what_was_sent(anonymous, sandbox, api, clock):
    clock.advance(2.5)
    api.post("/contacts", params={"dry": "1"}, json={"external_id": "u1"})
    [code] = _redirect_params(_decide(anonymous, "approve"))["code"]
    _exchange(anonymous, code)

    create, decide, exchange = sandbox.requests

    assert (create.method, create.path, create.query) == ("POST", "/contacts", {"dry": "1"})
    assert create.body == {"external_id": "u1"}
    assert create.status == 200
    assert create.at == T0 + 2.5
    assert create.headers["authorization"] == f"Bearer {sandbox.access_token}"
    assert create.headers["intercom-version"] == "2.13"
    assert create.headers["accept"] == "application/json"
    assert create.headers["content-type"] == "application/json"
    assert decide.status == 302
    assert exchange.path == "/auth/eagle/token"
    assert isinstance(exchange.body, str)
    assert f"code={code.replace('=', '%3D').replace('+', '%2B').replace('/', '%2F')}" in (
        exchange.body
    )


def test_requests_without_a_body_record_none(sandbox, api):
    api.get("/me")

    assert sandbox.requests[0].body is None
    assert sandbox.requests[0].as_json()["headers"]["intercom-version"] == "2.13"


# HTTP controls


def test_control_requests_and_state(control, api, sandbox):
    api.post("/contacts", json={"external_id": "u1"})

    requests = control.get("/requests").json()["requests"]
    state = control.get("/state").json()

    assert [(r["method"], r["path"], r["status"]) for r in requests] == [("POST", "/contacts", 200)]
    assert requests[0]["body"] == {"external_id": "u1"}
    assert state["workspace"]["id_code"] == "sandbox01"
    assert [c["external_id"] for c in state["contacts"]] == ["u1"]
    assert (state["companies"], state["events"]) == ([], [])
    assert len(sandbox.requests) == 1  # the control calls are not recorded


def test_control_fail_and_config(control, api, sandbox):
    assert control.post("/fail", json={"status": 503, "path": "/me"}).status_code == 200
    assert api.get("/me").status_code == 503

    config = control.post("/config", json={"rate_limit": 1, "search_lag": 5}).json()

    assert config == {"rate_limit": 1, "search_lag": 5}
    assert (sandbox.rate_limit, sandbox.search_lag) == (1, 5)
    assert [api.get("/me").status_code for _ in range(2)] == [200, 429]
    assert [control.get("/state").status_code for _ in range(3)] == [200, 200, 200]
    assert control.post("/config", json={"rate_limit": None}).json()["rate_limit"] is None


def test_control_seed_revoke_workspaces_and_reset(control, sandbox):
    token = control.post(
        "/workspaces", json={"id_code": "au000001", "name": "Down Under", "region": "AU"}
    ).json()["access_token"]
    seeded = control.post(
        "/contacts", json={"workspace": "au000001", "external_id": "u1", "visible": False}
    ).json()

    assert control.get("/state", params={"workspace": "au000001"}).json()["contacts"] == [seeded]
    assert sandbox.contacts == []
    with _client(sandbox, token) as client:
        assert client.get("/me").json()["app"]["timezone"] == "Australia/Sydney"
        assert control.post("/revoke", json={"token": token}).json() == {"revoked": True}
        assert client.get("/me").status_code == 401

    assert control.post("/reset").json() == {"access_token": sandbox.access_token}
    assert control.get("/state", params={"workspace": "au000001"}).status_code == 400
    with _client(sandbox, sandbox.access_token) as client:
        assert client.get("/me").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/nowhere", None, 404),
        ("GET", "/reset", None, 404),
        ("POST", "/fail", {"sttaus": 500}, 400),
        ("POST", "/fail", {"count": "two"}, 400),
        ("POST", "/config", {"rate_limit": 0}, 400),
        ("POST", "/config", {"search_lag": -1}, 400),
        ("POST", "/contacts", {"role": "lead", "external_id": "x"}, 400),
        ("POST", "/contacts", {"workspace": "nope", "email": "a@example.com"}, 400),
        ("POST", "/revoke", {}, 400),
        ("POST", "/workspaces", {"id_code": "x", "name": "X", "region": "MARS"}, 400),
        ("POST", "/workspaces", {"id_code": "sandbox01", "name": "Again"}, 400),
    ],
)
def test_control_errors(control, method, path, body, status):
    response = control.request(method, path, json=body)

    assert response.status_code == status
    assert response.json()["error"]


# State, reset and concurrency


def test_workspaces_keep_separate_state(sandbox, api):
    token = sandbox.add_workspace(id_code="euspace1", name="Europe", region="EU")
    with _client(sandbox, token) as other:
        other.post("/contacts", json={"external_id": "u1"})
        assert _search(other, "external_id", "u1")[0]["workspace_id"] == "euspace1"

    assert _search(api, "external_id", "u1") == []
    assert api.post("/contacts", json={"external_id": "u1"}).status_code == 200
    assert [c["workspace_id"] for c in sandbox.snapshot("euspace1")["contacts"]] == ["euspace1"]


def test_reset_forgets_everything_but_keeps_the_default_token(sandbox, api):
    other = sandbox.add_workspace(id_code="euspace1", name="Europe", region="EU")
    _create(api, external_id="u1")
    sandbox.fail(status=500, path="/never-called")
    sandbox.rate_limit = 1

    sandbox.reset()

    assert (sandbox.contacts, sandbox.requests, sandbox.rate_limit) == ([], [], None)
    assert api.get("/me").status_code == 200
    with _client(sandbox, other) as client:
        assert client.get("/me").status_code == 401
    assert api.get("/never-called").status_code == 404


def test_concurrent_creates_keep_state_consistent(sandbox):
    threads, per_thread = 8, 25
    answers: list[tuple[str, httpx.Response]] = []
    lock = threading.Lock()

    def create(worker: int) -> None:
        with _client(sandbox, sandbox.access_token) as client:
            for n in range(per_thread):
                external_id = f"u{n}" if worker % 2 else f"w{worker}-{n}"  # odd workers race
                response = client.post("/contacts", json={"external_id": external_id})
                with lock:
                    answers.append((external_id, response))

    workers = [threading.Thread(target=create, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    contacts = {c["external_id"]: c["id"] for c in sandbox.contacts}
    assert len(contacts) == len(sandbox.contacts) == 4 * per_thread + per_thread
    assert len(sandbox.requests) == threads * per_thread
    for external_id, response in answers:
        if response.status_code == 200:
            assert response.json()["id"] == contacts[external_id]
        else:
            assert response.json()["errors"][0]["message"].endswith(contacts[external_id])
    assert sum(r.status_code == 200 for _, r in answers) == len(contacts)


# manage.py intercom_sandbox


def _manage(tmp_path: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "intercom_sandbox", *arguments],
        cwd=ROOT,
        env={**os.environ, "FERRY_VAR_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_management_command_serves_until_interrupted(tmp_path):
    server = _manage(
        tmp_path, "--port", "0", "--rate-limit", "7", "--client-id", "cid",
        "--client-secret", "csecret",
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = "".join(iter(server.stdout.readline, "Ctrl-C stops it.\n"))
        base_url = re.search(r"Intercom sandbox on (http://127\.0\.0\.1:\d+)", banner)[1]
        token = re.search(r"access token:\s+(\S+)", banner)[1]
        assert re.search(r"client id:\s+cid\n", banner)
        assert re.search(r"client secret:\s+csecret\n", banner)

        response = httpx.get(
            f"{base_url}/me",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "7"
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)

    assert server.returncode == 0, output
    assert "Intercom sandbox stopped." in output


def test_the_management_command_reports_a_busy_port(tmp_path, sandbox):
    port = urlsplit(sandbox.base_url).port

    server = _manage(tmp_path, "--port", str(port))
    output, _ = server.communicate(timeout=30)

    assert server.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in output
