"""The trigger language: the FQL conditions that decide which events an action receives.

Public surface:

- ``parse(fql) -> Trigger`` reads FQL text, raising :class:`TriggerError` (a message a user
  can act on, plus the 0-based character ``position`` it points at). Results are cached, so
  parsing a saved trigger again returns the already-compiled :class:`Trigger`.
- :class:`Trigger` is an immutable, compiled trigger: ``matches(event) -> bool``,
  ``to_fql() -> str``; equal and hashed by structure, and ``parse(t.to_fql()) == t``.
- The syntax tree, for editors: :class:`Condition`, :class:`And`, :class:`Or`, :class:`Not`
  (``Expression`` is their union). ``Trigger(expression)`` compiles a tree built by hand.
- The trigger builder's form (one ALL/ANY list of conditions, as in Segment's UI):
  :class:`BuilderForm` and :class:`BuilderCondition`; ``builder_form(trigger)`` returns it
  when the trigger fits that shape, else ``None``; ``generate_fql(form)`` writes the FQL the
  way Segment's ``generateFql`` does.

Each condition means what it means in Segment's trigger engine (``= "x"`` compares with text,
``<`` needs a number in the event, paths read like JavaScript property accesses). Structure
follows the FQL documentation where Segment's parser is broken: ``!`` binds tighter than
``and``, which binds tighter than ``or``; parentheses nest; ``and``/``or`` are read in any
case; ``match()`` patterns may hold ``*`` anywhere. ``docs/trigger-language.md`` lists every
difference from Segment, with examples.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias, cast, get_args

from mappings._jsvalue import MISSING, is_truthy, number_to_text, property_of, text_to_number

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "PATH_ROOTS",
    "TOP_LEVEL_FIELDS",
    "And",
    "BuilderCondition",
    "BuilderForm",
    "Condition",
    "Expression",
    "Not",
    "Or",
    "Trigger",
    "TriggerError",
    "builder_form",
    "generate_fql",
    "parse",
]

MAX_LENGTH: Final = 10_000
"""Longest FQL text accepted, in characters."""

MAX_DEPTH: Final = 32
"""Deepest nesting of parentheses and ``!`` accepted."""

TOP_LEVEL_FIELDS: Final = ("type", "event", "name", "userId")
PATH_ROOTS: Final = ("properties", "traits", "context")

Operator: TypeAlias = Literal[
    "=", "!=", "<", "<=", ">", ">=", "contains", "!contains", "match", "!match"
]
Value: TypeAlias = str | float | bool | None
Event: TypeAlias = Mapping[str, Any]
Matcher: TypeAlias = Callable[[Event], bool]

_ORDERINGS: Final = ("<", "<=", ">", ">=")
_FUNCTIONS: Final = ("contains", "!contains", "match", "!match")


class TriggerError(ValueError):
    """FQL text that is not a trigger; ``position`` is the 0-based offset of the culprit."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _error(problem: str, position: int, advice: str) -> TriggerError:
    return TriggerError(f"{problem} at position {position}: {advice}", position)


# ---------------------------------------------------------------------------------------------
# Syntax tree


def _check_value(operator: str, value: object) -> Value:
    """The value in its canonical form (every number a float), or ``ValueError``."""
    if isinstance(value, str):
        if '"' in value and "'" in value:
            raise ValueError("a text value cannot hold both a double and a single quote")
        return value
    if operator in _FUNCTIONS:
        raise ValueError(f"{operator}() needs a text value, got {value!r}")
    if value is None or isinstance(value, bool):
        if operator in _ORDERINGS:
            raise ValueError(f"{operator} needs a number or numeric text, got {value!r}")
        return value
    if isinstance(value, int | float):
        return _finite(value)
    raise ValueError(f"unsupported value {value!r}")


def _finite(number: float) -> float:
    try:
        as_float = float(number)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise ValueError(f"numbers must be finite, got {number!r}")
    return as_float


def _check_path(path: str) -> None:
    if not path or "" in path.split(".") or not _path_segments(path):
        raise ValueError(f"{path!r} is not a field path: write names separated by single dots")


def _path_segments(path: str) -> list[str]:
    # Segment's trigger engine splits on dots and square brackets alike; its mapping kit reads
    # quoted keys and keeps `a[b]` whole, hence the separate splitter in mappings.directives.
    return re.findall(r"[^.\[\]]+", path)


@dataclasses.dataclass(frozen=True, eq=False)
class Condition:
    """``field operator value``, or a function call when the operator is a function name.

    ``field`` is ``type``, ``event``, ``name``, ``userId``, or ``properties.``, ``traits.``
    or ``context.`` followed by a dotted path (unescaped: ``properties.product 1.price``).
    ``operator`` is a comparison (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) or a function
    (``contains``, ``!contains``, ``match``, ``!match``; ``value`` is then the text or glob).
    ``value`` is text, a number (kept as a float), ``True``/``False`` or ``None`` (FQL null).
    """

    field: str
    operator: Operator
    value: Value = None

    def __post_init__(self) -> None:
        root, _, path = self.field.partition(".")
        if root in TOP_LEVEL_FIELDS:
            if path or "." in self.field:
                raise ValueError(f"{root} has no sub-fields")
        elif root in PATH_ROOTS:
            _check_path(path)
        else:
            raise ValueError(f"unknown field {self.field!r}")
        if self.operator not in get_args(Operator):
            raise ValueError(f"unknown operator {self.operator!r}")
        object.__setattr__(self, "value", _check_value(self.operator, self.value))

    @property
    def root(self) -> str:
        """``type``, ``event``, ``name``, ``userId``, ``properties``, ``traits`` or ``context``."""
        return self.field.partition(".")[0]

    @property
    def path(self) -> str:
        """The path after ``properties.``/``traits.``/``context.``; empty for other fields."""
        return self.field.partition(".")[2]

    def _identity(self) -> tuple[object, ...]:
        # True == 1.0 in Python, but `= true` and `= 1` are different conditions.
        return (self.field, self.operator, type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


def _check_items(kind: str, items: Sequence[Expression]) -> tuple[Expression, ...]:
    items = tuple(items)
    if len(items) < 2:
        raise ValueError(f"{kind} needs at least two items")
    for item in items:
        if not isinstance(item, Condition | And | Or | Not):
            raise ValueError(f"{kind} items must be expressions, got {item!r}")
    return items


@dataclasses.dataclass(frozen=True)
class And:
    """True when every item is true."""

    items: tuple[Expression, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items("And", self.items))


@dataclasses.dataclass(frozen=True)
class Or:
    """True when at least one item is true."""

    items: tuple[Expression, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items("Or", self.items))


@dataclasses.dataclass(frozen=True)
class Not:
    """True when ``item`` is false (``!( … )`` in FQL)."""

    item: Expression

    def __post_init__(self) -> None:
        if not isinstance(self.item, Condition | And | Or | Not):
            raise ValueError(f"Not needs an expression, got {self.item!r}")


Expression: TypeAlias = Condition | And | Or | Not


def _nesting(expression: Expression) -> int:
    """How deep ``to_fql`` nests parentheses for this tree; the parser counts the same way."""
    if isinstance(expression, Condition):
        return 0
    if isinstance(expression, Not):
        return 1 + _nesting(expression.item)
    return max(
        _nesting(item) + (0 if isinstance(item, Condition | Not) else 1)
        for item in expression.items
    )


@dataclasses.dataclass(frozen=True)
class Trigger:
    """A compiled trigger. ``matches(event)`` tells whether the action receives the event."""

    expression: Expression
    matches: Matcher = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, Condition | And | Or | Not):
            raise ValueError(f"a trigger needs an expression, got {self.expression!r}")
        if _nesting(self.expression) > MAX_DEPTH:
            raise ValueError(f"a trigger nests at most {MAX_DEPTH} levels deep")
        object.__setattr__(self, "matches", _compile(self.expression))

    def to_fql(self) -> str:
        """The FQL text of this trigger, which ``parse`` reads back into an equal trigger."""
        return _expression_fql(self.expression)

    def __reduce__(self) -> tuple[type[Trigger], tuple[Expression]]:
        return (Trigger, (self.expression,))


# ---------------------------------------------------------------------------------------------
# Writing FQL


_ESCAPED_FIELD_CHARACTER = re.compile(r"[^A-Za-z0-9._-]")


def _field_fql(field: str) -> str:
    root, dot, path = field.partition(".")
    return root + dot + _ESCAPED_FIELD_CHARACTER.sub(r"\\\g<0>", path)


def _text_fql(text: str) -> str:
    # FQL strings have no escapes: a double quote inside forces single quotes around.
    return f"'{text}'" if '"' in text else f'"{text}"'


def _number_fql(number: float) -> str:
    """JavaScript's text for the number, without its exponent form (FQL cannot read it)."""
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")


def _value_fql(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_fql(value)
    return _text_fql(value)


def _expression_fql(expression: Expression) -> str:
    if isinstance(expression, Condition):
        field = _field_fql(expression.field)
        if expression.operator in _FUNCTIONS:
            return f"{expression.operator}({field}, {_value_fql(expression.value)})"
        return f"{field} {expression.operator} {_value_fql(expression.value)}"
    if isinstance(expression, Not):
        return f"!({_expression_fql(expression.item)})"
    joiner = " and " if isinstance(expression, And) else " or "
    return joiner.join(
        f"({_expression_fql(item)})" if isinstance(item, And | Or) else _expression_fql(item)
        for item in expression.items
    )


# ---------------------------------------------------------------------------------------------
# Reading FQL


_WHITESPACE: Final = frozenset(" \t\r\n")
_WORD_START: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_\\")
_WORD_CHARACTERS: Final = _WORD_START | frozenset("0123456789-")
_DIGITS: Final = frozenset("0123456789")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?|[+-]\.[0-9]+")

_CHARACTER_ADVICE: Final = {
    "&": 'combine conditions with "and"',
    "|": 'combine conditions with "or"',
    "[": 'reach array items with a dot (properties.items.0), or escape the bracket as "\\["',
    "]": 'escape a bracket in a field name as "\\]"',
    "*": 'wildcards belong inside match(), for example match(event, "Order *")',
    ".": "write decimals with a leading digit (0.5) and field paths without spaces",
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["word", "text", "number", "operator", "not", "(", ")", ",", "end"]
    text: str
    start: int
    value: Any = None
    plain: bool = False
    """For words: written without backslash escapes, so it may be a keyword."""

    def describe(self) -> str:
        return "the end of the trigger" if self.kind == "end" else f'"{self.text}"'


def _quoted_character(char: str) -> str:
    return f'"{char}"' if char.isprintable() else f"U+{ord(char):04X}"


def _unexpected(token: _Token, advice: str) -> TriggerError:
    problem = (
        "Unexpected end of the trigger" if token.kind == "end" else f'Unexpected "{token.text}"'
    )
    return _error(problem, token.start, advice)


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.index = 0

    def next(self) -> _Token:
        source, length = self.source, len(self.source)
        while self.index < length and source[self.index] in _WHITESPACE:
            self.index += 1
        start = self.index
        if start == length:
            return _Token("end", "", start)
        char = source[start]
        if char in _WORD_START:
            return self._word()
        if char in "\"'":
            return self._text()
        if char in _DIGITS or (char in "+-" and _NUMBER.match(source, start)):
            return self._number()
        following = source[start + 1 : start + 2]
        if char == "!":
            if following == "=":
                self.index += 2
                return _Token("operator", "!=", start)
            self.index += 1
            return _Token("not", "!", start)
        if char == "=":
            if following == "=":
                raise _error(
                    'Unexpected "="', start + 1, 'compare with a single "=", e.g. type = "track"'
                )
            self.index += 1
            return _Token("operator", "=", start)
        if char in "<>":
            text = char + "=" if following == "=" else char
            self.index += len(text)
            return _Token("operator", text, start)
        if char in "(),":
            self.index += 1
            return _Token(cast(Literal["(", ")", ","], char), char, start)
        advice = _CHARACTER_ADVICE.get(char)
        if advice is None and char.isprintable() and not char.isascii():
            advice = f'a field name may hold it only escaped with a backslash: "\\{char}"'
        raise _error(
            f"Unexpected character {_quoted_character(char)}",
            start,
            advice or 'a trigger is made of conditions such as type = "track"',
        )

    def _word(self) -> _Token:
        """A field or function name: dotted segments, where a backslash escapes any character."""
        source, length, start = self.source, len(self.source), self.index
        unescaped: list[str] = []
        plain = True
        segment_empty = True
        while self.index < length:
            char = source[self.index]
            if char == "\\":
                if self.index + 1 == length:
                    raise _error(
                        'Nothing to escape after "\\"',
                        self.index,
                        "a backslash escapes the character that follows it",
                    )
                unescaped.append(source[self.index + 1])
                plain = False
                segment_empty = False
                self.index += 2
            elif char in _WORD_CHARACTERS:
                unescaped.append(char)
                segment_empty = False
                self.index += 1
            elif char == ".":
                if segment_empty:
                    break
                unescaped.append(".")
                segment_empty = True
                self.index += 1
            else:
                break
        if segment_empty:
            raise _error(
                'Missing name after "."',
                self.index,
                "a field path is names separated by single dots, e.g. properties.plan.name",
            )
        return _Token("word", source[start : self.index], start, "".join(unescaped), plain)

    def _text(self) -> _Token:
        source, start = self.source, self.index
        quote = source[start]
        end = source.find(quote, start + 1)
        if end < 0:
            raise _error(
                f"Unterminated text starting with {quote}",
                start,
                f"close it with a matching {quote}",
            )
        self.index = end + 1
        return _Token("text", source[start : end + 1], start, source[start + 1 : end])

    def _number(self) -> _Token:
        source, start = self.source, self.index
        found = _NUMBER.match(source, start)
        assert found is not None
        self.index = found.end()
        following = source[self.index : self.index + 1]
        if following and (following in _WORD_CHARACTERS or following in ".\"'"):
            raise _error(
                f"Unexpected {_quoted_character(following)} after the number {found.group()}",
                self.index,
                "numbers are written like 12, -3 or 4.5",
            )
        number = float(found.group())
        if not math.isfinite(number):
            raise _error("Number too large", start, "numbers must stay below 1e308")
        return _Token("number", found.group(), start, number)


class _Parser:
    """Recursive descent: ``or`` over ``and`` over ``!``, parentheses and conditions."""

    def __init__(self, source: str) -> None:
        # Tokens are read on demand so that the first problem in the text is the one reported.
        self.lexer = _Lexer(source)
        self.tokens: list[_Token] = []
        self.index = 0

    def peek(self, offset: int = 0) -> _Token:
        wanted = self.index + offset
        while len(self.tokens) <= wanted and not (self.tokens and self.tokens[-1].kind == "end"):
            self.tokens.append(self.lexer.next())
        return self.tokens[min(wanted, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def trigger(self) -> Expression:
        if self.peek().kind == "end":
            raise _error(
                "Empty trigger", self.peek().start, 'write a condition such as type = "track"'
            )
        expression = self.disjunction(0)
        token = self.peek()
        if token.kind == ")":
            raise _unexpected(token, 'there is no "(" for it to close')
        if token.kind != "end":
            raise _unexpected(token, 'join conditions with "and" or "or"')
        return expression

    def keyword(self, token: _Token) -> str | None:
        if token.kind == "word" and token.plain and token.value.lower() in ("and", "or"):
            return cast(str, token.value.lower())
        return None

    def disjunction(self, depth: int) -> Expression:
        items = [self.conjunction(depth)]
        while self.keyword(self.peek()) == "or":
            self.advance()
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self, depth: int) -> Expression:
        items = [self.unary(depth)]
        while self.keyword(self.peek()) == "and":
            self.advance()
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def enter(self, depth: int, token: _Token) -> int:
        if depth >= MAX_DEPTH:
            raise _error(
                "Nested too deeply",
                token.start,
                f"use at most {MAX_DEPTH} levels of parentheses and !",
            )
        return depth + 1

    def unary(self, depth: int) -> Expression:
        token = self.peek()
        if token.kind == "not":
            self.advance()
            if self.is_function_call():
                return self.function_call(negated=True)
            inner = self.enter(depth, token)
            if self.peek().kind == "(":
                return Not(self.parenthesised(inner))
            return Not(self.unary(inner))
        if token.kind == "(":
            return self.parenthesised(self.enter(depth, token))
        if token.kind == "word":
            if self.keyword(token) is not None:
                raise _unexpected(token, f'write a condition before "{token.text}"')
            if self.peek(1).kind == "(":
                return self.function_call(negated=False)
            return self.comparison()
        if token.kind == "end":
            raise _error(
                "Missing condition", token.start, "the trigger ends where a condition should follow"
            )
        raise _unexpected(token, 'a condition starts with a field, e.g. type = "track"')

    def parenthesised(self, depth: int) -> Expression:
        opening = self.advance()
        expression = self.disjunction(depth)
        closing = self.peek()
        if closing.kind == ")":
            self.advance()
            return expression
        if closing.kind == "end":
            raise _error('Unclosed "("', opening.start, 'add the ")" that closes this parenthesis')
        raise _unexpected(
            closing, f'expected "and", "or" or ")" to close the "(" at {opening.start}'
        )

    def is_function_call(self) -> bool:
        token = self.peek()
        return token.kind == "word" and token.plain and self.peek(1).kind == "("

    def function_call(self, *, negated: bool) -> Condition:
        name_token = self.advance()
        name = name_token.value
        if name not in ("contains", "match"):
            raise _error(
                f'Unknown function "{name}"',
                name_token.start,
                'triggers support contains(field, "text") and match(field, "pattern")',
            )
        self.advance()
        field_token = self.advance()
        if field_token.kind != "word":
            raise _unexpected(field_token, f"{name}() takes a field as its first argument")
        field = self.field(field_token)
        self.expect(",", f'separate the two arguments of {name}() with ","')
        value_token = self.advance()
        if value_token.kind != "text":
            raise _unexpected(value_token, f"{name}() takes text in quotes as its second argument")
        self.expect(")", f'close {name}( with ")"')
        operator = cast(Operator, f"!{name}" if negated else name)
        return Condition(field, operator, value_token.value)

    def expect(self, kind: str, advice: str) -> None:
        token = self.advance()
        if token.kind != kind:
            raise _unexpected(token, advice)

    def field(self, token: _Token) -> str:
        field: str = token.value
        root, dot, path = field.partition(".")
        if root in TOP_LEVEL_FIELDS:
            if dot:
                raise _error(
                    f'"{root}" has no sub-fields',
                    token.start + len(root),
                    f'compare {root} itself, e.g. {root} = "value"',
                )
        elif root in PATH_ROOTS:
            if not dot:
                raise _error(
                    f'"{root}" needs a path',
                    token.start + len(token.text),
                    f"name the field inside it, e.g. {root}.plan",
                )
            try:
                _check_path(path)
            except ValueError:
                raise _error(
                    f'"{token.text}" is not a field path',
                    token.start,
                    "write names separated by single dots",
                ) from None
        else:
            raise _error(f'Unknown field "{token.text}"', token.start, _field_advice(root))
        return field

    def comparison(self) -> Condition:
        field_token = self.advance()
        field = self.field(field_token)
        operator_token = self.advance()
        if operator_token.kind != "operator":
            raise _error(
                f"Missing operator after {field_token.describe()}",
                operator_token.start,
                f"expected =, !=, <, <=, >, >= but found {operator_token.describe()}",
            )
        operator = cast(Operator, operator_token.text)
        value_token = self.advance()
        value = self.value(value_token)
        if operator in _ORDERINGS and (value is None or isinstance(value, bool)):
            raise _error(
                f'"{operator}" cannot compare with {value_token.text}',
                value_token.start,
                f"{operator} compares numbers, e.g. {field_token.text} {operator} 10",
            )
        return Condition(field, operator, value)

    def value(self, token: _Token) -> Value:
        if token.kind in ("text", "number"):
            return cast(Value, token.value)
        if token.kind == "word" and token.plain:
            constant = {"true": True, "false": False, "null": None}
            if token.value in constant:
                return constant[token.value]
            raise _unexpected(token, f'put text in double quotes: "{token.value}"')
        if token.kind == "operator" and token.text == "=":
            raise _unexpected(token, 'compare with a single "=", e.g. type = "track"')
        raise _error(
            "Missing value",
            token.start,
            "expected text in double quotes, a number, true, false or null"
            f" but found {token.describe()}",
        )


def _field_advice(root: str) -> str:
    known = (*TOP_LEVEL_FIELDS, *PATH_ROOTS)
    for name in known:
        if root.lower() == name.lower():
            return f'did you mean "{name}"? Field names are case-sensitive'
    if root.lower() == "not":
        return 'negate a condition with "!", e.g. !(type = "track")'
    if root in ("true", "false", "null"):
        return f"{root} is a value: a condition starts with a field, e.g. userId = {root}"
    return (
        "a condition starts with type, event, name, userId, or a path under"
        " properties., traits. or context."
    )


@lru_cache(maxsize=1024)
def parse(fql: str) -> Trigger:
    """Read FQL text into a compiled :class:`Trigger`; raises :class:`TriggerError`."""
    if not isinstance(fql, str):
        raise TypeError(f"FQL must be text, got {type(fql).__name__}")
    if len(fql) > MAX_LENGTH:
        raise _error(
            "Trigger too long", MAX_LENGTH, f"a trigger holds at most {MAX_LENGTH} characters"
        )
    return Trigger(_Parser(fql).trigger())


# ---------------------------------------------------------------------------------------------
# JavaScript behaviour the matcher reproduces


def _js_property(value: Any, key: str) -> Any:
    """``value && value[key]`` in JavaScript, with ``None`` for undefined.

    A falsy value (null, false, 0, NaN, "") is returned as is. Events need not be plain JSON:
    any ``Mapping`` reads as an object and a tuple as an array, where :func:`property_of`
    knows only dicts and lists; it is asked first, as JSON is the common case.
    """
    if not is_truthy(value):
        return value
    found = property_of(value, key)
    if found is not MISSING:
        return found
    if isinstance(value, Mapping):
        return value.get(key)
    if isinstance(value, tuple):
        return _js_property(list(value), key)
    return None


def _js_walk(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = value.get(key) if type(value) is dict else _js_property(value, key)
    return value


def _glob(pattern: str) -> Callable[[str], bool]:
    """Whole-text match where ``*`` stands for any run of characters, in linear-ish time."""
    head, *middle, tail = pattern.split("*")
    shortest = len(head) + len(tail)

    def matches(text: str) -> bool:
        if len(text) < shortest or not text.startswith(head) or not text.endswith(tail):
            return False
        position, end = len(head), len(text) - len(tail)
        for part in middle:
            found = text.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True

    return matches


# ---------------------------------------------------------------------------------------------
# Compiling to one Python function


_INLINE_PATH_SEGMENTS: Final = 8
_COMPARE: Final = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "==", "!=": "!="}


class _Compiler:
    """Writes the source of ``def matches(event)`` as one boolean expression.

    One compiled function answers with a single call: no tree walk and no dispatch per node.
    Event-independent work (path splitting, ``Number()`` of text values, glob analysis) is
    done here, once. Values enter the source only through ``repr`` or as named constants.
    """

    def __init__(self) -> None:
        self.constants: dict[str, object] = {"_js_property": _js_property, "_js_walk": _js_walk}

    def constant(self, value: object) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def number(self, value: float) -> str:
        return repr(value) if math.isfinite(value) else self.constant(value)

    def expression(self, expression: Expression) -> str:
        if isinstance(expression, Condition):
            return self.condition(expression)
        if isinstance(expression, Not):
            return f"(not {self.expression(expression.item)})"
        joiner = " and " if isinstance(expression, And) else " or "
        return "(" + joiner.join(self.expression(item) for item in expression.items) + ")"

    def read(self, condition: Condition) -> str:
        source = f"event.get({condition.root!r})"
        if condition.root in TOP_LEVEL_FIELDS:
            return source
        segments = _path_segments(condition.path)
        if len(segments) > _INLINE_PATH_SEGMENTS:
            return f"_js_walk({source}, {self.constant(tuple(segments))})"
        for segment in segments:
            # The common case, a JSON object, skips the call; the walrus keeps one expression.
            source = (
                f"(_t.get({segment!r}) if type(_t := {source}) is dict"
                f" else _js_property(_t, {segment!r}))"
            )
        return source

    def condition(self, condition: Condition) -> str:
        read, operator, value = self.read(condition), condition.operator, condition.value
        is_text = f"type(_v := {read}) is str"
        is_number = f"((_k := type(_v := {read})) is int or _k is float)"
        if operator in ("contains", "!contains"):
            negation = "not " if operator == "!contains" else ""
            return f"({is_text} and {value!r} {negation}in _v)"
        if operator in ("match", "!match"):
            negation = "not " if operator == "!match" else ""
            return f"({is_text} and {negation}{self.glob_test(cast(str, value))})"
        top_level = condition.root in TOP_LEVEL_FIELDS
        if value is None:
            return f"({read} {'is' if operator == '=' else 'is not'} None)"
        if isinstance(value, bool):
            if operator == "=" and (condition.root == "userId" or not top_level):
                return f"({read} is {value})"
            # Segment compares these with the text "true" / "false", never with a boolean.
            return f"({read} {_COMPARE[operator]} {'true' if value else 'false'!r})"
        if isinstance(value, float):
            if operator in ("=", "!=") and top_level:
                return f"({read} {_COMPARE[operator]} {number_to_text(value)!r})"
            return f"({is_number} and _v {_COMPARE[operator]} {self.number(value)})"
        if operator in ("=", "!="):
            return f"({read} {_COMPARE[operator]} {value!r})"
        number = text_to_number(value)
        if math.isnan(number):
            return "False"
        return f"({is_number} and _v {_COMPARE[operator]} {self.number(number)})"

    def glob_test(self, pattern: str) -> str:
        stars = pattern.count("*")
        if stars == 0:
            return f"_v == {pattern!r}"
        if stars == len(pattern):
            return "True"
        if stars == 1 and pattern.endswith("*"):
            return f"_v.startswith({pattern[:-1]!r})"
        if stars == 1 and pattern.startswith("*"):
            return f"_v.endswith({pattern[1:]!r})"
        return f"{self.constant(_glob(pattern))}(_v)"


def _compile(expression: Expression) -> Matcher:
    compiler = _Compiler()
    source = f"def matches(event):\n    return {compiler.expression(expression)}\n"
    namespace = dict(compiler.constants)
    exec(compile(source, "<trigger>", "exec"), namespace)
    return cast(Matcher, namespace["matches"])


# ---------------------------------------------------------------------------------------------
# The trigger builder's form


BuilderKind: TypeAlias = Literal[
    "event-type", "event", "name", "userId", "event-property", "event-trait", "event-context"
]
BuilderOperator: TypeAlias = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "number_equals",
    "number_not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "exists",
    "not_exists",
    "is_true",
    "is_false",
]

_KIND_FIELDS: Final[dict[str, str]] = {
    "event-type": "type",
    "event": "event",
    "name": "name",
    "userId": "userId",
    "event-property": "properties",
    "event-trait": "traits",
    "event-context": "context",
}
_FIELD_KINDS: Final = {field: kind for kind, field in _KIND_FIELDS.items()}
_NUMBER_OPERATORS: Final = ("<", "<=", ">", ">=", "number_equals", "number_not_equals")
_TEXT_OPERATORS: Final = (
    "contains",
    "not_contains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
)
_NO_VALUE_OPERATORS: Final = ("exists", "not_exists", "is_true", "is_false")


@dataclasses.dataclass(frozen=True, eq=False)
class BuilderCondition:
    """One row of the trigger builder, shaped like a condition of Segment's trigger AST.

    ``kind`` names what is tested (``event-property`` etc.), ``path`` the property, trait or
    context path (empty for the other kinds), ``operator`` one of Segment's operators
    (``starts_with``, ``exists``, ``number_equals`` …) and ``value`` its operand, ``None``
    for operators that take none.
    """

    kind: BuilderKind
    operator: BuilderOperator
    value: str | float | bool | None = None
    path: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KIND_FIELDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.operator not in get_args(BuilderOperator):
            raise ValueError(f"unknown operator {self.operator!r}")
        if _KIND_FIELDS[self.kind] in PATH_ROOTS:
            _check_path(self.path)
        elif self.path:
            raise ValueError(f"{self.kind} conditions have no path")
        object.__setattr__(self, "value", self._checked_value())

    def _checked_value(self) -> str | float | bool | None:
        value, operator = self.value, self.operator
        if operator in _NO_VALUE_OPERATORS:
            if value is not None:
                raise ValueError(f"{operator} takes no value")
            return None
        if isinstance(value, str) and '"' in value and "'" in value:
            raise ValueError("a text value cannot hold both a double and a single quote")
        if operator in _TEXT_OPERATORS:
            if not isinstance(value, str):
                raise ValueError(f"{operator} needs text")
            return value
        if value is None:
            raise ValueError(f"{operator} needs a value; exists and not_exists test presence")
        if isinstance(value, bool):
            if operator in _NUMBER_OPERATORS:
                raise ValueError(f"{operator} needs a number, got {value!r}")
            return value
        if isinstance(value, int | float):
            return _finite(value)
        if not isinstance(value, str):
            raise ValueError(f"unsupported value {value!r}")
        if operator in _NUMBER_OPERATORS and not math.isfinite(text_to_number(value)):
            raise ValueError(f"{operator} needs a number, got {value!r}")
        return value

    @property
    def field(self) -> str:
        """The FQL field: ``type``, ``event``, …, or ``properties.<path>`` and the like."""
        root = _KIND_FIELDS[self.kind]
        return f"{root}.{self.path}" if self.path else root

    def _identity(self) -> tuple[object, ...]:
        return (self.kind, self.path, self.operator, type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BuilderCondition) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


@dataclasses.dataclass(frozen=True)
class BuilderForm:
    """The trigger builder: ``match`` "all" (every condition) or "any" (at least one)."""

    match: Literal["all", "any"]
    conditions: tuple[BuilderCondition, ...]

    def __post_init__(self) -> None:
        if self.match not in ("all", "any"):
            raise ValueError(f'match must be "all" or "any", got {self.match!r}')
        object.__setattr__(self, "conditions", tuple(self.conditions))
        if not self.conditions:
            raise ValueError("a builder form needs at least one condition")


def builder_form(trigger: Trigger) -> BuilderForm | None:
    """The builder form of the trigger, as Segment's parser would build it; ``None`` when the
    trigger is not one ALL/ANY list of conditions the builder can show."""
    expression = trigger.expression
    if isinstance(expression, Condition):
        match: Literal["all", "any"] = "all"
        items: tuple[Expression, ...] = (expression,)
    elif isinstance(expression, And | Or):
        match = "all" if isinstance(expression, And) else "any"
        items = expression.items
    else:
        return None
    conditions = []
    for item in items:
        condition = _builder_condition(item) if isinstance(item, Condition) else None
        if condition is None:
            return None
        conditions.append(condition)
    return BuilderForm(match, tuple(conditions))


def _builder_condition(condition: Condition) -> BuilderCondition | None:
    kind = cast(BuilderKind, _FIELD_KINDS[condition.root])
    path, operator, value = condition.path, condition.operator, condition.value

    def row(operator: BuilderOperator, value: str | float | bool | None = None) -> BuilderCondition:
        return BuilderCondition(kind, operator, value, path)

    if operator in ("contains", "!contains"):
        return row("not_contains" if operator == "!contains" else "contains", value)
    if operator in ("match", "!match"):
        return _builder_match(row, operator == "!match", cast(str, value))
    comparison = cast(BuilderOperator, operator)
    top_level = condition.root in TOP_LEVEL_FIELDS
    if value is None:
        return row("not_exists" if operator == "=" else "exists")
    if isinstance(value, bool):
        if operator == "=" and (condition.root == "userId" or not top_level):
            return row("is_true" if value else "is_false")
        return row(comparison, ("true" if value else "false") if top_level else value)
    if isinstance(value, float):
        if top_level:
            return row(comparison, number_to_text(value))
        if operator in ("=", "!="):
            return row("number_equals" if operator == "=" else "number_not_equals", value)
        return row(comparison, value)
    if operator in _ORDERINGS and not math.isfinite(text_to_number(value)):
        return None
    return row(comparison, value)


def _builder_match(
    row: Callable[[BuilderOperator, str], BuilderCondition], negated: bool, pattern: str
) -> BuilderCondition | None:
    if pattern.endswith("*") and pattern.count("*") == 1:
        return row("not_starts_with" if negated else "starts_with", pattern[:-1])
    if pattern.startswith("*") and pattern.count("*") == 1:
        return row("not_ends_with" if negated else "ends_with", pattern[1:])
    return None


def generate_fql(form: BuilderForm) -> str:
    """The FQL for a builder form, written the way Segment's ``generateFql`` writes it.

    Segment writes numbers of 1e21 and above (or below 1e-6) in exponent form and text that
    holds a double quote unescaped; neither reads back, so those are written as plain
    decimals and in single quotes instead.
    """
    joiner = " and " if form.match == "all" else " or "
    return joiner.join(_builder_condition_fql(condition) for condition in form.conditions)


def _builder_condition_fql(condition: BuilderCondition) -> str:
    field, operator, value = _field_fql(condition.field), condition.operator, condition.value
    negation = "!" if operator.startswith("not_") else ""
    match operator:
        case "exists" | "not_exists":
            return f"{field} {'!=' if operator == 'exists' else '='} null"
        case "is_true" | "is_false":
            return f"{field} = {'true' if operator == 'is_true' else 'false'}"
        case "contains" | "not_contains":
            return f"{negation}contains({field}, {_text_fql(str(value))})"
        case "starts_with" | "not_starts_with":
            return f"{negation}match({field}, {_text_fql(f'{value}*')})"
        case "ends_with" | "not_ends_with":
            return f"{negation}match({field}, {_text_fql(f'*{value}')})"
        case "number_equals" | "number_not_equals":
            equals = "=" if operator == "number_equals" else "!="
            return f"{field} {equals} {_number_fql(_builder_number(value))}"
        case "<" | "<=" | ">" | ">=":
            return f"{field} {operator} {_number_fql(_builder_number(value))}"
        case _:
            return f"{field} {operator} {_value_fql(value)}"


def _builder_number(value: str | float | bool | None) -> float:
    return text_to_number(value) if isinstance(value, str) else cast(float, value)
