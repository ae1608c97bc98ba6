"""Reads of the console app. Every query that a user can reach is scoped to
their organisation here, so no view can forget to."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from console.models import (
    ApiToken,
    Destination,
    Organization,
    Source,
    WorkerHeartbeat,
    Workspace,
)
from console.services import write_key_digest

WORKER_STALE_AFTER = timedelta(seconds=60)


def sources_of(*, organization: Organization) -> QuerySet[Source]:
    return Source.objects.filter(organization=organization)


def destinations_of(*, organization: Organization) -> QuerySet[Destination]:
    return Destination.objects.filter(source__organization=organization).select_related(
        "source", "workspace"
    )


def workspaces_of(*, organization: Organization) -> QuerySet[Workspace]:
    return Workspace.objects.filter(organization=organization)


def source_for_write_key(*, write_key: str) -> Source | None:
    """The source a write key belongs to, or None. The lookup is by the key's
    SHA-256 digest, so how long it takes says nothing about the key itself."""
    return Source.objects.filter(write_key_digest=write_key_digest(write_key)).first()


def worker_last_seen() -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.order_by("-seen_at").first()


def workers_alive() -> bool:
    last = worker_last_seen()
    return last is not None and timezone.now() - last.seen_at < WORKER_STALE_AFTER


def api_tokens_of(*, organization: Organization) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(organization=organization).select_related("created_by")


def api_token_for_secret(*, secret: str) -> ApiToken | None:
    """The token a secret belongs to, or None; looked up by the secret's SHA-256
    digest, as write keys are."""
    return (
        ApiToken.objects.filter(digest=write_key_digest(secret))
        .select_related("organization")
        .first()
    )
