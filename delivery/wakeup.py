"""Waking workers without ever making a request wait for the broker.

``wake_workers()`` only sets a flag; a daemon thread of this process publishes
one ``deliver_due`` task for however many wake-ups arrived meanwhile. When the
broker is unreachable the publish fails in the background, is logged, and the
thread pauses; the sweeper finds the due deliveries once the broker is back.
"""

from __future__ import annotations

import logging
import os
import threading
import time

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURE_SECONDS = 5.0

_lock = threading.Lock()
_pending = threading.Event()
_thread_pid: int | None = None


def _publish_forever() -> None:
    from delivery.tasks import deliver_due

    while True:
        _pending.wait()
        _pending.clear()
        try:
            deliver_due.apply_async(retry=False)
        except Exception as error:
            logger.warning("cannot reach the broker (%s); the sweeper will catch up", error)
            time.sleep(PAUSE_AFTER_FAILURE_SECONDS)


def wake_workers() -> None:
    global _thread_pid
    with _lock:
        # A forked process (gunicorn, Celery's pool) does not inherit the thread.
        if _thread_pid != os.getpid():
            threading.Thread(target=_publish_forever, name="ferry-wake", daemon=True).start()
            _thread_pid = os.getpid()
    _pending.set()
