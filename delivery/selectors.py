"""Reads of the delivery app, always scoped to one organisation (or to an object
already found within it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from console.models import Destination, Organization, Source
from delivery.models import Delivery, Event
from mappings.models import Mapping

PATH_EVENTS = 200
"""How many of a source's latest events the path suggestions are drawn from."""
PATH_DEPTH = 8
PATH_LIMIT = 1000
# The mapping language splits paths on dots and brackets and drops quotes, so a
# key holding one of these cannot be written as a path.
_UNWRITABLE_KEY_CHARACTERS = frozenset(".[]'\"")
SUMMARY_WINDOW = timedelta(hours=24)


def events_of(*, organization: Organization) -> QuerySet[Event]:
    return (
        Event.objects.filter(source__organization=organization)
        .select_related("source")
        .order_by("-received_at", "-id")
    )


def deliveries_of(*, organization: Organization) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(destination__source__organization=organization)
        .select_related("event", "destination", "mapping")
        .order_by("-id")
    )


def mappings_of(*, organization: Organization) -> QuerySet[Mapping]:
    return Mapping.objects.filter(destination__source__organization=organization).select_related(
        "destination"
    )


def events_recent(*, source: Source, limit: int) -> QuerySet[Event]:
    """The source's latest events as received: neither refused, nor duplicates,
    nor test sends."""
    return Event.objects.filter(
        source=source, status__in=(Event.Status.ROUTED, Event.Status.NO_MATCH)
    ).order_by("-received_at", "-id")[:limit]


def event_paths(*, source: Source, prefix: str = "") -> list[str]:
    """Every JSON path (``$.traits.email``, ``$.properties.products.0.price``) found
    in the source's latest events, sorted, keeping those that start with
    ``prefix`` (with or without its ``$.``, in any case)."""
    payloads = (
        Event.objects.filter(source=source)
        .exclude(status=Event.Status.REJECTED)
        .order_by("-received_at", "-id")
        .values_list("payload", flat=True)[:PATH_EVENTS]
    )
    found: set[str] = set()
    for payload in payloads:
        found.update(_paths(payload, "$", PATH_DEPTH))
        if len(found) >= PATH_LIMIT:
            break
    wanted = prefix.strip().lower().removeprefix("$.").removeprefix("$")
    return sorted(path for path in found if path[2:].lower().startswith(wanted))


def _paths(value: Any, prefix: str, depth: int) -> Iterator[str]:
    """The paths below ``prefix``; a list stands for its items by its first one."""
    if depth == 0:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            if not key or _UNWRITABLE_KEY_CHARACTERS.intersection(key):
                continue
            path = f"{prefix}.{key}"
            yield path
            yield from _paths(child, path, depth - 1)
    elif isinstance(value, list) and value:
        path = f"{prefix}.0"
        yield path
        yield from _paths(value[0], path, depth - 1)


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    older_than: int | None
    """The id to ask for older deliveries with, when there are more."""


def destination_deliveries(
    *, destination: Destination, before: int | None, status: str | None, size: int
) -> DeliveryPage:
    """The destination's deliveries, newest first, ``size`` at a time: the page
    after ``before`` (a delivery id) is found by the index, whatever its depth."""
    deliveries = Delivery.objects.filter(destination=destination).select_related("event", "mapping")
    if before is not None:
        deliveries = deliveries.filter(id__lt=before)
    if status is not None:
        deliveries = deliveries.filter(status=status)
    rows = list(deliveries.order_by("-id")[: size + 1])
    older_than = rows[size - 1].pk if len(rows) > size else None
    return DeliveryPage(deliveries=rows[:size], older_than=older_than)


@dataclass(frozen=True)
class DeliveryCounts:
    by_status: list[tuple[str, str, int]]
    """(status, label, count) of real deliveries, in the order of the statuses."""
    tests: int


def destination_delivery_counts(*, destination: Destination) -> DeliveryCounts:
    rows = (
        Delivery.objects.filter(destination=destination)
        .values("status", "is_test")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts: dict[str, int] = {}
    tests = 0
    for row in rows:
        if row["is_test"]:
            tests += row["count"]
        else:
            counts[row["status"]] = row["count"]
    return DeliveryCounts(
        by_status=[
            (status.value, status.label, counts[status.value])
            for status in Delivery.Status
            if status.value in counts
        ],
        tests=tests,
    )


@dataclass(frozen=True)
class MappingSummary:
    last: Delivery | None
    delivered: int
    failed: int
    retrying: int


def mapping_delivery_summary(*, mapping: Mapping, now: datetime | None = None) -> MappingSummary:
    """The mapping's latest real delivery, and how its deliveries of the last
    24 hours stand. Test sends are left out: this is how real traffic fares."""
    real = Delivery.objects.filter(mapping=mapping, is_test=False)
    since = (now or timezone.now()) - SUMMARY_WINDOW
    counts = {
        row["status"]: row["count"]
        for row in real.filter(created_at__gte=since)
        .values("status")
        .annotate(count=Count("id"))
        .order_by()
    }
    return MappingSummary(
        last=real.order_by("-id").first(),
        delivered=counts.get(Delivery.Status.DELIVERED, 0),
        failed=counts.get(Delivery.Status.FAILED, 0),
        retrying=counts.get(Delivery.Status.RETRYING, 0),
    )
