"""From received messages to stored events and pending deliveries, in one
transaction per request.

``accept_messages(source=..., incoming=..., received_at=...)`` stores every
message as an ``Event`` (rejected ones with their reason, repeated messageIds
within 24 hours as duplicates), creates one pending ``Delivery`` per enabled
mapping of each enabled destination of the source whose trigger matches,
records on the event why each other mapping made none (``Event.skipped``), and
wakes the workers once the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from console.models import Source, Workspace
from delivery import wakeup
from delivery.bulk import insert_rows
from delivery.models import Delivery, Event
from mappings.compiled import CompiledMapping, compiled
from mappings.directives import MappingError
from mappings.models import Mapping
from mappings.triggers import TriggerError

logger = logging.getLogger(__name__)

DEDUPLICATION_WINDOW = timedelta(hours=24)
IDENTIFIER_LIMIT = 255


@dataclass
class Incoming:
    """One message of a request: normalised, or refused with the reason why."""

    message: dict[str, Any]
    rejection: str | None = None


@dataclass
class _Route:
    mapping: Mapping
    compiled: CompiledMapping
    paused: bool


@dataclass
class _Routing:
    routes: list[_Route]
    skipped: dict[str, str]
    """Mappings that can take no event whatever it holds, with the reason why."""


def _routing(source: Source) -> _Routing:
    """Every mapping of the source's destinations, loaded once: those that can take
    events, and why the others cannot."""
    mappings = (
        Mapping.objects.filter(destination__source=source)
        .select_related("destination__workspace")
        .order_by("destination_id", "position", "id")
    )
    routing = _Routing(routes=[], skipped={})
    for mapping in mappings:
        destination = mapping.destination
        if not destination.enabled:
            routing.skipped[str(mapping.pk)] = Event.Skip.DESTINATION_DISABLED
        elif destination.workspace is None:
            routing.skipped[str(mapping.pk)] = Event.Skip.NO_WORKSPACE
        elif not mapping.enabled:
            routing.skipped[str(mapping.pk)] = Event.Skip.MAPPING_DISABLED
        else:
            try:
                compiled_mapping = compiled(mapping)
            except (TriggerError, MappingError):
                logger.exception("mapping %s cannot be compiled; it receives no events", mapping.pk)
                routing.skipped[str(mapping.pk)] = Event.Skip.INVALID
                continue
            paused = destination.workspace.status == Workspace.Status.NEEDS_RECONNECT
            routing.routes.append(_Route(mapping, compiled_mapping, paused))
    return routing


def _text(value: Any) -> str:
    return value[:IDENTIFIER_LIMIT] if isinstance(value, str) else ""


def _event_name(message: dict[str, Any]) -> str:
    name = message.get("event") if message.get("type") == "track" else message.get("name")
    return _text(name)


def _timestamp(message: dict[str, Any]) -> datetime | None:
    value = message.get("timestamp")
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _fresh_message_ids(source: Source, message_ids: Sequence[str], now: datetime) -> set[str]:
    """Register ``message_ids`` for the source; those not seen in the last 24
    hours come back. Concurrent requests agree through the unique index."""
    if not message_ids:
        return set()
    if connection.vendor == "postgresql":
        # One array parameter instead of a row of parameters per id: far less to parse.
        rows, parameters = "SELECT %s, unnest(%s::text[]), %s", [source.pk, list(message_ids), now]
    else:
        rows = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(message_ids))
        parameters = [value for message_id in message_ids for value in (source.pk, message_id, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO delivery_messagekey (source_id, message_id, seen_at) {rows} "
            "ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at "
            "WHERE delivery_messagekey.seen_at < %s "
            "RETURNING message_id",
            [*parameters, now - DEDUPLICATION_WINDOW],
        )
        return {row[0] for row in cursor.fetchall()}


@dataclass(frozen=True)
class Stored:
    """What became of one message."""

    id: int
    status: str
    reason: str


def event_row(source: Source, message: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    """The columns of the ``Event`` that stores ``message`` (all but its status)."""
    return {
        "source_id": source.pk,
        "message_id": _text(message.get("messageId")),
        "type": _text(message.get("type"))[: Event._meta.get_field("type").max_length],
        "event_name": _event_name(message),
        "user_id": _text(message.get("userId")),
        "anonymous_id": _text(message.get("anonymousId")),
        "payload": message,
        "timestamp": _timestamp(message),
        "received_at": received_at,
    }


def accept_messages(
    *, source: Source, incoming: Iterable[Incoming], received_at: datetime
) -> list[Stored]:
    """Store the messages and their deliveries; what became of each message."""
    incoming = list(incoming)
    with transaction.atomic():
        first_copies: dict[str, Incoming] = {}
        for item in incoming:
            if item.rejection is None:
                first_copies.setdefault(item.message["messageId"], item)
        fresh = _fresh_message_ids(source, list(first_copies), received_at)
        routing = _routing(source)
        events: list[dict[str, Any]] = []
        matched: list[list[_Route]] = []
        for item in incoming:
            event = event_row(source, item.message, received_at)
            routes_taken: list[_Route] = []
            if item.rejection is not None:
                event["status"], event["reason"] = Event.Status.REJECTED, item.rejection
            elif (
                first_copies.get(event["message_id"]) is not item
                or event["message_id"] not in fresh
            ):
                event["status"] = Event.Status.DUPLICATE
                event["reason"] = "The same messageId arrived within the last 24 hours."
            else:
                skipped = dict(routing.skipped)
                for route in routing.routes:
                    if route.compiled.trigger.matches(item.message):
                        routes_taken.append(route)
                    else:
                        skipped[str(route.mapping.pk)] = Event.Skip.TRIGGER
                event["status"] = Event.Status.ROUTED if routes_taken else Event.Status.NO_MATCH
                event["skipped"] = skipped
            events.append(event)
            matched.append(routes_taken)
        ids = insert_rows(Event, events)
        insert_rows(
            Delivery,
            [
                {
                    "event_id": event_id,
                    "destination_id": route.mapping.destination_id,
                    "mapping_id": route.mapping.pk,
                    "action": route.mapping.action,
                    "person": event["user_id"] or event["anonymous_id"],
                    "status": Delivery.Status.PAUSED if route.paused else Delivery.Status.PENDING,
                    "next_attempt_at": received_at,
                }
                for event_id, event, routes_taken in zip(ids, events, matched, strict=True)
                for route in routes_taken
            ],
        )
        if any(matched):
            transaction.on_commit(wakeup.wake_workers)
    return [
        Stored(id=event_id, status=event["status"], reason=event.get("reason", ""))
        for event_id, event in zip(ids, events, strict=True)
    ]
