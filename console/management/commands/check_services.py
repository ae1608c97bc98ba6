from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from console.celery import app as celery_app


class Command(BaseCommand):
    help = "Connect to the configured database, broker and cache; fail loudly if one is down."

    def handle(self, *args: Any, **options: Any) -> None:
        failures = []
        try:
            connection.ensure_connection()
        except Exception as error:
            failures.append(f"database ({settings.DATABASES['default']['ENGINE']}): {error}")
        try:
            with celery_app.connection_for_write() as broker:
                broker.ensure_connection(max_retries=1, timeout=3)
        except Exception as error:
            failures.append(f"broker {settings.CELERY_BROKER_URL}: {error}")
        try:
            cache.set("ferry:check_services", "ok", 5)
            if cache.get("ferry:check_services") != "ok":
                failures.append("cache: a value written could not be read back")
        except Exception as error:
            failures.append(f"cache {settings.CACHE_URL}: {error}")
        if failures:
            raise CommandError("Unreachable: " + "; ".join(failures))
        self.stdout.write("Database, broker and cache are reachable.")
