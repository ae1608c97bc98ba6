"""Running one mapping on one event: the code shared by the workers, the
console's "Test mapping" and ``manage.py test_mapping``, so a test goes the
same way as real traffic.

- ``map_event(action_key, transform, event)`` -> the validated payload, or
  ``MappingFailure`` with every problem in words;
- ``perform(action_key, payload, client, cache)`` -> the action's result;
- ``try_mapping(...)`` -> everything a tester wants to see, as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from delivery.intercom.actions import ACTIONS, ActionResult, ContactCache
from delivery.intercom.client import Exchange, IntercomClient
from mappings.compiled import compile_saved
from mappings.directives import MappingError
from mappings.payload import PayloadError, validate_payload
from mappings.triggers import TriggerError

DRY_RUN = "dry_run"


class MappingFailure(Exception):
    """The event could not become a valid payload; nothing can be sent."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(" ".join(errors))
        self.errors = errors


def map_event(
    action_key: str, transform: Callable[[object], Any], event: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply a compiled field mapping to ``event`` and validate the result."""
    try:
        mapped = transform(dict(event))
    except MappingError as error:
        raise MappingFailure(
            [f"The mapping could not run: {message}" for message in error.messages]
        ) from None
    try:
        return validate_payload(action_key, mapped)
    except PayloadError as error:
        raise MappingFailure(list(error.errors)) from None


def perform(
    action_key: str, payload: Mapping[str, Any], *, client: IntercomClient, cache: ContactCache
) -> ActionResult:
    return ACTIONS[action_key](client, payload, cache=cache)


@dataclass
class Trial:
    """What trying a mapping on an event did (``manage.py test_mapping``'s output)."""

    matched: bool
    payload: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "payload": self.payload,
            "warnings": self.warnings,
            "outcome": self.outcome,
            "error": self.error,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "exchanges": [
                {
                    "method": exchange.method,
                    "url": exchange.url,
                    "request_body": exchange.request_body,
                    "status": exchange.status,
                    "response_body": exchange.response_body,
                    "duration_ms": exchange.duration_ms,
                }
                for exchange in self.exchanges
            ],
        }


def try_mapping(
    *,
    action_key: str,
    trigger: str,
    fields: Mapping[str, Any],
    event: Mapping[str, Any],
    client: IntercomClient | None,
    cache: ContactCache,
) -> Trial:
    """Match, map, validate and (unless ``client`` is None: a dry run) send."""
    try:
        mapping = compile_saved(action_key, trigger, fields)
    except TriggerError as error:
        return Trial(matched=False, outcome="permanent", error=f"The trigger is invalid: {error}")
    except MappingError as error:
        return Trial(matched=False, outcome="permanent", error=f"The mapping is invalid: {error}")
    if not mapping.trigger.matches(event):
        return Trial(
            matched=False, error="The trigger does not match this event; nothing was sent."
        )
    try:
        payload = map_event(action_key, mapping.transform, event)
    except MappingFailure as failure:
        return Trial(matched=True, outcome="permanent", error=str(failure))
    if client is None:
        return Trial(matched=True, payload=payload, outcome=DRY_RUN)
    result = perform(action_key, payload, client=client, cache=cache)
    return Trial(
        matched=True,
        payload=payload,
        warnings=result.warnings,
        outcome=result.outcome.value,
        error=result.error,
        retry_at=result.retry_at,
        exchanges=result.exchanges,
    )
