"""Segment's mapping language: check a mapping, compile it once, apply it to events.

A mapping is the JSON that Segment's mapping kit (``@segment/actions-core``) reads: raw values
plus directive objects ``@path``, ``@template``, ``@literal``, ``@if``, ``@case``, ``@replace``,
``@arrayPath``, ``@json``, ``@flatten``, ``@merge``, ``@transform``, ``@excludeWhenNull`` and
``@liquid``. Results, validator messages and run-time errors are the mapping kit's, quirks
included (``tests/mappings/fixtures/directives.json`` replays them), except where noted below.

Public surface:

* :class:`MappingError` - a mapping that fails its static checks or fails while applied.
* :func:`validate` - the static checks ``transform`` runs first, every problem reported.
* :func:`compile_mapping` - check once, then return a function ``payload -> result``.
* :func:`transform` - Segment's ``transform(mapping, data)``, compiling each distinct
  mapping once.
* :func:`field_value_keys` - the event paths a field mapping reads (``getFieldValueKeys``).

Results are plain JSON values. Where the mapping kit produces JavaScript's ``undefined``, an
object key is left out, while an array item or the whole result becomes ``None`` (what
``JSON.stringify`` writes); a mapping whose root is an object always gives a ``dict``. Dicts
copied from the event keep the event's key order where JavaScript lists integer-like keys
first, so compare results as dicts; JSON text that ``@json`` writes uses JavaScript's order.

Known differences from the mapping kit:

* ``compile_mapping`` reports a bad mapping when compiling, so before the "data must be an
  object" check that ``transform`` (like Segment) makes first.
* Integers beyond 2**53 stay exact in results, where JavaScript rounds them to doubles; their
  text (templates, ``@json``) is the double's, as in JavaScript.
* JavaScript's inherited members (``constructor``, ``toString`` ...) read as missing.
* ``@liquid`` runs on python-liquid, adjusted to liquidjs 10.27 where the two disagreed:
  number, array and object text, arithmetic, escaping, the filters ``size``, ``default``,
  ``first``, ``last``, ``join``, ``compact``, ``slice``, ``split``, ``truncate``,
  ``truncatewords``, ``sum``, ``json``, ``to_integer`` and ``sha256``, the disabled tags and
  filters, and the memory limit. Still different: syntax errors keep python-liquid's wording
  (with liquidjs's ``, line:L, col:C``); ordering or ``contains`` between values of different
  types is an error instead of a JavaScript comparison; ``s[0]`` and ``.length`` on strings
  and arrays read as empty, and ``.size`` counts code points rather than UTF-16 units;
  liquidjs filters python-liquid lacks (``slugify``, ``cgi_escape``, ``uri_escape``, ``push``,
  ``pop``, ``shift``, ``unshift``, ``date_to_*``, ``normalize_whitespace``,
  ``number_of_words``, ``inspect``, ``hmac_sha256``, ``sample``) pass their input through, as
  unknown filters do; ``date`` formats with python-liquid; ``json`` ignores an indent argument;
  the memory limit counts ``append`` and ``prepend`` only; the 500 ms render limit is not
  enforced (loops are disabled and templates are at most 1000 characters, so rendering is
  bounded anyway).
* ``field_value_keys`` lists the paths inside a directive given as a ``@path`` or
  ``@template`` option, where Segment returns the option object or throws.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, NoReturn, TextIO, TypeGuard

from liquid import Environment, Mode
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.context import RenderContext
from liquid.exceptions import FilterArgumentError, LiquidError, LiquidSyntaxError
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.undefined import Undefined

from mappings._jsvalue import (
    JS_WHITESPACE,
    MISSING,
    article,
    is_missing_or_null,
    is_truthy,
    joined_units,
    js_keys,
    json_parse,
    json_stringify,
    loosely_equals_empty_string,
    property_of,
    string_length,
    text_to_number,
    to_text,
    type_name,
    typeof_name,
    utf16_units,
)

__all__ = ["MappingError", "compile_mapping", "field_value_keys", "transform", "validate"]

Payload = Any
Resolver = Callable[[Payload], Any]
Path = tuple[str, ...]


class MappingError(ValueError):
    """A mapping failed its static checks or failed while being applied to an event.

    ``messages`` holds every problem found, in the words Segment's mapping kit uses; static
    problems start with the JSON path of the offending node (``/fields/name/@if/then ...``).
    """

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages: list[str] = list(messages)
        super().__init__("\n".join(self.messages))


MAX_NESTING: Final = 64


def _refuse_runaway_nesting(mapping: object) -> None:
    """Segment sets no bound; Ferry refuses mappings nested deeper than any real
    one, before anything walks them recursively."""
    stack: list[tuple[object, int, str]] = [(mapping, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_NESTING:
            raise MappingError([f"{path or '/'} is nested more than {MAX_NESTING} levels deep."])
        if isinstance(node, dict):
            stack.extend((value, depth + 1, f"{path}/{key}") for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, depth + 1, f"{path}/{index}") for index, value in enumerate(node))


def validate(mapping: object) -> None:
    """Raise :class:`MappingError` with every problem ``transform`` would refuse the mapping for.

    These are the checks made before any event is read: the root-directive rules and Segment's
    static validator. Some mistakes only surface at run time, exactly as in Segment (for
    instance a directive inside an array, or ``@flatten`` without a separator). A mapping
    nested more than ``MAX_NESTING`` levels deep is refused outright.
    """
    _refuse_runaway_nesting(mapping)
    messages = _static_messages(_mapping_to_process(mapping))
    if messages:
        raise MappingError(messages)


def compile_mapping(mapping: object) -> Callable[[object], Any]:
    """Check ``mapping`` once and return a function applying it to a payload.

    The returned function behaves like ``transform(mapping, payload)``. ``mapping`` is not
    modified and may be changed afterwards without affecting the compiled function.
    """
    _refuse_runaway_nesting(mapping)
    return _compile_program(copy.deepcopy(mapping), hole=None)


def transform(mapping: object, payload: object) -> Any:
    """Apply ``mapping`` to ``payload`` the way Segment's ``transform(mapping, data)`` does.

    Equal mappings (same JSON text, key order included) are compiled once and reused.
    """
    _require_object_payload(payload)
    _refuse_runaway_nesting(mapping)
    return _compiled_from_text(_MAPPING_TEXT.encode(mapping))(payload)


_MAPPING_TEXT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=512)
def _compiled_from_text(mapping_text: str) -> Callable[[object], Any]:
    return compile_mapping(json.loads(mapping_text))


def field_value_keys(mapping: object) -> list[str]:
    """The event paths a field mapping reads, as Segment's ``getFieldValueKeys`` lists them.

    ``@path`` gives its path as written, ``@template`` the text of each ``{{ }}``, ``@liquid``
    its variables; other directives give the paths of the directives nested in them.
    """
    _refuse_runaway_nesting(mapping)
    return _value_keys(mapping)


def _value_keys(mapping: object) -> list[str]:
    if _names_a_directive(mapping):
        return [key for key in _directive_value_keys(mapping) if key]
    if isinstance(mapping, dict):
        return [key for value in mapping.values() for key in _value_keys(value)]
    if isinstance(mapping, list):
        return [key for value in mapping for key in _value_keys(value)]
    return []


# --- Directive objects -------------------------------------------------------------------

_ROOT_DIRECTIVE_KEY: Final = "__segment_internal_directive"
_METADATA_KEY: Final = "_metadata"


def _is_directive(node: object) -> bool:
    """A directive runs: at least one ``@`` key and nothing else but ``_metadata``."""
    if not isinstance(node, dict):
        return False
    has_directive_key = False
    for key in node:
        if key.startswith("@"):
            has_directive_key = True
        elif key != _METADATA_KEY:
            return False
    return has_directive_key


def _kind(node: object) -> str:
    """The validator's type word: any object with an ``@`` key counts as a directive."""
    if isinstance(node, dict) and any(key.startswith("@") for key in node):
        return "directive"
    return type_name(node)


def _a(word: str) -> str:
    return f"{article(word)} {word}"


# --- Root handling -----------------------------------------------------------------------


def _own_keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return js_keys(value)
    if isinstance(value, list):
        return [str(index) for index in range(len(value))]
    if isinstance(value, str):
        return [str(index) for index in range(string_length(value))]
    return []


def _spread(mapping: object) -> dict[str, Any]:
    """JavaScript's ``{...mapping}``: lists and strings become index-keyed objects."""
    if mapping is None:
        # Segment lists the keys of the mapping first, which JavaScript refuses for null.
        raise MappingError(["Cannot convert undefined or null to object"])
    if isinstance(mapping, dict):
        return mapping
    if isinstance(mapping, list):
        return {str(index): item for index, item in enumerate(mapping)}
    if isinstance(mapping, str):
        return {str(index): unit for index, unit in enumerate(utf16_units(mapping))}
    return {}


def _mapping_to_process(mapping: object) -> object:
    """Apply the ``__segment_internal_directive`` rule, or spread the mapping into an object."""
    if not (isinstance(mapping, dict) and _ROOT_DIRECTIVE_KEY in mapping):
        return _spread(mapping)
    customer_mapping = {key: mapping[key] for key in js_keys(mapping) if key != _ROOT_DIRECTIVE_KEY}
    root = mapping[_ROOT_DIRECTIVE_KEY]
    if root is None:
        raise MappingError(["Cannot convert undefined or null to object"])
    keys = _own_keys(root)
    if len(keys) > 1:
        raise MappingError(["The root mapping must only have a single directive object"])
    options = property_of(root, keys[0]) if keys else MISSING
    if not is_truthy(options) or not isinstance(options, dict | list):
        raise MappingError(["The root directive must be an object"])
    if isinstance(options, list):
        return root
    with_customer_mapping = {**options, "mapping": customer_mapping}
    if isinstance(root, list):
        return [with_customer_mapping]
    return {keys[0]: with_customer_mapping}


# --- Static validation -------------------------------------------------------------------

Check = Callable[[Any, Path], None]


class _Invalid(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages)
        self.messages = messages


def _invalid(path: Path, message: str) -> _Invalid:
    return _Invalid([f"/{'/'.join(path)} {message}."])


def _static_messages(mapping: object) -> list[str]:
    try:
        _check_mapping(mapping, ())
    except _Invalid as invalid:
        return invalid.messages
    return []


def _check_mapping(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind == "directive":
        _check_directive(node, path)
    elif kind == "object":
        _check_plain_object(node, path)


def _check_directive(node: Any, path: Path) -> None:
    keys = js_keys(node)
    directive_keys = [key for key in keys if key.startswith("@")]
    if len(directive_keys) > 1:
        raise _invalid(
            path, f"should only have one @-prefixed key but it has {len(directive_keys)} keys"
        )
    if any(not key.startswith("@") and key != _METADATA_KEY for key in keys):
        raise _invalid(path, f"should only have one @-prefixed key but it has {len(keys)} keys")
    name = directive_keys[0]
    check_options = _OPTION_CHECKS.get(name)
    if check_options is None:
        raise _invalid(path, f"has an invalid directive: {name}")
    check_options(node[name], (*path, name))


def _check_plain_object(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind != "object":
        raise _invalid(path, f"should be an object but it is {_a(kind)}")
    assert isinstance(node, dict)
    messages: list[str] = []
    for key in js_keys(node):
        try:
            _check_mapping(node[key], (*path, key))
        except _Invalid as invalid:
            messages.extend(invalid.messages)
    if messages:
        raise _Invalid(messages)


def _check_raw_or_directive(node: object, path: Path) -> None:
    if _kind(node) == "directive":
        _check_directive(node, path)


def _check_string_or_directive(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind == "directive":
        _check_directive(node, path)
    elif kind != "string":
        raise _invalid(path, f"should be a string or a mapping directive but it is {_a(kind)}")


def _check_object_or_directive(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind == "directive":
        _check_directive(node, path)
    elif kind == "object":
        _check_plain_object(node, path)
    else:
        # Segment's wording, grammar included.
        raise _invalid(path, f"should be a object or a mapping directive but it is {_a(kind)}")


def _check_string(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind != "string":
        raise _invalid(path, f"should be a string but it is {_a(kind)}")


def _check_boolean(node: object, path: Path) -> None:
    kind = _kind(node)
    if kind != "boolean":
        raise _invalid(path, f"should be a boolean but it is {_a(kind)}")


def _check_array(node: object, path: Path) -> None:
    word = type_name(node)
    if word != "array":
        raise _invalid(path, f"should be an array but it is {_a(word)}")


def _check_string_length(shortest: int, longest: int) -> Check:
    def check(node: object, path: Path) -> None:
        if isinstance(node, str) and string_length(node) < shortest:
            raise _invalid(path, f"should be a string of length {shortest} or greater")
        if isinstance(node, str) and string_length(node) > longest:
            raise _invalid(path, f"should be a string of length {longest} or less")

    return check


def _check_one_of(*allowed: str) -> Check:
    def check(node: object, path: Path) -> None:
        _check_string(node, path)
        assert isinstance(node, str)
        if node.lower() not in allowed:
            listed = ", ".join(allowed)
            raise _invalid(path, f"should be one of {listed} but it is {json_stringify(node)}")

    return check


def _all_of(*checks: Check) -> Check:
    def check(node: object, path: Path) -> None:
        for each in checks:
            each(node, path)

    return check


def _check_fields(options: object, path: Path, fields: tuple[tuple[str, bool, Check], ...]) -> None:
    """Check an options object, then each listed field; a failing field does not stop the rest."""
    _check_plain_object(options, path)
    assert isinstance(options, dict)
    messages: list[str] = []
    for name, required, check in fields:
        try:
            if name in options:
                check(options[name], (*path, name))
            elif required:
                raise _invalid(path, f"should have field {json_stringify(name)} but it doesn't")
        except _Invalid as invalid:
            messages.extend(invalid.messages)
    if messages:
        raise _Invalid(messages)


def _fields_check(*fields: tuple[str, bool, Check]) -> Check:
    def check(options: object, path: Path) -> None:
        _check_fields(options, path, fields)

    return check


_REQUIRED: Final = True
_OPTIONAL: Final = False
_MAX_PATTERN_LENGTH: Final = 10
_MAX_REPLACEMENT_LENGTH: Final = 10


def _check_array_path(options: object, path: Path) -> None:
    _check_array(options, path)
    assert isinstance(options, list)
    _check_string_or_directive(options[0] if options else MISSING, path)
    _check_mapping(options[1] if len(options) > 1 else MISSING, path)


_check_merge_fields: Final = _fields_check(
    ("direction", _OPTIONAL, _check_one_of("left", "right")),
    ("objects", _REQUIRED, _check_array),
)


def _check_merge(options: object, path: Path) -> None:
    _check_merge_fields(options, path)
    assert isinstance(options, dict)
    for entry in options["objects"]:
        # Segment checks the entries from the root path, so their messages start at "/".
        _check_object_or_directive(entry, ())


_OPTION_CHECKS: Final[dict[str, Check]] = {
    "@if": _fields_check(
        ("exists", _OPTIONAL, _check_raw_or_directive),
        ("then", _OPTIONAL, _check_raw_or_directive),
        ("else", _OPTIONAL, _check_raw_or_directive),
    ),
    "@case": _fields_check(
        ("operator", _OPTIONAL, _check_string),
        ("value", _OPTIONAL, _check_string_or_directive),
    ),
    "@replace": _fields_check(
        (
            "pattern",
            _REQUIRED,
            _all_of(_check_string, _check_string_length(1, _MAX_PATTERN_LENGTH)),
        ),
        (
            "replacement",
            _OPTIONAL,
            _all_of(_check_string, _check_string_length(0, _MAX_REPLACEMENT_LENGTH)),
        ),
        ("value", _REQUIRED, _check_string_or_directive),
        ("ignorecase", _OPTIONAL, _check_boolean),
        ("global", _OPTIONAL, _check_boolean),
    ),
    "@arrayPath": _check_array_path,
    "@path": _check_string_or_directive,
    "@json": _fields_check(
        ("value", _REQUIRED, _check_raw_or_directive),
        ("mode", _REQUIRED, _check_one_of("encode", "decode")),
    ),
    "@flatten": _fields_check(
        ("separator", _OPTIONAL, _check_string),
        ("value", _REQUIRED, _check_raw_or_directive),
    ),
    "@merge": _check_merge,
    "@template": _check_string_or_directive,
    "@literal": _check_raw_or_directive,
    "@transform": _fields_check(
        ("apply", _REQUIRED, _check_object_or_directive),
        ("mapping", _REQUIRED, _check_object_or_directive),
    ),
    "@excludeWhenNull": _check_raw_or_directive,
    "@liquid": _check_string,
}


# --- Compiled programs -------------------------------------------------------------------

_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})


def _require_object_payload(payload: object) -> None:
    if not isinstance(payload, dict):
        raise MappingError([f"data must be an object, got {type_name(payload)}"])


def _without_missing(value: Any, hole: object) -> Any:
    """Fresh copy without missing object values; missing array items become ``hole``."""
    if isinstance(value, dict):
        return {
            key: item if type(item) in _SCALAR_TYPES else _without_missing(item, hole)
            for key, item in value.items()
            if item is not MISSING
        }
    if isinstance(value, list):
        return [
            item
            if type(item) in _SCALAR_TYPES
            else hole
            if item is MISSING
            else _without_missing(item, hole)
            for item in value
        ]
    return value


def _compile_program(mapping: object, hole: object) -> Callable[[object], Any]:
    """The whole of ``transform``: root rule, validation, resolution, cleanup.

    ``hole`` replaces missing array items: ``None`` for callers, ``MISSING`` when the result
    feeds a further stage of ``@transform``, which still tells the two apart.
    """
    root = _mapping_to_process(mapping)
    messages = _static_messages(root)
    if messages:
        raise MappingError(messages)
    if isinstance(root, dict) and not _is_directive(root):
        return _object_program([(key, _compile(root[key])) for key in js_keys(root)], hole)
    resolve = _compile(root)

    def run(payload: object) -> Any:
        _require_object_payload(payload)
        result = resolve(payload)
        return hole if result is MISSING else _without_missing(result, hole)

    return run


def _object_program(fields: list[tuple[str, Resolver]], hole: object) -> Callable[[object], Any]:
    def run(payload: object) -> dict[str, Any]:
        if type(payload) is not dict:
            _require_object_payload(payload)
        result = {}
        for key, resolve in fields:
            value = resolve(payload)
            if value is MISSING:
                continue
            result[key] = value if type(value) in _SCALAR_TYPES else _without_missing(value, hole)
        return result

    return run


def _compile(node: object) -> Resolver:
    """A resolver for one mapping node. Errors Segment only finds at run time (a bad directive
    inside an array, say) are raised when the resolver runs, not while compiling."""
    if isinstance(node, dict):
        if _is_directive(node):
            return _compile_directive(node)
        if not _holds_directive(node):
            return _constant(node)
        fields = [(key, _compile(node[key])) for key in js_keys(node)]
        return lambda payload: {key: resolve(payload) for key, resolve in fields}
    if isinstance(node, list):
        if not _holds_directive(node):
            return _constant(node)
        items = [_compile(item) for item in node]
        return lambda payload: [resolve(payload) for resolve in items]
    return _constant(node)


def _holds_directive(node: object) -> bool:
    if isinstance(node, dict):
        return _is_directive(node) or any(_holds_directive(value) for value in node.values())
    if isinstance(node, list):
        return any(_holds_directive(item) for item in node)
    return False


def _constant(value: object) -> Resolver:
    """Raw values are shared, never copied: nothing downstream modifies a value in place."""
    return lambda payload: value


def _failing(message: str) -> Resolver:
    def fail(payload: Payload) -> NoReturn:
        raise MappingError([message])

    return fail


def _compile_directive(node: dict[str, Any]) -> Resolver:
    name = next(key for key in js_keys(node) if key.startswith("@"))
    compile_options = _DIRECTIVE_COMPILERS.get(name)
    if compile_options is None:
        return _failing(f"{name} is not a valid directive, got undefined")
    return compile_options(node[name])


# --- Path lookup -------------------------------------------------------------------------

_PATH_SEPARATORS: Final = re.compile(r"\[(?=[\"'0-9])|\.|(?<=[\"'0-9])\]+")


@functools.lru_cache(maxsize=4096)
def _path_segments(path: str) -> tuple[str, ...]:
    """``a.b[0]['c d']`` -> ``('a', 'b', '0', 'c d')``; quotes vanish, ``a[b]`` stays whole."""
    if path in ("", "."):
        return ()
    pieces = (piece for piece in _PATH_SEPARATORS.split(path) if piece)
    return tuple(piece.replace("'", "").replace('"', "") for piece in pieces)


def _lookup(payload: object, segments: tuple[str, ...]) -> Any:
    """Walk the segments; a falsy value met on the way is the result, as in Segment."""
    value = payload
    for segment in segments:
        if type(value) is dict:
            value = value.get(segment, MISSING)
        elif is_truthy(value):
            value = property_of(value, segment)
        else:
            return value
    return value


def _lookup_resolver(path: str) -> Resolver:
    segments = _path_segments(path)
    if len(segments) == 1:
        (only,) = segments

        def look_up_one(payload: Payload) -> Any:
            if type(payload) is dict:
                return payload.get(only, MISSING)
            return _lookup(payload, segments)

        return look_up_one
    if len(segments) == 2:
        first, second = segments

        def look_up_two(payload: Payload) -> Any:
            if type(payload) is dict:
                value = payload.get(first, MISSING)
                if type(value) is dict:
                    return value.get(second, MISSING)
            return _lookup(payload, segments)

        return look_up_two
    return lambda payload: _lookup(payload, segments)


def _without_root_marker(path: str) -> str:
    """Segment deletes the first ``$.`` wherever it is, not only a leading one."""
    return path.replace("$.", "", 1)


# --- @path, @template, @literal, @excludeWhenNull ---------------------------------------


def _compile_string_directive(
    name: str, option: object, static: Callable[[str], Resolver], dynamic: Callable[[Any, str], Any]
) -> Resolver:
    if isinstance(option, str):
        return static(option)
    resolve = _compile(option)

    def run(payload: Payload) -> Any:
        text = resolve(payload)
        if not isinstance(text, str):
            raise MappingError([f"{name}: expected string, got {type_name(text)}"])
        return dynamic(payload, text)

    return run


def _compile_path(option: object) -> Resolver:
    return _compile_string_directive(
        "@path",
        option,
        lambda path: _lookup_resolver(_without_root_marker(path)),
        lambda payload, path: _lookup(payload, _path_segments(_without_root_marker(path))),
    )


_TRIPLE_PLACEHOLDER: Final = re.compile(r"\{\{\{([^}]+)\}\}\}")
_DOUBLE_PLACEHOLDER: Final = re.compile(r"\{\{([^}]+)\}\}")


def _placeholder_text(value: object) -> str:
    if type(value) is str:
        return value
    return "" if is_missing_or_null(value) else to_text(value)


def _scope_or_empty(payload: Payload) -> Any:
    """Segment's renderer defaults an undefined scope to an empty object."""
    return {} if payload is MISSING else payload


def _render_by_rescanning(template: str, payload: Payload) -> str:
    scope = _scope_or_empty(payload)

    def replace(match: re.Match[str]) -> str:
        key = match.group(1).strip(JS_WHITESPACE)
        return _placeholder_text(_lookup(scope, _path_segments(key)))

    # Text a triple placeholder inserts is scanned again by the double pass, as in Segment.
    return joined_units(
        _DOUBLE_PLACEHOLDER.sub(replace, _TRIPLE_PLACEHOLDER.sub(replace, template))
    )


def _template_renderer(template: str) -> Callable[[Payload], str]:
    if _TRIPLE_PLACEHOLDER.search(template):
        return lambda payload: _render_by_rescanning(template, payload)
    pieces = _DOUBLE_PLACEHOLDER.split(template)
    if len(pieces) == 1:
        return lambda payload: template
    literals = pieces[0::2]
    lookups = [_lookup_resolver(key.strip(JS_WHITESPACE)) for key in pieces[1::2]]
    head, tail = literals[0], literals[1:]
    parts = list(zip(lookups, tail, strict=True))

    def render(payload: Payload) -> str:
        scope = _scope_or_empty(payload)
        text = head
        for look_up, literal in parts:
            value = look_up(scope)
            text += (value if type(value) is str else _placeholder_text(value)) + literal
        return text if text.isascii() else joined_units(text)

    return render


def _compile_template(option: object) -> Resolver:
    return _compile_string_directive(
        "@template",
        option,
        _template_renderer,
        lambda payload, template: _render_by_rescanning(template, payload),
    )


def _compile_literal(option: object) -> Resolver:
    return _compile(option)


def _without_nulls(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {key: MISSING if item is None else _without_nulls(item) for key, item in value.items()}


def _compile_exclude_when_null(option: object) -> Resolver:
    resolve = _compile(option)

    def run(payload: Payload) -> Any:
        value = resolve(payload)
        return MISSING if value is None else _without_nulls(value)

    return run


# --- @if, @case ----------------------------------------------------------------------------


def _exists(value: object) -> bool:
    return not is_missing_or_null(value)


def _not_blank(value: object) -> bool:
    return not is_missing_or_null(value) and not loosely_equals_empty_string(value)


def _compile_if(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@if requires an object with an "exists" key')
    exists = options.get("exists", MISSING)
    blank = options.get("blank", MISSING)
    if not is_truthy(exists) and not is_truthy(blank):
        return _failing('@if requires an "exists" key or a "blank" key')
    if exists is not MISSING:
        operand, holds = _compile(exists), _exists
    else:
        operand, holds = _compile(blank), _not_blank
    then = _compile(options["then"]) if "then" in options else _constant(MISSING)
    # Segment ignores a falsy raw "else" (false, 0, "", null): the key then disappears.
    otherwise = options.get("else", MISSING)
    fallback = _compile(otherwise) if is_truthy(otherwise) else _constant(MISSING)
    return lambda payload: then(payload) if holds(operand(payload)) else fallback(payload)


def _compile_case(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@case requires an object with a "operator" key')
    operator = options.get("operator", MISSING)
    if not is_truthy(operator):
        return _failing('@case requires a "operator" key')
    value = options.get("value", MISSING)
    if not is_truthy(value):
        return _constant(MISSING)
    resolve = _compile(value)

    def run(payload: Payload) -> Any:
        resolved = resolve(payload)
        if not isinstance(resolved, str):
            return resolved
        if operator == "lower":
            return resolved.lower()
        if operator == "upper":
            return resolved.upper()
        raise MappingError(['operator key should have a value of "lower" or "upper"'])

    return run


# --- @replace ------------------------------------------------------------------------------


def _ignore_case_unit(char: str) -> str:
    """JavaScript's case-insensitive regexp canonicalisation (without the ``u`` flag)."""
    if ord(char) >= 0x10000:
        return char
    upper = char.upper()
    if len(upper) != 1 or (ord(char) >= 128 and ord(upper) < 128):
        return char
    return upper


def _ignore_case_form(text: str) -> str:
    if text.isascii():
        return text.upper()
    return "".join(map(_ignore_case_unit, text))


def _substitution(replacement: str, text: str, start: int, end: int) -> str:
    """JavaScript's replacement patterns: ``$$``, ``$&``, ``$` `` and ``$'``; no groups exist."""
    if "$" not in replacement:
        return replacement
    out: list[str] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        following = replacement[index + 1 : index + 2]
        if char == "$" and following in ("$", "&", "`", "'"):
            out.append(
                {"$": "$", "&": text[start:end], "`": text[:start], "'": text[end:]}[following]
            )
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _replace_literal(
    text: str, pattern: str, replacement: str, *, every: bool, ignore_case: bool
) -> str:
    if string_length(pattern) > _MAX_PATTERN_LENGTH:
        raise MappingError(
            [f'@replace requires a "pattern" less than {_MAX_PATTERN_LENGTH} characters']
        )
    if string_length(replacement) > _MAX_REPLACEMENT_LENGTH:
        raise MappingError(
            [f'@replace requires a "replacement" less than {_MAX_REPLACEMENT_LENGTH} characters']
        )
    haystack, needle = text, pattern
    if ignore_case:
        haystack, needle = _ignore_case_form(text), _ignore_case_form(pattern)
    pieces: list[str] = []
    position = 0
    while True:
        found = haystack.find(needle, position)
        if found < 0:
            break
        end = found + len(needle)
        pieces.append(text[position:found])
        pieces.append(_substitution(replacement, text, found, end))
        position = end
        if not every:
            break
    pieces.append(text[position:])
    return "".join(pieces)


def _compile_replace(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@replace requires an object with a "pattern" key')
    pattern = options.get("pattern", MISSING)
    if not is_truthy(pattern):
        return _failing('@replace requires a "pattern" key')
    replacement = options.get("replacement", MISSING)
    replacement = "" if is_missing_or_null(replacement) else replacement
    pattern2 = options.get("pattern2", MISSING)
    replacement2 = options.get("replacement2", MISSING)
    if is_truthy(pattern2) and is_missing_or_null(replacement2):
        replacement2 = ""
    ignore_case = options.get("ignorecase", MISSING)
    ignore_case = False if is_missing_or_null(ignore_case) else ignore_case
    every = options.get("global", MISSING)
    every = True if is_missing_or_null(every) else every
    value = options.get("value", MISSING)
    if not is_truthy(value):
        return _constant(MISSING)
    resolve = _compile(value)
    if not (
        isinstance(pattern, str)
        and isinstance(replacement, str)
        and isinstance(ignore_case, bool)
        and isinstance(every, bool)
    ):

        def give_up(payload: Payload) -> str:
            # Segment still resolves the value (and its errors), then returns an empty string.
            resolve(payload)
            return ""

        return give_up
    passes = [(pattern, replacement)]
    if is_truthy(pattern2) and isinstance(pattern2, str) and isinstance(replacement2, str):
        passes.append((pattern2, replacement2))

    def run(payload: Payload) -> str:
        resolved = resolve(payload)
        if isinstance(resolved, bool | int | float):
            resolved = to_text(resolved)
        if not isinstance(resolved, str):
            return ""
        for each_pattern, each_replacement in passes:
            resolved = _replace_literal(
                resolved, each_pattern, each_replacement, every=every, ignore_case=ignore_case
            )
        return resolved

    return run


# --- @arrayPath ----------------------------------------------------------------------------


def _compile_array_path(options: object) -> Resolver:
    if not isinstance(options, list):
        return _failing(f"@arrayPath expected array, got {type_name(options)}")
    path = options[0] if options else MISSING
    shape = options[1] if len(options) > 1 else MISSING
    root = _lookup_resolver(_without_root_marker(path)) if isinstance(path, str) else _compile(path)
    if not (isinstance(shape, dict) and shape):
        return root
    resolve_item = _compile(shape)

    def run(payload: Payload) -> Any:
        found = root(payload)
        if isinstance(found, list):
            return [resolve_item(item) for item in found]
        if isinstance(found, dict):
            return [resolve_item(found)]
        return found

    return run


# --- @json, @flatten, @merge ------------------------------------------------------------


def _decoded(value: object) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json_parse(value)
    except ValueError:
        return value


def _compile_json(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@json requires an object with a "value" key')
    mode = options.get("mode", MISSING)
    if not is_truthy(mode):
        return _failing('@json requires a "mode" key')
    value = options.get("value", MISSING)
    if not is_truthy(value):
        return _failing('@json requires a "value" key')
    resolve = _compile(value)
    if mode == "encode":
        return lambda payload: json_stringify(resolve(payload))
    if mode == "decode":
        return lambda payload: _decoded(resolve(payload))

    def yield_nothing(payload: Payload) -> Any:
        # The validator accepts "ENCODE"; Segment's run time compares exactly and yields nothing.
        resolve(payload)
        return MISSING

    return yield_nothing


def _flattened(value: Any, prefix: str, separator: str, keep_arrays: bool) -> dict[str, Any]:
    if isinstance(value, dict):
        entries: Iterator[tuple[str, Any]] = ((key, value[key]) for key in js_keys(value))
    elif isinstance(value, list) and not keep_arrays:
        entries = ((str(index), item) for index, item in enumerate(value))
    else:
        return {prefix: value}
    result: dict[str, Any] = {}
    for key, item in entries:
        result.update(
            _flattened(item, f"{prefix}{separator}{key}" if prefix else key, separator, keep_arrays)
        )
    return result


def _compile_flatten(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@flatten requires an object with a "separator" key')
    separator = options.get("separator", MISSING)
    if not is_truthy(separator):
        return _failing('@flatten requires a "separator" key')
    resolve_separator = _compile(separator)
    resolve = _compile(options.get("value", MISSING))
    keep_arrays = is_truthy(options.get("omitArrays", MISSING))

    def run(payload: Payload) -> Any:
        resolved_separator = resolve_separator(payload)
        if not isinstance(resolved_separator, str):
            raise MappingError(["@flatten requires a string separator"])
        return _flattened(resolve(payload), "", resolved_separator, keep_arrays)

    return run


def _assign(target: dict[str, Any], source: object) -> None:
    """JavaScript's ``Object.assign(target, source)`` for one source."""
    if isinstance(source, dict):
        target.update(source)
    elif isinstance(source, list):
        target.update((str(index), item) for index, item in enumerate(source))
    elif isinstance(source, str):
        target.update((str(index), unit) for index, unit in enumerate(utf16_units(source)))


def _compile_merge(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@merge requires an object with an "objects" key and a "direction" key')
    direction = options.get("direction", MISSING)
    if not is_truthy(direction):
        return _failing('@merge requires a "direction" key')
    resolve_direction = _compile(direction)
    objects = options.get("objects", MISSING)
    if not is_truthy(objects) or not isinstance(objects, list):
        message = (
            f"@merge: expected opts.array, got {typeof_name(objects)}"
            if is_truthy(objects)
            else '@merge requires a "objects" key'
        )

        def fail_after_direction(payload: Payload) -> NoReturn:
            resolve_direction(payload)
            raise MappingError([message])

        return fail_after_direction
    resolvers = [_compile(entry) for entry in objects]

    def run(payload: Payload) -> dict[str, Any]:
        resolved_direction = resolve_direction(payload)
        sources = [resolve(payload) for resolve in resolvers]
        if resolved_direction == "left":
            sources.reverse()
        merged: dict[str, Any] = {}
        for source in sources:
            _assign(merged, source)
        return merged

    return run


# --- @transform ----------------------------------------------------------------------------


def _stage(mapping: object) -> Callable[[Payload], Any]:
    """A nested ``transform``: errors in the mapping surface when the stage runs."""
    try:
        program = _compile_program(mapping, hole=MISSING)
    except MappingError as error:
        messages = error.messages

        def fail(payload: Payload) -> NoReturn:
            _require_object_payload(_scope_or_empty(payload))
            raise MappingError(messages) from None

        return fail
    return lambda payload: program(_scope_or_empty(payload))


def _compile_transform(options: object) -> Resolver:
    if not isinstance(options, dict):
        return _failing('@transform requires an object with an "apply" key and a "mapping" key')
    mapping = options.get("mapping", MISSING)
    if not is_truthy(mapping):
        return _failing('@transform requires a "mapping" key')
    apply = options.get("apply", MISSING)
    if not is_truthy(apply):
        return _failing('@transform requires a "apply" key')
    if not isinstance(apply, dict):
        return _failing('@transform "apply" key should be an object')
    first_stage = _stage(apply)
    second_stage = _compile(mapping)
    return lambda payload: second_stage(first_stage(payload))


# --- @liquid -------------------------------------------------------------------------------

_LIQUID_MAX_LENGTH: Final = 1000
_LIQUID_MEMORY_LIMIT: Final = 100_000_000
_LIQUID_DISABLED_TAGS: Final = ("case", "for", "include", "layout", "render", "tablerow")
_LIQUID_DISABLED_FILTERS: Final = (
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
)
# python-liquid filters that liquidjs lacks; liquidjs passes values through unknown filters.
_LIQUID_FOREIGN_FILTERS: Final = (
    "base64_url_safe_decode",
    "base64_url_safe_encode",
    "escapejs",
    "safe",
    "squish",
)
_liquid_memory_used: contextvars.ContextVar[list[int]] = contextvars.ContextVar(
    "liquid_memory_used"
)


class _LiquidRefusal(FilterArgumentError):
    """A failure whose wording is liquidjs's, not python-liquid's."""


def _charge_liquid_memory(amount: int) -> None:
    used = _liquid_memory_used.get()
    used[0] += amount
    if used[0] > _LIQUID_MEMORY_LIMIT:
        raise _LiquidRefusal("memory alloc limit exceeded", token=None)


def _liquid_text(value: object) -> str:
    """liquidjs's output text: JavaScript numbers, arrays joined without separator."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, list | tuple | range):
        return "".join(_liquid_text(item) for item in value)
    if isinstance(value, bool | int | float):
        return to_text(value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _js_number(value: object) -> float:
    """JavaScript's ``Number(value)``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if isinstance(value, str | list):
        return _number_from_text(to_text(value))
    return math.nan


def _liquid_number(value: object) -> float:
    """liquidjs's ``toNumber``: JavaScript's ``Number()``, with ``NaN`` read as ``0``."""
    number = _js_number(value)
    return 0 if number != number else number


_JS_DECIMAL_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_JS_PREFIXED_INTEGER: Final = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def _number_from_text(text: str) -> float:
    """``Number(text)``, except that blank and integer text give an exact ``int``.

    Integers beyond 2**53 thus stay exact, one of the known differences listed at the top.
    """
    stripped = text.strip(JS_WHITESPACE)
    if stripped == "":
        return 0
    if _JS_PREFIXED_INTEGER.fullmatch(stripped):
        return int(stripped, 0)
    if _JS_DECIMAL_INTEGER.fullmatch(stripped):
        return int(stripped)
    return text_to_number(stripped)


def _divide(dividend: float, divisor: float) -> float:
    if divisor == 0:
        if dividend == 0 or dividend != dividend:
            return math.nan
        return math.copysign(math.inf, dividend) * math.copysign(1, divisor)
    return dividend / divisor


def _js_remainder(dividend: float, divisor: float) -> float:
    if divisor == 0 or math.isinf(dividend):
        return math.nan
    if isinstance(dividend, int) and isinstance(divisor, int):
        return int(math.fmod(dividend, divisor))
    return math.fmod(dividend, divisor)


def _js_round(number: float) -> float:
    return math.floor(number + 0.5) if math.isfinite(number) else number


def _arithmetic(operation: Callable[[float, float], float]) -> Callable[..., float]:
    def apply(left: object, right: object = MISSING, *_: object) -> float:
        return operation(_liquid_number(left), _liquid_number(right))

    return apply


def _round_filter(value: object, places: object = 0) -> float:
    number, digits = _liquid_number(value), _liquid_number(places)
    try:
        scale = math.pow(10, digits)
    except OverflowError:
        scale = math.inf
    return _js_round(number * scale * (1 + 2**-52)) / scale


def _text_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """Give a python-liquid string filter liquidjs's idea of a value's text."""

    @functools.wraps(original)
    def apply(value: object, *arguments: object, **options: object) -> Any:
        text_arguments = [
            _liquid_text(argument) if isinstance(argument, bool | float) else argument
            for argument in arguments
        ]
        return original(_liquid_text(value), *text_arguments, **options)

    return apply


def _append_filter(value: object, suffix: object = "") -> str:
    left, right = _liquid_text(value), _liquid_text(suffix)
    _charge_liquid_memory(len(left) + len(right))
    return left + right


def _prepend_filter(value: object, prefix: object = "") -> str:
    left, right = _liquid_text(value), _liquid_text(prefix)
    _charge_liquid_memory(len(left) + len(right))
    return right + left


def _liquid_json_value(value: object) -> Any:
    if isinstance(value, Undefined):
        return MISSING
    if isinstance(value, dict):
        return {key: _liquid_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_liquid_json_value(item) for item in value]
    if isinstance(value, range):
        return list(value)
    return value


def _json_filter(value: object, *_indent: object) -> str:
    text = json_stringify(_liquid_json_value(value))
    return "" if text is MISSING else str(text)


_HTML_ESCAPES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
_HTML_SPECIAL: Final = re.compile("[&<>\"']")
_HTML_UNESCAPES: Final = {escaped: char for char, escaped in _HTML_ESCAPES.items()}
_HTML_ESCAPED: Final = re.compile("&(amp|lt|gt|#34|#39);")


def _escape_filter(value: object) -> str:
    return _HTML_SPECIAL.sub(lambda match: _HTML_ESCAPES[match.group()], _liquid_text(value))


def _escape_once_filter(value: object) -> str:
    text = _liquid_text(value)
    return _escape_filter(_HTML_ESCAPED.sub(lambda match: _HTML_UNESCAPES[match.group()], text))


def _split_filter(value: object, separator: object = "") -> list[str]:
    """JavaScript's ``split`` with trailing empty strings dropped, as liquidjs does."""
    text, on = _liquid_text(value), _liquid_text(separator)
    parts = utf16_units(text) if on == "" else text.split(on)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _size_filter(value: object) -> object:
    """liquidjs reads ``value.length``: objects without a ``length`` key have size 0."""
    if isinstance(value, str):
        return string_length(value)
    if isinstance(value, list | tuple | range):
        return len(value)
    if isinstance(value, dict):
        length = value.get("length")
        return length if is_truthy(length) else 0
    return 0


def _default_filter(value: object, fallback: object = "", *, allow_false: object = False) -> object:
    """liquidjs keeps zero and empty objects; nil, false, empty strings and arrays fall back."""
    if value is None or isinstance(value, Undefined):
        return fallback
    if isinstance(value, str | list):
        return value if value else fallback
    if value is False:
        return False if allow_false is True else fallback
    return value


def _as_array(value: object) -> list[Any]:
    if value is None or isinstance(value, Undefined):
        return []
    if isinstance(value, list | tuple | range):
        return list(value)
    return [value]


def _join_filter(value: object, separator: object = None) -> str:
    """JavaScript's ``Array.prototype.join``: nested arrays use commas, nil items are empty."""
    glue = " " if separator is None or isinstance(separator, Undefined) else _liquid_text(separator)
    return glue.join(
        "" if item is None or isinstance(item, Undefined) else to_text(item)
        for item in _as_array(value)
    )


def _array_like_item(value: object, from_end: bool) -> object:
    """liquidjs's ``first``/``last``: anything with a numeric ``length`` is indexed."""
    if isinstance(value, list | tuple):
        return (value[-1] if from_end else value[0]) if value else None
    if isinstance(value, str):
        units = utf16_units(value)
        return (units[-1] if from_end else units[0]) if units else None
    if isinstance(value, dict):
        length = value.get("length")
        if is_truthy(length) and isinstance(length, int | float) and not isinstance(length, bool):
            return value.get(to_text(length - 1) if from_end else "0")
    return None


def _compact_filter(value: object) -> list[Any]:
    return [
        item for item in _as_array(value) if item is not None and not isinstance(item, Undefined)
    ]


def _sum_filter(value: object, key: object = None) -> float:
    total: float = 0
    for item in _as_array(value):
        if key is not None and not isinstance(key, Undefined):
            item = item.get(_liquid_text(key)) if isinstance(item, dict) else None
        number = _js_number(item)
        total += 0 if number != number else number
    return total


def _clamped_index(position: float, size: int) -> int:
    """JavaScript's integer conversion of a slice bound: NaN is 0, fractions truncate."""
    if position != position:
        return 0
    return max(
        0,
        min(size, int(position) if math.isfinite(position) else int(math.copysign(size, position))),
    )


def _slice_filter(value: object, begin: object = None, length: object = 1) -> object:
    if value is None or isinstance(value, Undefined):
        return []
    items: list[Any] = (
        list(value) if isinstance(value, list | tuple) else utf16_units(_liquid_text(value))
    )
    start, count = _js_number(begin), _js_number(length)
    if start < 0:
        start += len(items)
    if start < 0 or count < 0:
        return [] if isinstance(value, list | tuple) else ""
    picked = items[_clamped_index(start, len(items)) : _clamped_index(start + count, len(items))]
    return picked if isinstance(value, list | tuple) else joined_units("".join(picked))


def _truncate_filter(value: object, length: object = 50, ellipsis: object = "...") -> object:
    """liquidjs returns a short enough value untouched, whatever its type."""
    text, end, limit = _liquid_text(value), _liquid_text(ellipsis), _js_number(length)
    if string_length(text) <= limit:
        return value
    units = utf16_units(text)
    return joined_units(
        "".join(units[: _clamped_index(limit - string_length(end), len(units))]) + end
    )


_JS_WHITESPACE_RUN: Final = re.compile(f"[{JS_WHITESPACE}]+")


def _truncatewords_filter(value: object, words: object = 15, ellipsis: object = "...") -> str:
    pieces = _JS_WHITESPACE_RUN.split(_liquid_text(value))
    count = _js_number(words)
    if count <= 0:
        count = 1
    kept = " ".join(pieces[: _clamped_index(count, len(pieces))])
    return kept + _liquid_text(ellipsis) if len(pieces) >= count else kept


def _first_filter(value: object) -> object:
    return _array_like_item(value, from_end=False)


def _last_filter(value: object) -> object:
    return _array_like_item(value, from_end=True)


def _sha256_filter(value: object) -> str:
    return hashlib.sha256(_liquid_text(value).encode("utf-8", "surrogatepass")).hexdigest()


def _refusing_filter(name: str) -> Callable[..., NoReturn]:
    def refuse(*_: object, **__: object) -> NoReturn:
        raise _LiquidRefusal(f'filter "{name}" is disabled', token=None)

    return refuse


class _JavaScriptOutput(OutputNode):
    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(_liquid_text(self.expression.evaluate(context)))


class _JavaScriptEcho(EchoNode):
    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(_liquid_text(self.expression.evaluate(context)))


class _OutputTag(Output):
    node_class = _JavaScriptOutput


class _EchoTag(EchoTag):
    node_class = _JavaScriptEcho


class _DisabledTag(Tag):
    block = False

    def parse(self, stream: TokenStream) -> NoReturn:
        raise LiquidSyntaxError(f'tag "{self.name}" is disabled', token=stream.current)


_TEXT_FILTERS: Final = (
    "capitalize",
    "downcase",
    "upcase",
    "lstrip",
    "rstrip",
    "strip",
    "remove",
    "remove_first",
    "remove_last",
    "replace",
    "replace_first",
    "replace_last",
    "strip_html",
    "strip_newlines",
    "url_encode",
    "url_decode",
    "base64_encode",
    "base64_decode",
)


def _liquid_environment() -> Environment:
    environment = Environment(tolerance=Mode.STRICT, strict_filters=False)
    environment.add_tag(_OutputTag)
    environment.add_tag(_EchoTag)
    for name in _LIQUID_DISABLED_TAGS:
        environment.add_tag(type(f"_Disabled_{name}", (_DisabledTag,), {"name": name}))
    for name in _LIQUID_FOREIGN_FILTERS:
        del environment.filters[name]
    for name in _TEXT_FILTERS:
        environment.filters[name] = _text_filter(environment.filters[name])
    environment.filters.update(
        {
            "plus": _arithmetic(lambda left, right: left + right),
            "minus": _arithmetic(lambda left, right: left - right),
            "times": _arithmetic(lambda left, right: left * right),
            "divided_by": _arithmetic(_divide),
            "modulo": _arithmetic(
                lambda left, right: _js_remainder(_js_remainder(left, right) + right, right)
            ),
            "abs": _arithmetic(lambda number, _: abs(number)),
            "ceil": _arithmetic(
                lambda number, _: math.ceil(number) if math.isfinite(number) else number
            ),
            "floor": _arithmetic(
                lambda number, _: math.floor(number) if math.isfinite(number) else number
            ),
            "at_least": _arithmetic(max),
            "at_most": _arithmetic(min),
            "round": _round_filter,
            "append": _append_filter,
            "prepend": _prepend_filter,
            "json": _json_filter,
            "jsonify": _json_filter,
            "to_integer": _js_number,
            "sha256": _sha256_filter,
            "join": _join_filter,
            "slice": _slice_filter,
            "truncate": _truncate_filter,
            "truncatewords": _truncatewords_filter,
            "sum": _sum_filter,
            "compact": _compact_filter,
            "first": _first_filter,
            "last": _last_filter,
            "size": _size_filter,
            "default": _default_filter,
            "escape": _escape_filter,
            "xml_escape": _escape_filter,
            "escape_once": _escape_once_filter,
            "split": _split_filter,
        }
    )
    for name in _LIQUID_DISABLED_FILTERS:
        environment.filters[name] = _refusing_filter(name)
    return environment


_LIQUID: Final = _liquid_environment()


def _liquid_position(error: LiquidError) -> str:
    """liquidjs's ``, line:L, col:C`` suffix, pointing at the enclosing ``{{`` or ``{%``."""
    token = error.token
    if token is None or token.start_index < 0:
        return ""
    source, index = token.source, token.start_index
    start = max(source.rfind("{{", 0, index + 2), source.rfind("{%", 0, index + 2), 0)
    line = source.count("\n", 0, start) + 1
    column = start - (source.rfind("\n", 0, start) + 1) + 1
    return f", line:{line}, col:{column}"


def _liquid_failure(error: LiquidError) -> MappingError:
    return MappingError([f"{error.message}{_liquid_position(error)}"])


def _compile_liquid(option: object) -> Resolver:
    if not isinstance(option, str):
        return _failing("liquid template value must be a string")
    if option == "":
        return _constant("")
    if string_length(option) > _LIQUID_MAX_LENGTH:
        return _failing("liquid template values are limited to 1000 characters")
    try:
        template = _LIQUID.from_string(option)
    except LiquidError as error:
        failure = _liquid_failure(error)
        return _failing(failure.messages[0])

    def render(payload: Payload) -> str:
        scope = payload if isinstance(payload, dict) else {}
        budget = _liquid_memory_used.set([0])
        try:
            return joined_units(template.render(scope))
        except LiquidError as error:
            raise _liquid_failure(error) from None
        except Exception as error:
            # A python-liquid filter can fail on odd input with a plain Python exception; the
            # user's template is at fault, not the delivery, so report it like any other.
            raise MappingError([f"liquid template failed: {error}"]) from error
        finally:
            _liquid_memory_used.reset(budget)

    return render


def _liquid_variables(template_text: str) -> list[str]:
    try:
        analysis = _LIQUID.from_string(template_text).analyze(include_partials=False)
    except LiquidError as error:
        raise _liquid_failure(error) from None
    found = sorted(
        (variable for variables in analysis.variables.values() for variable in variables),
        key=lambda variable: variable.span.index,
    )
    return list(dict.fromkeys(str(variable) for variable in found))


_DIRECTIVE_COMPILERS: Final[dict[str, Callable[[Any], Resolver]]] = {
    "@if": _compile_if,
    "@case": _compile_case,
    "@replace": _compile_replace,
    "@arrayPath": _compile_array_path,
    "@path": _compile_path,
    "@template": _compile_template,
    "@literal": _compile_literal,
    "@flatten": _compile_flatten,
    "@json": _compile_json,
    "@merge": _compile_merge,
    "@transform": _compile_transform,
    "@excludeWhenNull": _compile_exclude_when_null,
    "@liquid": _compile_liquid,
}


# --- getFieldValueKeys ---------------------------------------------------------------------

_TEMPLATE_KEY: Final = re.compile(r"\{\{([^\n\r\u2028\u2029]*?)\}\}")


def _names_a_directive(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and any(key in _DIRECTIVE_COMPILERS for key in value)


def _options_with(directive: dict[str, Any], name: str, *required: str) -> dict[str, Any] | None:
    options = directive.get(name, MISSING)
    if isinstance(options, dict) and (not required or any(key in options for key in required)):
        return options
    return None


def _directive_value_keys(directive: dict[str, Any]) -> list[str]:
    """Segment tries the directives in this order; @merge and @transform are not among them."""
    if "@arrayPath" in directive and isinstance(directive["@arrayPath"], list):
        return [key for item in directive["@arrayPath"] for key in _value_keys(item)]
    if (options := _options_with(directive, "@case", "operator")) is not None:
        return _value_keys(options.get("value"))
    if (options := _options_with(directive, "@if", "exists", "blank")) is not None:
        return [
            key
            for name in ("blank", "exists", "then", "else")
            for key in _value_keys(options.get(name))
        ]
    if "@literal" in directive:
        return []
    if "@path" in directive:
        path = directive["@path"]
        return [path] if isinstance(path, str) else _value_keys(path)
    if (options := _options_with(directive, "@replace", "pattern")) is not None:
        return _value_keys(options.get("value"))
    if "@template" in directive:
        template = directive["@template"]
        if isinstance(template, str):
            return _TEMPLATE_KEY.findall(template)
        return _value_keys(template)
    if (options := _options_with(directive, "@json", "value")) is not None:
        return _value_keys(options.get("value"))
    if (options := _options_with(directive, "@flatten", "value")) is not None:
        return _value_keys(options.get("value"))
    if "@excludeWhenNull" in directive:
        return []
    if isinstance(directive.get("@liquid"), str):
        return _liquid_variables(directive["@liquid"])
    return []
