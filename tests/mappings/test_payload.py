"""Payload validation: Segment's runtime replayed from fixtures, and the sentences users read.

The fixtures come from ``tools/reference/payload_cases.mjs``: each case holds what Segment's
runtime did with the payload (``reference``) and what we must do (``expected``), which is the
same except for datetimes (unix seconds here) and the cases marked with a ``deviation``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappings.actions import ACTIONS, CatalogError, get_action
from mappings.payload import PayloadError, Problem, validate_payload

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "payload_cases.json").read_text())
CASES = FIXTURE["cases"]


def _as_sent(value: Any) -> str:
    """JSON text, so that ``True`` and ``1``, or ``5`` and ``5.0``, are told apart."""
    return json.dumps(value, sort_keys=True)


def _problems(action_key: str, payload: dict[str, Any]) -> tuple[Problem, ...]:
    with pytest.raises(PayloadError) as raised:
        validate_payload(action_key, payload)
    return raised.value.problems


def test_fixture_has_enough_cases_of_each_kind():
    random_cases = [case for case in CASES if case["name"].startswith("random ")]

    assert len(CASES) >= 80
    assert len({case["name"] for case in CASES}) == len(CASES)
    assert len(random_cases) >= 150
    assert any(not case["expected"]["valid"] for case in random_cases)
    assert any(case["expected"]["valid"] for case in random_cases)


def test_fixture_fields_are_the_catalog():
    for action in ACTIONS.values():
        segment_fields = FIXTURE["fields"][action.key]
        assert list(segment_fields) == [field.key for field in action.fields]
        for field in action.fields:
            definition = segment_fields[field.key]
            assert definition["label"] == field.label
            assert definition["type"] == field.type
            assert definition.get("format") == field.format
            assert tuple(definition.get("choices", ())) == field.choices
            assert (definition.get("required") is True) == field.required

        conditional = {
            key: definition["required"]
            for key, definition in segment_fields.items()
            if isinstance(definition.get("required"), dict)
        }
        from_rules = {}
        for rule in action.rules:
            conditions = [{"fieldKey": key, "operator": "is"} for key in rule.field_keys[1:]]
            if rule.when is not None:
                when = {"fieldKey": rule.when.field_key, "operator": "is", "value": rule.when.value}
                conditions.insert(0, when)
            from_rules[rule.field_keys[0]] = {"match": "all", "conditions": conditions}
        assert conditional == from_rules


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_expectation_follows_the_reference_unless_marked(case):
    reference, expected = case["reference"], case["expected"]
    if "deviation" in case:
        assert case["deviation"].endswith(".")
        assert _as_sent(reference) != _as_sent(expected)
        return

    assert expected["valid"] == reference["valid"]
    if not expected["valid"]:
        assert expected["fields"] == reference["fields"]
        return
    action = get_action(case["action"])
    assert expected["payload"].keys() == reference["payload"].keys()
    for key, value in expected["payload"].items():
        if action.field(key).type == "datetime":
            assert type(value) is int
        else:
            assert _as_sent(value) == _as_sent(reference["payload"][key])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_payload_as_expected(case):
    expected = case["expected"]
    if expected["valid"]:
        cleaned = validate_payload(case["action"], case["payload"])
        assert _as_sent(cleaned) == _as_sent(expected["payload"])
        return

    problems = _problems(case["action"], case["payload"])
    assert sorted({problem.field_key for problem in problems}) == expected["fields"]
    action = get_action(case["action"])
    for problem in problems:
        assert action.field(problem.field_key).label in problem.message


@pytest.mark.parametrize(
    ("action_key", "payload", "message"),
    [
        (
            "identify_contact",
            {"role": "lead", "email": "not-an-email"},
            'Email Address must be a valid email address (got "not-an-email").',
        ),
        (
            "identify_contact",
            {"role": "admin", "external_id": "u-1"},
            'Role must be one of "user", "lead" (got "admin").',
        ),
        (
            "identify_contact",
            {"role": "user", "name": "Ada"},
            'External ID or Email Address is required when Role is "user".',
        ),
        (
            "track_event",
            {"event_name": "Signed Up", "created_at": 0},
            "At least one of User ID, Email Address or Contact ID is required.",
        ),
        ("identify_company", {"name": "Acme"}, "Company ID is required."),
        (
            "identify_company",
            {"company_id": "c-1", "monthly_spend": "a lot"},
            'Monthly Spend must be a number (got "a lot").',
        ),
        (
            "identify_contact",
            {"role": "lead", "unsubscribed_from_emails": "yes"},
            'Unsubscribed From Emails must be true or false (got "yes").',
        ),
        (
            "identify_contact",
            {"role": "lead", "custom_attributes": ["plan"]},
            'Custom Attributes must be an object (got ["plan"]).',
        ),
        (
            "identify_contact",
            {"role": "lead", "name": {"first": "Ada"}},
            'Name must be a string (got {"first": "Ada"}).',
        ),
        (
            "track_event",
            {"event_name": "e", "created_at": 0, "user_id": [["u-1"]]},
            'User ID must be a string (got [["u-1"]]).',
        ),
        (
            "identify_contact",
            {"role": "lead", "avatar": "ada.png"},
            'Avatar must be a valid URI (got "ada.png").',
        ),
        (
            "track_event",
            {"event_name": "Signed Up", "created_at": "yesterday", "user_id": "u-1"},
            "Event Timestamp must be an ISO-8601 date or a unix timestamp in seconds or "
            'milliseconds (got "yesterday").',
        ),
    ],
)
def test_error_sentence_names_the_field_by_its_label(action_key, payload, message):
    assert [problem.message for problem in _problems(action_key, payload)] == [message]


def test_every_problem_is_reported_at_once():
    payload = {"role": "admin", "email": "nope", "owner_id": "x", "signed_up_at": "soon"}

    with pytest.raises(PayloadError) as raised:
        validate_payload("identify_contact", payload)

    assert raised.value.errors == [
        'Role must be one of "user", "lead" (got "admin").',
        'Email Address must be a valid email address (got "nope").',
        "Signed Up Timestamp must be an ISO-8601 date or a unix timestamp in seconds or "
        'milliseconds (got "soon").',
        'Owner ID must be a number (got "x").',
    ]
    assert str(raised.value) == " ".join(raised.value.errors)
    assert isinstance(raised.value, ValueError)


def test_a_long_value_is_shortened_in_the_sentence():
    (problem,) = _problems("identify_contact", {"role": "lead", "email": "x" * 200})

    assert problem.message == f'Email Address must be a valid email address (got "{"x" * 58}…).'


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2024-01-01T10:00:00-05:30", 1704123000),
        ("2024-01-01t10:00:00z", 1704103200),
        ("2024-01-01T00:30:00+14:00", 1704018600),
        ("2024-02-29", 1709164800),
        ("0001-01-01", -62135596800),
        ("9999-12-31T23:59:59Z", 253402300799),
        ("1969-12-31T23:59:59.5Z", -1),
        (-0.5, -1),
        ("+1700000000", 1700000000),
        (253402300799999, 253402300799),
        (1700000000.999, 1700000000),
    ],
)
def test_datetime_becomes_unix_seconds(value, seconds):
    cleaned = validate_payload(
        "track_event", {"event_name": "e", "created_at": value, "user_id": "u"}
    )

    assert type(cleaned["created_at"]) is int
    assert cleaned["created_at"] == seconds


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T10:00:00+24:00",
        "2024-1-1",
        "10000-01-01",
        "2023-02-29",
        "2024-01-01T10:60:00Z",
        "2024-01-01T10:00:00 +02:00",
        "2024-01-01Z",
        "1700000000 ",
        "\u0661\u0667" + "\u0660" * 8,
        253402300800000,
        float("nan"),
        float("inf"),
        False,
    ],
)
def test_anything_else_is_not_a_datetime(value):
    (problem,) = _problems("track_event", {"event_name": "e", "created_at": value, "user_id": "u"})

    assert problem.field_key == "created_at"


def test_coerced_types_are_json_types_not_python_lookalikes():
    cleaned = validate_payload(
        "identify_contact",
        {"role": "lead", "owner_id": True, "unsubscribed_from_emails": 1.0, "phone": 2.0},
    )

    assert _as_sent(cleaned) == _as_sent(
        {"role": "lead", "owner_id": 1, "unsubscribed_from_emails": True, "phone": "2"}
    )


# JSON written by JavaScript never carries these as floats, so the fixtures cannot reach them.
@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e20, "100000000000000000000"),
        (1.5e20, "150000000000000000000"),
        (1e21, "1e+21"),
        (1.2345e21, "1.2345e+21"),
        (123.456, "123.456"),
        (1e-6, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (-1e-7, "-1e-7"),
        (1.23e-18, "1.23e-18"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-1.5, "-1.5"),
        (5.0, "5"),
        (-0.0, "0"),
        (2.0**53, "9007199254740992"),
    ],
)
def test_float_becomes_the_string_javascript_would_send(number, text):
    cleaned = validate_payload("identify_contact", {"role": "lead", "name": number})

    assert cleaned["name"] == text


def test_integers_keep_every_digit_when_they_become_strings():
    cleaned = validate_payload("identify_contact", {"role": "user", "external_id": 2**64 + 1})

    assert cleaned["external_id"] == "18446744073709551617"


def test_input_is_left_untouched_and_objects_are_copied():
    attributes = {"plan": "pro"}
    payload = {"role": ["lead"], "owner_id": "7", "custom_attributes": attributes, "x": 1}
    before = json.dumps(payload)

    cleaned = validate_payload("identify_contact", payload)
    cleaned["custom_attributes"]["plan"] = "free"

    assert json.dumps(payload) == before
    assert attributes == {"plan": "pro"}


def test_an_action_object_is_accepted_as_well_as_its_key():
    payload = {"company_id": 7}

    assert validate_payload(get_action("identify_company"), payload) == {"company_id": "7"}


def test_unknown_action_key_is_a_catalog_error():
    with pytest.raises(CatalogError, match='There is no action "identify"'):
        validate_payload("identify", {})
