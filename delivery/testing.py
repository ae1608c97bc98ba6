"""The console's "Test mapping": the events to try a draft mapping on (recent
ones of the source, pasted ones, generated samples), a dry run, and a test send
that goes through ``delivery.execution.try_mapping`` like ``manage.py
test_mapping`` and is recorded in the logs, marked as a test.

- ``draft_parse(...)`` and ``event_parse(...)`` read the editor's form, raising
  ``CannotTest`` with a sentence to show;
- ``events_to_test(...)``, ``event_sample(...)`` and ``event_sample_for(...)``:
  what to test with;
- ``mapping_preview(...)`` (nothing sent, nothing stored) and
  ``mapping_test_send(...)`` (a real send, stored with ``is_test``).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from console.crypto import UnreadableSecret
from console.models import Destination, Source, Workspace
from delivery import selectors, services
from delivery.execution import DRY_RUN, MappingFailure, Trial, map_event, try_mapping
from delivery.ingest import MESSAGE_LIMIT
from delivery.intercom.actions import ContactCache, MemoryContactCache, foreseen_warnings
from delivery.intercom.client import IntercomClient, Outcome
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import event_row
from delivery.workspaces import client_for, contact_cache_for
from mappings.actions import ACTIONS
from mappings.compiled import CompiledMapping, compile_saved
from mappings.directives import MappingError
from mappings.models import Mapping as SavedMapping
from mappings.triggers import And, Condition, Expression, Or, TriggerError, parse

SAMPLE_TYPES = ("identify", "track", "group", "page", "screen")
NATURAL_TYPES = {
    "identify_contact": "identify",
    "identify_company": "group",
    "track_event": "track",
}
RECENT_SCANNED = 200
RECENT_SHOWN = 10


class CannotTest(ValueError):
    """Why a test cannot go ahead, in a sentence the user can act on."""


@dataclass(frozen=True)
class Draft:
    """A mapping as the editor holds it, saved or not."""

    action: str
    trigger: str
    fields: dict[str, Any]

    @property
    def action_title(self) -> str:
        return ACTIONS[self.action].title


def draft_parse(*, action: str, trigger: str, fields_text: str) -> Draft:
    if action not in ACTIONS:
        titles = ", ".join(known.title for known in ACTIONS.values())
        raise CannotTest(f"Choose the mapping's action ({titles}) before testing it.")
    try:
        fields = _json(fields_text) if fields_text.strip() else {}
    except ValueError as error:
        raise CannotTest(f"The field mapping is not valid JSON: {error}.") from None
    if not isinstance(fields, dict):
        raise CannotTest("The field mapping must be a JSON object of field names and values.")
    if not _storable(fields):
        raise CannotTest(f"The field mapping holds {_UNSTORABLE}")
    return Draft(action=action, trigger=trigger, fields=fields)


def _json(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, which no database column can store."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON value")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def draft_of(mapping: SavedMapping) -> Draft:
    return Draft(action=mapping.action, trigger=mapping.trigger, fields=dict(mapping.fields))


def event_parse(*, text: str) -> dict[str, Any]:
    if not text.strip():
        raise CannotTest(
            "There is no event to test with: load one from the source, generate a sample or "
            "paste one."
        )
    try:
        event = _json(text)
    except ValueError as error:
        raise CannotTest(f"The event is not valid JSON: {error}.") from None
    if not isinstance(event, dict):
        raise CannotTest('The event must be a JSON object, such as {"type": "track", …}.')
    if not _storable(event):
        raise CannotTest(f"The event holds {_UNSTORABLE}")
    size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MESSAGE_LIMIT:
        raise CannotTest(
            f"The event is {size} bytes of JSON; Segment's limit, and Ferry's, is "
            f"{MESSAGE_LIMIT} bytes (32 KB)."
        )
    return event


_UNSTORABLE = (
    "a NUL character or an unpaired surrogate (\\u0000, \\ud800…), which cannot be stored; "
    "remove it."
)


def _storable(value: Any) -> bool:
    """Whether the database can hold every text in the value (PostgreSQL refuses NUL
    characters and unpaired surrogates)."""
    for text in _texts(value):
        if "\x00" in text:
            return False
        try:
            text.encode()
        except UnicodeEncodeError:
            return False
    return True


def _texts(value: Any) -> Iterator[str]:
    """Every key and text value in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts(child)


def event_text(event: Mapping[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False)


# --- Events to test with ------------------------------------------------------------------


@dataclass(frozen=True)
class EventChoices:
    events: list[Event]
    matching: bool
    """Whether ``events`` are those matching the trigger (else simply the latest)."""
    trigger_error: str | None = None


def events_to_test(*, source: Source, trigger: str) -> EventChoices:
    """The source's latest events that match the trigger, newest first; when none
    does (or the trigger cannot be read), its latest events all the same."""
    recent = list(selectors.events_recent(source=source, limit=RECENT_SCANNED))
    try:
        compiled_trigger = parse(trigger)
    except TriggerError as error:
        return EventChoices(recent[:RECENT_SHOWN], matching=False, trigger_error=str(error))
    matching = [event for event in recent if compiled_trigger.matches(event.payload)]
    if matching:
        return EventChoices(matching[:RECENT_SHOWN], matching=True)
    return EventChoices(recent[:RECENT_SHOWN], matching=False)


def event_sample_for(*, draft: Draft, now: datetime | None = None) -> dict[str, Any]:
    """A sample the draft's trigger accepts, if one of the samples can be made to
    fit it; else the sample of the action's usual event type."""
    natural = NATURAL_TYPES[draft.action]
    for event_type in (natural, *(other for other in SAMPLE_TYPES if other != natural)):
        sample = event_sample(event_type=event_type, trigger=draft.trigger, now=now)
        if _accepts(draft.trigger, sample):
            return sample
    return event_sample(event_type=natural, now=now)


def event_sample(
    *, event_type: str, trigger: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """A realistic event of the type, as analytics.js (or analytics-ios for a
    screen) would send it. When the trigger asks for particular values (an event
    name, a property) that the sample can take, it takes them."""
    if event_type not in SAMPLE_TYPES:
        raise CannotTest(f"Samples exist for these event types: {', '.join(SAMPLE_TYPES)}.")
    moment = (now or timezone.now()).astimezone(UTC).isoformat(timespec="milliseconds")
    moment = moment.replace("+00:00", "Z")
    sample: dict[str, Any] = {
        "type": event_type,
        "messageId": f"sample-{uuid.uuid4()}",
        "userId": "user-1815",
        "anonymousId": "6f9c3a5e-2b1d-4c8e-9f7a-1d2e3f4a5b6c",
        **copy.deepcopy(_SAMPLE_BODIES[event_type]),
        "context": copy.deepcopy(_MOBILE_CONTEXT if event_type == "screen" else _BROWSER_CONTEXT),
        "originalTimestamp": moment,
        "sentAt": moment,
        "receivedAt": moment,
        "timestamp": moment,
    }
    if not trigger:
        return sample
    try:
        compiled_trigger = parse(trigger)
    except TriggerError:
        return sample
    if compiled_trigger.matches(sample):
        return sample
    for conditions in _alternatives(compiled_trigger.expression):
        fitted = _fitted(sample, conditions)
        if fitted is not None and compiled_trigger.matches(fitted):
            return fitted
    return sample


def _accepts(trigger: str, event: Mapping[str, Any]) -> bool:
    try:
        return parse(trigger).matches(event)
    except TriggerError:
        return False


def _alternatives(expression: Expression) -> Iterator[list[Condition]]:
    """Lists of conditions each of which, all holding, may satisfy the expression."""
    if isinstance(expression, Condition):
        yield [expression]
    elif isinstance(expression, And) and all(isinstance(i, Condition) for i in expression.items):
        yield [item for item in expression.items if isinstance(item, Condition)]
    elif isinstance(expression, Or):
        for item in expression.items:
            yield from _alternatives(item)


def _fitted(sample: dict[str, Any], conditions: list[Condition]) -> dict[str, Any] | None:
    """The sample with the values the conditions ask for; None when one of them
    would change its type (a track sample cannot become a group call)."""
    fitted = copy.deepcopy(sample)
    for condition in conditions:
        if condition.operator != "=" or condition.value is None:
            continue
        value = condition.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if condition.root == "type":
            if value != sample["type"]:
                return None
            continue
        if not condition.path:
            fitted[condition.root] = value
            continue
        target = fitted.setdefault(condition.root, {})
        *parents, last = condition.path.split(".")
        for key in parents:
            child = target.get(key)
            if not isinstance(child, dict):
                child = target[key] = {}
            target = child
        target[last] = value
    return fitted


_BROWSER_CONTEXT: dict[str, Any] = {
    "ip": "203.0.113.42",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "userAgent": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
    ),
    "library": {"name": "analytics.js", "version": "npm:next-1.70.0"},
    "page": {
        "path": "/checkout",
        "referrer": "https://www.google.com/",
        "search": "",
        "title": "Checkout · Example Shop",
        "url": "https://shop.example.com/checkout",
    },
    "campaign": {"name": "autumn-sale", "source": "newsletter", "medium": "email"},
}

_MOBILE_CONTEXT: dict[str, Any] = {
    "ip": "203.0.113.42",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "library": {"name": "analytics-ios", "version": "4.1.8"},
    "app": {
        "name": "Example Shop",
        "version": "4.2.0",
        "build": "420",
        "namespace": "com.example.shop",
    },
    "device": {
        "id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
        "manufacturer": "Apple",
        "model": "iPhone15,2",
        "type": "ios",
    },
    "os": {"name": "iOS", "version": "17.5"},
    "network": {"wifi": True, "cellular": False},
    "screen": {"width": 393, "height": 852},
}

_SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "identify": {
        "traits": {
            "email": "ada.lovelace@example.com",
            "name": "Ada Lovelace",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "phone": "+44 20 7946 0958",
            "title": "Head of Engineering",
            "avatar": "https://shop.example.com/avatars/ada.png",
            "createdAt": "2024-03-14T09:26:53.000Z",
            "plan": "Pro",
            "logins": 42,
            "company": {"id": "company-1842", "name": "Analytical Engines"},
            "address": {"city": "London", "country": "GB", "postalCode": "W1J 7NT"},
        }
    },
    "track": {
        "event": "Order Completed",
        "properties": {
            "checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
            "order_id": "50314b8e9bcf000000000000",
            "affiliation": "Example Shop",
            "total": 27.5,
            "subtotal": 22.5,
            "revenue": 25.0,
            "shipping": 3,
            "tax": 2,
            "discount": 2.5,
            "coupon": "AUTUMN10",
            "currency": "USD",
            "products": [
                {
                    "product_id": "507f1f77bcf86cd799439011",
                    "sku": "45790-32",
                    "name": "Monopoly: 3rd Edition",
                    "price": 19,
                    "quantity": 1,
                    "category": "Games",
                    "url": "https://shop.example.com/product/monopoly",
                },
                {
                    "product_id": "505bd76785ebb509fc183733",
                    "sku": "46493-32",
                    "name": "Uno Card Game",
                    "price": 3.5,
                    "quantity": 1,
                    "category": "Games",
                },
            ],
        },
    },
    "group": {
        "groupId": "company-1842",
        "traits": {
            "name": "Analytical Engines",
            "industry": "Software",
            "employees": 120,
            "plan": "Enterprise",
            "website": "https://analytical-engines.example.com",
            "createdAt": "2023-06-01T12:00:00.000Z",
            "monthly_spend": 499,
        },
    },
    "page": {
        "name": "Pricing",
        "properties": {
            "title": "Pricing · Example Shop",
            "url": "https://shop.example.com/pricing",
            "path": "/pricing",
            "referrer": "https://www.google.com/",
            "search": "",
        },
    },
    "screen": {
        "name": "Order Summary",
        "properties": {"order_id": "50314b8e9bcf000000000000", "items": 2, "total": 27.5},
    },
}


# --- Dry run --------------------------------------------------------------------------------


@dataclass
class Preview:
    matched: bool
    payload: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _compiled(draft: Draft) -> CompiledMapping:
    try:
        return compile_saved(draft.action, draft.trigger, draft.fields)
    except TriggerError as error:
        raise CannotTest(f"The trigger is invalid: {error}") from None
    except MappingError as error:
        raise CannotTest(f"The field mapping is invalid: {' '.join(error.messages)}") from None


def mapping_preview(*, draft: Draft, event: Mapping[str, Any]) -> Preview:
    """What the draft makes of the event, and what sending it would change or
    drop; nothing is sent. ``CannotTest`` when the draft cannot run at all."""
    compiled_mapping = _compiled(draft)
    preview = Preview(matched=compiled_mapping.trigger.matches(event))
    try:
        preview.payload = map_event(draft.action, compiled_mapping.transform, event)
    except MappingFailure as failure:
        preview.errors = failure.errors
        return preview
    preview.warnings = foreseen_warnings(draft.action, preview.payload)
    return preview


# --- Test send --------------------------------------------------------------------------------


@dataclass
class SentTest:
    trial: Trial
    delivery: Delivery | None = None
    attempt: Attempt | None = None


def workspace_problem(destination: Destination) -> str | None:
    """Why the destination cannot take a test send now, or None."""
    workspace = destination.workspace
    if workspace is None:
        return (
            "This destination has no Intercom workspace yet: choose one in its settings, then "
            "send the test again."
        )
    if workspace.status == Workspace.Status.NEEDS_RECONNECT:
        return (
            f"The Intercom workspace {workspace.name} needs reconnecting (Intercom refused its "
            "token): reconnect it on the Workspaces page, then send the test again."
        )
    return None


def mapping_test_send(
    *,
    destination: Destination,
    draft: Draft,
    event: Mapping[str, Any],
    mapping: SavedMapping | None = None,
) -> SentTest:
    """Run the draft on the event against the destination's workspace for real,
    recording an Event, a Delivery and its Attempt marked as a test (the attempt
    written before the first call). Nothing is recorded when the trigger does not
    match the event: real traffic would not have made a delivery either.
    ``CannotTest`` when the workspace cannot be called or the draft cannot run."""
    problem = workspace_problem(destination)
    if problem is not None:
        raise CannotTest(problem)
    workspace = destination.workspace
    assert workspace is not None
    _compiled(draft)
    dry_run = _try(draft, event, client=None)
    if not dry_run.matched:
        return SentTest(trial=dry_run)
    try:
        client = client_for(workspace)
    except UnreadableSecret as unreadable:
        services.workspace_pause(workspace=workspace)
        raise CannotTest(f"{unreadable} Reconnect the workspace, then try again.") from None
    delivery, attempt = _record_start(destination, mapping, draft, event)
    if dry_run.outcome != DRY_RUN:
        trial = dry_run
    else:
        started = time.monotonic()
        trial = _try(draft, event, client=client, cache=contact_cache_for(workspace))
        attempt.duration_ms = round((time.monotonic() - started) * 1000)
    _record_end(delivery, attempt, trial, workspace)
    return SentTest(trial=trial, delivery=delivery, attempt=attempt)


def _try(
    draft: Draft,
    event: Mapping[str, Any],
    *,
    client: IntercomClient | None,
    cache: ContactCache | None = None,
) -> Trial:
    return try_mapping(
        action_key=draft.action,
        trigger=draft.trigger,
        fields=draft.fields,
        event=event,
        client=client,
        cache=cache if cache is not None else MemoryContactCache(),
    )


def _record_start(
    destination: Destination,
    mapping: SavedMapping | None,
    draft: Draft,
    event: Mapping[str, Any],
) -> tuple[Delivery, Attempt]:
    now = timezone.now()
    with transaction.atomic():
        columns = event_row(destination.source, dict(event), now)
        columns["message_id"] = columns["message_id"] or f"test-{uuid.uuid4()}"
        stored = Event.objects.create(**columns, status=Event.Status.TEST)
        # Never claimed by a worker (not waiting) and holding nobody's later deliveries.
        delivery = Delivery.objects.create(
            event=stored,
            destination=destination,
            mapping=mapping,
            action=draft.action,
            person=stored.user_id or stored.anonymous_id,
            status=Delivery.Status.IN_FLIGHT,
            attempts=1,
            blocking=False,
            is_test=True,
        )
        attempt = Attempt.objects.create(delivery=delivery, number=1, started_at=now)
    return delivery, attempt


def _record_end(delivery: Delivery, attempt: Attempt, trial: Trial, workspace: Workspace) -> None:
    attempt.outcome = trial.outcome or Attempt.Outcome.PERMANENT
    attempt.error = trial.error or ""
    attempt.warnings = trial.warnings
    attempt.exchanges = [exchange.as_dict() for exchange in trial.exchanges]
    attempt.payload = trial.payload
    # A test is tried once: whatever did not get through is failed, never retried.
    delivered = trial.outcome == Outcome.DELIVERED.value
    delivery.status = Delivery.Status.DELIVERED if delivered else Delivery.Status.FAILED
    delivery.last_error = "" if delivered else attempt.error
    delivery.finished_at = timezone.now()
    with transaction.atomic():
        attempt.save(
            update_fields=["duration_ms", "outcome", "error", "warnings", "exchanges", "payload"]
        )
        delivery.save(update_fields=["status", "last_error", "finished_at"])
        if trial.outcome == Outcome.NEEDS_RECONNECT.value:
            services.workspace_pause(workspace=workspace)
