"""Replaying failed deliveries: one at a time from its page, or every failed
delivery matching the deliveries filter, in batches, as a job with progress.

A replay sends the same delivery again (its attempts continue, numbered on)
through its mapping as it is now, with a whole new retry budget.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from console.models import Organization
from delivery import wakeup
from delivery.models import Delivery, ReplayJob
from delivery.selectors import DELETION_ACTION, DeliveryFilter, deliveries_to_replay

logger = logging.getLogger(__name__)

REPLAY_BATCH = 500
REPLAYABLE = (Delivery.Status.FAILED, Delivery.Status.DISCARDED)


class NotReplayable(Exception):
    """The delivery cannot be replayed; the message says why, for the user."""


def _why_not(delivery: Delivery) -> str | None:
    if delivery.status not in REPLAYABLE:
        return (
            f"Only a failed or discarded delivery can be replayed; "
            f"this one is {delivery.get_status_display().lower()}."
        )
    if delivery.is_test:
        return "A test send cannot be replayed: send it again from the mapping's Test panel."
    if delivery.action == DELETION_ACTION:
        return None
    if delivery.mapping is None:
        return "Its mapping was deleted, so there is nothing to send this event through."
    if not delivery.mapping.enabled:
        return f"Its mapping “{delivery.mapping.name}” is disabled: enable it first."
    if not delivery.destination.enabled:
        return f"The destination “{delivery.destination.name}” is disabled: enable it first."
    if delivery.destination.workspace_id is None:
        return "The destination has no Intercom workspace: choose one first."
    return None


def _replay_rows(deliveries: QuerySet[Delivery]) -> int:
    """Put ``deliveries`` back in line now, each with a fresh retry budget; how
    many there were. Only those still replayable change, whatever happened meanwhile."""
    now = timezone.now()
    replayed = deliveries.filter(status__in=REPLAYABLE).update(
        status=Delivery.Status.PENDING,
        next_attempt_at=now,
        budget_from=now,
        budget_attempts=F("attempts"),
        finished_at=None,
        last_error="",
        lease_until=None,
        blocking=True,
    )
    if replayed:
        transaction.on_commit(wakeup.wake_workers)
    return replayed


def delivery_replay(*, delivery: Delivery, user: Any) -> Delivery:
    """Send a failed or discarded delivery again, now; raises ``NotReplayable``."""
    reason = _why_not(delivery)
    if reason is not None:
        raise NotReplayable(reason)
    with transaction.atomic():
        if not _replay_rows(Delivery.objects.filter(pk=delivery.pk)):
            raise NotReplayable("This delivery changed meanwhile; reload the page.")
    logger.info("delivery %s replayed by %s", delivery.pk, user)
    delivery.refresh_from_db()
    return delivery


def replay_job_create(
    *, organization: Organization, user: Any, filter: DeliveryFilter
) -> ReplayJob | None:
    """Start replaying every failed delivery that passes ``filter`` now (not
    those failing later); None when there is none. The job runs on a worker."""
    to_replay = deliveries_to_replay(organization=organization, filter=filter)
    up_to = to_replay.order_by("-id").values_list("id", flat=True).first()
    if up_to is None:
        return None
    with transaction.atomic():
        job = ReplayJob.objects.create(
            organization=organization,
            created_by=user,
            filters=filter.pinned(),
            up_to=up_to,
            total=to_replay.filter(id__lte=up_to).count(),
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    # The tasks module imports this one.
    from delivery.tasks import replay_run

    replay_run.delay(job_id)


def replay_job_run(*, job_id: int) -> ReplayJob | None:
    """Replay the job's deliveries, newest first, one committed batch at a time,
    counting progress as it goes. A job that stops half-way says why; one already
    ended (a task delivered twice) or gone with its organisation is left alone."""
    job = ReplayJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None or job.state != ReplayJob.State.RUNNING:
        return job
    filter = DeliveryFilter.from_query(job.filters, now=job.created_at)
    below = job.up_to + 1
    try:
        while True:
            with transaction.atomic():
                batch = list(
                    deliveries_to_replay(
                        organization=job.organization, filter=filter, up_to=below - 1
                    )
                    .order_by("-id")
                    .values_list("id", flat=True)[:REPLAY_BATCH]
                )
                if not batch:
                    break
                _replay_rows(Delivery.objects.filter(id__in=batch))
                ReplayJob.objects.filter(pk=job.pk).update(done=F("done") + len(batch))
            below = batch[-1]
    except Exception as error:
        logger.exception("replay %s stopped", job.pk)
        ReplayJob.objects.filter(pk=job.pk).update(
            state=ReplayJob.State.FAILED,
            error=f"{type(error).__name__}: {error}",
            finished_at=timezone.now(),
        )
    else:
        # Deliveries that failed after the job was confirmed (but before up_to) count too.
        ReplayJob.objects.filter(pk=job.pk, done__gt=F("total")).update(total=F("done"))
        ReplayJob.objects.filter(pk=job.pk).update(
            state=ReplayJob.State.FINISHED, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job
