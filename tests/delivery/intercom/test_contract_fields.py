"""Every field of the contract's tables, from a Segment event through the
action's default mapping to the body Intercom receives."""

from __future__ import annotations

from delivery.execution import map_event, perform
from mappings.actions import new_mapping
from mappings.compiled import compile_saved

IDENTIFY = {
    "type": "identify",
    "userId": "u-1",
    "timestamp": "2026-11-29T10:00:00Z",
    "traits": {
        "email": "ann@example.test",
        "phone": "+33 1 23 45 67 89",
        "name": "Ann Example",
        "avatar": "https://example.test/ann.png",
        "createdAt": "2026-01-02",
    },
}
GROUP = {
    "type": "group",
    "userId": "u-1",
    "groupId": "acme",
    "traits": {
        "name": "Acme",
        "createdAt": "2020-05-01T00:00:00+02:00",
        "monthly_spend": "99.5",
        "plan": "pro",
        "employees": 42,
        "website": "https://acme.test",
        "industry": "Rockets",
        "email": "ann@example.test",
    },
}
TRACK = {
    "type": "track",
    "userId": "u-1",
    "event": "Order.Completed",
    "timestamp": "2026-11-29T10:00:00.000Z",
    "properties": {"revenue": 12.34, "currency": "EUR", "order_id": "o-1", "email": "a@b.test"},
}


def run(action, event, sandbox, intercom, cache, *, role=None, **fields):
    template = new_mapping(action, role=role)
    mapping = compile_saved(action, template["trigger"], {**template["fields"], **fields})
    assert mapping.trigger.matches(event)
    payload = map_event(action, mapping.transform, event)
    return payload, perform(action, payload, client=intercom, cache=cache)


def test_identify_contact_sends_every_field(sandbox, intercom, cache):
    admin_id = int(intercom.request("GET", "/me").data["id"])

    payload, result = run(
        "identify_contact",
        IDENTIFY,
        sandbox,
        intercom,
        cache,
        role="user",
        signed_up_at={"@path": "$.traits.createdAt"},
        owner_id={"@literal": str(admin_id)},
        unsubscribed_from_emails={"@literal": "true"},
        custom_attributes={"plan": {"@literal": "pro"}},
    )

    assert result.outcome.value == "delivered", result.error
    assert sandbox.requests[-1].body == {
        "role": "user",
        "external_id": "u-1",
        "email": "ann@example.test",
        "phone": "+33 1 23 45 67 89",
        "name": "Ann Example",
        "avatar": "https://example.test/ann.png",
        "signed_up_at": 1767312000,
        "last_seen_at": 1795946400,
        "owner_id": admin_id,
        "unsubscribed_from_emails": True,
        "custom_attributes": {"plan": "pro"},
    }
    assert payload == sandbox.requests[-1].body


def test_identify_company_sends_every_field(sandbox, intercom, cache):
    contact = sandbox.add_contact(role="user", external_id="u-1")

    _, result = run(
        "identify_company",
        GROUP,
        sandbox,
        intercom,
        cache,
        custom_attributes={"tier": {"@literal": "gold"}},
    )

    assert result.outcome.value == "delivered", result.error
    saved = next(r for r in sandbox.requests if r.path == "/companies")
    assert saved.body == {
        "company_id": "acme",
        "name": "Acme",
        "remote_created_at": 1588284000,
        "monthly_spend": 99.5,
        "plan": "pro",
        "size": 42,
        "website": "https://acme.test",
        "industry": "Rockets",
        "custom_attributes": {"tier": "gold"},
    }
    assert sandbox.requests[-1].path == f"/contacts/{contact['id']}/companies"


def test_track_event_sends_every_field(sandbox, intercom, cache):
    sandbox.add_contact(role="user", external_id="u-1")

    _, result = run("track_event", TRACK, sandbox, intercom, cache)

    assert result.outcome.value == "delivered", result.error
    assert sandbox.requests[-1].body == {
        "event_name": "Order-Completed",
        "created_at": 1795946400,
        "user_id": "u-1",
        "email": "a@b.test",
        "metadata": {"price": {"amount": 1234, "currency": "EUR"}, "order_id": "o-1"},
    }
