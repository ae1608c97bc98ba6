"""How deliveries fare over a window of time, for the overview pages: counts by
status, delivered and failed per time bucket, p95 latency from an event's
arrival to its delivery, and the commonest errors.

A delivery is created in the transaction that stores its event, within
milliseconds of the event's ``received_at``: latency is measured from the
delivery's ``created_at``, which spares a join of two million-row tables.

Everything is aggregated by the database (GROUP BY bucket); the 95th percentile
by PostgreSQL's ``percentile_cont``, or in Python on SQLite, which has none.
Only real deliveries count: test sends from the mapping editor are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from delivery.models import Delivery, Event

CACHE_SECONDS = 30
TOP_ERRORS = 5
PERCENTILE = 0.95


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    span: timedelta
    buckets: int
    bucket_label: str

    @property
    def bucket(self) -> timedelta:
        return self.span / self.buckets


WINDOWS = {
    window.key: window
    for window in (
        Window("hour", "Last hour", timedelta(hours=1), 12, "5 minutes"),
        Window("day", "Last 24 hours", timedelta(days=1), 24, "hour"),
        Window("week", "Last 7 days", timedelta(days=7), 28, "6 hours"),
    )
}
DEFAULT_WINDOW = "day"


@dataclass
class Bucket:
    start: datetime
    delivered: int = 0
    failed: int = 0
    p95: timedelta | None = None
    """From arrival to delivered, for the deliveries created in the bucket."""


@dataclass
class Overview:
    window: Window
    since: datetime
    until: datetime
    received: int
    """Events received in the window (test sends and deletion requests aside)."""
    counts: dict[str, int]
    """Real deliveries created in the window, by status (every status present)."""
    buckets: list[Bucket]
    p95: timedelta | None
    top_errors: list[tuple[str, int]] = field(default_factory=list)
    """(last_error, count) of the window's failed deliveries, commonest first."""

    @property
    def in_progress(self) -> int:
        return sum(
            self.counts[status]
            for status in (
                Delivery.Status.PENDING,
                Delivery.Status.IN_FLIGHT,
                Delivery.Status.PAUSED,
            )
        )


def _bucket_of(since: datetime, window: Window) -> RawSQL:
    """The bucket a delivery's created_at falls in: on PostgreSQL, when it starts
    (date_bin is far cheaper than arithmetic on EXTRACT's numerics); on SQLite,
    its index."""
    column = f'"{Delivery._meta.db_table}"."created_at"'
    if connection.vendor == "postgresql":
        return RawSQL(f"date_bin(%s, {column}, %s)", (window.bucket, since))
    # Django keeps SQLite datetimes as UTC text that julianday() reads.
    start = since.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return RawSQL(
        f"CAST((julianday({column}) - julianday(%s)) * 86400.0 / %s AS INTEGER)",
        (start, window.bucket.total_seconds()),
    )


def _bucket_index(value: datetime | int, since: datetime, window: Window) -> int:
    """Which of the window's buckets ``_bucket_of`` named; one made at the very end
    of the window counts in the last."""
    index = round((value - since) / window.bucket) if isinstance(value, datetime) else value
    return min(max(index, 0), window.buckets - 1)


def _percentile(values: Sequence[timedelta]) -> timedelta:
    """The 95th percentile of some values, interpolated between ranks as
    percentile_cont does."""
    ordered = sorted(values)
    rank = PERCENTILE * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# Seconds as double precision sort twice as fast as intervals.
_LATENCY_POSTGRESQL = f"""
SELECT date_bin(%s, created_at, %s) AS bucket,
       percentile_cont({PERCENTILE})
           WITHIN GROUP (ORDER BY date_part('epoch', finished_at - created_at))
FROM delivery_delivery
WHERE destination_id = ANY(%s) AND created_at >= %s AND created_at <= %s AND NOT is_test
  AND status = 'delivered' AND finished_at IS NOT NULL
GROUP BY ROLLUP (1)
"""


def _latencies(
    destination_ids: list[int], since: datetime, until: datetime, window: Window
) -> dict[datetime | int | None, timedelta]:
    """p95 latency of delivered deliveries by bucket (as ``_bucket_of`` names them),
    and overall (under None)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _LATENCY_POSTGRESQL, [window.bucket, since, destination_ids, since, until]
            )
            # With no delivery at all, ROLLUP still answers its overall row, with NULL.
            return {
                bucket: timedelta(seconds=p95)
                for bucket, p95 in cursor.fetchall()
                if p95 is not None
            }
    delivered = Delivery.objects.filter(
        destination_id__in=destination_ids,
        is_test=False,
        created_at__gte=since,
        created_at__lte=until,
        status=Delivery.Status.DELIVERED,
        finished_at__isnull=False,
    )
    latency = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    by_bucket: dict[int, list[timedelta]] = {}
    for index, value in delivered.annotate(
        bucket=_bucket_of(since, window), latency=latency
    ).values_list("bucket", "latency"):
        by_bucket.setdefault(index, []).append(value)
    found: dict[datetime | int | None, timedelta] = {
        index: _percentile(values) for index, values in by_bucket.items()
    }
    if by_bucket:
        found[None] = _percentile([value for values in by_bucket.values() for value in values])
    return found


def overview(
    *,
    destination_ids: list[int],
    source_ids: list[int],
    window: Window,
    now: datetime | None = None,
) -> Overview:
    """How the deliveries of ``destination_ids`` (and the events of ``source_ids``,
    for what was received) fared over ``window`` up to ``now``. The ids are those
    the user may see."""
    until = now or timezone.now()
    since = until - window.span
    real = Delivery.objects.filter(
        destination_id__in=destination_ids,
        is_test=False,
        created_at__gte=since,
        created_at__lte=until,
    )
    buckets = [Bucket(start=since + window.bucket * index) for index in range(window.buckets)]

    def bucket_at(value: datetime | int) -> Bucket:
        return buckets[_bucket_index(value, since, window)]

    counts = {status.value: 0 for status in Delivery.Status}
    by_bucket = (
        real.annotate(bucket=_bucket_of(since, window))
        .values("bucket", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in by_bucket:
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
        if row["status"] == Delivery.Status.DELIVERED:
            bucket_at(row["bucket"]).delivered += row["count"]
        elif row["status"] == Delivery.Status.FAILED:
            bucket_at(row["bucket"]).failed += row["count"]
    latencies = _latencies(destination_ids, since, until, window)
    for index, p95 in latencies.items():
        if index is not None:
            bucket_at(index).p95 = p95

    top_errors = [
        (row["last_error"], row["count"])
        for row in real.filter(status=Delivery.Status.FAILED)
        .exclude(last_error="")
        .values("last_error")
        .annotate(count=Count("id"))
        .order_by("-count", "last_error")[:TOP_ERRORS]
    ]
    received = (
        Event.objects.filter(
            source_id__in=source_ids, received_at__gte=since, received_at__lte=until
        )
        .exclude(status__in=(Event.Status.TEST, Event.Status.DELETION))
        .count()
    )
    return Overview(
        window=window,
        since=since,
        until=until,
        received=received,
        counts=counts,
        buckets=buckets,
        p95=latencies.get(None),
        top_errors=top_errors,
    )


def overview_cached(
    *, key: str, destination_ids: list[int], source_ids: list[int], window: Window
) -> Overview:
    """``overview`` of the present, computed at most once every ``CACHE_SECONDS``
    for the same ``key`` (whose destinations these are) and window."""
    cache_key = f"insights:{key}:{window.key}"
    found = cache.get(cache_key)
    if isinstance(found, Overview):
        return found
    result = overview(destination_ids=destination_ids, source_ids=source_ids, window=window)
    cache.set(cache_key, result, CACHE_SECONDS)
    return result
