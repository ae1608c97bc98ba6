"""Health endpoints for load balancers and monitors. They answer JSON, need no
sign-in, and say nothing secret.

- ``/health/``: this web process can reach the database and the cache (200 or 503);
- ``/health/workers``: a Celery worker ran the beat-scheduled heartbeat within the
  last minute, which proves beat, the broker and a worker are alive (200 or 503).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from console import selectors


def _probe_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _probe_cache() -> str:
    try:
        cache.set("ferry:health", "ok", 10)
        return "ok" if cache.get("ferry:health") == "ok" else "not keeping values"
    except Exception as error:
        return f"unreachable: {type(error).__name__}"


@require_GET
@login_not_required
def web(request: HttpRequest) -> JsonResponse:
    checks = {"database": _probe_database(), "cache": _probe_cache()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "failing", **checks}, status=200 if healthy else 503
    )


@require_GET
@login_not_required
def workers(request: HttpRequest) -> JsonResponse:
    try:
        last = selectors.worker_last_seen()
    except DatabaseError:
        return JsonResponse({"status": "failing", "database": "unreachable"}, status=503)
    alive = selectors.workers_alive()
    return JsonResponse(
        {
            "status": "ok" if alive else "failing",
            "last_heartbeat": last.seen_at.isoformat() if last else None,
            "worker": last.worker if last else None,
        },
        status=200 if alive else 503,
    )


urlpatterns = [
    path("health/", web, name="health"),
    path("health/workers", workers, name="health_workers"),
]
