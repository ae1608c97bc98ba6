"""Integration tests run on PostgreSQL + Redis with real Celery worker
processes (`make test-integration`). They fail, never skip, when those servers
are missing: a green run must mean they were exercised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection

from console.models import WorkerHeartbeat
from tests.support import free_port, wait_for

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


def _environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "FERRY_VAR_DIR": str(tmp_path),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FERRY_ENCRYPTION_KEY": ",".join(django_settings.FERRY_ENCRYPTION_KEYS),
        **settings,
    }


class Processes:
    """Child processes of one test, logged to one file, stopped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log = (tmp_path / "processes.log").open("w")
        self.children: list[subprocess.Popen[str]] = []

    def start(self, command: list[str], **settings: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_environment(self.tmp_path, **settings),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self.log.close()
        # Shown by pytest when the test failed.
        print((self.tmp_path / "processes.log").read_text()[-20000:])


@pytest.fixture
def processes(services_required, transactional_db, tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def start_worker(processes, tmp_path):
    """Start real `celery worker` processes on the test database."""

    def start(
        name: str = "w1", concurrency: int = 1, *, beat: bool = False, **settings: str
    ) -> subprocess.Popen[str]:
        command = [
            sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(tmp_path / f"{name}-beat")]
        worker = processes.start(command, **settings)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(worker__startswith=f"{name}@").exists(),
            60,
            f"worker {name} to start",
        )
        return worker

    return start


@pytest.fixture
def start_web(processes):
    """Start gunicorn serving Ferry on the test database; its base URL."""

    def start(workers: int = 2) -> str:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=_environment(processes.tmp_path),
            check=True,
        )
        port = free_port()
        processes.start(
            [sys.executable, "-m", "gunicorn", "console.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--no-control-socket"],
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            try:
                return httpx.get(url + "/login/", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answering, 60, "gunicorn to answer")
        return url

    return start
