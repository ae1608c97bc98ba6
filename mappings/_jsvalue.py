"""JavaScript value semantics that Segment's code leaks into Ferry's mapping languages.

Private helper of :mod:`mappings.directives`, :mod:`mappings.triggers` and
:mod:`mappings.payload`. Values are JSON values held as Python objects (``dict``, ``list``,
``str``, ``int``, ``float``, ``bool``, ``None``) plus :data:`MISSING`, which stands for
JavaScript's ``undefined``. This module answers the questions Segment's code asks the
JavaScript engine: type names, truthiness, ``String()``, ``Number()`` of text,
``JSON.stringify``, ``JSON.parse``, ``== ""``, property reads and own-key order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "JS_WHITESPACE",
    "MISSING",
    "article",
    "is_missing_or_null",
    "is_truthy",
    "joined_units",
    "js_keys",
    "json_parse",
    "json_stringify",
    "loosely_equals_empty_string",
    "number_to_text",
    "property_of",
    "string_length",
    "text_to_number",
    "to_text",
    "type_name",
    "typeof_name",
    "utf16_units",
]


class _Missing:
    """The type of :data:`MISSING`, JavaScript's ``undefined``; compare with ``is``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

# Beyond 2**53 JavaScript numbers are doubles, so their text is the double's text.
_EXACT_INTEGER_LIMIT: Final = 2**53
_LARGEST_ARRAY_INDEX: Final = 2**32 - 2
_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_FINITE_TEXTS: Final = frozenset({"NaN", "Infinity", "-Infinity"})

JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What JavaScript's ``trim()`` and ``Number()`` strip: its WhiteSpace and LineTerminator
characters, a different set from Python's ``str.strip()``."""

_DECIMAL_LITERAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_PREFIXED_INTEGER = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def type_name(value: object) -> str:
    """The lower-case type word JavaScript's ``Object.prototype.toString`` gives."""
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def typeof_name(value: object) -> str:
    """The word JavaScript's ``typeof`` operator gives."""
    word = type_name(value)
    return "object" if word in ("null", "array") else word


def article(word: str) -> str:
    """``an`` before a vowel, ``a`` otherwise, judged on the first letter only."""
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def is_truthy(value: object) -> bool:
    """JavaScript truthiness: empty containers are truthy, ``0``, ``""`` and ``NaN`` are not."""
    if value is None or value is MISSING or value is False:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and value == value
    return True


def is_missing_or_null(value: object) -> bool:
    return value is None or value is MISSING


def loosely_equals_empty_string(value: object) -> bool:
    """JavaScript's ``value == ""`` for a JSON value (objects compare by their text)."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, str):
        return value == ""
    if isinstance(value, bool | int | float):
        return value == 0
    if isinstance(value, list):
        return to_text(value) == ""
    return False


def number_to_text(number: float) -> str:
    """JavaScript's ``Number.prototype.toString()`` for a JSON number."""
    if isinstance(number, int) and -_EXACT_INTEGER_LIMIT < number < _EXACT_INTEGER_LIMIT:
        return str(int(number))
    try:
        value = float(number)
    except OverflowError:
        value = math.inf if number > 0 else -math.inf
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
        return str(int(value))
    return _float_to_text(value)


def _float_to_text(number: float) -> str:
    sign = "-" if number < 0 else ""
    decimal = Decimal(repr(abs(number))).normalize()
    _, digit_tuple, exponent = decimal.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    count = len(digits)
    point = count + exponent
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        power_text = f"+{power}" if power >= 0 else str(power)
        mantissa = digits if count == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{power_text}"
    return sign + text


def text_to_number(text: str) -> float:
    """JavaScript's ``Number(text)``: ``0`` for blank text, ``NaN`` for text that is no number."""
    stripped = text.strip(JS_WHITESPACE)
    if not stripped:
        return 0.0
    if _PREFIXED_INTEGER.fullmatch(stripped):
        try:
            return float(int(stripped, 0))
        except OverflowError:
            return math.inf
    if not _DECIMAL_LITERAL.fullmatch(stripped):
        return math.nan
    if stripped.endswith("Infinity"):
        return -math.inf if stripped.startswith("-") else math.inf
    return float(stripped)


def to_text(value: object) -> str:
    """JavaScript's ``String(value)``; arrays join their items with ``,``."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return number_to_text(value)
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    if isinstance(value, list):
        return ",".join("" if is_missing_or_null(item) else to_text(item) for item in value)
    return "[object Object]"


def _is_array_index(key: str) -> bool:
    if not (key.isascii() and key.isdigit()):
        return False
    if len(key) > 1 and key[0] == "0":
        return False
    return int(key) <= _LARGEST_ARRAY_INDEX


def js_keys(obj: dict[str, Any]) -> list[str]:
    """Own keys in JavaScript's order: array-index keys ascending, then insertion order."""
    index_keys = [key for key in obj if _is_array_index(key)]
    if not index_keys:
        return list(obj)
    index_keys.sort(key=int)
    return index_keys + [key for key in obj if not _is_array_index(key)]


def utf16_units(text: str) -> list[str]:
    """The string's UTF-16 code units, each as a one-character string."""
    if text.isascii() or all(ord(char) < 0x10000 for char in text):
        return list(text)
    return list(_units(text))


def _units(text: str) -> Iterator[str]:
    for char in text:
        code = ord(char)
        if code < 0x10000:
            yield char
        else:
            code -= 0x10000
            yield chr(0xD800 + (code >> 10))
            yield chr(0xDC00 + (code & 0x3FF))


def joined_units(text: str) -> str:
    """Pair up adjacent UTF-16 halves, as JavaScript strings do once concatenated."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def string_length(text: str) -> int:
    """JavaScript's ``length`` of a string, in UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if ord(char) >= 0x10000)


def property_of(value: object, key: str) -> Any:
    """JavaScript's ``value[key]`` for own data; inherited members count as missing."""
    if isinstance(value, dict):
        return value.get(key, MISSING)
    if isinstance(value, list):
        if key == "length":
            return len(value)
        if _is_array_index(key):
            index = int(key)
            return value[index] if index < len(value) else MISSING
        return MISSING
    if isinstance(value, str):
        if key == "length":
            return string_length(value)
        if _is_array_index(key):
            units: Sequence[str] = value if value.isascii() else utf16_units(value)
            index = int(key)
            return units[index] if index < len(units) else MISSING
    return MISSING


def json_stringify(value: object) -> Any:
    """JavaScript's ``JSON.stringify(value)``: text, or :data:`MISSING` for ``undefined``."""
    if value is MISSING:
        return MISSING
    return _json_text(value)


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        text = number_to_text(value)
        return "null" if text in _NON_FINITE_TEXTS else text
    if isinstance(value, list):
        return (
            "[" + ",".join("null" if item is MISSING else _json_text(item) for item in value) + "]"
        )
    if isinstance(value, dict):
        members = [
            f"{_json_string(key)}:{_json_text(value[key])}"
            for key in js_keys(value)
            if value[key] is not MISSING
        ]
        return "{" + ",".join(members) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _json_string(text: str) -> str:
    quoted = json.dumps(joined_units(text), ensure_ascii=False)
    if _SURROGATE.search(quoted):
        return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)
    return quoted


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> Any:
    """JavaScript's ``JSON.parse``; raises ``ValueError`` on text it would reject."""
    return json.loads(text, parse_constant=_reject_constant)
