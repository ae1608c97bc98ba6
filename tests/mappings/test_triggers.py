"""The trigger language against Segment's trigger engine, plus Ferry's own guarantees.

``fixtures/triggers.json`` is written by ``tools/reference/trigger_cases.mjs`` from
``@segment/destination-subscriptions``: hand-written cases, seeded random triggers and events,
and builder forms run through ``generateFql``. A case with a ``deviation`` note asserts
Ferry's documented answer (``docs/trigger-language.md``) instead of Segment's.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import FrozenInstanceError
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from mappings.triggers import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    BuilderCondition,
    BuilderForm,
    Condition,
    Not,
    Or,
    Trigger,
    TriggerError,
    builder_form,
    generate_fql,
    parse,
)

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "triggers.json").read_text())
PARSE_CASES: list[dict[str, Any]] = FIXTURES["parse"]
GENERATE_CASES: list[dict[str, Any]] = FIXTURES["generate"]


def segment_form(ast: dict[str, Any]) -> BuilderForm | None:
    """Segment's AST as a builder form; ``None`` when it nests groups."""
    children = ast["children"]
    if any(child["type"] == "group" for child in children):
        return None
    conditions = tuple(
        BuilderCondition(
            child["type"], child["operator"], child.get("value"), child.get("name", "")
        )
        for child in children
    )
    return BuilderForm("all" if ast["operator"] == "and" else "any", conditions)


def segment_form_or_none(ast: dict[str, Any]) -> BuilderForm | None:
    try:
        return segment_form(ast)
    except ValueError:
        return None


def by_id(cases: list[dict[str, Any]]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", cases, ids=[case["id"] for case in cases])


ACCEPTED = [case for case in PARSE_CASES if "error_position" not in case.get("ferry", {})]
REJECTED = [case for case in PARSE_CASES if "error_position" in case.get("ferry", {})]
AGREED_ACCEPTED = [
    case for case in ACCEPTED if "deviation" not in case and "error" not in case["reference"]
]


def test_the_fixture_covers_every_kind_of_case() -> None:
    deviations = [case for case in PARSE_CASES if "deviation" in case]
    random_cases = [case for case in PARSE_CASES if case["id"].startswith("random_")]
    assert len(PARSE_CASES) + len(GENERATE_CASES) >= 150
    assert len(deviations) >= 30
    assert len(random_cases) >= 200
    assert len(REJECTED) >= 40


# ---------------------------------------------------------------------------------------------
# Replaying the reference


@by_id(ACCEPTED)
def test_matches_like_the_reference(case: dict[str, Any]) -> None:
    trigger = parse(case["fql"])

    answers = [trigger.matches(event) for event in case["events"]]

    expected = case.get("ferry", {}).get("matches", case["reference"].get("matches"))
    assert answers == expected


@by_id(REJECTED)
def test_rejects_with_the_position_of_the_problem(case: dict[str, Any]) -> None:
    with pytest.raises(TriggerError) as caught:
        parse(case["fql"])

    assert caught.value.position == case["ferry"]["error_position"]
    assert f"at position {caught.value.position}: " in str(caught.value)


@by_id(AGREED_ACCEPTED)
def test_builder_form_is_segments_ast(case: dict[str, Any]) -> None:
    trigger = parse(case["fql"])

    assert builder_form(trigger) == segment_form_or_none(case["reference"]["ast"])


@by_id([case for case in PARSE_CASES if "builder" in case.get("ferry", {})])
def test_builder_form_where_ferry_deviates(case: dict[str, Any]) -> None:
    trigger = parse(case["fql"])

    assert builder_form(trigger) == segment_form(case["ferry"]["builder"])


@by_id(
    [
        case
        for case in AGREED_ACCEPTED
        if segment_form_or_none(case["reference"]["ast"]) is not None
        and case["reference"]["generated"] is not None
    ]
)
def test_generate_fql_writes_what_segment_writes(case: dict[str, Any]) -> None:
    form = segment_form(case["reference"]["ast"])
    assert form is not None

    assert generate_fql(form) == case["reference"]["generated"]


@by_id(ACCEPTED)
def test_to_fql_reads_back_into_an_equal_trigger(case: dict[str, Any]) -> None:
    trigger = parse(case["fql"])

    again = parse(trigger.to_fql())

    assert again == trigger
    assert hash(again) == hash(trigger)


@by_id([case for case in ACCEPTED if builder_form(parse(case["fql"])) is not None])
def test_builder_form_regenerates_a_trigger_with_the_same_answers(case: dict[str, Any]) -> None:
    trigger = parse(case["fql"])
    form = builder_form(trigger)
    assert form is not None

    regenerated = parse(generate_fql(form))

    assert [regenerated.matches(event) for event in case["events"]] == [
        trigger.matches(event) for event in case["events"]
    ]


@by_id(GENERATE_CASES)
def test_generate_case(case: dict[str, Any]) -> None:
    ferry = case.get("ferry", {})
    if ferry.get("invalid"):
        with pytest.raises(ValueError):
            segment_form(case["ast"])
        return
    form = segment_form(case["ast"])
    assert form is not None

    fql = generate_fql(form)

    assert fql == ferry.get("fql", case["reference"]["fql"])
    if "deviation" not in case:
        assert builder_form(parse(fql)) == segment_form(case["reference"]["reparsed"])


# ---------------------------------------------------------------------------------------------
# Errors a user sees in the editor


@pytest.mark.parametrize(
    ("fql", "position", "words"),
    [
        ('type = "track" & event = "x"', 15, 'Unexpected character "&" at position 15: combine'),
        ('type = "track" and', 18, "Missing condition at position 18"),
        ('type = "track', 7, 'Unterminated text starting with " at position 7'),
        ("userid = 1", 0, 'did you mean "userId"?'),
        ("not type = 1", 0, 'negate a condition with "!"'),
        ('properties = "x"', 10, '"properties" needs a path at position 10'),
        ("properties.a. = 1", 13, 'Missing name after "." at position 13'),
        ('properties.a[0] = "x"', 12, "reach array items with a dot (properties.items.0)"),
        ("properties.caf\u00e9 = 1", 14, 'escaped with a backslash: "\\\u00e9"'),
        ("properties.total > 1e3", 20, 'Unexpected "e" after the number 1 at position 20'),
        ("properties.total < null", 19, '"<" cannot compare with null'),
        ("event = Signed", 8, 'put text in double quotes: "Signed"'),
        ('type == "track"', 6, 'compare with a single "="'),
        ("lowercase(event) = 1", 0, 'Unknown function "lowercase" at position 0'),
        ("contains(event, 5)", 16, "contains() takes text in quotes as its second argument"),
        ('(type = "a" event = "b")', 12, 'Unexpected "event" at position 12: expected "and", "or"'),
        ('(type = "a"', 0, 'Unclosed "(" at position 0'),
        ('type = "a")', 10, 'Unexpected ")" at position 10: there is no "("'),
        ("type = \x00", 7, "Unexpected character U+0000 at position 7"),
        ("", 0, "Empty trigger at position 0"),
    ],
)
def test_error_messages_point_at_the_problem(fql: str, position: int, words: str) -> None:
    with pytest.raises(TriggerError) as caught:
        parse(fql)

    assert caught.value.position == position
    assert words in caught.value.message
    assert str(caught.value) == caught.value.message
    assert isinstance(caught.value, ValueError)


def test_nesting_is_limited_with_a_clear_error() -> None:
    deepest = "(" * MAX_DEPTH + 'type = "track"' + ")" * MAX_DEPTH
    assert parse(deepest).matches({"type": "track"})

    with pytest.raises(TriggerError) as caught:
        parse("!" * (MAX_DEPTH + 1) + 'type = "track"')

    assert caught.value.position == MAX_DEPTH
    assert "Nested too deeply" in caught.value.message


def test_a_thousand_parentheses_fail_fast_without_recursion_error() -> None:
    with pytest.raises(TriggerError):
        parse("(" * 1000 + "type = 1" + ")" * 1000)


def test_length_is_limited_with_a_clear_error() -> None:
    longest = 'event = "' + "x" * (MAX_LENGTH - 10) + '"'
    assert len(longest) == MAX_LENGTH
    assert parse(longest).matches({"event": "x" * (MAX_LENGTH - 10)})

    with pytest.raises(TriggerError) as caught:
        parse(longest + " ")

    assert caught.value.position == MAX_LENGTH
    assert "Trigger too long" in caught.value.message


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError):
        parse(b'type = "track"')


# ---------------------------------------------------------------------------------------------
# Trigger values


def test_parsing_the_same_text_returns_the_compiled_trigger() -> None:
    first = parse('type = "track" and properties.total > 100')

    assert parse('type = "track" and properties.total > 100') is first


def test_triggers_are_equal_by_structure_not_by_spelling() -> None:
    spaced = parse('type = "track"   AND\n(event = \'A\' or event = "B")')
    tidy = parse('type = "track" and (event = "A" or event = "B")')

    assert spaced == tidy
    assert hash(spaced) == hash(tidy)
    assert spaced.to_fql() == 'type = "track" and (event = "A" or event = "B")'


def test_true_and_one_are_different_values() -> None:
    assert parse("properties.x = true") != parse("properties.x = 1")
    assert parse("properties.x = 1") == parse("properties.x = 1.0")
    assert len({parse("properties.x = true"), parse("properties.x = 1")}) == 2


def test_triggers_are_immutable() -> None:
    trigger = parse('type = "track"')

    with pytest.raises(FrozenInstanceError):
        trigger.expression = Condition("type", "=", "identify")  # type: ignore[misc]


def test_a_trigger_survives_pickling_with_its_matcher() -> None:
    trigger = parse('type = "track" and !(contains(event, "Test"))')

    copy = pickle.loads(pickle.dumps(trigger))

    assert copy == trigger
    assert copy.matches({"type": "track", "event": "Order"})
    assert not copy.matches({"type": "track", "event": "Test Order"})


def test_a_tree_built_by_an_editor_compiles_and_prints() -> None:
    expression = And(
        (
            Condition("type", "=", "track"),
            Or((Condition("event", "match", "Order *"), Condition("properties.total", ">", 100))),
            Not(Condition("userId", "=", None)),
        )
    )

    trigger = Trigger(expression)

    assert trigger.to_fql() == (
        'type = "track" and (match(event, "Order *") or properties.total > 100)'
        " and !(userId = null)"
    )
    assert trigger.matches({"type": "track", "event": "Order Placed", "userId": "u1"})
    assert not trigger.matches({"type": "track", "event": "Order Placed"})
    assert parse(trigger.to_fql()) == trigger


@pytest.mark.parametrize(
    "build",
    [
        lambda: Condition("anonymousId", "=", "x"),
        lambda: Condition("type.name", "=", "x"),
        lambda: Condition("properties", "=", "x"),
        lambda: Condition("properties.a..b", "=", "x"),
        lambda: Condition("properties.[]", "=", "x"),
        lambda: Condition("event", "~", "x"),  # type: ignore[arg-type]
        lambda: Condition("event", "contains", 5),
        lambda: Condition("properties.x", "<", None),
        lambda: Condition("properties.x", ">", True),
        lambda: Condition("properties.x", "=", float("nan")),
        lambda: Condition("event", "=", 'it\'s "quoted"'),
        lambda: Condition("event", "=", ["list"]),  # type: ignore[arg-type]
        lambda: And((Condition("type", "=", "a"),)),
        lambda: Or(("type = 1", Condition("type", "=", "a"))),  # type: ignore[arg-type]
        lambda: Not("type = 1"),  # type: ignore[arg-type]
        lambda: Trigger("type = 1"),  # type: ignore[arg-type]
    ],
)
def test_trees_that_cannot_be_written_are_refused(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_a_tree_deeper_than_the_parser_reads_is_refused() -> None:
    expression: Condition | Not = Condition("type", "=", "track")
    for _ in range(MAX_DEPTH):
        expression = Not(expression)
    assert parse(Trigger(expression).to_fql()).expression == expression

    with pytest.raises(ValueError):
        Trigger(Not(expression))


# ---------------------------------------------------------------------------------------------
# Semantics beyond the reference fixtures


def test_negated_function_and_negated_group_differ_on_missing_fields() -> None:
    negated_function = parse('!contains(properties.plan, "pro")')
    negated_group = parse('!(contains(properties.plan, "pro"))')

    assert not negated_function.matches({"properties": {}})
    assert negated_group.matches({"properties": {}})
    assert negated_function.matches({"properties": {"plan": "basic"}})
    assert negated_group.matches({"properties": {"plan": "basic"}})


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a*c", "abc", True),
        ("a*c", "ac", True),
        ("a*c", "acb", False),
        ("*b*", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXcYb", False),
        ("ab*ab", "ab", False),
        ("ab*ab", "abab", True),
        ("**", "", True),
        ("*", "", True),
        ("a?c", "abc", False),
        ("a?c", "a?c", True),
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("*\u00e9*", "caf\u00e9!", True),
    ],
)
def test_match_is_a_glob_where_only_star_is_special(
    pattern: str, text: str, expected: bool
) -> None:
    trigger = Trigger(Condition("event", "match", pattern))

    assert trigger.matches({"event": text}) is expected
    assert Trigger(Condition("event", "!match", pattern)).matches({"event": text}) is not expected


def test_glob_with_many_stars_stays_fast_on_long_text() -> None:
    trigger = Trigger(Condition("event", "match", "*a*a*a*a*a*a*a*b"))

    assert not trigger.matches({"event": "a" * 50_000})


def test_long_paths_follow_the_same_javascript_rules() -> None:
    trigger = parse("properties.a.b.c.d.e.f.g.h.i.j = 0")
    deep: dict[str, Any] = {"j": 0}
    for key in "ihgfedcba":
        deep = {key: deep}

    assert trigger.matches({"properties": deep})
    assert trigger.matches({"properties": {"a": {"b": 0}}})
    assert not trigger.matches({"properties": {"a": {"b": 1}}})
    assert not trigger.matches({"properties": {"a": []}})


@pytest.mark.parametrize(
    ("fql", "event", "expected"),
    [
        ("properties.items.length = 2", {"properties": {"items": ("x", "y")}}, True),
        ('properties.items.1 = "y"', {"properties": {"items": ["x", "y"]}}, True),
        ('properties.items.01 = "y"', {"properties": {"items": ["x", "y"]}}, False),
        ("properties.items.2 != null", {"properties": {"items": ["x", "y"]}}, False),
        ('properties.word.0 = "w"', {"properties": {"word": "word"}}, True),
        ("properties.word.9 = null", {"properties": {"word": "word"}}, True),
        ("properties.flag.x = null", {"properties": {"flag": True}}, True),
        ("properties.obj.length = null", {"properties": {"obj": {}}}, True),
        ("properties.nan.x > 0", {"properties": {"nan": float("nan")}}, False),
        ("properties.total > 0", {"properties": {"total": True}}, False),
        ("properties.total = 150", {"properties": {"total": 150.0}}, True),
        ("properties.map.key = 1", {"properties": {"map": MappingProxyType({"key": 1})}}, True),
    ],
)
def test_paths_read_like_javascript_property_accesses(
    fql: str, event: dict[str, Any], expected: bool
) -> None:
    assert parse(fql).matches(event) is expected


def test_events_may_be_any_mapping() -> None:
    trigger = parse('type = "track" and properties.total > 100')

    assert trigger.matches(MappingProxyType({"type": "track", "properties": {"total": 101}}))


def test_matches_returns_booleans() -> None:
    trigger = parse('type = "track" or (contains(event, "x") and !(properties.total > 100))')

    assert trigger.matches({"type": "track"}) is True
    assert trigger.matches({"type": "page"}) is False


def test_text_top_level_fields_compare_numbers_as_javascript_text() -> None:
    assert parse("userId = 1.50").matches({"userId": "1.5"})
    assert parse("userId = 100000000000000000000000").matches({"userId": "1e+23"})
    assert parse("userId = 0.0000001").matches({"userId": "1e-7"})
    assert not parse("userId = 5").matches({"userId": 5})


# ---------------------------------------------------------------------------------------------
# The builder form


def test_builder_form_of_a_flat_trigger() -> None:
    trigger = parse('type = "track" or properties.total >= 10 or !match(event, "*Test")')

    assert builder_form(trigger) == BuilderForm(
        "any",
        (
            BuilderCondition("event-type", "=", "track"),
            BuilderCondition("event-property", ">=", 10, "total"),
            BuilderCondition("event", "not_ends_with", "Test"),
        ),
    )


@pytest.mark.parametrize(
    "fql",
    [
        '!(type = "track")',
        'type = "a" or (event = "b" and event = "c")',
        'match(event, "a*b")',
        'match(event, "ab")',
        'properties.total < "abc"',
    ],
)
def test_builder_form_is_none_when_the_builder_cannot_show_it(fql: str) -> None:
    assert builder_form(parse(fql)) is None


def test_generate_fql_escapes_paths_and_quotes() -> None:
    form = BuilderForm(
        "all",
        (
            BuilderCondition("event-trait", "contains", 'say "hi"', "first name.x[0]"),
            BuilderCondition("event-context", "exists", None, "app.name"),
        ),
    )

    fql = generate_fql(form)

    assert fql == (
        "contains(traits.first\\ name.x\\[0\\], 'say \"hi\"') and context.app.name != null"
    )
    assert builder_form(parse(fql)) == form


@pytest.mark.parametrize(
    "build",
    [
        lambda: BuilderForm("all", ()),
        lambda: BuilderForm("some", (BuilderCondition("event", "exists"),)),  # type: ignore[arg-type]
        lambda: BuilderCondition("event", "exists", None, "path"),
        lambda: BuilderCondition("event-property", "exists"),
        lambda: BuilderCondition("event", "exists", "x"),
        lambda: BuilderCondition("event", "contains", 5),
        lambda: BuilderCondition("event", "=", None),
        lambda: BuilderCondition("event-property", ">", "abc", "total"),
        lambda: BuilderCondition("event-property", ">", True, "total"),
        lambda: BuilderCondition("event", "like", "x"),  # type: ignore[arg-type]
        lambda: BuilderCondition("anonymousId", "=", "x"),  # type: ignore[arg-type]
    ],
)
def test_builder_rows_that_cannot_become_fql_are_refused(build: Any) -> None:
    with pytest.raises(ValueError):
        build()
