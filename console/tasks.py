from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from console.models import WorkerHeartbeat


def _record_heartbeat(worker: str) -> None:
    WorkerHeartbeat.objects.update_or_create(worker=worker, defaults={"seen_at": timezone.now()})


@shared_task(bind=True, ignore_result=True, expires=60)
def record_worker_heartbeat(self: Any) -> None:
    """Scheduled by beat; whichever worker runs it proves the chain
    beat -> broker -> worker -> database works."""
    _record_heartbeat(self.request.hostname or "unknown")


@worker_ready.connect
def _announce_worker(sender: Any, **kwargs: Any) -> None:
    _record_heartbeat(sender.hostname)
