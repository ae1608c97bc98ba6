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

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from console.crypto import UnreadableSecret
from console.models import Workspace
from delivery import retry, wakeup
from delivery.execution import MappingFailure, map_event, perform
from delivery.intercom.actions import ActionResult
from delivery.intercom.client import Outcome
from delivery.models import Attempt, Delivery, Event, MessageKey
from delivery.pipeline import DEDUPLICATION_WINDOW
from delivery.ratelimit import WorkspaceLimiter
from delivery.workspaces import client_for, contact_cache_for
from mappings.compiled import compiled
from mappings.directives import MappingError
from mappings.triggers import TriggerError

logger = logging.getLogger(__name__)

CLAIM_BATCH = 10
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
        for delivery_id in ids:
            try:
                delivery_attempt(delivery_id)
            except Exception as error:
                logger.exception("delivery %s: attempt crashed", delivery_id)
                _crashed(delivery_id, error)
        handled += len(ids)
        if ids:
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


def _finish(delivery: Delivery, status: str, error: str = "") -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.lease_until = None
    delivery.next_attempt_at = None
    delivery.finished_at = timezone.now()
    delivery.save(
        update_fields=["status", "last_error", "lease_until", "next_attempt_at", "finished_at"]
    )


def _crashed(delivery_id: int, error: Exception) -> None:
    """A bug must neither lose the event nor stop the worker: the delivery is
    retried later like any retryable failure, and the attempt says what broke."""
    now = timezone.now()
    message = f"Ferry failed while attempting this delivery ({type(error).__name__}: {error})."
    Attempt.objects.filter(delivery_id=delivery_id, outcome=Attempt.Outcome.RUNNING).update(
        outcome=Attempt.Outcome.RETRYABLE, error=message
    )
    delivery = Delivery.objects.get(pk=delivery_id)
    Delivery.objects.filter(pk=delivery_id, status=Status.IN_FLIGHT).update(
        status=Status.RETRYING,
        lease_until=None,
        last_error=message,
        next_attempt_at=retry.next_attempt(attempts=delivery.attempts, now=now, earliest=None),
    )


def _release(delivery: Delivery, *, until: datetime) -> None:
    """Hand a claimed delivery back, untried, to be claimed again at ``until``."""
    delivery.status = Status.RETRYING if delivery.attempts else Status.PENDING
    delivery.lease_until = None
    delivery.next_attempt_at = until
    delivery.save(update_fields=["status", "lease_until", "next_attempt_at"])


def _discard_reason(delivery: Delivery) -> str | None:
    destination = delivery.destination
    if delivery.mapping is None:
        return "The mapping was deleted before this event could be delivered."
    if not delivery.mapping.enabled:
        return "The mapping was disabled before this event could be delivered."
    if not destination.enabled:
        return "The destination was disabled before this event could be delivered."
    if destination.workspace is None:
        return "The destination has no Intercom workspace any more."
    return None


def delivery_attempt(delivery_id: int) -> None:
    """Attempt one delivery this worker has claimed."""
    delivery = Delivery.objects.select_related("event", "mapping", "destination__workspace").get(
        pk=delivery_id
    )
    if delivery.status != Status.IN_FLIGHT:
        return
    reason = _discard_reason(delivery)
    if reason is not None:
        _finish(delivery, Status.DISCARDED, reason)
        return
    workspace = delivery.destination.workspace
    assert workspace is not None and delivery.mapping is not None
    if workspace.status == Workspace.Status.NEEDS_RECONNECT:
        delivery.status, delivery.lease_until = Status.PAUSED, None
        delivery.save(update_fields=["status", "lease_until"])
        return
    earliest = WorkspaceLimiter(workspace.pk).earliest_call()
    if earliest is not None:
        _release(delivery, until=datetime.fromtimestamp(earliest, UTC))
        return

    started = timezone.now()
    delivery.attempts += 1
    Delivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts)
    attempt = Attempt.objects.create(
        delivery=delivery, number=delivery.attempts, started_at=started
    )
    try:
        mapping = compiled(delivery.mapping)
        payload = map_event(delivery.mapping.action, mapping.transform, delivery.event.payload)
    except (MappingFailure, MappingError, TriggerError) as failure:
        errors = failure.errors if isinstance(failure, MappingFailure) else [str(failure)]
        attempt.outcome, attempt.error = Attempt.Outcome.PERMANENT, " ".join(errors)
        _close(attempt, started)
        _finish(delivery, Status.FAILED, attempt.error)
        return
    attempt.payload = payload
    try:
        client = client_for(workspace)
    except UnreadableSecret as unreadable:
        attempt.outcome, attempt.error = Attempt.Outcome.NEEDS_RECONNECT, str(unreadable)
        _close(attempt, started)
        delivery.last_error = f"{unreadable} Reconnect the workspace."
        delivery.save(update_fields=["last_error"])
        workspace_pause(workspace=workspace)
        return
    result = perform(
        delivery.mapping.action, payload, client=client, cache=contact_cache_for(workspace)
    )
    attempt.outcome = result.outcome.value
    attempt.error = result.error or ""
    attempt.warnings = result.warnings
    attempt.exchanges = [exchange.as_dict() for exchange in result.exchanges]
    _close(attempt, started)
    _settle(delivery, result, workspace)


def _close(attempt: Attempt, started: datetime) -> None:
    attempt.duration_ms = round((timezone.now() - started).total_seconds() * 1000)
    attempt.save()


def _settle(delivery: Delivery, result: ActionResult, workspace: Workspace) -> None:
    """The delivery's next state after an attempt."""
    now = timezone.now()
    if result.outcome is Outcome.DELIVERED:
        _finish(delivery, Status.DELIVERED)
    elif result.outcome is Outcome.PERMANENT:
        _finish(delivery, Status.FAILED, result.error or "")
    elif result.outcome is Outcome.NEEDS_RECONNECT:
        delivery.last_error = result.error or ""
        delivery.save(update_fields=["last_error"])
        workspace_pause(workspace=workspace)
    elif result.awaiting_contact and retry.contact_wait_over(
        created_at=delivery.created_at, now=now
    ):
        _finish(delivery, Status.FAILED, result.error or "")
    elif retry.exhausted(created_at=delivery.created_at, attempts=delivery.attempts, now=now):
        _finish(
            delivery,
            Status.FAILED,
            f"Gave up after {delivery.attempts} attempts: {result.error}",
        )
    else:
        delivery.status = Status.RETRYING
        delivery.last_error = result.error or ""
        delivery.lease_until = None
        delivery.blocking = not result.awaiting_contact
        delivery.next_attempt_at = retry.next_attempt(
            attempts=delivery.attempts, now=now, earliest=result.retry_at
        )
        delivery.save(
            update_fields=["status", "last_error", "lease_until", "blocking", "next_attempt_at"]
        )


def workspace_pause(*, workspace: Workspace) -> int:
    """Intercom refused the token: the workspace needs reconnecting, and every
    unfinished delivery to it waits, paused, until then. How many were paused."""
    with transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.NEEDS_RECONNECT)
        workspace.status = Workspace.Status.NEEDS_RECONNECT
        return Delivery.objects.filter(
            destination__workspace=workspace,
            status__in=(Status.PENDING, Status.RETRYING, Status.IN_FLIGHT),
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
                status=Status.RETRYING, lease_until=None, next_attempt_at=now
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
