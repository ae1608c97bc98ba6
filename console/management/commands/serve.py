from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_GRACE_SECONDS = 10
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _commands() -> dict[str, list[str]]:
    python = sys.executable
    worker = [
        python, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO",
        "--concurrency", str(settings.CELERY_WORKER_CONCURRENCY),
    ]  # fmt: skip
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # The filesystem transport has no broadcast: worker-to-worker chatter only waits.
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    commands = {
        "web": [
            python, "-m", "gunicorn", "console.wsgi:application",
            "--bind", settings.FERRY_BIND,
            "--workers", str(settings.WEB_CONCURRENCY),
            "--threads", "4",
            "--access-logfile", "-",
            "--graceful-timeout", str(STOP_GRACE_SECONDS),
            "--no-control-socket",
        ],
        "worker": worker,
        "beat": [python, "-m", "celery", "-A", "console", "beat", "--loglevel", "INFO"],
    }  # fmt: skip
    sandbox = urlsplit(settings.INTERCOM_SANDBOX_URL)
    if sandbox.hostname in LOCAL_HOSTS and sandbox.port:
        commands["sandbox"] = [
            python, "manage.py", "intercom_sandbox", "--host", sandbox.hostname,
            "--port", str(sandbox.port),
        ]  # fmt: skip
    return commands


def _relay(name: str, stream: IO[str], out: IO[str], lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            out.write(f"{name:<7} | {line}")
            out.flush()


class Command(BaseCommand):
    help = (
        "Run Ferry: the web server, a Celery worker and the Celery beat scheduler together, "
        "and the Intercom sandbox when INTERCOM_SANDBOX_URL names a port on this machine. "
        "Ctrl-C (or SIGTERM) stops them all; if one of them dies, the others are stopped too."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())

        lock = threading.Lock()
        children: dict[str, subprocess.Popen[str]] = {}
        for name, command in _commands().items():
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
            children[name] = child
            assert child.stdout is not None
            threading.Thread(
                target=_relay, args=(name, child.stdout, sys.stdout, lock), daemon=True
            ).start()
        self.stdout.write(f"Ferry is starting on http://{settings.FERRY_BIND}/ (Ctrl-C stops it)")

        failed = None
        while not stop.is_set() and failed is None:
            failed = next((n for n, c in children.items() if c.poll() is not None), None)
            stop.wait(0.5)

        if failed is not None:
            self.stderr.write(f"{failed} exited with code {children[failed].returncode}; stopping.")
        self._stop_all(children)
        sys.exit(1 if failed is not None else 0)

    def _stop_all(self, children: dict[str, subprocess.Popen[str]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
