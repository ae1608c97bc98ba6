"""Writes of the mappings app: a destination's mappings, quick setup and import.

Every mapping is checked before it is saved (``mapping_problems``): the action exists, the
trigger parses, the field mapping passes the mapping kit's checks, required fields are
mapped and literal values fit their fields. Adding mappings happens under the destination's
row lock (``claim_mapping_slots``), so no destination ever holds more than
``MAPPINGS_PER_DESTINATION``; batches (quick setup, import) are checked whole and saved in
one transaction, all or nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction

from console.models import Destination
from mappings.actions import ACTIONS, ROLE_CHOICES, Action, CatalogError, get_action, new_mapping
from mappings.directives import MappingError, validate
from mappings.models import MAPPINGS_PER_DESTINATION, Mapping, claim_mapping_slots
from mappings.payload import PayloadError, validate_payload
from mappings.triggers import TriggerError, parse

NAME_LENGTH = Mapping._meta.get_field("name").max_length
IMPORT_TEXT_LIMIT = 1_000_000
"""Largest import accepted, in characters: 50 mappings fit in far less."""


# --- Checking one mapping ------------------------------------------------------------------


def field_problem_key(field_key: str) -> str:
    """The key under which ``mapping_problems`` reports a problem of one field."""
    return f"fields.{field_key}"


def mapping_problems(*, action: str, trigger: str, fields: object) -> dict[str, list[str]]:
    """Every reason this mapping cannot be saved, by what it is about: ``"action"``,
    ``"trigger"``, ``"fields"`` or ``field_problem_key(key)``; empty when it can be saved."""
    problems: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    try:
        parse(trigger)
    except TriggerError as error:
        add("trigger", error.message)
    try:
        catalog_action: Action | None = get_action(action)
    except CatalogError:
        catalog_action = None
        titles = ", ".join(known.title for known in ACTIONS.values())
        add("action", f"Choose an action: {titles}.")
    if not isinstance(fields, dict):
        add("fields", "The fields must be a JSON object of field keys and mappings.")
        return problems
    try:
        validate(fields)
    except MappingError as error:
        for message in error.messages:
            key = message[1:].split("/", 1)[0].split(" ", 1)[0] if message.startswith("/") else ""
            add(field_problem_key(key) if key in fields else "fields", message)
    if catalog_action is not None:
        for key, message in _catalog_problems(catalog_action, fields):
            add(field_problem_key(key) if key else "fields", message)
    return problems


def _catalog_problems(action: Action, fields: dict[str, Any]) -> Iterable[tuple[str, str]]:
    known = {field.key for field in action.fields}
    for key in fields:
        if key not in known:
            yield key, f'{action.title} has no field "{key}".'
    mapped = {
        field.key: fields.get(field.key, field.default_mapping)
        for field in action.fields
        if not _unmapped(fields.get(field.key, field.default_mapping))
    }
    for field in action.fields:
        if field.required and field.key not in mapped:
            yield field.key, f"{field.label} is required: map it to a path, a template or a value."
        elif field.key in mapped and not _holds_directive(mapped[field.key]):
            for message in _literal_problems(action, field, mapped):
                yield field.key, message
    for rule in action.rules:
        if rule.when is not None and mapped.get(rule.when.field_key) != rule.when.value:
            continue
        if not any(key in mapped for key in rule.field_keys):
            labels = [action.field(key).label for key in rule.field_keys]
            condition = ""
            if rule.when is not None:
                label = action.field(rule.when.field_key).label
                condition = f" when {label} is “{rule.when.value}”"
            yield rule.field_keys[0], f"Map {_or_list(labels)}: one of them is needed{condition}."


def _literal_problems(action: Action, field: Any, mapped: dict[str, Any]) -> list[str]:
    alone = dataclasses.replace(
        action, fields=(dataclasses.replace(field, required=False),), rules=()
    )
    try:
        validate_payload(alone, {field.key: mapped[field.key]})
    except PayloadError as error:
        return list(error.errors)
    return []


def _unmapped(node: object) -> bool:
    return node is None or node == ""


def _holds_directive(node: object) -> bool:
    if isinstance(node, dict):
        return any(key.startswith("@") for key in node) or any(
            _holds_directive(value) for value in node.values()
        )
    if isinstance(node, list):
        return any(_holds_directive(item) for item in node)
    return False


def _or_list(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} or {labels[-1]}"


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the mapping a name."})
    if len(name) > NAME_LENGTH:
        raise ValidationError({"name": f"Keep the name to {NAME_LENGTH} characters or fewer."})
    return name


def _check(*, name: str, action: str, trigger: str, fields: object) -> str:
    problems: dict[str, list[str]] = mapping_problems(action=action, trigger=trigger, fields=fields)
    try:
        name = _checked_name(name)
    except ValidationError as error:
        problems.update(error.message_dict)
    if problems:
        raise ValidationError(problems)
    return name


# --- One mapping ---------------------------------------------------------------------------


def _next_position(destination_id: int) -> int:
    last = (
        Mapping.objects.filter(destination_id=destination_id)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


def mapping_create(
    *,
    destination: Destination,
    name: str,
    action: str,
    trigger: str,
    fields: dict[str, Any],
    enabled: bool = False,
) -> Mapping:
    """A new mapping at the end of the destination's list, once it passes every check."""
    name = _check(name=name, action=action, trigger=trigger, fields=fields)
    with transaction.atomic():
        claim_mapping_slots(destination_id=destination.pk, count=1)
        mapping = Mapping(
            destination=destination,
            name=name,
            action=action,
            trigger=trigger,
            fields=fields,
            enabled=enabled,
            position=_next_position(destination.pk),
        )
        mapping.save()
    return mapping


def mapping_update(
    *,
    mapping: Mapping,
    name: str,
    action: str,
    trigger: str,
    fields: dict[str, Any],
    enabled: bool,
) -> Mapping:
    mapping.name = _check(name=name, action=action, trigger=trigger, fields=fields)
    mapping.action = action
    mapping.trigger = trigger
    mapping.fields = fields
    mapping.enabled = enabled
    mapping.save()
    return mapping


def mapping_set_enabled(*, mapping: Mapping, enabled: bool) -> Mapping:
    mapping.enabled = enabled
    mapping.save(update_fields=["enabled", "updated_at"])
    return mapping


def mapping_rename(*, mapping: Mapping, name: str) -> Mapping:
    mapping.name = _checked_name(name)
    mapping.save(update_fields=["name", "updated_at"])
    return mapping


def _renumber(mappings: list[Mapping]) -> None:
    changed = []
    for position, mapping in enumerate(mappings):
        if mapping.position != position:
            mapping.position = position
            changed.append(mapping)
    Mapping.objects.bulk_update(changed, ["position"])


def mapping_duplicate(*, mapping: Mapping) -> Mapping:
    """A disabled copy right below the original: two enabled copies would send twice."""
    with transaction.atomic():
        claim_mapping_slots(destination_id=mapping.destination_id, count=1)
        siblings = list(Mapping.objects.filter(destination_id=mapping.destination_id))
        copy = Mapping(
            destination_id=mapping.destination_id,
            name=f"Copy of {mapping.name}"[:NAME_LENGTH],
            action=mapping.action,
            trigger=mapping.trigger,
            fields=mapping.fields,
            enabled=False,
            position=len(siblings),
        )
        copy.save()
        index = next(i for i, sibling in enumerate(siblings) if sibling.pk == mapping.pk)
        siblings.insert(index + 1, copy)
        _renumber(siblings)
    return copy


def mapping_move(*, mapping: Mapping, direction: Literal["up", "down"]) -> bool:
    """Swap the mapping with its neighbour; False when it is already first (or last)."""
    with transaction.atomic():
        claim_mapping_slots(destination_id=mapping.destination_id, count=0)
        siblings = list(Mapping.objects.filter(destination_id=mapping.destination_id))
        index = next(i for i, sibling in enumerate(siblings) if sibling.pk == mapping.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(siblings):
            return False
        siblings[index], siblings[other] = siblings[other], siblings[index]
        _renumber(siblings)
    return True


def mapping_delete(*, mapping: Mapping) -> None:
    mapping.delete()


def mapping_quick_setup(
    *, destination: Destination, role: str, enabled: bool = False
) -> list[Mapping]:
    """Segment's three default mappings: Identify Contact (with ``role``), Identify Company
    and Track Event, each with its default trigger and fields."""
    if role not in ROLE_CHOICES:
        raise ValidationError({"role": "Choose whether identified people are users or leads."})
    templates = [
        new_mapping(action_key, role=role if action_key == "identify_contact" else None)
        for action_key in ACTIONS
    ]
    with transaction.atomic():
        claim_mapping_slots(destination_id=destination.pk, count=len(templates))
        position = _next_position(destination.pk)
        created = []
        for offset, template in enumerate(templates):
            mapping = Mapping(
                destination=destination,
                name=get_action(template["action"]).title,
                position=position + offset,
                enabled=enabled,
                **template,
            )
            mapping.save()
            created.append(mapping)
    return created


# --- Import --------------------------------------------------------------------------------


def _normalised_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_ACTION_NAMES: dict[str, str] = {
    **{_normalised_name(key): key for key in ACTIONS},
    **{_normalised_name(action.title): key for key, action in ACTIONS.items()},
    # Segment's slug for Identify Company, from the action's first title.
    "groupidentifycontact": "identify_company",
}
_SEGMENT_ACTION_KEYS = ("partnerAction", "actionSlug", "actionId", "actionName", "action")
_SEGMENT_MARKERS = frozenset({"subscribe", "mapping", "partnerAction", "actionId", "actionSlug"})


@dataclasses.dataclass
class ImportItem:
    """One mapping of an import: what would be created, or why it is refused."""

    number: int
    format: Literal["Ferry", "Segment"]
    name: str = ""
    action: str = ""
    trigger: str = ""
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    enabled: bool = False
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    trigger_error: TriggerError | None = None

    @property
    def action_title(self) -> str:
        return ACTIONS[self.action].title if self.action in ACTIONS else ""

    @property
    def accepted(self) -> bool:
        return not self.problems


@dataclasses.dataclass
class ImportPlan:
    """What importing a text would do to a destination that holds ``held`` mappings."""

    held: int
    items: list[ImportItem] = dataclasses.field(default_factory=list)
    error: str = ""

    @property
    def accepted(self) -> list[ImportItem]:
        return [item for item in self.items if item.accepted]

    @property
    def refused(self) -> list[ImportItem]:
        return [item for item in self.items if not item.accepted]


def _import_entries(text: str) -> list[Any]:
    """The list of mapping objects in an import text, or ``ValueError`` saying why not."""
    if len(text) > IMPORT_TEXT_LIMIT:
        raise ValueError("This import is larger than 1 MB; 50 mappings fit in far less.")
    if not text.strip():
        raise ValueError("Paste the JSON of an export, or choose a file.")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"This is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        # Segment's Public API answers {"data": {"subscriptions": [...]}}.
        document = document["data"]
    if isinstance(document, dict):
        if "mappings" in document:
            document = document["mappings"]
        elif "subscriptions" in document:
            document = document["subscriptions"]
            if isinstance(document, str):
                # Segment's settings hold the subscriptions as JSON text.
                try:
                    document = json.loads(document)
                except json.JSONDecodeError:
                    raise ValueError('"subscriptions" holds text that is not JSON.') from None
        elif "action" in document or _SEGMENT_MARKERS & document.keys():
            document = [document]
    if not isinstance(document, list):
        raise ValueError(
            "Expected Ferry's export ({\"mappings\": [...]}) or Segment's subscriptions (a list, "
            'or {"subscriptions": [...]}, of objects with "subscribe", "mapping" and '
            '"partnerAction").'
        )
    if not document:
        raise ValueError("This import holds no mappings.")
    return document


def _segment_action(entry: dict[str, Any]) -> tuple[str, str]:
    """The action key an entry names, and the name it was given (for messages)."""
    given = ""
    for key in _SEGMENT_ACTION_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and value:
            found = _ACTION_NAMES.get(_normalised_name(value))
            if found:
                return found, value
            given = given or value
    return "", given


def _import_item(number: int, entry: object) -> ImportItem:
    if not isinstance(entry, dict):
        item = ImportItem(number=number, format="Ferry")
        item.problems.append("This entry is not a JSON object.")
        return item
    segment = bool(_SEGMENT_MARKERS & entry.keys())
    item = ImportItem(number=number, format="Segment" if segment else "Ferry")
    if segment:
        item.action, given = _segment_action(entry)
        trigger = entry.get("subscribe", entry.get("trigger"))
        fields = entry.get("mapping", entry.get("settings", {}))
    else:
        given = entry.get("action") if isinstance(entry.get("action"), str) else ""
        item.action = _ACTION_NAMES.get(_normalised_name(given), "") if given else ""
        trigger = entry.get("trigger")
        fields = entry.get("fields", {})
    titles = ", ".join(f"“{action.title}”" for action in ACTIONS.values())
    if not item.action:
        named = f"Unknown action “{given}”" if given else "No action is named"
        item.problems.append(f"{named}: Ferry's actions are {titles}.")
    name = entry.get("name")
    item.name = (name.strip() if isinstance(name, str) else "") or item.action_title
    if len(item.name) > NAME_LENGTH:
        item.problems.append(f"The name is longer than {NAME_LENGTH} characters.")
    item.enabled = entry.get("enabled") is True
    if not isinstance(trigger, str) or not trigger.strip():
        item.problems.append('The trigger is missing: give FQL such as type = "track".')
    else:
        item.trigger = trigger
        try:
            parse(trigger)
        except TriggerError as error:
            item.trigger_error = error
            item.problems.append(f"Bad trigger: {error.message}")
    if not isinstance(fields, dict):
        item.problems.append("The field mapping must be a JSON object.")
        return item
    item.fields = dict(fields)
    if item.action:
        _fit_fields(item, ACTIONS[item.action], from_segment=segment)
        problems = mapping_problems(action=item.action, trigger=item.trigger, fields=item.fields)
        problems.pop("trigger", None)
        item.problems.extend(message for messages in problems.values() for message in messages)
    return item


def _fit_fields(item: ImportItem, action: Action, *, from_segment: bool) -> None:
    known = {field.key for field in action.fields}
    unknown = [key for key in item.fields if key not in known]
    if unknown:
        for key in unknown:
            del item.fields[key]
        listed = ", ".join(f"“{key}”" for key in unknown)
        item.notes.append(f"Left out keys {action.title} does not have: {listed}.")
    if from_segment:
        # Segment runs only what a subscription maps; Ferry would default an absent field.
        absent = [
            field
            for field in action.fields
            if field.key not in item.fields and field.default_mapping is not None
        ]
        for field in absent:
            item.fields[field.key] = None
        if absent:
            labels = ", ".join(field.label for field in absent)
            item.notes.append(f"Not mapped, as in Segment: {labels}.")


def _plan(text: str, held: int) -> ImportPlan:
    plan = ImportPlan(held=held)
    try:
        entries = _import_entries(text)
    except ValueError as error:
        plan.error = str(error)
        return plan
    plan.items = [_import_item(number, entry) for number, entry in enumerate(entries, 1)]
    room = max(MAPPINGS_PER_DESTINATION - held, 0)
    fitting = "no more fit" if room == 0 else f"only {room} more {'fits' if room == 1 else 'fit'}"
    for item in plan.accepted[room:]:
        item.problems.append(
            f"Over the limit: the destination has {held} of {MAPPINGS_PER_DESTINATION} mappings, "
            f"so {fitting}."
        )
    return plan


def mapping_import_preview(*, destination: Destination, text: str) -> ImportPlan:
    """What importing ``text`` (Ferry's export or Segment's subscriptions) would create."""
    return _plan(text, Mapping.objects.filter(destination=destination).count())


def mapping_import(*, destination: Destination, text: str, expected: int) -> list[Mapping]:
    """Create every accepted mapping of the import in one transaction, or none.

    ``expected`` is how many the preview promised; if the destination changed since, so that
    the same text would now create a different set, nothing is created.
    """
    with transaction.atomic():
        held = claim_mapping_slots(destination_id=destination.pk, count=0)
        plan = _plan(text, held)
        if plan.error:
            raise ValidationError(plan.error)
        accepted = plan.accepted
        if len(accepted) != expected:
            raise ValidationError(
                "The destination's mappings changed since the preview, so this import would "
                "now create a different set. Nothing was imported; check the preview again."
            )
        if not accepted:
            raise ValidationError("Nothing to import: every mapping in it is refused.")
        claim_mapping_slots(destination_id=destination.pk, count=len(accepted))
        position = _next_position(destination.pk)
        created = []
        for offset, item in enumerate(accepted):
            mapping = Mapping(
                destination=destination,
                name=item.name,
                action=item.action,
                trigger=item.trigger,
                fields=item.fields,
                enabled=item.enabled,
                position=position + offset,
            )
            mapping.save()
            created.append(mapping)
    return created
