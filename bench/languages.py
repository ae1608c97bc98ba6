"""How fast the mapping and trigger languages run, against Segment's own.

    .venv/bin/python bench/languages.py

Times, on one core and best of five rounds, (1) the default Track Event mapping
plus a ``@template`` and an ``@if`` field, compiled once, applied to a typical
track event, and (2) a three-condition trigger matched against that event. When
Node.js and tools/reference/node_modules are present, Segment's mapping kit and
trigger engine run the same cases in the same run and the ratio is printed.
Targets (issue 3): mapping ratio >= 1.0; trigger >= 1,000,000 matches/s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mappings.actions import default_fields  # noqa: E402
from mappings.directives import compile_mapping, transform  # noqa: E402
from mappings.triggers import parse  # noqa: E402

MAPPING = {
    **default_fields("track_event"),
    "event_name": {"@template": "{{event}} ({{properties.category}})"},
    "currency": {
        "@if": {
            "exists": {"@path": "$.properties.currency"},
            "then": {"@path": "$.properties.currency"},
            "else": "USD",
        }
    },
}
TRIGGER = 'type = "track" and event = "Order Completed" and properties.total > 100'
EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-1234",
    "anonymousId": "0a1b2c3d-4e5f",
    "messageId": "ajs-next-1732870000-abc",
    "timestamp": "2026-11-29T10:00:00.000Z",
    "properties": {
        "order_id": "50314b8e9bcf000000000000",
        "total": 127.5,
        "revenue": 117.5,
        "currency": "EUR",
        "category": "Games",
        "email": "ann@example.test",
        "coupon": "hasbros",
    },
    "context": {"ip": "8.8.8.8", "library": {"name": "analytics.js", "version": "2.11.1"}},
}


def per_second(work: Callable[[], object], calls: int, rounds: int = 5) -> float:
    for _ in range(calls // 10):
        work()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        best = min(best, time.perf_counter() - started)
    return calls / best


def reference() -> dict[str, float] | None:
    node = shutil.which("node")
    if node is None or not (ROOT / "tools/reference/node_modules").is_dir():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json") as cases:
        json.dump({"mapping": MAPPING, "trigger": TRIGGER, "event": EVENT}, cases)
        cases.flush()
        output = subprocess.run(
            [node, str(ROOT / "bench/reference_languages.mjs"), cases.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(output)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    compiled = compile_mapping(MAPPING)
    trigger = parse(TRIGGER)
    assert trigger.matches(EVENT)
    assert compiled(EVENT) == transform(MAPPING, EVENT)

    mapping_rate = per_second(lambda: compiled(EVENT), 100_000)
    uncompiled_rate = per_second(lambda: transform(MAPPING, EVENT), 50_000)
    trigger_rate = per_second(lambda: trigger.matches(EVENT), 1_000_000)
    node = reference()

    print(f"Python {sys.version.split()[0]}, one core, best of 5 rounds")
    print(f"mapping (compiled once)      {mapping_rate:>12,.0f} events/s")
    print(f"mapping via transform()      {uncompiled_rate:>12,.0f} events/s")
    print(f"three-condition trigger      {trigger_rate:>12,.0f} matches/s")
    if node is None:
        print("Segment reference: not run (needs node and `npm install` in tools/reference)")
        return
    print(f"Segment mapping kit, Node {node.get('node')}: {node['mapping']:>10,.0f} events/s")
    print(f"Segment trigger engine, Node:       {node['trigger']:>10,.0f} matches/s")
    print(f"mapping ratio (Ferry / Segment)     {mapping_rate / node['mapping']:>10.2f}")
    print(f"trigger ratio (Ferry / Segment)     {trigger_rate / node['trigger']:>10.2f}")


if __name__ == "__main__":
    main()
