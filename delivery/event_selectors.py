"""Reads behind the live events page: an organisation's events, filtered, a page
at a time in either direction, and what became of one event."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from console.models import Organization, Source
from delivery.models import Delivery, Event
from mappings.models import Mapping


@dataclass(frozen=True)
class EventFilter:
    """What the user narrowed the events down to; empty values filter nothing."""

    source: Source | None = None
    type: str = ""
    name: str = ""
    """The event name (a track's event, a page's or screen's name), exactly."""
    user: str = ""
    """A userId or an anonymousId, exactly."""


def events_filtered(*, organization: Organization, filters: EventFilter) -> QuerySet[Event]:
    """The organisation's events that pass ``filters``, newest first."""
    events = Event.objects.filter(source__organization=organization)
    if filters.source is not None:
        events = events.filter(source=filters.source)
    if filters.type:
        events = events.filter(type=filters.type)
    if filters.name:
        events = events.filter(event_name=filters.name)
    if filters.user:
        events = events.filter(Q(user_id=filters.user) | Q(anonymous_id=filters.user))
    return events.select_related("source").order_by("-received_at", "-id")


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    older_than: int | None
    """The id of the last event shown, when older ones exist."""


def events_page(
    *, organization: Organization, filters: EventFilter, before: Event | None, size: int
) -> EventPage:
    """``size`` events older than ``before`` (or the newest), found by the
    (received_at, id) order, however deep the page."""
    events = events_filtered(organization=organization, filters=filters)
    if before is not None:
        events = events.filter(
            Q(received_at__lt=before.received_at)
            | Q(received_at=before.received_at, id__lt=before.pk)
        )
    rows = list(events[: size + 1])
    older_than = rows[size - 1].pk if len(rows) > size else None
    return EventPage(events=rows[:size], older_than=older_than)


@dataclass(frozen=True)
class NewerEvents:
    events: list[Event]
    """The newest of the events received after the cursor, newest first."""
    more: bool
    """Whether more arrived than these: the list skips some."""


def events_newer(
    *, organization: Organization, filters: EventFilter, after: Event | None, size: int
) -> NewerEvents:
    """The events received after ``after`` (all of them when it is None), at most
    ``size``, the newest ones."""
    events = events_filtered(organization=organization, filters=filters)
    if after is not None:
        events = events.filter(
            Q(received_at__gt=after.received_at) | Q(received_at=after.received_at, id__gt=after.pk)
        )
    rows = list(events[: size + 1])
    return NewerEvents(events=rows[:size], more=len(rows) > size)


@dataclass(frozen=True)
class SkippedMapping:
    mapping: Mapping | None
    """The mapping as it is now; None once deleted."""
    reason: str


@dataclass(frozen=True)
class EventOutcome:
    event: Event
    payload_text: str
    deliveries: list[Delivery]
    skipped: list[SkippedMapping]


def event_outcome(*, event: Event) -> EventOutcome:
    """The event's JSON laid out for reading, its deliveries, and the mappings
    that made none with the reason why, under their current names."""
    deliveries = list(
        event.deliveries.select_related("mapping", "destination").order_by("destination_id", "id")
    )
    mapping_ids = [int(key) for key in event.skipped if key.isdigit()]
    mappings = Mapping.objects.filter(pk__in=mapping_ids, destination__source_id=event.source_id)
    current = {mapping.pk: mapping for mapping in mappings.select_related("destination")}
    labels = dict(Event.Skip.choices)
    skipped = sorted(
        (
            SkippedMapping(
                mapping=current.get(int(key)) if key.isdigit() else None,
                reason=labels.get(reason, reason),
            )
            for key, reason in event.skipped.items()
        ),
        # In the order the destination page lists them; deleted ones last.
        key=lambda skip: (
            (0, skip.mapping.destination_id, skip.mapping.position, skip.mapping.pk)
            if skip.mapping
            else (1, 0, 0, 0)
        ),
    )
    return EventOutcome(
        event=event,
        payload_text=json.dumps(event.payload, indent=2, ensure_ascii=False),
        deliveries=deliveries,
        skipped=skipped,
    )
