"""Intercom calls per event, with and without the contact cache.

    .venv/bin/python bench/contact_cache.py

A steady stream for 50 people (each identified first) of identify, group and
email-only track events, through the real actions against the sandbox over
HTTP. Without the cache every identify and group costs a search first.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery.intercom.actions import (
    ContactCache,
    MemoryContactCache,
    identify_company,
    identify_contact,
    track_event,
)
from delivery.intercom.client import IntercomClient, Outcome
from delivery.sandbox import IntercomSandbox

PEOPLE = 50
ROUNDS = 10


class NoCache:
    def get(self, kind: str, value: str) -> str | None:
        return None

    def set(self, kind: str, value: str, contact_id: str) -> None:
        pass

    def forget(self, kind: str, value: str) -> None:
        pass


def calls_per_event(cache: ContactCache) -> dict[str, float]:
    sandbox = IntercomSandbox()
    sandbox.start()
    client = IntercomClient(api_base=sandbox.base_url, token=sandbox.access_token)
    try:
        for n in range(PEOPLE):
            person = {"external_id": f"u{n}", "email": f"u{n}@example.test"}
            identify_contact(client, {"role": "user", **person}, cache=cache)
        figures = {}
        streams = {
            "identify": lambda n: identify_contact(
                client, {"role": "user", "external_id": f"u{n}", "name": "N"}, cache=cache
            ),
            "group": lambda n: identify_company(
                client, {"company_id": f"c{n % 5}", "external_id": f"u{n}"}, cache=cache
            ),
            "track by email": lambda n: track_event(
                client,
                {"event_name": "E", "created_at": 1_700_000_000 + n, "email": f"u{n}@example.test"},
                cache=cache,
            ),
        }
        for name, send in streams.items():
            before = len(sandbox.requests)
            for _ in range(ROUNDS):
                for n in range(PEOPLE):
                    assert send(n).outcome is Outcome.DELIVERED
            figures[name] = (len(sandbox.requests) - before) / (ROUNDS * PEOPLE)
        return figures
    finally:
        sandbox.stop()


def main() -> None:
    cached, uncached = calls_per_event(MemoryContactCache()), calls_per_event(NoCache())
    print(f"{'stream':<16} {'with cache':>12} {'without':>10}   (Intercom calls per event)")
    for name in cached:
        print(f"{name:<16} {cached[name]:>12.2f} {uncached[name]:>10.2f}")


if __name__ == "__main__":
    main()
