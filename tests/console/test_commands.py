from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.models import Membership
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_ensure_admin_uses_the_configured_credentials(monkeypatch, capsys):
    monkeypatch.setenv("FERRY_ADMIN_EMAIL", "Boss@Example.test")
    monkeypatch.setenv("FERRY_ADMIN_PASSWORD", "a long enough password")

    call_command("ensure_admin")

    user = get_user_model().objects.get()
    assert user.email == "boss@example.test"
    assert user.is_superuser
    assert user.check_password("a long enough password")
    assert Membership.objects.get(user=user).organization.name == "My organisation"
    output = capsys.readouterr().out
    assert "boss@example.test" in output
    assert "a long enough password" not in output


@pytest.mark.django_db
def test_ensure_admin_generates_a_password_and_prints_it_once(monkeypatch, capsys):
    monkeypatch.delenv("FERRY_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("FERRY_ADMIN_PASSWORD", raising=False)

    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    second = capsys.readouterr().out

    password = first.split("password: ")[1].split()[0]
    assert get_user_model().objects.get().check_password(password)
    assert second == ""
    assert get_user_model().objects.count() == 1


def test_serve_runs_web_worker_and_beat_and_ctrl_c_stops_them(tmp_path):
    """What `make run` ends with: the login page is served and a worker reports in."""
    port, sandbox_port = free_port(), free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}},
        "FERRY_VAR_DIR": str(tmp_path),
        "FERRY_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "CELERY_WORKER_CONCURRENCY": "1",
        "INTERCOM_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=environment, check=True)
    subprocess.run([*manage, "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=environment,
                   check=True)  # fmt: skip
    server = subprocess.Popen(
        [*manage, "serve"], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:

        def login_page():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2)
            except httpx.TransportError:
                return None

        response = wait_for(login_page, 60, "the login page")
        assert response.status_code == 200
        assert "Sign in" in response.text

        def worker_reported():
            with sqlite3.connect(tmp_path / "ferry.sqlite3") as database:
                return database.execute("select count(*) from console_workerheartbeat").fetchone()[
                    0
                ]

        wait_for(worker_reported, 60, "a worker heartbeat")

        def sandbox_answers():
            try:
                return httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/state", timeout=2)
            except httpx.TransportError:
                return None

        assert wait_for(sandbox_answers, 30, "the Intercom sandbox").status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=30)

    assert server.returncode == 0, output
    for name in ("web", "worker", "beat", "sandbox"):
        assert f"{name:<7} | " in output
    survivors = subprocess.run(["pgrep", "-s", str(server.pid)], capture_output=True, text=True)
    assert survivors.stdout == ""
