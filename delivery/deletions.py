"""User deletion: asking every Intercom workspace of an organisation to forget a
person, by the Segment userId (the contract's ``delete_contact``).

A request is recorded like traffic: one ``Event`` of type ``delete`` per source
involved (shaped like Segment's delete message) and one ``Delivery`` per
destination, with no mapping. The delivery carries the person, so it waits
behind their earlier unfinished deliveries and runs after them, in order.

- ``user_deletion_request(...)`` makes the request (the service);
- ``deletion_destinations(...)`` resolves destination ids named by a caller;
- ``deletions_of(...)`` and ``deletion_requests_recent(...)`` read them back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from console import selectors as console_selectors
from console.fields import OrderedJSONField
from console.models import Destination, Organization, Workspace
from delivery import wakeup
from delivery.models import Attempt, Delivery, Event
from delivery.pipeline import event_row

DELETE_CONTACT = "delete_contact"
"""The action of a user-deletion delivery (it has no mapping)."""
USER_ID_LIMIT = 255
RECENT_LIMIT = 50


def _user_id_checked(user_id: object) -> str:
    if not isinstance(user_id, str):
        raise ValidationError(
            {"user_id": ValidationError("The userId must be a string.", code="invalid_user_id")}
        )
    user_id = user_id.strip()
    if not user_id:
        raise ValidationError(
            {
                "user_id": ValidationError(
                    "Give the userId of the person to delete: it is empty.",
                    code="invalid_user_id",
                )
            }
        )
    if len(user_id) > USER_ID_LIMIT:
        raise ValidationError(
            {
                "user_id": ValidationError(
                    f"The userId is {len(user_id)} characters long; "
                    f"Ferry keeps at most {USER_ID_LIMIT}.",
                    code="invalid_user_id",
                )
            }
        )
    return user_id


def _destinations_error(message: str, code: str) -> ValidationError:
    return ValidationError({"destinations": ValidationError(message, code=code)})


def deletion_destinations(*, organization: Organization, ids: Sequence[int]) -> list[Destination]:
    """The organisation's destinations with these ids. Raises ``ValidationError``
    naming the ids it does not have (another organisation's are unknown too)."""
    found = {
        destination.pk: destination
        for destination in console_selectors.destinations_of(organization=organization).filter(
            pk__in=ids
        )
    }
    unknown = [str(pk) for pk in dict.fromkeys(ids) if pk not in found]
    if unknown:
        raise _destinations_error(
            f"No destination of yours has the id {', '.join(unknown)}.", "unknown_destination"
        )
    return [found[pk] for pk in dict.fromkeys(ids)]


def _chosen_destinations(
    organization: Organization, destinations: Sequence[Destination] | None
) -> list[Destination]:
    if destinations is None:
        everywhere = list(
            console_selectors.destinations_of(organization=organization)
            .exclude(workspace=None)
            .order_by("id")
        )
        if not everywhere:
            raise _destinations_error(
                "No destination is connected to an Intercom workspace: there is nowhere to "
                "delete the person from.",
                "no_destination",
            )
        return everywhere
    if not destinations:
        raise _destinations_error("Choose at least one destination.", "no_destination")
    for destination in destinations:
        if destination.source.organization_id != organization.pk:
            raise _destinations_error(
                f"No destination of yours has the id {destination.pk}.", "unknown_destination"
            )
        if destination.workspace is None:
            raise _destinations_error(
                f"The destination “{destination.name}” has no Intercom workspace: "
                "there is nowhere to delete the person from.",
                "no_workspace",
            )
    return list({destination.pk: destination for destination in destinations}.values())


def _delete_message(
    user_id: str, received_at: datetime, requested_by: str | None
) -> dict[str, Any]:
    """Segment's delete message, with who asked in Ferry's own context key."""
    return {
        "type": "delete",
        "userId": user_id,
        "messageId": str(uuid.uuid4()),
        "receivedAt": received_at.isoformat().replace("+00:00", "Z"),
        "context": {"ferry": {"requestedBy": requested_by}} if requested_by else {},
    }


def user_deletion_request(
    *,
    organization: Organization,
    user_id: object,
    destinations: Sequence[Destination] | None = None,
    requested_by: str | None = None,
) -> list[Delivery]:
    """Ask Intercom to delete the person ``user_id`` through ``destinations``
    (default: every destination of the organisation with a workspace, enabled
    or not: deletion is a compliance request). One delivery per destination, in
    destination order. Raises ``ValidationError`` (nothing stored) for an empty
    or over-long userId, or a destination that is unknown or has no workspace.
    ``requested_by`` says who asked (an email, ``api token <name>``)."""
    user_id = _user_id_checked(user_id)
    chosen = _chosen_destinations(organization, destinations)
    now = timezone.now()
    events: dict[int, Event] = {}
    deliveries = []
    with transaction.atomic():
        for destination in chosen:
            source = destination.source
            if source.pk not in events:
                message = _delete_message(user_id, now, requested_by)
                events[source.pk] = Event.objects.create(
                    **event_row(source, message, now), status=Event.Status.DELETION
                )
            workspace = destination.workspace
            assert workspace is not None
            paused = workspace.status == Workspace.Status.NEEDS_RECONNECT
            deliveries.append(
                Delivery.objects.create(
                    event=events[source.pk],
                    destination=destination,
                    mapping=None,
                    action=DELETE_CONTACT,
                    person=user_id,
                    status=Delivery.Status.PAUSED if paused else Delivery.Status.PENDING,
                    next_attempt_at=now,
                )
            )
        transaction.on_commit(wakeup.wake_workers)
    return deliveries


def deletions_of(*, organization: Organization) -> QuerySet[Delivery]:
    """The organisation's user-deletion deliveries, newest first, each with the
    warnings of its latest attempt as ``latest_warnings`` (None before any)."""
    latest_warnings = Subquery(
        Attempt.objects.filter(delivery=OuterRef("pk")).order_by("-number").values("warnings")[:1],
        output_field=OrderedJSONField(),
    )
    return (
        Delivery.objects.filter(
            destination__source__organization=organization, action=DELETE_CONTACT
        )
        .select_related("event", "destination")
        .annotate(latest_warnings=latest_warnings)
        .order_by("-id")
    )


def deletion_requests_recent(
    *, organization: Organization, limit: int = RECENT_LIMIT
) -> list[Delivery]:
    """The organisation's latest deletion requests, for the console page."""
    return list(deletions_of(organization=organization)[:limit])
