"""How long the overview takes with a million deliveries, and the health check.

    .venv/bin/python bench/overview.py [deliveries]

Needs PostgreSQL (127.0.0.1:5432, trust auth): a database ``ferry_bench_overview``
is made anew, filled with a week of traffic (one event per delivery, spread
evenly; 90 % delivered, 5 % failed with one of five errors, the rest retrying
or discarded) over three destinations, and dropped at the end. Prints, for each
time range, the median of five renders of the install-wide overview fragment
(what the console's Overview page loads) and of one destination's tab, with
the 30-second cache out of the way, and the time of one health check.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "ferry_bench_overview"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
ROUNDS = 5
DESTINATIONS = 3

os.environ.update(
    {
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "CACHE_URL": "locmem://",
        "SECRET_KEY": "bench-" + "x" * 50,
        "FERRY_VAR_DIR": tempfile.mkdtemp(prefix="ferry-bench-overview-"),
        "LOG_LEVEL": "WARNING",
        "FERRY_HTTPS": "false",
        "ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }
)
sys.path.insert(0, str(ROOT))


def admin(statement: str) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(statement)


def fill(total: int) -> tuple[object, list[object]]:
    """An organisation with one source, three destinations and a week of traffic."""
    from django.db import connection

    from console import services
    from console.models import Workspace

    organization = services.organization_create(name="Bench")
    owner = services.user_create(
        organization=organization, email="owner@bench.test", password="bench-password-1"
    )
    source, _ = services.source_create(organization=organization, name="Load")
    workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="bench01",
        name="Bench",
        api_base="http://127.0.0.1:9",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
    )
    destinations = [
        services.destination_create(
            source=source, name=f"Intercom {n}", workspace=workspace, enabled=True
        )
        for n in range(DESTINATIONS)
    ]
    first = destinations[0].pk
    step = 7 * 24 * 3600 / total
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO delivery_event (source_id, message_id, type, event_name, user_id,"
            " anonymous_id, payload, received_at, status, reason, skipped)"
            " SELECT %s, 'm-' || g, 'track', 'Order Completed', 'u-' || (g %% 5000), '',"
            " '{}'::json, now() - g * make_interval(secs => %s), 'routed', '', '{}'::json"
            " FROM generate_series(1, %s) g",
            [source.pk, step, total],
        )
        cursor.execute(
            "INSERT INTO delivery_delivery (event_id, destination_id, action, person, status,"
            " attempts, created_at, finished_at, last_error, blocking, is_test,"
            " budget_attempts)"
            " SELECT id, %s + id %% %s, 'track_event', user_id, outcome.status, 1,"
            "   received_at, CASE WHEN outcome.status IN ('delivered', 'failed', 'discarded')"
            "   THEN received_at + random() * interval '3 seconds' END,"
            "   CASE WHEN outcome.status = 'failed' THEN 'Intercom answered 422: error '"
            "   || (id %% 5) ELSE '' END, true, false, 0"
            " FROM delivery_event, LATERAL (SELECT CASE WHEN id %% 100 < 90 THEN 'delivered'"
            "   WHEN id %% 100 < 95 THEN 'failed' WHEN id %% 100 < 98 THEN 'retrying'"
            "   ELSE 'discarded' END AS status) outcome",
            [first, DESTINATIONS],
        )
        # The steady state of a live table, which autovacuum keeps up.
        cursor.execute("VACUUM ANALYZE")
    return owner, destinations


def median_ms(action) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin(f"CREATE DATABASE {DATABASE}")
    try:
        import django

        django.setup()
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connections
        from django.test import Client
        from django.urls import reverse

        from delivery import health

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        started = time.perf_counter()
        owner, destinations = fill(total)
        print(f"{total:,} deliveries written in {time.perf_counter() - started:.0f} s")
        client = Client()
        client.force_login(owner)

        def render(url: str, window: str) -> None:
            cache.clear()
            response = client.get(url, {"range": window}, HTTP_HX_REQUEST="true")
            assert response.status_code == 200, response.status_code

        for window in ("hour", "day", "week"):
            install = median_ms(lambda w=window: render(reverse("install_overview"), w))
            one = median_ms(
                lambda w=window: render(
                    reverse("destination_overview", args=[destinations[0].pk]), w
                )
            )
            print(f"overview_{window}_install_ms            {install:10.1f}")
            print(f"overview_{window}_destination_ms        {one:10.1f}")
        cached = median_ms(
            lambda: client.get(reverse("install_overview"), {"range": "week"}, HTTP_HX_REQUEST="1")
        )
        print(f"overview_week_install_cached_ms     {cached:10.1f}")
        print(f"health_check_ms                     {median_ms(health.health_check):10.1f}")
        connections.close_all()
    finally:
        admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
