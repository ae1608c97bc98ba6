"""Properties of the trigger parser that must hold for every input, checked with hypothesis.

- Any syntax tree prints as FQL that parses back into an equal trigger.
- Any text either parses or raises TriggerError pointing inside the text; nothing else.
- The compiled matcher combines its conditions exactly as and / or / not say.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from mappings.triggers import (
    MAX_LENGTH,
    PATH_ROOTS,
    TOP_LEVEL_FIELDS,
    And,
    Condition,
    Expression,
    Not,
    Or,
    Trigger,
    TriggerError,
    parse,
)

texts = st.text().filter(lambda text: not ('"' in text and "'" in text))
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
)
path_segments = st.text(min_size=1).filter(lambda text: "." not in text and text.strip("[]"))
paths = st.lists(path_segments, min_size=1, max_size=4).map(".".join)
fields = st.one_of(
    st.sampled_from(TOP_LEVEL_FIELDS),
    st.tuples(st.sampled_from(PATH_ROOTS), paths).map(".".join),
)
conditions = st.one_of(
    st.builds(
        Condition,
        fields,
        st.sampled_from(["=", "!="]),
        st.one_of(texts, numbers, st.booleans(), st.none()),
    ),
    st.builds(
        Condition, fields, st.sampled_from(["<", "<=", ">", ">="]), st.one_of(texts, numbers)
    ),
    st.builds(
        Condition, fields, st.sampled_from(["contains", "!contains", "match", "!match"]), texts
    ),
)


def _compound(children: st.SearchStrategy[Expression]) -> st.SearchStrategy[Expression]:
    items = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(Not, children), items.map(And), items.map(Or))


expressions = st.recursive(conditions, _compound, max_leaves=12)


def _trigger(expression: Expression) -> Trigger:
    try:
        return Trigger(expression)
    except ValueError:
        reject()


@given(expressions)
def test_to_fql_parses_back_into_an_equal_trigger(expression: Expression) -> None:
    trigger = _trigger(expression)

    again = parse(trigger.to_fql())

    assert again == trigger
    assert hash(again) == hash(trigger)
    assert again.to_fql() == trigger.to_fql()


FQL_PIECES = [
    "type", "event", "name", "userId", "properties.total", "traits.a.b", "context.x",
    "properties.", "properties", "anonymousId", "contains", "match", "length",
    "and", "or", "AND", "Or", "not", "!", "!=", "=", "==", "<", "<=", ">", ">=", "<>",
    "(", ")", ",", ".", "[", "]", "*", "&", "|", "\\", "\r", "\n", "\t",
    '"track"', "'track'", '"', "'", '"a*b"', '""', "100", "-1.5", "+.5", "1.", "1e5", "0x10",
    "true", "false", "null", "NaN", "caf\u00e9", "\u00e9", "\x00",
]  # fmt: skip
token_soup = st.lists(st.sampled_from(FQL_PIECES), max_size=30)
fql_like = st.one_of(
    token_soup.map(" ".join),
    token_soup.map("".join),
    st.text(max_size=200),
    st.text(alphabet='()!" ', max_size=400),
)


@given(fql_like)
@settings(max_examples=500)
def test_any_text_parses_or_raises_a_trigger_error(fql: str) -> None:
    try:
        trigger = parse(fql)
    except TriggerError as error:
        assert 0 <= error.position <= max(len(fql), MAX_LENGTH)
        assert f"at position {error.position}: " in error.message
    else:
        assert parse(trigger.to_fql()) == trigger


values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.sampled_from(["", "track", "100", "a*b"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["total", "a", "b", "length", "0"]), inner, max_size=3),
    ),
    max_leaves=8,
)
events = st.fixed_dictionaries(
    {},
    optional={
        key: values
        for key in ("type", "event", "name", "userId", "properties", "traits", "context")
    },
)


def _combined(expression: Expression, event: dict[str, Any]) -> bool:
    """The answer built from one compiled trigger per condition and Python's own logic."""
    if isinstance(expression, Condition):
        return Trigger(expression).matches(event)
    if isinstance(expression, Not):
        return not _combined(expression.item, event)
    answers = [_combined(item, event) for item in expression.items]
    return all(answers) if isinstance(expression, And) else any(answers)


@given(expressions, events)
def test_compiled_matcher_combines_conditions_as_written(
    expression: Expression, event: dict[str, Any]
) -> None:
    trigger = _trigger(expression)

    assert trigger.matches(event) is _combined(expression, event)
