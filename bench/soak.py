"""A bounded soak: 10 minutes at 500 events/s into /v1/batch, with the sandbox
rate-limited, watching memory, loss and the drain rate.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 500] [--limit 10000]

Same stack as bench/pipeline.py (PostgreSQL database ``ferry_bench`` dropped and
made anew, Redis databases 2 and 3, gunicorn, two worker processes, beat, the
sandbox in its own process). Every minute it prints the resident memory of the
web and worker processes (each with its children), events accepted and stored,
deliveries done, and Intercom calls per second against the sandbox's limit
(``--limit`` calls a minute). At the end: nothing lost (every accepted event
stored, every routed event has its delivery, none failed), no 429, and how long
the backlog left will take at the rate measured.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.pipeline as stack


def rss_megabytes(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending.extend(int(child) for child in children)
    return total / 1024


class Sender(threading.Thread):
    """Posts batches of 100 events at a steady rate; counts what was accepted."""

    def __init__(self, url: str, write_key: str, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self.interval = stack.BATCH / rate
        self.seconds = seconds
        self.accepted = 0
        self.refused: dict[int, int] = {}

    def run(self) -> None:
        started = time.monotonic()
        tick = 0
        while (now := time.monotonic()) - started < self.seconds:
            due = started + tick * self.interval
            if due > now:
                time.sleep(due - now)
            body = stack.batch_body(stack.BATCH, tick * stack.BATCH)
            self.connection.request(
                "POST",
                "/v1/batch",
                body,
                {"Content-Type": "application/json", "Authorization": self.auth},
            )
            answer = self.connection.getresponse()
            answer.read()
            if answer.status == 200:
                self.accepted += stack.BATCH
            else:
                self.refused[answer.status] = self.refused.get(answer.status, 0) + stack.BATCH
            tick += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=int, default=500, help="events a second")
    parser.add_argument("--limit", type=int, default=10_000, help="sandbox calls a minute")
    options = parser.parse_args()

    stack.reset_services()
    processes = stack.Processes()
    try:
        sandbox_url, token = stack.start_sandbox(processes, options.limit // 6)
        write_key = stack.configure(sandbox_url, token)
        web = stack.start_web(processes)
        stack.start_workers(processes)
        web_pid, worker_pids = processes.children[1].pid, [c.pid for c in processes.children[2:4]]
        from delivery.models import Delivery, Event

        sender = Sender(web, write_key, options.rate, options.minutes * 60)
        sender.start()
        print(f"soak: {options.rate} events/s for {options.minutes} min, sandbox "
              f"{options.limit} calls/min; files in {stack.VAR}")  # fmt: skip
        print(" min  web MB  workers MB   accepted     stored  delivered  calls/s")
        previous_delivered, previous_time = 0, time.monotonic()
        for minute in range(1, options.minutes + 1):
            time.sleep(max(0.0, previous_time + 60 - time.monotonic()))
            now = time.monotonic()
            delivered = Delivery.objects.filter(status=Delivery.Status.DELIVERED).count()
            rate = (delivered - previous_delivered) / (now - previous_time)
            print(
                f"{minute:>4} {rss_megabytes(web_pid):>7.0f} "
                f"{sum(rss_megabytes(pid) for pid in worker_pids):>11.0f} "
                f"{sender.accepted:>10,} {Event.objects.count():>10,} {delivered:>10,} "
                f"{rate:>8.1f}",
                flush=True,
            )
            previous_delivered, previous_time = delivered, now
        sender.join()
        time.sleep(2)
        requests = httpx.get(sandbox_url + "/_sandbox/requests", timeout=120).json()["requests"]
        stored = Event.objects.count()
        routed = Event.objects.filter(status=Event.Status.ROUTED).count()
        deliveries = Delivery.objects.count()
        failed = Delivery.objects.filter(status=Delivery.Status.FAILED).count()
        delivered = Delivery.objects.filter(status=Delivery.Status.DELIVERED).count()
        backlog = deliveries - delivered - failed
        print(
            f"accepted {sender.accepted:,}, refused {sender.refused or 'none'}, stored {stored:,}"
        )
        print(f"routed {routed:,}, deliveries {deliveries:,}, failed {failed:,}")
        print(f"429 answers: {sum(1 for r in requests if r['status'] == 429)}")
        print(f"backlog {backlog:,}: {backlog / max(rate, 0.001) / 60:,.0f} more minutes at "
              f"{rate:.1f}/s (the limit allows {options.limit / 60:.1f}/s)")  # fmt: skip
        intact = stored == sender.accepted and deliveries == routed and not sender.refused
        print("lost: " + ("none" if intact else "YES"))
    finally:
        processes.stop()


if __name__ == "__main__":
    os.chdir(stack.ROOT)
    main()
