"""Integration tests run on PostgreSQL + Redis with real Celery worker
processes (`make test-integration`). They fail, never skip, when those servers
are missing: a green run must mean they were exercised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from console.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def services_required():
    broker = django_settings.CELERY_BROKER_URL
    if connection.vendor != "postgresql" or not broker.startswith("redis"):
        pytest.fail(
            "integration tests need DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://… "
            "(run them with `make test-integration`)"
        )


def _database_url() -> str:
    database = connection.settings_dict
    user = database["USER"] or "postgres"
    host = database["HOST"] or "127.0.0.1"
    port = database["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{database['NAME']}"


@pytest.fixture
def start_worker(services_required, transactional_db, tmp_path):
    """Start real `celery worker` processes on the test database; stopped afterwards."""
    workers: list[subprocess.Popen[str]] = []
    log = (tmp_path / "workers.log").open("w")

    def start(
        name: str = "w1", concurrency: int = 1, *, beat: bool = False, **settings: str
    ) -> subprocess.Popen[str]:
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "FERRY_VAR_DIR": str(tmp_path),
            "SECRET_KEY": django_settings.SECRET_KEY,
            "FERRY_ENCRYPTION_KEY": ",".join(django_settings.FERRY_ENCRYPTION_KEYS),
            **settings,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--hostname", f"{name}@%h"]
            + (["--beat", "--schedule", str(tmp_path / f"{name}-beat")] if beat else []),
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        workers.append(worker)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(worker__startswith=f"{name}@").exists(),
            60,
            f"worker {name} to start (log: {log.name})",
        )
        return worker

    yield start
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    log.close()
    # Shown by pytest when the test failed.
    print((tmp_path / "workers.log").read_text()[-20000:])


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
