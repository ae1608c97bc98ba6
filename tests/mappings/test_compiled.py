from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from mappings import compiled as compiled_module
from mappings.actions import effective_fields
from mappings.compiled import compiled
from mappings.directives import MappingError
from mappings.triggers import TriggerError

EVENT = {"type": "track", "event": "Signed Up", "userId": "u-1", "properties": {"plan": "pro"}}


@dataclass
class Saved:
    pk: int
    updated_at: datetime
    action: str = "track_event"
    trigger: str = 'type = "track"'
    fields: dict[str, Any] = field(default_factory=dict)


def test_absent_fields_take_their_default_and_null_turns_one_off():
    fields = effective_fields(
        "track_event", {"metadata": None, "user_id": {"@path": "$.anonymousId"}}
    )

    assert fields["event_name"] == {"@path": "$.event"}
    assert fields["user_id"] == {"@path": "$.anonymousId"}
    assert fields["metadata"] is None


def test_a_saved_version_is_compiled_once(monkeypatch):
    saved = Saved(pk=1, updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    first = compiled(saved)
    monkeypatch.setattr(compiled_module, "parse", lambda text: pytest.fail("parsed again"))

    assert compiled(saved) is first
    assert first.trigger.matches(EVENT)
    assert first.transform(EVENT)["event_name"] == "Signed Up"


def test_a_new_version_is_compiled_anew():
    saved = Saved(pk=2, updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    before = compiled(saved)

    saved.updated_at = datetime(2026, 1, 2, tzinfo=UTC)
    saved.fields = {"event_name": {"@template": "plan-{{properties.plan}}"}}
    after = compiled(saved)

    assert after is not before
    assert after.transform(EVENT)["event_name"] == "plan-pro"


def test_errors_of_either_language_reach_the_caller():
    with pytest.raises(TriggerError):
        compiled(Saved(pk=3, updated_at=datetime.now(UTC), trigger="type = "))
    with pytest.raises(MappingError, match="has an invalid directive: @nope"):
        compiled(Saved(pk=4, updated_at=datetime.now(UTC), fields={"user_id": {"@nope": 1}}))


def test_runaway_nesting_is_refused_not_recursed():
    from mappings.directives import MAX_NESTING, field_value_keys, transform, validate

    deep: object = {"@path": "$.a"}
    for _ in range(5000):
        deep = {"@if": {"exists": deep, "then": 1}}

    for attempt in (
        lambda: validate({"x": deep}),
        lambda: transform({"x": deep}, {}),
        lambda: field_value_keys(deep),
    ):
        with pytest.raises(MappingError, match=f"nested more than {MAX_NESTING} levels deep"):
            attempt()
