from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.models import Workspace
from delivery.execution import try_mapping
from delivery.intercom.actions import MemoryContactCache
from delivery.intercom.client import IntercomClient
from delivery.workspaces import client_for
from mappings.actions import ACTIONS

FAILED_OUTCOMES = {"retryable", "permanent", "needs_reconnect"}


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        raise CommandError(f"Cannot read the {what} file {path}: {error.strerror}.") from None
    except ValueError as error:
        raise CommandError(f"The {what} file {path} is not valid JSON: {error}.") from None


class Command(BaseCommand):
    help = (
        "Run one mapping on one event, the way a worker would, and print what happened as "
        "JSON: matched, payload, warnings, outcome, error, retry_at, exchanges. Exits 1 when "
        "the event was not delivered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--mapping", required=True, help='JSON: {"action", "trigger", "fields"}'
        )
        parser.add_argument("--event", required=True, help="JSON: one Segment event")
        parser.add_argument("--workspace", help="a connected workspace: its id or Workspace ID")
        parser.add_argument("--api-base", help="Intercom API base URL (with --token)")
        parser.add_argument("--token", help="Intercom access token (with --api-base)")
        parser.add_argument("--dry-run", action="store_true", help="map and validate only")

    def handle(self, *args: Any, **options: Any) -> None:
        mapping = _read_json(options["mapping"], "mapping")
        event = _read_json(options["event"], "event")
        if not isinstance(mapping, dict) or mapping.get("action") not in ACTIONS:
            raise CommandError(
                'The mapping must be an object with "action" (one of '
                f'{", ".join(ACTIONS)}), "trigger" and "fields".'
            )
        if not isinstance(mapping.get("fields", {}), dict):
            raise CommandError('The mapping\'s "fields" must be an object.')
        if not isinstance(event, dict):
            raise CommandError("The event must be a JSON object.")
        trial = try_mapping(
            action_key=mapping["action"],
            trigger=str(mapping.get("trigger") or ""),
            fields=mapping.get("fields", {}),
            event=event,
            client=None if options["dry_run"] else self._client(options),
            cache=MemoryContactCache(),
        )
        self.stdout.write(json.dumps(trial.as_json(), indent=2, ensure_ascii=False))
        if trial.outcome in FAILED_OUTCOMES:
            raise SystemExit(1)

    def _client(self, options: dict[str, Any]) -> IntercomClient:
        if options["workspace"]:
            if options["api_base"] or options["token"]:
                raise CommandError("Give either --workspace or --api-base with --token, not both.")
            return client_for(self._workspace(options["workspace"]))
        if not (options["api_base"] and options["token"]):
            raise CommandError("Give --workspace, or --api-base with --token, or --dry-run.")
        return IntercomClient(api_base=options["api_base"], token=options["token"])

    def _workspace(self, identifier: str) -> Workspace:
        matches = list(
            Workspace.objects.filter(pk=int(identifier))
            if identifier.isdigit()
            else Workspace.objects.filter(app_id_code=identifier)
        )
        if len(matches) != 1:
            found = "No" if not matches else "More than one"
            raise CommandError(f"{found} workspace matches {identifier!r}; give its numeric id.")
        return matches[0]
