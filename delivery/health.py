"""Whether each destination is healthy, and telling people when that changes.

A destination is *failing* when, of its real deliveries that finished in the
last hour, fewer than ``FERRY_HEALTH_THRESHOLD`` were delivered (with at least
``FERRY_HEALTH_MIN_DELIVERIES`` finished, so three unlucky calls raise no
alarm); it *needs reconnection* when Intercom refused its workspace's token.

``health_check()`` (a Celery beat task, every minute) records each verdict in
``DestinationHealth``; a change of state is logged and, when email is set up,
mailed to the admins, once. ``banner`` (a context processor) hands every
console page the organisation's destinations in trouble.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from console.models import Destination, Organization, Workspace
from delivery.models import Delivery, DestinationHealth

logger = logging.getLogger(__name__)

HEALTH_WINDOW = timedelta(hours=1)
State = DestinationHealth.State


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str
    success_rate: float | None


def email_configured() -> bool:
    """Mail goes out only to someone, through a server the deployment named."""
    return bool(settings.EMAIL_HOST and settings.ADMINS)


def destination_verdicts(*, now: datetime) -> dict[Destination, Verdict]:
    """Every destination's health as things stand at ``now``."""
    finished: dict[int, dict[str, int]] = {}
    rows = (
        Delivery.objects.filter(
            is_test=False,
            finished_at__gte=now - HEALTH_WINDOW,
            status__in=(Delivery.Status.DELIVERED, Delivery.Status.FAILED),
        )
        .values("destination_id", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in rows:
        finished.setdefault(row["destination_id"], {})[row["status"]] = row["count"]
    threshold: float = settings.FERRY_HEALTH_THRESHOLD
    minimum: int = settings.FERRY_HEALTH_MIN_DELIVERIES
    verdicts = {}
    for destination in Destination.objects.select_related("workspace").order_by("id"):
        counts = finished.get(destination.pk, {})
        delivered = counts.get(Delivery.Status.DELIVERED, 0)
        total = delivered + counts.get(Delivery.Status.FAILED, 0)
        rate = delivered / total if total else None
        workspace = destination.workspace
        if not destination.enabled:
            verdict = Verdict(State.HEALTHY, "", rate)
        elif workspace is not None and workspace.status == Workspace.Status.NEEDS_RECONNECT:
            verdict = Verdict(
                State.NEEDS_RECONNECT,
                f"Intercom refused the token of the workspace “{workspace.name}”: "
                "deliveries are paused until it is connected again.",
                rate,
            )
        elif rate is not None and total >= minimum and rate < threshold:
            verdict = Verdict(
                State.FAILING,
                f"{delivered} of the {total} deliveries that finished in the last hour "
                f"succeeded ({rate:.0%}), under the {threshold:.0%} threshold.",
                rate,
            )
        else:
            verdict = Verdict(State.HEALTHY, "", rate)
        verdicts[destination] = verdict
    return verdicts


@dataclass(frozen=True)
class Change:
    destination: Destination
    previous: str
    verdict: Verdict


def health_check(*, now: datetime | None = None) -> list[Change]:
    """Record every destination's verdict; log and mail each change of state.
    Safe to run twice at once: a change is claimed by one conditional UPDATE."""
    now = now or timezone.now()
    changes = []
    for destination, verdict in destination_verdicts(now=now).items():
        record, _ = DestinationHealth.objects.get_or_create(
            destination=destination,
            defaults={"state": State.HEALTHY, "changed_at": now, "checked_at": now},
        )
        fields: dict[str, Any] = {
            "reason": verdict.reason,
            "success_rate": verdict.success_rate,
            "checked_at": now,
        }
        if record.state == verdict.state:
            DestinationHealth.objects.filter(pk=record.pk).update(**fields)
            continue
        claimed = DestinationHealth.objects.filter(pk=record.pk, state=record.state).update(
            state=verdict.state, changed_at=now, **fields
        )
        if claimed:
            change = Change(destination=destination, previous=record.state, verdict=verdict)
            _tell(change)
            changes.append(change)
    return changes


def _tell(change: Change) -> None:
    destination, verdict = change.destination, change.verdict
    if verdict.state == State.HEALTHY:
        subject = f"Destination “{destination.name}” is healthy again"
        logger.info("destination %s (%s) is healthy again", destination.pk, destination.name)
    else:
        label = State(verdict.state).label.lower()
        subject = f"Destination “{destination.name}”: {label}"
        logger.warning(
            "destination %s (%s) %s: %s",
            destination.pk,
            destination.name,
            "needs reconnection" if verdict.state == State.NEEDS_RECONNECT else "is failing",
            verdict.reason,
        )
    if not email_configured():
        return
    body = "\n\n".join(
        part
        for part in (
            subject + ".",
            verdict.reason,
            f"Was: {State(change.previous).label.lower()}.",
        )
        if part
    )
    try:
        mail_admins(subject, body)
    except (smtplib.SMTPException, OSError):
        logger.exception("could not mail the admins about destination %s", destination.pk)


@dataclass(frozen=True)
class Alert:
    """A destination in trouble, as the banner and the overview show it."""

    destination: Destination
    state: str
    reason: str

    @property
    def needs_reconnect(self) -> bool:
        return self.state == State.NEEDS_RECONNECT


def alerts_of(*, organization: Organization, destination: Destination | None = None) -> list[Alert]:
    """The organisation's enabled destinations that are failing (as the last check
    found) or whose workspace needs reconnection (as it is now), in one query."""
    troubled = (
        Destination.objects.filter(source__organization=organization, enabled=True)
        .filter(
            Q(workspace__status=Workspace.Status.NEEDS_RECONNECT) | Q(health__state=State.FAILING)
        )
        .select_related("workspace", "health")
        .order_by("name", "id")
    )
    if destination is not None:
        troubled = troubled.filter(pk=destination.pk)
    alerts = []
    for each in troubled:
        workspace = each.workspace
        if workspace is not None and workspace.status == Workspace.Status.NEEDS_RECONNECT:
            alerts.append(
                Alert(
                    each,
                    State.NEEDS_RECONNECT,
                    f"Intercom refused the token of “{workspace.name}”: deliveries are paused.",
                )
            )
        else:
            alerts.append(Alert(each, State.FAILING, each.health.reason))
    return alerts


def banner(request: HttpRequest) -> dict[str, Any]:
    """Context processor: ``health_alerts``, queried only if a template shows them."""
    organization = getattr(request, "organization", None)
    if organization is None or not request.user.is_authenticated:
        return {}
    return {"health_alerts": SimpleLazyObject(lambda: alerts_of(organization=organization))}
