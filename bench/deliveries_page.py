"""The deliveries list with 1,000,000 deliveries on PostgreSQL: how long a page takes.

    .venv/bin/python bench/deliveries_page.py [--rows N] [--explain]

Needs PostgreSQL (127.0.0.1:5432, trust auth): a database ``ferry_bench_deliveries``
is made anew and dropped at the end. One million events and their deliveries go in
with ``INSERT … SELECT generate_series`` (spread over 30 days, ids in time order, as
Ferry writes them; 90 % delivered, 5 % failed, the rest retrying, discarded, paused,
pending; 50,000 people; two destinations of five mappings each), then ``VACUUM
ANALYZE``. Each page is rendered through Django's test client as the owner, the
whole page (filters, status counts, 50 rows), warm, ``REPEAT`` times: median and
p95 in milliseconds. ``--explain`` prints the plan of each page's slowest query.

Target (issue 7): under 300 ms a page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "ferry_bench_deliveries"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REPEAT = 15
PEOPLE = 50_000
DAYS = 30

os.environ.update(
    {
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "SECRET_KEY": "bench-" + "x" * 50,
        "FERRY_VAR_DIR": tempfile.mkdtemp(prefix="ferry-bench-"),
        "CACHE_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
        "FERRY_HTTPS": "false",
        "ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }
)
sys.path.insert(0, str(ROOT))
# Static files are not served here (no `collectstatic`), and need not be.
warnings.filterwarnings("ignore", message="No directory at")

# Status by a hash of the row number, in thousandths.
STATUS_BY_THOUSANDTH = """CASE
    WHEN h < 900 THEN 'delivered' WHEN h < 950 THEN 'failed' WHEN h < 980 THEN 'retrying'
    WHEN h < 990 THEN 'discarded' WHEN h < 995 THEN 'paused' ELSE 'pending' END"""
ERROR_BY_ROW = """CASE WHEN h < 900 THEN ''
    WHEN g % 3 = 0 THEN 'Intercom answered 400: Email Address must be a valid email.'
    WHEN g % 3 = 1 THEN 'Event Name is required.'
    ELSE 'Gave up after 9 attempts: Intercom answered 503 (service unavailable).' END"""


def create_database() -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def populate(rows: int) -> dict[str, object]:
    """The organisation, its owner, destinations and mappings, and ``rows`` deliveries."""
    from django.core.management import call_command
    from django.db import connection

    from console import services
    from console.models import Workspace
    from mappings.actions import new_mapping
    from mappings.models import Mapping

    call_command("migrate", verbosity=0)
    organization = services.organization_create(name="Bench")
    owner = services.user_create(
        organization=organization, email="owner@bench.test", password="x" * 20
    )
    source, _ = services.source_create(organization=organization, name="Website")
    workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="bench",
        name="Bench",
        api_base="http://127.0.0.1:9",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
    )
    destinations = [
        services.destination_create(source=source, name=name, workspace=workspace)
        for name in ("Intercom EU", "Intercom US")
    ]
    mappings = []
    for destination in destinations:
        for n, action in enumerate(["track_event"] * 3 + ["identify_contact", "identify_company"]):
            template = new_mapping(action, role="user" if action == "identify_contact" else None)
            mappings.append(
                Mapping.objects.create(
                    destination=destination,
                    name=f"{action} {n}",
                    action=action,
                    trigger=template["trigger"],
                    fields=template["fields"],
                    position=n,
                )
            )
    mapping_ids = "ARRAY[" + ",".join(str(m.pk) for m in mappings) + "]"
    actions = "ARRAY[" + ",".join(f"'{m.action}'" for m in mappings) + "]"
    destination_ids = "ARRAY[" + ",".join(str(m.destination_id) for m in mappings) + "]"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO delivery_event (source_id, message_id, type, event_name, user_id,
                anonymous_id, payload, timestamp, received_at, status, reason, skipped)
            SELECT {source.pk}, 'm-' || g, 'track', 'Order Completed', 'user-' || (g % {PEOPLE}),
                '', json_build_object('type', 'track', 'event', 'Order Completed',
                    'userId', 'user-' || (g % {PEOPLE}), 'messageId', 'm-' || g,
                    'properties', json_build_object('order', g, 'revenue', g % 500)),
                t, t, 'routed', '', '{{}}'
            FROM generate_series(1, {rows:d}) AS g, LATERAL (
                SELECT now() - interval '{DAYS} days' * (1 - g::float / {rows:d}) AS t
            ) AS at
            """
        )
        cursor.execute(
            f"""
            INSERT INTO delivery_delivery (event_id, destination_id, mapping_id, action, person,
                status, attempts, created_at, next_attempt_at, lease_until, finished_at,
                last_error, blocking, is_test, budget_from, budget_attempts)
            SELECT e.id, ({destination_ids})[m], ({mapping_ids})[m], ({actions})[m], e.user_id,
                {STATUS_BY_THOUSANDTH}, CASE WHEN h < 900 THEN 1 ELSE 3 END, e.received_at,
                NULL, NULL, e.received_at, {ERROR_BY_ROW}, true, false, NULL, 0
            FROM (SELECT e.*, e.id AS g, (e.id * 7919) % 1000 AS h,
                         1 + (e.id * 31) % 10 AS m FROM delivery_event e) AS e
            ORDER BY e.id
            """
        )
    inserted = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE delivery_event")
        cursor.execute("VACUUM ANALYZE delivery_delivery")
    print(
        f"{rows:,} events and deliveries inserted in {inserted:.1f} s, "
        f"vacuumed and analysed in {time.perf_counter() - started - inserted:.1f} s"
    )
    return {"owner": owner, "destinations": destinations, "mappings": mappings}


def scenarios(world: dict[str, object]) -> dict[str, str]:
    from django.db import connection
    from django.urls import reverse

    from delivery.models import Delivery

    destinations = world["destinations"]
    mappings = world["mappings"]
    newest = Delivery.objects.order_by("-id").values_list("id", flat=True).first()
    oldest = Delivery.objects.order_by("id").values_list("id", flat=True).first()
    deep = oldest + (newest - oldest) // 10
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_char(now() - interval '20 days', 'YYYY-MM-DD\"T\"HH24:MI')")
        (twenty_days_ago,) = cursor.fetchone()
        cursor.execute("SELECT to_char(now() - interval '19 days', 'YYYY-MM-DD\"T\"HH24:MI')")
        (nineteen_days_ago,) = cursor.fetchone()
    listed = reverse("delivery_list")
    return {
        "first page": listed,
        "deep page (before=, 90 % down)": f"{listed}?before={deep}",
        "status=failed": f"{listed}?status=failed",
        "status=failed, deep page": f"{listed}?status=failed&before={deep}",
        "mapping filter": f"{listed}?mapping={mappings[3].pk}",
        "userId filter": f"{listed}?user=user-4242",
        "error text (common), last 7 days": f"{listed}?error=email",
        "error text (no match), last 7 days": f"{listed}?error=no+such+words",
        "error text, last hour": f"{listed}?error=email&range=hour",
        "last hour": f"{listed}?range=hour",
        "last 7 days, status=retrying": f"{listed}?range=week&status=retrying",
        "from/to: one day, 20 days ago": f"{listed}?from={twenty_days_ago}&to={nineteen_days_ago}",
        "destination tab (htmx)": reverse("destination_deliveries", args=[destinations[0].pk]),
        "destination tab, status=failed": reverse(
            "destination_deliveries", args=[destinations[1].pk]
        )
        + "?status=failed",
        "replay confirmation (count failed)": f"{reverse('deliveries_replay')}?status=failed",
    }


def measure(world: dict[str, object], *, explain: bool) -> list[tuple[str, float, float]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(world["owner"])
    results = []
    for name, url in scenarios(world).items():
        headers = {"HTTP_HX_REQUEST": "true"} if "tab" in name else {}
        response = client.get(url, **headers)
        assert response.status_code == 200, (name, response.status_code)
        timings = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            client.get(url, **headers)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        median = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        results.append((name, median, p95))
        print(f"{name:<40} median {median:7.1f} ms   p95 {p95:7.1f} ms", flush=True)
        if explain:
            with CaptureQueriesContext(connection) as captured:
                client.get(url, **headers)
            slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + slowest["sql"])
                plan = "\n".join(f"      {line}" for (line,) in cursor.fetchall())
            print(f"    slowest query ({float(slowest['time']) * 1000:.1f} ms):\n{plan}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true")
    arguments = parser.parse_args()
    create_database()
    try:
        import django
        from django.conf import settings

        django.setup()
        # The manifest needs `collectstatic`; the page is timed, not its static files.
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        world = populate(arguments.rows)
        results = measure(world, explain=arguments.explain)
        worst = max(p95 for _, _, p95 in results)
        print(f"worst p95 {worst:.1f} ms (target: under 300 ms)")
    finally:
        drop_database()


if __name__ == "__main__":
    main()
