"""The Intercom actions: a validated payload in, HTTP exchanges and an outcome out.

Public surface:

- ``identify_contact``, ``identify_company``, ``track_event`` (the three mapping
  actions, keyed as in ``mappings.actions``) and ``delete_contact`` (user
  deletion), each ``(client, payload, *, cache) -> ActionResult``;
- ``ACTIONS``: the three mapping actions by key; ``foreseen_warnings`` for previews;
- ``ActionResult``; ``ContactCache`` (the protocol) and ``MemoryContactCache``.

The behaviour is the contract in intercom-actions.md: the search rule, update
versus create, recovery from a 409 on create, lead rules, attaching companies,
track identity rules, event-name cleanup, revenue and metadata rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from delivery.intercom.client import Exchange, IntercomClient, IntercomError, Outcome

METADATA_KEY_LIMIT = 10
CONFLICT_ID = re.compile(r"already exists with id=([0-9A-Za-z_-]+)")
EVENT_NAME_FORBIDDEN = re.compile(r"[.$]")
COMPANY_ONLY_KEYS = ("contact_id", "external_id", "email")
METADATA_MOVED_KEYS = ("email", "revenue", "currency")


class ContactCache(Protocol):
    """Where the Intercom contact id found for an External ID or an email is
    remembered, per workspace, so the next event for that person skips the
    search. ``kind`` is the contact field the value belongs to."""

    def get(self, kind: str, value: str) -> str | None: ...

    def set(self, kind: str, value: str, contact_id: str) -> None: ...

    def forget(self, kind: str, value: str) -> None: ...


class MemoryContactCache:
    """A ContactCache in a dict: for one process (tests, the command line)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get(self, kind: str, value: str) -> str | None:
        return self.entries.get((kind, value))

    def set(self, kind: str, value: str, contact_id: str) -> None:
        self.entries[(kind, value)] = contact_id

    def forget(self, kind: str, value: str) -> None:
        self.entries.pop((kind, value), None)


@dataclass
class ActionResult:
    outcome: Outcome
    exchanges: list[Exchange]
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    retry_at: datetime | None = None
    awaiting_contact: bool = False
    """Retryable only for a bounded time: the person is unknown to Intercom,
    and an Identify for them may still be on its way."""


class _AwaitingContact(Exception):
    pass


class _Run:
    """What one action run shares between its steps."""

    def __init__(self, client: IntercomClient, cache: ContactCache) -> None:
        self.client = client
        self.cache = cache
        self.warnings: list[str] = []

    def search(self, kind: str, value: str) -> str | None:
        """Intercom's id of the one contact whose ``kind`` equals ``value``:
        found only when the search answers exactly one contact."""
        response = self.client.request(
            "POST",
            "/contacts/search",
            body={"query": {"field": kind, "operator": "=", "value": value}},
        )
        contact_id = _unique_contact_id(response.data)
        if contact_id is not None:
            self.cache.set(kind, value, contact_id)
        return contact_id

    def with_contact(self, lookup: tuple[str, str], use: Callable[[str], bool]) -> str | None:
        """Find the contact (cache first, then search) and ``use`` its id.
        ``use`` answers False when Intercom no longer knows a cached id (404):
        the entry is dropped and the search runs. None when nobody is found."""
        cached = self.cache.get(*lookup)
        if cached is not None:
            if use(cached):
                return cached
            self.cache.forget(*lookup)
        found = self.search(*lookup)
        if found is not None and use(found):
            return found
        return None


def _unique_contact_id(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    total, contacts = data.get("total_count"), data.get("data")
    if type(total) is not int or total != 1 or not isinstance(contacts, list):
        return None
    if len(contacts) != 1 or not isinstance(contacts[0], dict):
        return None
    contact_id = contacts[0].get("id")
    return contact_id if isinstance(contact_id, str) and contact_id else None


def _lookup(payload: Mapping[str, Any], kinds: tuple[str, ...]) -> tuple[str, str] | None:
    """The first identifier the payload has, in priority order."""
    for kind in kinds:
        value = payload.get(kind)
        if isinstance(value, str) and value:
            return kind, value
    return None


def _path_id(identifier: str) -> str:
    return quote(identifier, safe="")


def _perform(
    client: IntercomClient, cache: ContactCache, work: Callable[[_Run], None]
) -> ActionResult:
    run = _Run(client, cache)
    first_exchange = len(client.exchanges)
    try:
        work(run)
    except IntercomError as failure:
        return ActionResult(
            outcome=failure.outcome,
            exchanges=client.exchanges[first_exchange:],
            warnings=run.warnings,
            error=failure.message,
            retry_at=failure.retry_at,
        )
    except _AwaitingContact as waiting:
        return ActionResult(
            outcome=Outcome.RETRYABLE,
            exchanges=client.exchanges[first_exchange:],
            warnings=run.warnings,
            error=str(waiting),
            awaiting_contact=True,
        )
    return ActionResult(
        outcome=Outcome.DELIVERED,
        exchanges=client.exchanges[first_exchange:],
        warnings=run.warnings,
    )


def identify_contact(
    client: IntercomClient, payload: Mapping[str, Any], *, cache: ContactCache
) -> ActionResult:
    """Update the contact found by External ID (else Email), or create it."""
    body = dict(payload)

    def work(run: _Run) -> None:
        run.warnings.extend(_apply_lead_rule(body))
        lookup = _lookup(body, ("external_id", "email"))

        def update(contact_id: str) -> bool:
            answer = client.request(
                "PUT", f"/contacts/{_path_id(contact_id)}", body=body, accept={404}
            )
            return answer.status != 404

        if lookup is not None and run.with_contact(lookup, update) is not None:
            return
        created = client.request("POST", "/contacts", body=body, accept={409})
        if created.status == 409:
            existing = _conflicting_contact_id(created.data)
            if existing is None:
                raise IntercomError(
                    outcome=Outcome.RETRYABLE,
                    message="Intercom says the contact already exists (409) but did not say "
                    "which one; the search will be tried again.",
                    status=409,
                )
            client.request("PUT", f"/contacts/{_path_id(existing)}", body=body)
            contact_id: Any = existing
        else:
            contact_id = created.data.get("id") if isinstance(created.data, dict) else None
        if lookup is not None and isinstance(contact_id, str):
            run.cache.set(*lookup, contact_id)

    return _perform(client, cache, work)


def _apply_lead_rule(body: dict[str, Any]) -> list[str]:
    """Leads cannot have an External ID: it is taken out of the body."""
    if body.get("role") == "lead" and "external_id" in body:
        del body["external_id"]
        return ["External IDs cannot be set for leads: External ID was not sent to Intercom."]
    return []


def foreseen_warnings(action_key: str, payload: Mapping[str, Any]) -> list[str]:
    """The warnings the action will give for this payload before any call
    (what it drops or changes), for previews that send nothing."""
    if action_key == "identify_contact":
        return _apply_lead_rule(dict(payload))
    if action_key == "track_event":
        warnings: list[str] = []
        _event_metadata(payload, warnings)
        return warnings
    return []


def _conflicting_contact_id(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return None
    for error in data["errors"]:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            match = CONFLICT_ID.search(error["message"])
            if match:
                return match.group(1)
    return None


def identify_company(
    client: IntercomClient, payload: Mapping[str, Any], *, cache: ContactCache
) -> ActionResult:
    """Create or update the company, then attach the contact it names."""
    company = {key: value for key, value in payload.items() if key not in COMPANY_ONLY_KEYS}

    def work(run: _Run) -> None:
        saved = client.request("POST", "/companies", body=company)
        company_id = saved.data.get("id") if isinstance(saved.data, dict) else None
        if not isinstance(company_id, str) or not company_id:
            raise IntercomError(
                outcome=Outcome.PERMANENT,
                message="Intercom's answer to POST /companies has no company id.",
                status=saved.status,
            )

        def attach(contact_id: str) -> bool:
            answer = client.request(
                "POST",
                f"/contacts/{_path_id(contact_id)}/companies",
                body={"id": company_id},
                accept={404},
            )
            return answer.status != 404

        given_contact = payload.get("contact_id")
        if isinstance(given_contact, str) and given_contact:
            client.request(
                "POST", f"/contacts/{_path_id(given_contact)}/companies", body={"id": company_id}
            )
            return
        lookup = _lookup(payload, ("external_id", "email"))
        if lookup is None:
            run.warnings.append(
                "The company was saved but no contact was attached: the mapping gave no "
                "Contact ID, External ID or Email Address. Intercom does not show companies "
                "without contacts."
            )
        elif run.with_contact(lookup, attach) is None:
            run.warnings.append(
                f"The company was saved but no contact was attached: no unique Intercom "
                f"contact has {_label(lookup[0])} “{lookup[1]}”. Intercom does not show "
                f"companies without contacts."
            )

    return _perform(client, cache, work)


def track_event(
    client: IntercomClient, payload: Mapping[str, Any], *, cache: ContactCache
) -> ActionResult:
    """Submit a data event for the contact named by User ID, Contact ID or Email."""
    warnings: list[str] = []
    body: dict[str, Any] = {
        "event_name": EVENT_NAME_FORBIDDEN.sub("-", str(payload["event_name"])),
        "created_at": payload["created_at"],
    }
    for key in ("user_id", "id", "email"):
        if payload.get(key) not in (None, ""):
            body[key] = payload[key]
    metadata = _event_metadata(payload, warnings)
    if metadata:
        body["metadata"] = metadata

    def work(run: _Run) -> None:
        run.warnings.extend(warnings)

        def submit(contact_id: str | None) -> bool:
            sent = dict(body, id=contact_id) if contact_id else body
            answer = client.request("POST", "/events", body=sent, accept={404})
            return answer.status != 404

        if "user_id" in body or "id" in body:
            if not submit(None):
                raise _AwaitingContact(
                    f"Intercom has no contact for {_identity(body)} (404 User Not Found); "
                    "an Identify for this person may not have arrived yet."
                )
            return
        email = str(body["email"])
        if run.with_contact(("email", email), submit) is None:
            raise _AwaitingContact(f"No unique contact found with Email Address “{email}”.")

    return _perform(client, cache, work)


def _event_metadata(payload: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Flat metadata of at most 10 keys, price first; every dropped key named."""
    given = payload.get("metadata")
    source = dict(given) if isinstance(given, Mapping) else {}
    for key in METADATA_MOVED_KEYS:
        source.pop(key, None)
    metadata: dict[str, Any] = {}
    revenue = payload.get("revenue")
    if isinstance(revenue, int | float) and not isinstance(revenue, bool):
        metadata["price"] = {
            "amount": math.floor(revenue * 100 + 0.5),
            "currency": payload.get("currency") or "USD",
        }
        source.pop("price", None)
    elif isinstance(source.get("price"), dict):
        metadata["price"] = source.pop("price")
    nested = []
    for key, value in source.items():
        if isinstance(value, dict | list) and not _is_rich_link(value):
            nested.append(key)
        else:
            metadata[key] = value
    if nested:
        warnings.append(
            f"Dropped from the event's metadata, because Intercom ignores nested objects and "
            f"lists: {_quoted(nested)}."
        )
    if len(metadata) > METADATA_KEY_LIMIT:
        extra = list(metadata)[METADATA_KEY_LIMIT:]
        for key in extra:
            del metadata[key]
        warnings.append(
            f"Dropped from the event's metadata, because Intercom keeps at most "
            f"{METADATA_KEY_LIMIT} keys: {_quoted(extra)}."
        )
    return metadata


def _is_rich_link(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"url", "value"}


def delete_contact(
    client: IntercomClient, payload: Mapping[str, Any], *, cache: ContactCache
) -> ActionResult:
    """Delete the contact whose External ID is ``payload["user_id"]``."""
    user_id = str(payload["user_id"])

    def work(run: _Run) -> None:
        def delete(contact_id: str) -> bool:
            answer = client.request("DELETE", f"/contacts/{_path_id(contact_id)}", accept={404})
            return answer.status != 404

        if run.with_contact(("external_id", user_id), delete) is None:
            run.warnings.append(
                f"No Intercom contact has External ID “{user_id}”: nothing was deleted."
            )
        run.cache.forget("external_id", user_id)

    return _perform(client, cache, work)


def _label(kind: str) -> str:
    return {"external_id": "External ID", "email": "Email Address"}.get(kind, kind)


def _identity(body: Mapping[str, Any]) -> str:
    if "user_id" in body:
        return f"User ID “{body['user_id']}”"
    return f"Contact ID “{body['id']}”"


def _quoted(keys: list[str]) -> str:
    return ", ".join(f"“{key}”" for key in keys)


ActionFunction = Callable[..., ActionResult]

ACTIONS: dict[str, ActionFunction] = {
    "identify_contact": identify_contact,
    "identify_company": identify_company,
    "track_event": track_event,
}
