from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_the_web_health_check_needs_no_sign_in(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_the_worker_health_check_follows_the_heartbeat(client):
    assert client.get("/health/workers").status_code == 503

    WorkerHeartbeat.objects.create(worker="w1@host", seen_at=timezone.now())
    fresh = client.get("/health/workers")
    assert fresh.status_code == 200
    assert fresh.json()["worker"] == "w1@host"

    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(minutes=5))
    stale = client.get("/health/workers")
    assert stale.status_code == 503
    assert stale.json()["status"] == "failing"
