"""The action catalog against the tables of intercom-actions.md, row by row."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mappings.actions import (
    ACTIONS,
    CatalogError,
    FieldEquals,
    RequiredOneOf,
    default_fields,
    field_choices,
    get_action,
    new_mapping,
)

# The contract's tables as written there: label, key, type (with format or choices), required
# ("yes", "*" for the conditional rule below the table, "" for optional), default mapping path.
CONTRACT = {
    "identify_contact": (
        ("Role", "role", "string, `user` or `lead`", "yes", None),
        ("External ID", "external_id", "string", "*", "$.userId"),
        ("Email Address", "email", "string (email)", "*", "$.traits.email"),
        ("Phone Number", "phone", "string", "", "$.traits.phone"),
        ("Name", "name", "string", "", "$.traits.name"),
        ("Avatar", "avatar", "string (URI)", "", "$.traits.avatar"),
        ("Signed Up Timestamp", "signed_up_at", "datetime", "", None),
        ("Last Seen Timestamp", "last_seen_at", "datetime", "", "$.timestamp"),
        ("Owner ID", "owner_id", "number", "", None),
        ("Unsubscribed From Emails", "unsubscribed_from_emails", "boolean", "", None),
        ("Custom Attributes", "custom_attributes", "object", "", None),
    ),
    "identify_company": (
        ("Company ID", "company_id", "string", "yes", "$.groupId"),
        ("Company Name", "name", "string", "", "$.traits.name"),
        ("Company Creation Time", "remote_created_at", "datetime", "", "$.traits.createdAt"),
        ("Monthly Spend", "monthly_spend", "number", "", "$.traits.monthly_spend"),
        ("Company Plan", "plan", "string", "", "$.traits.plan"),
        ("Company Size", "size", "number", "", "$.traits.employees"),
        ("Company Website", "website", "string", "", "$.traits.website"),
        ("Industry", "industry", "string", "", "$.traits.industry"),
        ("Custom Attributes", "custom_attributes", "object", "", None),
        ("Contact ID", "contact_id", "string", "", None),
        ("External ID", "external_id", "string", "", "$.userId"),
        ("Email Address", "email", "string (email)", "", "$.traits.email"),
    ),
    "track_event": (
        ("Event Name", "event_name", "string", "yes", "$.event"),
        ("Event Timestamp", "created_at", "datetime", "yes", "$.timestamp"),
        ("User ID", "user_id", "string", "*", "$.userId"),
        ("Email Address", "email", "string (email)", "*", "$.properties.email"),
        ("Contact ID", "id", "string", "*", None),
        ("Revenue", "revenue", "number", "", "$.properties.revenue"),
        ("Currency", "currency", "string", "", "$.properties.currency"),
        ("Event Metadata", "metadata", "object", "", "$.properties"),
    ),
}


def _contract_type(field_type: str, field_format: str | None, choices: tuple[str, ...]) -> str:
    if choices:
        return f"{field_type}, " + " or ".join(f"`{choice}`" for choice in choices)
    if field_format == "uri":
        return f"{field_type} (URI)"
    if field_format is not None:
        return f"{field_type} ({field_format})"
    return field_type


def _required_mark(action_key: str, field_key: str, required: bool) -> str:
    if required:
        return "yes"
    in_a_rule = any(field_key in rule.field_keys for rule in get_action(action_key).rules)
    return "*" if in_a_rule else ""


@pytest.mark.parametrize("action_key", CONTRACT)
def test_fields_are_the_contract_rows_in_order(action_key):
    catalog_rows = tuple(
        (
            field.label,
            field.key,
            _contract_type(field.type, field.format, field.choices),
            _required_mark(action_key, field.key, field.required),
            field.default_path,
        )
        for field in get_action(action_key).fields
    )

    assert catalog_rows == CONTRACT[action_key]


def test_actions_titles_and_default_triggers():
    summary = [(a.key, a.title, a.default_trigger) for a in ACTIONS.values()]

    assert summary == [
        ("identify_contact", "Identify Contact", 'type = "identify"'),
        ("identify_company", "Identify Company", 'type = "group"'),
        ("track_event", "Track Event", 'type = "track"'),
    ]


def test_conditional_rules_are_the_contracts():
    rules = {key: action.rules for key, action in ACTIONS.items()}

    assert rules == {
        "identify_contact": (
            RequiredOneOf(("external_id", "email"), when=FieldEquals("role", "user")),
        ),
        "identify_company": (),
        "track_event": (RequiredOneOf(("user_id", "email", "id")),),
    }


def test_every_action_and_field_explains_itself_in_a_sentence():
    descriptions = [action.description for action in ACTIONS.values()] + [
        field.description for action in ACTIONS.values() for field in action.fields
    ]

    for description in descriptions:
        assert description[0].isupper() or description[0] == '"', description
        assert description.endswith("."), description


def test_default_mapping_is_segment_mapping_json():
    track = get_action("track_event")

    assert track.field("event_name").default_mapping == {"@path": "$.event"}
    assert track.field("id").default_mapping is None


def test_default_fields_of_track_event():
    assert default_fields("track_event") == {
        "event_name": {"@path": "$.event"},
        "created_at": {"@path": "$.timestamp"},
        "user_id": {"@path": "$.userId"},
        "email": {"@path": "$.properties.email"},
        "revenue": {"@path": "$.properties.revenue"},
        "currency": {"@path": "$.properties.currency"},
        "metadata": {"@path": "$.properties"},
    }


def test_identify_contact_defaults_carry_the_chosen_role_as_a_literal():
    fields = default_fields("identify_contact", role="lead")

    assert list(fields) == [
        "role",
        "external_id",
        "email",
        "phone",
        "name",
        "avatar",
        "last_seen_at",
    ]
    assert fields["role"] == "lead"


@pytest.mark.parametrize("role", [None, "admin", "User"])
def test_identify_contact_refuses_a_missing_or_unknown_role(role):
    with pytest.raises(CatalogError, match='Identify Contact needs a role: "user" or "lead"'):
        default_fields("identify_contact", role=role)


def test_other_actions_refuse_a_role():
    with pytest.raises(CatalogError, match="Identify Company has no role"):
        new_mapping("identify_company", role="user")


def test_new_mapping_is_the_exported_json_shape():
    mapping = new_mapping("identify_company")

    assert json.loads(json.dumps(mapping)) == {
        "action": "identify_company",
        "trigger": 'type = "group"',
        "fields": {
            "company_id": {"@path": "$.groupId"},
            "name": {"@path": "$.traits.name"},
            "remote_created_at": {"@path": "$.traits.createdAt"},
            "monthly_spend": {"@path": "$.traits.monthly_spend"},
            "plan": {"@path": "$.traits.plan"},
            "size": {"@path": "$.traits.employees"},
            "website": {"@path": "$.traits.website"},
            "industry": {"@path": "$.traits.industry"},
            "external_id": {"@path": "$.userId"},
            "email": {"@path": "$.traits.email"},
        },
    }


def test_new_mappings_do_not_share_state():
    first = new_mapping("track_event")
    first["fields"]["event_name"]["@path"] = "$.properties.name"

    assert new_mapping("track_event")["fields"]["event_name"] == {"@path": "$.event"}


def test_unknown_action_is_named_in_the_error():
    with pytest.raises(CatalogError) as raised:
        get_action("identify_user")

    assert str(raised.value) == (
        'There is no action "identify_user"; the actions are "identify_contact", '
        '"identify_company", "track_event".'
    )


def test_unknown_field_is_named_in_the_error():
    with pytest.raises(CatalogError, match=r'Track Event has no field "userId"\.'):
        get_action("track_event").field("userId")


def test_field_choices_for_the_editor():
    assert field_choices("track_event") == (
        ("event_name", "Event Name"),
        ("created_at", "Event Timestamp"),
        ("user_id", "User ID"),
        ("email", "Email Address"),
        ("id", "Contact ID"),
        ("revenue", "Revenue"),
        ("currency", "Currency"),
        ("metadata", "Event Metadata"),
    )


def test_catalog_entries_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_action("track_event").fields[0].required = False  # type: ignore[misc]
