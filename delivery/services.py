"""The worker's side of delivery: claim due deliveries, attempt them, record
every attempt, decide what happens next; plus the sweeper, pausing and
resuming a workspace, and retention.

The database is the truth. A delivery is claimed with a lease (a conditional
update, under ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL); a person's
earlier unfinished delivery to the same destination holds their later ones.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.crypto import UnreadableSecret
from console.models import Workspace
from delivery import retry, wakeup
from delivery.bulk import update_rows
from delivery.deletions import DELETE_CONTACT
from delivery.execution import MappingFailure, map_event, perform
from delivery.intercom.actions import ActionResult, ContactCache, delete_contact
from delivery.intercom.client import IntercomClient, Outcome
from delivery.models import Attempt, Delivery, Event, MessageKey
from delivery.pipeline import DEDUPLICATION_WINDOW
from delivery.ratelimit import WorkspaceLimiter
from delivery.workspaces import client_for, contact_cache_for
from mappings.compiled import compiled
from mappings.directives import MappingError
from mappings.triggers import TriggerError

logger = logging.getLogger(__name__)

CLAIM_BATCH = 25
DRAIN_SECONDS = 30.0
# A drain with nothing to claim waits this long for deliveries about to fall due.
IDLE_WAIT_SECONDS = 5.0
RETENTION_BATCH = 1000

Status = Delivery.Status


def _lease() -> timedelta:
    return timedelta(seconds=settings.FERRY_LEASE_SECONDS)


def _held_by_earlier() -> Exists:
    return Exists(
        Delivery.objects.filter(
            destination=OuterRef("destination"),
            person=OuterRef("person"),
            id__lt=OuterRef("id"),
            status__in=Delivery.UNFINISHED,
            blocking=True,
        )
    )


def deliveries_claim(*, limit: int = CLAIM_BATCH) -> list[int]:
    """Lease up to ``limit`` due deliveries to this worker; their ids, in order."""
    now = timezone.now()
    with transaction.atomic():
        due = (
            Delivery.objects.filter(status__in=Delivery.WAITING, next_attempt_at__lte=now)
            .exclude(_held_by_earlier())
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        if ids:
            Delivery.objects.filter(id__in=ids, status__in=Delivery.WAITING).update(
                status=Status.IN_FLIGHT, lease_until=now + _lease()
            )
    return ids


def deliveries_drain(*, seconds: float = DRAIN_SECONDS) -> int:
    """Claim and attempt due deliveries until none is left or ``seconds`` pass;
    how many were attempted. Waits briefly for deliveries about to fall due
    (a rate-limit window opening), so a window is not lost to the sweeper's pace."""
    deadline = time.monotonic() + seconds
    handled = 0
    recruited = False
    while time.monotonic() < deadline:
        ids = deliveries_claim()
        if len(ids) == CLAIM_BATCH and not recruited:
            # More is waiting than one worker takes at a time: ask another to help.
            wakeup.wake_workers()
            recruited = True
        if ids:
            try:
                deliveries_attempt(ids)
            except Exception as error:
                logger.exception("deliveries %s: attempts crashed", ids)
                for delivery_id in ids:
                    _crashed(delivery_id, error)
            handled += len(ids)
            continue
        soonest = Delivery.objects.filter(status__in=Delivery.WAITING).aggregate(
            at=Min("next_attempt_at")
        )["at"]
        if soonest is None:
            break
        wait = (soonest - timezone.now()).total_seconds()
        if wait > min(IDLE_WAIT_SECONDS, deadline - time.monotonic()):
            break
        time.sleep(max(wait, 0.05))
    return handled


DELIVERY_FIELDS = [
    "status", "attempts", "last_error", "lease_until", "next_attempt_at", "finished_at",
    "blocking",
]  # fmt: skip
ATTEMPT_FIELDS = [
    "started_at",
    "duration_ms",
    "outcome",
    "error",
    "warnings",
    "exchanges",
    "payload",
]


def deliveries_attempt(ids: list[int]) -> None:
    """Attempt deliveries this worker has claimed. Every attempt is written
    before any call goes out; the outcomes are written together afterwards, so
    a batch costs three commits however many deliveries it holds. A claim holds
    at most one delivery per person and destination, so their order is free."""
    claimed = Delivery.objects.select_related("event", "mapping", "destination__workspace")
    deliveries = [delivery for delivery in claimed.filter(id__in=ids, status=Status.IN_FLIGHT)]
    earliest: dict[int, float | None] = {}
    to_try = [delivery for delivery in deliveries if _ready(delivery, earliest)]
    started = timezone.now()
    attempts = Attempt.objects.bulk_create(
        Attempt(delivery=delivery, number=delivery.attempts + 1, started_at=started)
        for delivery in to_try
    )
    to_pause: dict[int, Workspace] = {}
    for delivery, attempt in zip(to_try, attempts, strict=True):
        delivery.attempts += 1
        workspace = delivery.destination.workspace
        assert workspace is not None
        if workspace.pk in to_pause:
            attempt.outcome = Attempt.Outcome.NEEDS_RECONNECT
            attempt.error = "Not sent: Intercom refused this workspace's token a moment ago."
            delivery.status, delivery.lease_until = Status.PAUSED, None
            continue
        try:
            if _attempt(delivery, attempt, workspace):
                to_pause[workspace.pk] = workspace
        except Exception as error:
            logger.exception("delivery %s: attempt crashed", delivery.pk)
            message = f"Ferry failed during this attempt ({type(error).__name__}: {error})."
            attempt.outcome, attempt.error = Attempt.Outcome.RETRYABLE, message
            _retry_later(delivery, message, earliest=None)
    with transaction.atomic():
        update_rows(attempts, ATTEMPT_FIELDS)
        update_rows(deliveries, DELIVERY_FIELDS)
        for workspace in to_pause.values():
            workspace_pause(workspace=workspace)


def _ready(delivery: Delivery, earliest_calls: dict[int, float | None]) -> bool:
    """Whether the delivery can be tried now; if not, its new state is set.
    ``earliest_calls`` keeps each workspace's rate-limit check for the batch."""
    reason = _discard_reason(delivery)
    if reason is not None:
        _finish(delivery, Status.DISCARDED, reason)
        return False
    workspace = delivery.destination.workspace
    assert workspace is not None
    if workspace.status == Workspace.Status.NEEDS_RECONNECT:
        delivery.status, delivery.lease_until = Status.PAUSED, None
        return False
    if workspace.pk not in earliest_calls:
        earliest_calls[workspace.pk] = WorkspaceLimiter(workspace.pk).earliest_call()
    earliest = earliest_calls[workspace.pk]
    if earliest is not None:
        # Handed back untried, to be claimed again once the workspace may be called.
        delivery.status = Status.RETRYING if delivery.attempts else Status.PENDING
        delivery.lease_until = None
        delivery.next_attempt_at = datetime.fromtimestamp(earliest, UTC)
        return False
    return True


def _payload(delivery: Delivery) -> dict[str, Any]:
    """What the delivery sends: a user deletion names its person; any other
    delivery is its event through its mapping, validated."""
    if delivery.action == DELETE_CONTACT:
        return {"user_id": delivery.event.user_id}
    assert delivery.mapping is not None
    compiled_mapping = compiled(delivery.mapping)
    return map_event(delivery.mapping.action, compiled_mapping.transform, delivery.event.payload)


def _run_action(
    delivery: Delivery, payload: dict[str, Any], client: IntercomClient, cache: ContactCache
) -> ActionResult:
    if delivery.action == DELETE_CONTACT:
        return delete_contact(client, payload, cache=cache)
    assert delivery.mapping is not None
    return perform(delivery.mapping.action, payload, client=client, cache=cache)


def _attempt(delivery: Delivery, attempt: Attempt, workspace: Workspace) -> bool:
    """Map, validate and send one delivery, recording what happened on the
    attempt and the delivery's next state. True when the workspace must pause."""
    attempt.started_at = started = timezone.now()
    try:
        payload = _payload(delivery)
    except (MappingFailure, MappingError, TriggerError) as failure:
        errors = failure.errors if isinstance(failure, MappingFailure) else [str(failure)]
        attempt.outcome, attempt.error = Attempt.Outcome.PERMANENT, " ".join(errors)
        _finish(delivery, Status.FAILED, attempt.error)
        return False
    attempt.payload = payload
    try:
        client = client_for(workspace)
    except UnreadableSecret as unreadable:
        attempt.outcome, attempt.error = Attempt.Outcome.NEEDS_RECONNECT, str(unreadable)
        delivery.last_error = f"{unreadable} Reconnect the workspace."
        return True
    result = _run_action(delivery, payload, client, contact_cache_for(workspace))
    attempt.duration_ms = round((timezone.now() - started).total_seconds() * 1000)
    attempt.outcome = result.outcome.value
    attempt.error = result.error or ""
    attempt.warnings = result.warnings
    attempt.exchanges = [exchange.as_dict() for exchange in result.exchanges]
    return _settle(delivery, result)


def _finish(delivery: Delivery, status: str, error: str = "") -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.lease_until = None
    delivery.next_attempt_at = None
    delivery.finished_at = timezone.now()


def _retry_later(delivery: Delivery, error: str, *, earliest: datetime | None) -> None:
    delivery.status = Status.RETRYING
    delivery.last_error = error
    delivery.lease_until = None
    delivery.next_attempt_at = retry.next_attempt(
        attempts=delivery.attempts, now=timezone.now(), earliest=earliest
    )


def _settle(delivery: Delivery, result: ActionResult) -> bool:
    """The delivery's next state after an attempt; True when its workspace
    must pause for reconnection."""
    now = timezone.now()
    error = result.error or ""
    # A replay gives the delivery a whole new retry budget.
    budget_from = delivery.budget_from or delivery.created_at
    budget_attempts = delivery.attempts - delivery.budget_attempts
    if result.outcome is Outcome.DELIVERED:
        _finish(delivery, Status.DELIVERED)
    elif result.outcome is Outcome.PERMANENT:
        _finish(delivery, Status.FAILED, error)
    elif result.outcome is Outcome.NEEDS_RECONNECT:
        delivery.last_error = error
        return True
    elif result.awaiting_contact and retry.contact_wait_over(budget_from=budget_from, now=now):
        _finish(delivery, Status.FAILED, error)
    elif retry.exhausted(budget_from=budget_from, attempts=budget_attempts, now=now):
        _finish(delivery, Status.FAILED, f"Gave up after {budget_attempts} attempts: {error}")
    else:
        _retry_later(delivery, error, earliest=result.retry_at)
        delivery.blocking = not result.awaiting_contact
    return False


def _attempts_made() -> Subquery:
    """A delivery's attempt count from its attempt rows: exact even when a worker
    stopped between writing the attempt and counting it."""
    return Subquery(
        Attempt.objects.filter(delivery=OuterRef("pk"))
        .values("delivery")
        .annotate(count=Count("id"))
        .values("count")
    )


def _crashed(delivery_id: int, error: Exception) -> None:
    """A bug must neither lose the event nor stop the worker: the delivery is
    retried later like any retryable failure, and the attempt says what broke."""
    message = f"Ferry failed while attempting this delivery ({type(error).__name__}: {error})."
    Attempt.objects.filter(delivery_id=delivery_id, outcome=Attempt.Outcome.RUNNING).update(
        outcome=Attempt.Outcome.RETRYABLE, error=message
    )
    attempts = Attempt.objects.filter(delivery_id=delivery_id).count()
    Delivery.objects.filter(pk=delivery_id, status=Status.IN_FLIGHT).update(
        status=Status.RETRYING,
        attempts=attempts,
        lease_until=None,
        last_error=message,
        next_attempt_at=retry.next_attempt(attempts=attempts, now=timezone.now(), earliest=None),
    )


def _discard_reason(delivery: Delivery) -> str | None:
    destination = delivery.destination
    if delivery.action == DELETE_CONTACT:
        # A compliance request: it has no mapping, and goes out even through a
        # destination disabled since it was asked.
        if destination.workspace is None:
            return "The destination has no Intercom workspace any more."
        return None
    if delivery.mapping is None:
        return "The mapping was deleted before this event could be delivered."
    if not delivery.mapping.enabled:
        return "The mapping was disabled before this event could be delivered."
    if not destination.enabled:
        return "The destination was disabled before this event could be delivered."
    if destination.workspace is None:
        return "The destination has no Intercom workspace any more."
    return None


def workspace_pause(*, workspace: Workspace) -> int:
    """Intercom refused the token: the workspace needs reconnecting, and every
    unfinished delivery to it waits, paused, until then. How many were paused."""
    with transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.NEEDS_RECONNECT)
        workspace.status = Workspace.Status.NEEDS_RECONNECT
        # A test send in progress is finished by the console, never resumed later.
        return Delivery.objects.filter(
            destination__workspace=workspace,
            status__in=(Status.PENDING, Status.RETRYING, Status.IN_FLIGHT),
            is_test=False,
        ).update(status=Status.PAUSED, lease_until=None)


def workspace_resume(*, workspace: Workspace) -> int:
    """The workspace is connected again: its paused deliveries go out, in order."""
    with transaction.atomic():
        resumed = Delivery.objects.filter(
            destination__workspace=workspace, status=Status.PAUSED
        ).update(status=Status.PENDING, next_attempt_at=timezone.now())
        if resumed:
            transaction.on_commit(wakeup.wake_workers)
    return resumed


@dataclass
class Sweep:
    recovered: int
    due: int


def deliveries_sweep() -> Sweep:
    """Take back deliveries whose worker vanished (lease expired) and report how
    many deliveries are due, so the caller can wake workers for them."""
    now = timezone.now()
    with transaction.atomic():
        lost = list(
            Delivery.objects.filter(status=Status.IN_FLIGHT, lease_until__lt=now)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        if lost:
            Attempt.objects.filter(delivery_id__in=lost, outcome=Attempt.Outcome.RUNNING).update(
                outcome=Attempt.Outcome.INTERRUPTED,
                error="The worker stopped during this attempt (its lease expired); "
                "whether Intercom received the request is unknown.",
            )
            Delivery.objects.filter(id__in=lost, status=Status.IN_FLIGHT).update(
                status=Status.RETRYING,
                attempts=Coalesce(_attempts_made(), 0),
                lease_until=None,
                next_attempt_at=now,
            )
    due = Delivery.objects.filter(status__in=Delivery.WAITING, next_attempt_at__lte=now).count()
    return Sweep(recovered=len(lost), due=due)


def retention_apply(*, now: datetime | None = None) -> dict[str, int]:
    """Forget what is old, in batches: request and response bodies of delivered
    attempts after FERRY_RETENTION_BODY_DAYS, whole events (with their
    deliveries and attempts) after FERRY_RETENTION_DAYS unless a delivery of
    theirs is unfinished, and messageIds past the deduplication window."""
    now = now or timezone.now()
    counts = {"bodies": 0, "events": 0, "message_ids": 0}
    body_cutoff = now - timedelta(days=settings.FERRY_RETENTION_BODY_DAYS)
    while ids := list(
        Attempt.objects.filter(
            delivery__status=Status.DELIVERED, started_at__lt=body_cutoff, payload__isnull=False
        ).values_list("id", flat=True)[:RETENTION_BATCH]
    ):
        counts["bodies"] += Attempt.objects.filter(id__in=ids).update(exchanges=[], payload=None)
    event_cutoff = now - timedelta(days=settings.FERRY_RETENTION_DAYS)
    unfinished = Delivery.objects.filter(event=OuterRef("pk"), status__in=Delivery.UNFINISHED)
    while ids := list(
        Event.objects.filter(received_at__lt=event_cutoff)
        .exclude(Exists(unfinished))
        .values_list("id", flat=True)[:RETENTION_BATCH]
    ):
        Event.objects.filter(id__in=ids).delete()
        counts["events"] += len(ids)
    key_cutoff = now - DEDUPLICATION_WINDOW
    while ids := list(
        MessageKey.objects.filter(seen_at__lt=key_cutoff).values_list("id", flat=True)[
            :RETENTION_BATCH
        ]
    ):
        counts["message_ids"] += MessageKey.objects.filter(id__in=ids).delete()[0]
    return counts
