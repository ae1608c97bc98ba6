from __future__ import annotations

from console.models import WorkerHeartbeat
from console.tasks import record_worker_heartbeat
from tests.support import wait_for


def test_a_task_sent_through_redis_runs_in_a_worker_process_on_postgresql(start_worker):
    start_worker("alpha")
    WorkerHeartbeat.objects.all().delete()

    record_worker_heartbeat.delay()

    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), 30, "the heartbeat task to run")
    assert beat.worker.startswith("alpha@")
