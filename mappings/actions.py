"""The catalog of Intercom actions a mapping can run, as plain data.

Public surface:

- ``ACTIONS``: every action by key (``identify_contact``, ``identify_company``, ``track_event``),
  in the order the console lists them.
- ``get_action(key)``: one action, or ``CatalogError`` naming the unknown key.
- ``field_choices(action_key)``: ``(key, label)`` pairs for an editor's field picker.
- ``default_fields(action_key, *, role=None)`` and ``new_mapping(action_key, *, role=None)``: a
  new mapping pre-filled with the action's default mappings, in Segment's mapping JSON.
- ``effective_fields(action_key, fields)``: a mapping's fields with absent ones defaulted.
- The frozen dataclasses ``Action``, ``Field``, ``RequiredOneOf`` and ``FieldEquals``.

Fields, labels, defaults and order follow the contract in ``intercom-actions.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["string", "number", "boolean", "datetime", "object"]
FieldFormat = Literal["email", "uri"]

ROLE_CHOICES = ("user", "lead")


class CatalogError(ValueError):
    """An action key or a mapping option the catalog does not know."""


@dataclass(frozen=True)
class Field:
    """One input of an action: what the user maps a value to."""

    key: str
    label: str
    type: FieldType
    description: str
    required: bool = False
    default_path: str | None = None
    choices: tuple[str, ...] = ()
    format: FieldFormat | None = None

    @property
    def default_mapping(self) -> dict[str, str] | None:
        """The field's pre-filled mapping in Segment's mapping JSON, or None."""
        if self.default_path is None:
            return None
        return {"@path": self.default_path}


@dataclass(frozen=True)
class FieldEquals:
    """A condition on the cleaned payload: the field holds exactly this value."""

    field_key: str
    value: str


@dataclass(frozen=True)
class RequiredOneOf:
    """At least one of ``field_keys`` must have a value, whenever ``when`` holds (or always)."""

    field_keys: tuple[str, ...]
    when: FieldEquals | None = None


@dataclass(frozen=True)
class Action:
    """An Intercom action: what it does, when it runs by default, and what it needs."""

    key: str
    title: str
    description: str
    default_trigger: str
    fields: tuple[Field, ...]
    rules: tuple[RequiredOneOf, ...] = ()

    def field(self, key: str) -> Field:
        """The field with this key, or ``CatalogError`` naming it."""
        for field in self.fields:
            if field.key == key:
                return field
        raise CatalogError(f'{self.title} has no field "{key}".')


def _custom_attributes(owner: str) -> Field:
    return Field(
        key="custom_attributes",
        label="Custom Attributes",
        type="object",
        description=(
            f"Extra attributes to store on the {owner}, as an object of attribute names and "
            "values; each attribute must already exist in Intercom."
        ),
    )


IDENTIFY_CONTACT = Action(
    key="identify_contact",
    title="Identify Contact",
    description=(
        "Creates or updates a contact in Intercom when a person is identified, finding them by "
        "External ID, then by Email Address."
    ),
    default_trigger='type = "identify"',
    fields=(
        Field(
            key="role",
            label="Role",
            type="string",
            description=(
                'Whether the person is a "user" (has signed up) or a "lead" (a prospect who '
                "has not)."
            ),
            required=True,
            choices=ROLE_CHOICES,
        ),
        Field(
            key="external_id",
            label="External ID",
            type="string",
            description="Your own unique ID for the person. Leads cannot have one.",
            default_path="$.userId",
        ),
        Field(
            key="email",
            label="Email Address",
            type="string",
            description="The person's email address.",
            default_path="$.traits.email",
            format="email",
        ),
        Field(
            key="phone",
            label="Phone Number",
            type="string",
            description="The person's phone number.",
            default_path="$.traits.phone",
        ),
        Field(
            key="name",
            label="Name",
            type="string",
            description="The person's full name.",
            default_path="$.traits.name",
        ),
        Field(
            key="avatar",
            label="Avatar",
            type="string",
            description="The address (URI) of an image to show as the person's avatar.",
            default_path="$.traits.avatar",
            format="uri",
        ),
        Field(
            key="signed_up_at",
            label="Signed Up Timestamp",
            type="datetime",
            description="When the person signed up: an ISO-8601 date or a unix timestamp.",
        ),
        Field(
            key="last_seen_at",
            label="Last Seen Timestamp",
            type="datetime",
            description="When the person was last active: an ISO-8601 date or a unix timestamp.",
            default_path="$.timestamp",
        ),
        Field(
            key="owner_id",
            label="Owner ID",
            type="number",
            description="The Intercom ID of the teammate who owns this contact.",
        ),
        Field(
            key="unsubscribed_from_emails",
            label="Unsubscribed From Emails",
            type="boolean",
            description="Whether the person has opted out of emails.",
        ),
        _custom_attributes("contact"),
    ),
    rules=(RequiredOneOf(("external_id", "email"), when=FieldEquals("role", "user")),),
)

IDENTIFY_COMPANY = Action(
    key="identify_company",
    title="Identify Company",
    description=(
        "Creates or updates a company in Intercom when a group call arrives, and attaches the "
        "person who made the call to it."
    ),
    default_trigger='type = "group"',
    fields=(
        Field(
            key="company_id",
            label="Company ID",
            type="string",
            description="Your own unique ID for the company.",
            required=True,
            default_path="$.groupId",
        ),
        Field(
            key="name",
            label="Company Name",
            type="string",
            description="The company's name.",
            default_path="$.traits.name",
        ),
        Field(
            key="remote_created_at",
            label="Company Creation Time",
            type="datetime",
            description=(
                "When the company was created in your product: an ISO-8601 date or a unix "
                "timestamp."
            ),
            default_path="$.traits.createdAt",
        ),
        Field(
            key="monthly_spend",
            label="Monthly Spend",
            type="number",
            description="How much revenue the company brings you each month.",
            default_path="$.traits.monthly_spend",
        ),
        Field(
            key="plan",
            label="Company Plan",
            type="string",
            description="The name of the plan the company is on.",
            default_path="$.traits.plan",
        ),
        Field(
            key="size",
            label="Company Size",
            type="number",
            description="How many employees the company has.",
            default_path="$.traits.employees",
        ),
        Field(
            key="website",
            label="Company Website",
            type="string",
            description="The company's website address.",
            default_path="$.traits.website",
        ),
        Field(
            key="industry",
            label="Industry",
            type="string",
            description="The industry the company works in.",
            default_path="$.traits.industry",
        ),
        _custom_attributes("company"),
        Field(
            key="contact_id",
            label="Contact ID",
            type="string",
            description=(
                "The Intercom ID of the contact to attach to the company; when empty, the "
                "contact is found by External ID, then by Email Address."
            ),
        ),
        Field(
            key="external_id",
            label="External ID",
            type="string",
            description="Your own unique ID for the person to attach to the company.",
            default_path="$.userId",
        ),
        Field(
            key="email",
            label="Email Address",
            type="string",
            description="The email address of the person to attach to the company.",
            default_path="$.traits.email",
            format="email",
        ),
    ),
)

TRACK_EVENT = Action(
    key="track_event",
    title="Track Event",
    description="Records an event in Intercom on the timeline of the person who did it.",
    default_trigger='type = "track"',
    fields=(
        Field(
            key="event_name",
            label="Event Name",
            type="string",
            description=(
                "The name of the event; periods and dollar signs are replaced with hyphens."
            ),
            required=True,
            default_path="$.event",
        ),
        Field(
            key="created_at",
            label="Event Timestamp",
            type="datetime",
            description="When the event happened: an ISO-8601 date or a unix timestamp.",
            required=True,
            default_path="$.timestamp",
        ),
        Field(
            key="user_id",
            label="User ID",
            type="string",
            description="Your own unique ID for the person (their External ID in Intercom).",
            default_path="$.userId",
        ),
        Field(
            key="email",
            label="Email Address",
            type="string",
            description="The person's email address, used when there is no User ID.",
            default_path="$.properties.email",
            format="email",
        ),
        Field(
            key="id",
            label="Contact ID",
            type="string",
            description="The Intercom ID of the contact, when you know it.",
        ),
        Field(
            key="revenue",
            label="Revenue",
            type="number",
            description="The amount of money the event is worth, in the Currency below.",
            default_path="$.properties.revenue",
        ),
        Field(
            key="currency",
            label="Currency",
            type="string",
            description="The three-letter currency code of the revenue; USD when empty.",
            default_path="$.properties.currency",
        ),
        Field(
            key="metadata",
            label="Event Metadata",
            type="object",
            description=(
                "Details to store with the event; Intercom keeps at most 10 flat keys, so "
                "nested values are dropped."
            ),
            default_path="$.properties",
        ),
    ),
    rules=(RequiredOneOf(("user_id", "email", "id")),),
)

ACTIONS: dict[str, Action] = {
    action.key: action for action in (IDENTIFY_CONTACT, IDENTIFY_COMPANY, TRACK_EVENT)
}


def get_action(key: str) -> Action:
    """The action with this key, or ``CatalogError`` naming the key and the known ones."""
    try:
        return ACTIONS[key]
    except KeyError:
        known = ", ".join(f'"{known_key}"' for known_key in ACTIONS)
        raise CatalogError(f'There is no action "{key}"; the actions are {known}.') from None


def field_choices(action_key: str) -> tuple[tuple[str, str], ...]:
    """``(key, label)`` for every field of the action, in display order."""
    return tuple((field.key, field.label) for field in get_action(action_key).fields)


def default_fields(action_key: str, *, role: str | None = None) -> dict[str, Any]:
    """Mapping JSON of every field that has a default, plus the chosen role.

    Identify Contact has no default role, so ``role`` is required for it (``"user"`` or
    ``"lead"``, stored as a literal) and refused for the other actions.
    """
    action = get_action(action_key)
    fields: dict[str, Any] = {}
    if action is IDENTIFY_CONTACT:
        if role not in ROLE_CHOICES:
            raise CatalogError(f'{action.title} needs a role: "user" or "lead" (got {role!r}).')
        fields["role"] = role
    elif role is not None:
        raise CatalogError(f"{action.title} has no role; only Identify Contact takes one.")
    for field in action.fields:
        if field.default_mapping is not None:
            fields[field.key] = field.default_mapping
    return fields


def effective_fields(action_key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping's fields with each absent field given its default mapping, as a mapping
    exported without some fields runs. A field mapped to ``null`` stays unmapped."""
    merged = dict(fields)
    for field in get_action(action_key).fields:
        if field.key not in merged and field.default_mapping is not None:
            merged[field.key] = field.default_mapping
    return merged


def new_mapping(action_key: str, *, role: str | None = None) -> dict[str, Any]:
    """A new mapping as the console exports it: ``{"action", "trigger", "fields"}``."""
    return {
        "action": action_key,
        "trigger": get_action(action_key).default_trigger,
        "fields": default_fields(action_key, role=role),
    }
