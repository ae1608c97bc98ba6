"""Reads of the delivery app, always scoped to one organisation (or to an object
already found within it)."""

from __future__ import annotations

import heapq
from collections import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from console.models import Destination, Organization, Source
from delivery.models import Attempt, Delivery, Event, ReplayJob
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
    return Delivery.objects.filter(destination__source__organization=organization).select_related(
        "event", "destination", "mapping"
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


# --- Deliveries, filtered --------------------------------------------------------------------

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
ERROR_SEARCH_WINDOW = "week"
"""Searching error text cannot use an index: without a time range of its own it
looks at this window only, so it stays fast however many deliveries are kept."""
COUNT_CAP = 1000
"""Status counts stop here (shown as "1000+"): counting further costs a scan."""
DELETION_ACTION = "delete_contact"
"""The action of a user deletion: its delivery has no mapping."""
ID_TIME_SLACK = timedelta(minutes=5)
"""A delivery's id is drawn moments after its ``created_at`` is set, so ids follow
time to well within this. A time range is therefore also an id range (found with a
margin this wide, the exact time condition kept), and every delivery index ends in
the id: without it, the rows of an old range or the counts of a recent one would be
looked for among all the others first."""
ERRING_STATUSES = tuple(
    status for status in Delivery.Status.values if status != Delivery.Status.DELIVERED
)
"""A delivered delivery has no error: an error search looks at the others only,
which lets it start from the status index."""
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _moment(text: str) -> datetime | None:
    """A time as a ``datetime-local`` input (or ISO 8601) writes it; UTC unless it says."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole_number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class DeliveryFilter:
    """What the deliveries list is narrowed to, as its query string holds it:
    ``destination``, ``status``, ``mapping``, ``action``, ``range`` (hour, day,
    week) or ``from``/``to``, ``user`` (the userId, else anonymousId) and
    ``error`` (text in the last error, any case)."""

    destination: int | None = None
    status: str | None = None
    mapping: int | None = None
    action: str | None = None
    window: str = ""
    since: datetime | None = None
    until: datetime | None = None
    person: str = ""
    error: str = ""
    error_window_implied: bool = False
    """True when the error search had no time range and looks at the last week."""

    @classmethod
    def from_query(cls, query: abc.Mapping[str, str], *, now: datetime) -> DeliveryFilter:
        """The filter a query string asks for; values that mean nothing are ignored."""
        status = query.get("status", "")
        action = query.get("action", "").strip()
        window = query.get("range", "")
        since = until = None
        if window in WINDOWS:
            since = now - WINDOWS[window]
        else:
            window = ""
            since = _moment(query.get("from", ""))
            until = _moment(query.get("to", ""))
        error = query.get("error", "").strip()
        implied = bool(error) and since is None and until is None
        if implied:
            since = now - WINDOWS[ERROR_SEARCH_WINDOW]
        return cls(
            destination=_whole_number(query.get("destination", "")),
            status=status if status in Delivery.Status.values else None,
            mapping=_whole_number(query.get("mapping", "")),
            action=action or None,
            window=window,
            since=since,
            until=until,
            person=query.get("user", "").strip(),
            error=error,
            error_window_implied=implied,
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string that asks for this filter (with ``changes``), values set only."""
        values = {
            "destination": self.destination,
            "status": self.status,
            "mapping": self.mapping,
            "action": self.action,
            "range": self.window,
            "from": None if self.window or self.error_window_implied else self.since,
            "to": None if self.window else self.until,
            "user": self.person,
            "error": self.error,
        }
        values.update(changes)
        return {
            key: value.astimezone(UTC).strftime(_TIME_FORMAT)
            if isinstance(value, datetime)
            else str(value)
            for key, value in values.items()
            if value not in (None, "")
        }

    def pinned(self) -> dict[str, str]:
        """The query string with its time range fixed: "the last hour" as of now,
        for a replay that runs later and must replay what the user saw."""
        return self.query(range=None, **{"from": self.since, "to": self.until})

    @property
    def narrowed(self) -> bool:
        """Whether anything but the destination narrows the list."""
        return any(
            (
                self.status,
                self.mapping,
                self.action,
                self.since,
                self.until,
                self.person,
                self.error,
            )
        )


def _destination_ids(*, organization: Organization, filter: DeliveryFilter) -> list[int]:
    destinations = Destination.objects.filter(source__organization=organization)
    if filter.destination is not None:
        destinations = destinations.filter(pk=filter.destination)
    return list(destinations.values_list("id", flat=True))


def _matching(
    *, destinations: list[int], filter: DeliveryFilter, by_status: bool = True
) -> QuerySet[Delivery]:
    """Deliveries of ``destinations`` (the organisation's few, listed first by
    ``_destination_ids`` so each query starts from the delivery indexes that begin
    with the destination) that pass the filter (its status too, if ``by_status``)."""
    deliveries = Delivery.objects.filter(destination_id__in=destinations)
    if by_status and filter.status is not None:
        deliveries = deliveries.filter(status=filter.status)
    if filter.mapping is not None:
        deliveries = deliveries.filter(mapping_id=filter.mapping)
    if filter.action is not None:
        deliveries = deliveries.filter(action=filter.action)
    if filter.since is not None:
        deliveries = deliveries.filter(created_at__gte=filter.since)
        after = _id_bound(destinations, filter.since - ID_TIME_SLACK, before=True)
        if after is not None:
            deliveries = deliveries.filter(id__gt=after)
    if filter.until is not None:
        deliveries = deliveries.filter(created_at__lt=filter.until)
        before = _id_bound(destinations, filter.until + ID_TIME_SLACK, before=False)
        if before is not None:
            deliveries = deliveries.filter(id__lt=before)
    if filter.person:
        deliveries = deliveries.filter(person=filter.person)
    if filter.error:
        deliveries = deliveries.filter(
            status__in=ERRING_STATUSES,
            last_error__icontains=filter.error,
        )
    return deliveries


def _id_bound(destinations: list[int], moment: datetime, *, before: bool) -> int | None:
    """Found by the time index: the newest delivery id created before ``moment``
    (``before``), or the oldest created at or after it."""
    created = {"created_at__lt": moment} if before else {"created_at__gte": moment}
    found = [
        Delivery.objects.filter(destination_id=destination, **created)
        .order_by("-created_at" if before else "created_at")
        .values_list("id", flat=True)
        .first()
        for destination in destinations
    ]
    ids = [pk for pk in found if pk is not None]
    if not ids:
        return None
    return max(ids) if before else min(ids)


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    older_than: int | None
    """The id to ask for older deliveries with, when there are more."""


def deliveries_page(
    *, organization: Organization, filter: DeliveryFilter, before: int | None, size: int
) -> DeliveryPage:
    """The deliveries that pass the filter, newest first, ``size`` at a time: the
    page after ``before`` (a delivery id) is found by the index, whatever its depth."""
    destinations = _destination_ids(organization=organization, filter=filter)
    deliveries = _matching(destinations=destinations, filter=filter)
    if before is not None:
        deliveries = deliveries.filter(id__lt=before)
    if filter.error:
        deliveries = Delivery.objects.filter(
            id__in=_newest_erring(deliveries, destinations=destinations, filter=filter, size=size)
        )
    rows = list(
        deliveries.select_related("event", "mapping", "destination")
        .defer("event__payload", "event__skipped", "mapping__fields")
        .order_by("-id")[: size + 1]
    )
    older_than = rows[size - 1].pk if len(rows) > size else None
    return DeliveryPage(deliveries=rows[:size], older_than=older_than)


def _newest_erring(
    deliveries: QuerySet[Delivery], *, destinations: list[int], filter: DeliveryFilter, size: int
) -> list[int]:
    """The ids of the newest ``size + 1`` of ``deliveries`` (an error search), looked
    for by destination and status: each such pair is one ordered range of the status
    index, so what is read is at most the failing deliveries of the time range.
    Walking the id index instead, PostgreSQL would read every delivery of the range
    until enough errors match, all of them when none does."""
    statuses = [status for status in ERRING_STATUSES if filter.status in (None, status)]
    found: list[int] = []
    for destination in destinations:
        for status in statuses:
            found += (
                deliveries.filter(destination_id=destination, status=status)
                .order_by("-id")
                .values_list("id", flat=True)[: size + 1]
            )
    return heapq.nlargest(size + 1, found)


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int
    capped: bool
    """True when there are more than ``count``: counting stopped there."""


def delivery_status_counts(
    *, organization: Organization, filter: DeliveryFilter, cap: int = COUNT_CAP
) -> list[StatusCount]:
    """Real deliveries (not test sends) passing the filter but for its status,
    counted by status up to ``cap`` each; statuses with none are left out."""
    destinations = _destination_ids(organization=organization, filter=filter)
    deliveries = _matching(destinations=destinations, filter=filter, by_status=False).filter(
        is_test=False
    )
    counts = []
    for status in Delivery.Status:
        if filter.error and status.value not in ERRING_STATUSES:
            continue
        count = deliveries.filter(status=status.value)[: cap + 1].count()
        if count:
            counts.append(StatusCount(status.value, status.label, min(count, cap), count > cap))
    return counts


def deliveries_to_replay(
    *, organization: Organization, filter: DeliveryFilter, up_to: int | None = None
) -> QuerySet[Delivery]:
    """The failed deliveries passing the filter that a replay would send again:
    no test sends, none whose mapping is gone (but user deletions, which have none),
    none newer than ``up_to``."""
    if filter.status not in (None, Delivery.Status.FAILED):
        return Delivery.objects.none()
    destinations = _destination_ids(organization=organization, filter=filter)
    deliveries = _matching(destinations=destinations, filter=filter).filter(
        Q(mapping__isnull=False) | Q(action=DELETION_ACTION),
        status=Delivery.Status.FAILED,
        is_test=False,
    )
    return deliveries if up_to is None else deliveries.filter(id__lte=up_to)


def delivery_attempts(*, delivery: Delivery) -> QuerySet[Attempt]:
    return delivery.attempt_set.order_by("number")


def replay_jobs_of(*, organization: Organization) -> QuerySet[ReplayJob]:
    return ReplayJob.objects.filter(organization=organization)


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
