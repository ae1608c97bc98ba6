"""Check and clean a mapped payload against an action's fields before any request is sent.

Public surface:

- ``validate_payload(action, mapped) -> dict``: the cleaned payload, or ``PayloadError``.
- ``PayloadError``: a ``ValueError`` listing every problem, each a sentence naming the field by
  its label (``errors``), and the same problems tied to field keys (``problems``).
- ``Problem``: one such sentence and the key of the field it is about.

Cleaning follows what Segment does between its mapping kit and an action: top-level values that
are missing, ``null`` or ``""`` are dropped; keys that are not fields are dropped; values are
coerced the way ajv's ``coerceTypes: "array"`` coerces them. Datetime fields then become integer
unix seconds as ``intercom-actions.md`` says, which is stricter than Segment's check.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from mappings._jsvalue import JS_WHITESPACE, MISSING, number_to_text, text_to_number
from mappings.actions import Action, Field, RequiredOneOf, get_action

_MILLISECONDS_ABOVE = Decimal(10**11)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_SECOND = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
_LAST_SECOND = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
_LARGEST_EXACT_INTEGER = 2**53

# ajv-formats' "full" email pattern; JavaScript's `$` and `/i` without the `u` flag correspond
# to `fullmatch` and ASCII-only case folding here.
_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    re.ASCII | re.IGNORECASE,
)


def _uri_pattern() -> re.Pattern[str]:
    """An absolute URI per RFC 3986, bent the way ajv-formats bends it.

    ajv-formats lets one slash introduce an authority (``a:/[::1]``), accepts leading zeros in
    the IPv4 tail of an IPv6 address, and refuses an empty path (``mailto:``). Segment checks
    avatars with it, so a URI is valid here exactly when it is valid there.
    """
    hex16 = "[0-9a-f]{1,4}"
    octet = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
    ipv4 = rf"(?:{octet}\.){{3}}{octet}"
    low32 = f"(?:{hex16}:{hex16}|{ipv4})"
    ipv6 = "|".join(
        (
            f"(?:{hex16}:){{6}}{low32}",
            f"::(?:{hex16}:){{5}}{low32}",
            f"(?:{hex16})?::(?:{hex16}:){{4}}{low32}",
            f"(?:(?:{hex16}:){{0,1}}{hex16})?::(?:{hex16}:){{3}}{low32}",
            f"(?:(?:{hex16}:){{0,2}}{hex16})?::(?:{hex16}:){{2}}{low32}",
            f"(?:(?:{hex16}:){{0,3}}{hex16})?::{hex16}:{low32}",
            f"(?:(?:{hex16}:){{0,4}}{hex16})?::{low32}",
            f"(?:(?:{hex16}:){{0,5}}{hex16})?::{hex16}",
            f"(?:(?:{hex16}:){{0,6}}{hex16})?::",
        )
    )
    unreserved = r"a-z0-9\-._~"
    sub_delims = r"!$&'()*+,;="
    encoded = "%[0-9a-f]{2}"
    ip_future = rf"v[0-9a-f]+\.[{unreserved}{sub_delims}:]+"
    host = rf"(?:\[(?:{ipv6}|{ip_future})\]|{ipv4}|(?:[{unreserved}{sub_delims}]|{encoded})*)"
    userinfo = rf"(?:(?:[{unreserved}{sub_delims}:]|{encoded})*@)?"
    pchar = rf"(?:[{unreserved}{sub_delims}:@]|{encoded})"
    segments = f"(?:/{pchar}*)*"
    hierarchy = "|".join(
        (
            f"//?{userinfo}{host}(?::[0-9]*)?{segments}",
            f"/(?:{pchar}+{segments})?",
            f"{pchar}+{segments}",
        )
    )
    tail = rf"(?:\?(?:{pchar}|[/?])*)?(?:#(?:{pchar}|[/?])*)?"
    return re.compile(rf"[a-z][a-z0-9+\-.]*:(?:{hierarchy}){tail}", re.ASCII | re.IGNORECASE)


_URI = _uri_pattern()

_ISO_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,][0-9]+)?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?)?"
)
_DECIMAL_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class Problem:
    """Why one field stops the payload from being sent.

    A rule about several fields (``RequiredOneOf``) is reported on the first of them.
    """

    field_key: str
    message: str


class PayloadError(ValueError):
    """The mapped payload cannot be sent; ``errors`` says why, one sentence per problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        self.errors = [problem.message for problem in problems]
        super().__init__(" ".join(self.errors))


class _Invalid(Exception):
    """A value that cannot be coerced to its field's type; carries the sentence's ending."""

    def __init__(self, expectation: str) -> None:
        super().__init__(expectation)
        self.expectation = expectation


def validate_payload(
    action_key_or_action: str | Action, mapped: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the payload to send for this action, or raise ``PayloadError`` with every problem.

    The input is not modified. The result holds only the action's fields, in catalog order.
    """
    action = (
        action_key_or_action
        if isinstance(action_key_or_action, Action)
        else get_action(action_key_or_action)
    )
    cleaned: dict[str, Any] = {}
    given: set[str] = set()
    problems: list[Problem] = []
    for field in action.fields:
        given_value = mapped.get(field.key, MISSING)
        value = given_value if field.type == "object" else _unwrap(given_value)
        if _is_empty(value):
            if field.required:
                problems.append(Problem(field.key, f"{field.label} is required."))
            continue
        given.add(field.key)
        try:
            cleaned[field.key] = _clean(field, value)
        except _Invalid as invalid:
            problems.append(
                Problem(
                    field.key,
                    f"{field.label} must be {invalid.expectation} (got {_shown(given_value)}).",
                )
            )
    for rule in action.rules:
        if _rule_applies(rule, cleaned) and given.isdisjoint(rule.field_keys):
            problems.append(Problem(rule.field_keys[0], _rule_sentence(action, rule)))
    if problems:
        raise PayloadError(problems)
    return cleaned


def _unwrap(value: Any) -> Any:
    """A one-element list stands for its element, as ajv's ``coerceTypes: "array"`` has it.

    ajv unwraps before coercing only for scalar types, so object fields never come here. The
    element is then cleaned like a top-level value: ``[null]`` and ``[""]`` count as empty,
    where Segment would send ``""``, ``0`` or ``false``.
    """
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _is_empty(value: Any) -> bool:
    return value is MISSING or value is None or value == ""


def _clean(field: Field, value: Any) -> Any:
    if field.type == "string":
        text = _as_string(value)
        if field.choices and text not in field.choices:
            choices = ", ".join(f'"{choice}"' for choice in field.choices)
            raise _Invalid(f"one of {choices}")
        if field.format == "email" and not _EMAIL.fullmatch(text):
            raise _Invalid("a valid email address")
        if field.format == "uri" and not _URI.fullmatch(text):
            raise _Invalid("a valid URI")
        return text
    if field.type == "number":
        return _as_number(value)
    if field.type == "boolean":
        return _as_boolean(value)
    if field.type == "datetime":
        return _as_unix_seconds(value)
    if isinstance(value, dict):
        return dict(value)
    raise _Invalid("an object")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return number_to_text(value)
    raise _Invalid("a string")


def _as_number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if _is_number(value) and math.isfinite(value):
        number: int | float = value
        return number
    if isinstance(value, str):
        parsed = _js_string_to_number(value)
        if parsed is not None:
            return parsed
    raise _Invalid("a number")


def _as_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "true" or (_is_number(value) and value == 1):
        return True
    if value == "false" or (_is_number(value) and value == 0):
        return False
    raise _Invalid("true or false")


def _as_unix_seconds(value: Any) -> int:
    seconds: int | None = None
    if _is_number(value) and math.isfinite(value):
        seconds = _seconds_from_number(Decimal(value))
    elif isinstance(value, str):
        if _DECIMAL_NUMBER.fullmatch(value):
            seconds = _seconds_from_number(Decimal(value))
        else:
            seconds = _seconds_from_iso(value)
    if seconds is None or not _FIRST_SECOND <= seconds <= _LAST_SECOND:
        raise _Invalid("an ISO-8601 date or a unix timestamp in seconds or milliseconds")
    return seconds


def _seconds_from_number(number: Decimal) -> int:
    if number > _MILLISECONDS_ABOVE:
        number = number / 1000
    return int(number.to_integral_value(rounding=ROUND_FLOOR))


def _seconds_from_iso(text: str) -> int | None:
    match = _ISO_DATETIME.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    offset = timedelta()
    if parts["sign"] is not None:
        offset = timedelta(
            hours=int(parts["offset_hours"]), minutes=int(parts["offset_minutes"] or 0)
        )
        if parts["sign"] == "-":
            offset = -offset
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    return (moment - _EPOCH) // timedelta(seconds=1)


def _js_string_to_number(text: str) -> int | float | None:
    """What ajv coerces a string to for a number field, or None when it refuses.

    ajv accepts any non-empty string that JavaScript's ``Number()`` reads as a number, so
    surrounding whitespace and ``0x``/``0o``/``0b`` literals are accepted like Segment does.
    A blank string and the infinities are refused: Segment would send them as ``0`` and
    ``null``, which nobody means.
    """
    if not text.strip(JS_WHITESPACE):
        return None
    number = text_to_number(text)
    return _plain_number(number) if math.isfinite(number) else None


def _plain_number(number: float) -> int | float:
    """An integral value as an ``int``, so it is written ``5`` rather than ``5.0``."""
    if number.is_integer() and abs(number) <= _LARGEST_EXACT_INTEGER:
        return int(number)
    return number


def _rule_applies(rule: RequiredOneOf, cleaned: dict[str, Any]) -> bool:
    return rule.when is None or cleaned.get(rule.when.field_key) == rule.when.value


def _rule_sentence(action: Action, rule: RequiredOneOf) -> str:
    labels = [action.field(key).label for key in rule.field_keys]
    if rule.when is None:
        return f"At least one of {_or_list(labels)} is required."
    condition = action.field(rule.when.field_key).label
    return f'{_or_list(labels)} is required when {condition} is "{rule.when.value}".'


def _or_list(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def _shown(value: Any, limit: int = 60) -> str:
    """The offending value as JSON, shortened so one bad value cannot flood a message."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text
