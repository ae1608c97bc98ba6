"""The mapping language replayed against Segment's mapping kit.

Every case in ``fixtures/directives.json`` was run through ``@segment/actions-core`` by
``tools/reference/mapping_cases.mjs``: hand-written cases for each directive, option, quirk,
validator message and run-time error, then seeded random mappings and events. We must give
the same result or the same error messages, except in cases marked with a ``deviation``,
where ``ours`` records what we do instead and why.

Results are compared as JSON values: dicts ignore key order (dicts copied from the event keep
its order where JavaScript lists integer-like keys first), but ``True`` never equals ``1``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mappings import directives
from mappings.directives import (
    MappingError,
    compile_mapping,
    field_value_keys,
    transform,
    validate,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "directives.json").read_text())
SHARED_DATA = FIXTURE["shared_data"]
CASES = FIXTURE["cases"]
TRANSFORM_CASES = [case for case in CASES if case["op"] == "transform"]
VALUE_KEY_CASES = [case for case in CASES if case["op"] == "field_value_keys"]


def _data(case: dict[str, Any]) -> Any:
    if "data_ref" in case:
        return copy.deepcopy(SHARED_DATA[case["data_ref"]])
    return case["data"]


def _outcome(case: dict[str, Any]) -> dict[str, Any]:
    """What we must produce: Segment's answer, or ours where we knowingly differ."""
    if "deviation" in case:
        return case["ours"]
    if "error" in case:
        return {"error": case["error"]}
    return {"expected": case["expected"]}


def _same_json(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float):
        return (
            isinstance(actual, int | float) and not isinstance(actual, bool) and actual == expected
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same_json(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return (
        isinstance(actual, dict)
        and actual.keys() == expected.keys()
        and all(_same_json(actual[key], expected[key]) for key in expected)
    )


def _assert_outcome(run: Any, outcome: dict[str, Any]) -> None:
    if "error" in outcome:
        with pytest.raises(MappingError) as raised:
            run()
        assert raised.value.messages == outcome["error"]
    else:
        result = run()
        assert _same_json(result, outcome["expected"]), (result, outcome["expected"])


def _names(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


def test_the_fixture_holds_enough_cases() -> None:
    hand_written = [case for case in CASES if not case["name"].startswith("random ")]
    assert len(hand_written) >= 250
    assert len(CASES) - len(hand_written) >= 300


DEVIATIONS = [case for case in CASES if "deviation" in case]


@pytest.mark.parametrize("case", DEVIATIONS, ids=_names(DEVIATIONS))
def test_each_recorded_deviation_really_differs_from_segment(case: dict[str, Any]) -> None:
    segment = {"error": case["error"]} if "error" in case else {"expected": case.get("expected")}

    assert case["ours"] != segment


@pytest.mark.parametrize("case", TRANSFORM_CASES, ids=_names(TRANSFORM_CASES))
def test_transform_gives_segments_result(case: dict[str, Any]) -> None:
    mapping, data = case["mapping"], _data(case)
    _assert_outcome(lambda: transform(mapping, data), _outcome(case))


@pytest.mark.parametrize("case", TRANSFORM_CASES, ids=_names(TRANSFORM_CASES))
def test_compiled_mapping_gives_segments_result_and_leaves_the_mapping_alone(
    case: dict[str, Any],
) -> None:
    mapping, data = case["mapping"], _data(case)
    mapping_before, data_before = copy.deepcopy(mapping), copy.deepcopy(data)
    outcome = _outcome(case)
    if case["static_errors"] is not None:
        # Compiling checks the mapping before any event exists, so its errors come first.
        outcome = {"error": case["static_errors"]}

    _assert_outcome(lambda: compile_mapping(mapping)(data), outcome)

    assert mapping == mapping_before
    assert data == data_before


@pytest.mark.parametrize("case", TRANSFORM_CASES, ids=_names(TRANSFORM_CASES))
def test_validate_agrees_with_segments_validator(case: dict[str, Any]) -> None:
    if case["static_errors"] is None:
        validate(case["mapping"])
    else:
        with pytest.raises(MappingError) as raised:
            validate(case["mapping"])
        assert raised.value.messages == case["static_errors"]


@pytest.mark.parametrize("case", VALUE_KEY_CASES, ids=_names(VALUE_KEY_CASES))
def test_field_value_keys_match_segments(case: dict[str, Any]) -> None:
    _assert_outcome(lambda: field_value_keys(case["mapping"]), _outcome(case))


def test_error_text_joins_every_message() -> None:
    with pytest.raises(MappingError) as raised:
        validate({"a": {"@nope": 1}, "b": {"@path": 5}})

    assert str(raised.value) == (
        "/a has an invalid directive: @nope.\n"
        "/b/@path should be a string or a mapping directive but it is a number."
    )


def test_equal_mappings_are_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []

    def counting_compile(mapping: object) -> Any:
        compiled.append(mapping)
        return compile_mapping(mapping)

    directives._compiled_from_text.cache_clear()
    monkeypatch.setattr(directives, "compile_mapping", counting_compile)

    first = transform({"name": {"@path": "$.event"}}, {"event": "Signed Up"})
    second = transform({"name": {"@path": "$.event"}}, {"event": "Logged In"})
    transform({"label": {"@path": "$.event"}}, {"event": "Logged In"})

    assert (first, second) == ({"name": "Signed Up"}, {"name": "Logged In"})
    assert len(compiled) == 2


def test_a_compiled_mapping_ignores_later_changes_to_its_json() -> None:
    mapping = {"name": {"@path": "$.event"}, "tags": [{"@path": "$.userId"}], "raw": {"a": [1]}}
    compiled = compile_mapping(mapping)

    mapping["name"]["@path"] = "$.userId"
    mapping["tags"].append("extra")
    mapping["raw"]["a"].append(2)

    assert compiled({"event": "Signed Up", "userId": "u1"}) == {
        "name": "Signed Up",
        "tags": ["u1"],
        "raw": {"a": [1]},
    }


def test_results_never_share_containers_with_the_event() -> None:
    event = {"properties": {"list": [1, {"a": 2}]}}

    result = transform({"copy": {"@path": "$.properties"}}, event)
    result["copy"]["list"][1]["a"] = "changed"

    assert event == {"properties": {"list": [1, {"a": 2}]}}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (2.50, "2.5"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (123456789012345678901, "123456789012345680000"),
        (float("inf"), "Infinity"),
    ],
)
def test_python_floats_render_as_javascript_numbers(value: float, text: str) -> None:
    """JSON from JavaScript cannot carry ``1.0`` or ``-0.0``; Python payloads can."""
    result = transform({"t": {"@template": "{{n}}"}, "l": {"@liquid": "{{ n }}"}}, {"n": value})

    assert result == {"t": text, "l": text}


def test_json_encode_writes_python_floats_as_javascript_does() -> None:
    result = transform(
        {"j": {"@json": {"mode": "encode", "value": {"@path": "$.v"}}}},
        {"v": [1.0, -0.0, 1e-7, float("inf")]},
    )

    assert result == {"j": "[1,0,1e-7,null]"}


def test_a_root_directive_that_finds_nothing_gives_none() -> None:
    assert transform({"@path": "$.nope"}, {}) is None
