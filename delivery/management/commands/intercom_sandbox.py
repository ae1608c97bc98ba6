from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from delivery.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, IntercomSandbox


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


class Command(BaseCommand):
    help = (
        "Serve the Intercom sandbox, a fake Intercom API for trying Ferry without an Intercom "
        "account, until Ctrl-C. Prints its base URL, an access token and the OAuth client "
        "credentials; /_sandbox/ on it drives it (requests, reset, fail, config, state, ...)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8799, help="0 picks a free port")
        parser.add_argument(
            "--rate-limit",
            type=_positive_int,
            help="calls allowed per 10-second window per workspace (default: unlimited)",
        )
        parser.add_argument(
            "--search-lag",
            type=_seconds,
            default=0.0,
            help="seconds before a written contact shows in /contacts/search (default: 0)",
        )
        parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
        parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())

        sandbox = IntercomSandbox(
            rate_limit=options["rate_limit"],
            search_lag=options["search_lag"],
            client_id=options["client_id"],
            client_secret=options["client_secret"],
        )
        try:
            base_url = sandbox.start(host=options["host"], port=options["port"])
        except OSError as error:
            where = f"{options['host']}:{options['port']}"
            raise CommandError(f"Cannot listen on {where}: {error}") from None
        workspace = sandbox.workspace
        limit = options["rate_limit"]
        self.stdout.write(f"Intercom sandbox on {base_url}")
        self.stdout.write(
            f"  workspace:     {workspace.name} ({workspace.id_code}, {workspace.region})"
        )
        self.stdout.write(f"  access token:  {sandbox.access_token}")
        self.stdout.write(f"  client id:     {sandbox.client_id}")
        self.stdout.write(f"  client secret: {sandbox.client_secret}")
        self.stdout.write(f"  authorize at:  {base_url}/oauth")
        self.stdout.write(f"  rate limit:    {f'{limit} calls per 10 s' if limit else 'none'}")
        self.stdout.write(f"  search lag:    {options['search_lag']:g} s")
        self.stdout.write(
            f"  controls:      {base_url}/_sandbox/ "
            "(requests, reset, fail, config, state, contacts, revoke, workspaces)"
        )
        self.stdout.write("Ctrl-C stops it.")
        self.stdout.flush()

        stop.wait()
        sandbox.stop()
        self.stdout.write("Intercom sandbox stopped.")
