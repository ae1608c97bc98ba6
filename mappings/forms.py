"""What the mapping editor's form holds, read back from a POST, valid or not.

The editor is one HTML form that works without JavaScript: structural buttons (add a
condition, switch to FQL, add a key-value row, change the action) post the whole form and
get it back changed, and htmx only swaps the result in place. So the whole draft lives in
the form fields, named by these prefixes:

- ``t-…`` the trigger: ``t-mode`` (``builder`` or ``raw``), ``t-match`` (``all``/``any``),
  ``t-rows`` and per condition ``t-<i>-kind``, ``-path``, ``-op``, ``-value``, ``-vtype``;
  ``t-fql`` in raw mode.
- ``v-<field key>-…`` a field's value editor: ``-kind`` (how the value is written),
  ``-was`` (the kind the text is written in), ``-text``, and for key-value rows ``-rows``
  with ``v-<field key>-<i>-key`` plus a value editor of prefix ``v-<field key>-<i>``.

Also here: the trigger builder's vocabulary and ``trigger_in_words``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping as MappingType
from typing import Any, Final

from django import forms

from mappings.actions import ACTIONS, ROLE_CHOICES, Action, Field, default_fields
from mappings.services import field_problem_key
from mappings.triggers import (
    BuilderCondition,
    BuilderForm,
    TriggerError,
    builder_form,
    generate_fql,
    parse,
)

# --- The trigger builder's vocabulary ------------------------------------------------------

KIND_CHOICES: Final = (
    ("event-type", "Event type"),
    ("event", "Event name"),
    ("name", "Page or screen name"),
    ("userId", "User ID"),
    ("event-property", "Property"),
    ("event-trait", "Trait"),
    ("event-context", "Context"),
)
PATH_KINDS: Final = frozenset({"event-property", "event-trait", "event-context"})
OPERATOR_CHOICES: Final = (
    ("=", "is"),
    ("!=", "is not"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("starts_with", "starts with"),
    ("not_starts_with", "does not start with"),
    ("ends_with", "ends with"),
    ("not_ends_with", "does not end with"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
    ("number_equals", "= (number)"),
    ("number_not_equals", "≠ (number)"),
    ("<", "<"),
    ("<=", "≤"),
    (">", ">"),
    (">=", "≥"),
    ("is_true", "is true"),
    ("is_false", "is false"),
)
NO_VALUE_OPERATORS: Final = frozenset({"exists", "not_exists", "is_true", "is_false"})
_TEXT_OPERATORS: Final = frozenset(
    {"contains", "not_contains", "starts_with", "not_starts_with", "ends_with", "not_ends_with"}
)
_NUMBER_OPERATORS: Final = frozenset({"<", "<=", ">", ">=", "number_equals", "number_not_equals"})
_KIND_WORDS: Final = {
    "event-type": "event type",
    "event": "event name",
    "name": "page or screen name",
    "userId": "user ID",
    "event-property": "property",
    "event-trait": "trait",
    "event-context": "context",
}
_OPERATOR_WORDS: Final = {
    "=": "is",
    "!=": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "not_starts_with": "does not start with",
    "ends_with": "ends with",
    "not_ends_with": "does not end with",
    "exists": "exists",
    "not_exists": "does not exist",
    "number_equals": "is the number",
    "number_not_equals": "is not the number",
    "<": "is less than",
    "<=": "is at most",
    ">": "is greater than",
    ">=": "is at least",
    "is_true": "is true",
    "is_false": "is false",
}
EVENT_TYPES: Final = ("track", "identify", "group", "page", "screen", "alias")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_ROWS: Final = 100


def _value_text(value: str | float | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return "" if value is None else value


def condition_in_words(condition: BuilderCondition) -> str:
    subject = _KIND_WORDS[condition.kind]
    if condition.path:
        subject = f"{subject} {condition.path}"
    words = f"{subject} {_OPERATOR_WORDS[condition.operator]}"
    if condition.operator in NO_VALUE_OPERATORS:
        return words
    return f"{words} {_value_text(condition.value)}"


def trigger_in_words(fql: str) -> str:
    """``Event type is track and event name is Order Completed``; the FQL itself when the
    trigger is not one list of conditions (or does not parse)."""
    try:
        form = builder_form(parse(fql))
    except TriggerError:
        return fql
    if form is None:
        return fql
    joiner = " and " if form.match == "all" else " or "
    words = joiner.join(condition_in_words(condition) for condition in form.conditions)
    return words[:1].upper() + words[1:]


# --- The trigger ---------------------------------------------------------------------------


@dataclasses.dataclass
class ConditionRow:
    """One row of the builder as typed; ``vtype`` keeps a boolean read from FQL boolean."""

    kind: str = "event-type"
    path: str = ""
    operator: str = "="
    value: str = ""
    vtype: str = "text"
    error: str = ""

    @property
    def has_path(self) -> bool:
        return self.kind in PATH_KINDS

    @property
    def takes_value(self) -> bool:
        return self.operator not in NO_VALUE_OPERATORS

    @classmethod
    def from_condition(cls, condition: BuilderCondition) -> ConditionRow:
        value = condition.value
        vtype = "boolean" if isinstance(value, bool) else "text"
        return cls(condition.kind, condition.path, condition.operator, _value_text(value), vtype)

    def condition(self) -> BuilderCondition:
        """The builder condition, or ``ValueError`` with a sentence for the user."""
        if self.kind not in dict(KIND_CHOICES):
            raise ValueError("Choose what the condition tests.")
        if self.operator not in dict(OPERATOR_CHOICES):
            raise ValueError("Choose how to compare.")
        path = self.path.strip() if self.kind in PATH_KINDS else ""
        noun = _KIND_WORDS[self.kind]
        if self.kind in PATH_KINDS and not path:
            raise ValueError(f"Enter the {noun}'s path, such as plan or items.0.price.")
        value: str | bool | None = self.value
        if self.operator in NO_VALUE_OPERATORS:
            value = None
        elif self.operator in _NUMBER_OPERATORS:
            if not _NUMBER_TEXT.fullmatch(self.value.strip()):
                raise ValueError("Enter a number to compare with, such as 100 or 4.5.")
            value = self.value.strip()
        elif self.operator in _TEXT_OPERATORS and not self.value:
            raise ValueError("Enter the text to look for.")
        elif not self.value:
            raise ValueError("Enter a value to compare with (to match an empty text, use FQL).")
        elif self.vtype == "boolean" and self.value in ("true", "false"):
            value = self.value == "true"
        if isinstance(value, str) and '"' in value and "'" in value:
            raise ValueError(
                "A value cannot hold both a double and a single quote: FQL cannot write it."
            )
        try:
            return BuilderCondition(self.kind, self.operator, value, path)  # type: ignore[arg-type]
        except ValueError:
            if path:
                raise ValueError(
                    f"“{path}” is not a path: write names separated by single dots, "
                    "such as plan.name."
                ) from None
            raise ValueError("This condition cannot be written in FQL; check its value.") from None


@dataclasses.dataclass
class TriggerCheck:
    """The outcome of reading a trigger: its FQL, or the error and where it points."""

    fql: str
    error: str = ""
    position: int | None = None

    @property
    def words(self) -> str:
        return "" if self.error else trigger_in_words(self.fql)

    @property
    def caret(self) -> tuple[str, str] | None:
        """The line the error is on and a line with ``^`` under the offending character."""
        if self.position is None:
            return None
        start = self.fql.rfind("\n", 0, self.position) + 1
        end = self.fql.find("\n", self.position)
        line = self.fql[start : len(self.fql) if end < 0 else end].replace("\t", " ")
        return line, " " * (self.position - start) + "^"


@dataclasses.dataclass
class TriggerDraft:
    mode: str = "builder"
    match: str = "all"
    rows: list[ConditionRow] = dataclasses.field(default_factory=list)
    fql: str = ""
    note: str = ""
    error: str = ""

    @classmethod
    def from_fql(cls, fql: str) -> TriggerDraft:
        try:
            form = builder_form(parse(fql))
        except TriggerError:
            return cls(mode="raw", fql=fql)
        rows = [ConditionRow.from_condition(c) for c in form.conditions] if form else []
        if form is None or not _all_writable(rows):
            return cls(mode="raw", fql=fql, note=_NOT_IN_BUILDER)
        return cls(match=form.match, rows=rows)

    @classmethod
    def from_post(cls, data: MappingType[str, str]) -> TriggerDraft:
        if data.get("t-mode") == "raw":
            return cls(mode="raw", fql=data.get("t-fql", ""))
        rows = [
            ConditionRow(
                kind=data.get(f"t-{i}-kind", ""),
                path=data.get(f"t-{i}-path", ""),
                operator=data.get(f"t-{i}-op", ""),
                value=data.get(f"t-{i}-value", ""),
                vtype=data.get(f"t-{i}-vtype", "text"),
            )
            for i in range(_count(data, "t-rows"))
        ]
        return cls(match="any" if data.get("t-match") == "any" else "all", rows=rows)

    def check(self) -> TriggerCheck:
        """Read the trigger as written; row errors are kept on the rows."""
        if self.mode == "raw":
            try:
                parse(self.fql)
            except TriggerError as error:
                return TriggerCheck(self.fql, error.message, error.position)
            return TriggerCheck(self.fql)
        if not self.rows:
            return TriggerCheck("", "Add at least one condition.")
        conditions = []
        for row in self.rows:
            try:
                conditions.append(row.condition())
                row.error = ""
            except ValueError as error:
                row.error = str(error)
        failed = [number for number, row in enumerate(self.rows, 1) if row.error]
        if failed:
            listed = ", ".join(str(number) for number in failed)
            noun = "Condition" if len(failed) == 1 else "Conditions"
            return TriggerCheck("", f"{noun} {listed}: see the message beside it.")
        fql = generate_fql(BuilderForm(self.match, tuple(conditions)))  # type: ignore[arg-type]
        try:
            parse(fql)
        except TriggerError as error:
            return TriggerCheck(fql, error.message, error.position)
        return TriggerCheck(fql)

    def to_raw(self) -> None:
        check = self.check()
        if check.error:
            self.error = f"Fix the conditions before switching to FQL. {check.error}"
            return
        self.mode, self.fql, self.rows, self.note = "raw", check.fql, [], ""

    def to_builder(self) -> None:
        try:
            form = builder_form(parse(self.fql))
        except TriggerError as error:
            self.error = f"Fix the FQL before switching to the builder. {error.message}"
            return
        rows = [ConditionRow.from_condition(c) for c in form.conditions] if form else []
        if form is None or not _all_writable(rows):
            self.note = _NOT_IN_BUILDER
            return
        self.mode, self.match, self.note, self.rows = "builder", form.match, "", rows


def _all_writable(rows: list[ConditionRow]) -> bool:
    """Whether the builder can write these rows back as they are (an empty text value, say,
    it cannot)."""
    try:
        for row in rows:
            row.condition()
    except ValueError:
        return False
    return True


_NOT_IN_BUILDER: Final = (
    "The builder cannot show this trigger (it groups conditions with parentheses, negates "
    "them with !, mixes and with or, compares with empty text, or uses a pattern with * "
    "inside), so it stays in FQL."
)


def _count(data: MappingType[str, str], name: str) -> int:
    try:
        return max(0, min(int(data.get(name, "0")), _MAX_ROWS))
    except ValueError:
        return 0


# --- Value editors -------------------------------------------------------------------------

UNMAPPED: Final = object()
"""What a value editor set to "Not mapped" reads as."""

VALUE_KIND_LABELS: Final = {
    "": "Not mapped",
    "path": "Path",
    "template": "Template",
    "text": "Value",
    "pairs": "Keys and values",
    "json": "JSON",
}


def _number_literal(text: str) -> int | float | None:
    text = text.strip()
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    number = float(text)
    if not math.isfinite(number):
        return None
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    return number


def _is_directive(node: object) -> bool:
    return isinstance(node, dict) and any(key.startswith("@") for key in node)


def _template_path(text: str) -> str | None:
    found = re.fullmatch(r"\s*\{\{\s*([^{}\s]+)\s*\}\}\s*", text)
    return f"$.{found.group(1)}" if found else None


@dataclasses.dataclass
class PairDraft:
    key: str
    value: ValueDraft


@dataclasses.dataclass
class ValueDraft:
    """A value editor: how a field (``field``) or a key-value row's value (``field`` None)
    is mapped, as typed."""

    prefix: str
    field: Field | None
    kind: str = ""
    text: str = ""
    pairs: list[PairDraft] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    changed_kind: bool = False

    @property
    def kinds(self) -> list[tuple[str, str]]:
        if self.field is None:
            keys = ["path", "template", "text", "json"]
        elif self.field.type == "object":
            keys = ["", "path", "pairs", "json"]
        else:
            keys = ["", "path", "template", "text", "json"]
        return [(key, VALUE_KIND_LABELS[key]) for key in keys]

    @property
    def choices(self) -> tuple[str, ...]:
        return self.field.choices if self.field else ()

    @property
    def label(self) -> str:
        """What the editor is for, in words: the field's label, or the row of a key-value
        pair (its prefix ends with the row's index)."""
        if self.field is not None:
            return self.field.label
        index = self.prefix.rsplit("-", 1)[-1]
        return f"Value of row {int(index) + 1}" if index.isdigit() else "Value"

    @property
    def text_rows(self) -> int:
        return min(max(self.text.count("\n") + 2, 3), 20)

    @classmethod
    def from_node(cls, prefix: str, field: Field | None, node: object) -> ValueDraft:
        """The editor showing ``node`` (a field's mapping JSON) in its most natural way."""
        draft = cls(prefix, field)
        field_type = field.type if field else None
        if node is UNMAPPED or (node is None and field is not None):
            return draft
        if isinstance(node, dict) and set(node) == {"@path"} and isinstance(node["@path"], str):
            draft.kind, draft.text = "path", node["@path"]
        elif (
            isinstance(node, dict)
            and set(node) == {"@template"}
            and isinstance(node["@template"], str)
        ):
            draft.kind, draft.text = "template", node["@template"]
        elif isinstance(node, str) and field_type != "object":
            draft.kind, draft.text = "text", node
        elif (
            isinstance(node, int | float)
            and not isinstance(node, bool)
            and field_type in ("number", "datetime")
        ):
            draft.kind, draft.text = (
                "text",
                _value_text(float(node)) if isinstance(node, float) else str(node),
            )
        elif isinstance(node, bool) and field_type == "boolean":
            draft.kind, draft.text = "text", "true" if node else "false"
        elif field_type == "object" and isinstance(node, dict) and not _is_directive(node):
            draft.kind = "pairs"
            draft.pairs = [
                PairDraft(key, cls.from_node(f"{prefix}-{i}", None, value))
                for i, (key, value) in enumerate(node.items())
            ]
        else:
            draft.kind, draft.text = "json", json.dumps(node, indent=2, ensure_ascii=False)
        return draft

    @classmethod
    def from_post(cls, prefix: str, field: Field | None, data: MappingType[str, str]) -> ValueDraft:
        kinds = [key for key, _ in cls(prefix, field).kinds]
        kind = data.get(f"{prefix}-kind", "")
        kind = kind if kind in kinds else kinds[0]
        was = data.get(f"{prefix}-was", kind)
        draft = cls(prefix, field, was if was in kinds else kind, data.get(f"{prefix}-text", ""))
        if draft.kind == "pairs":
            draft.pairs = [
                PairDraft(
                    data.get(f"{prefix}-{i}-key", ""),
                    cls.from_post(f"{prefix}-{i}", None, data),
                )
                for i in range(_count(data, f"{prefix}-rows"))
            ]
        return draft.converted(kind) if kind != draft.kind else draft

    def converted(self, kind: str) -> ValueDraft:
        """This editor switched to ``kind``, keeping as much of the value as that kind holds."""
        node = self.read()
        self.errors = []
        fresh = ValueDraft(self.prefix, self.field, kind, changed_kind=True)
        if kind == "":
            return fresh
        if kind == "pairs":
            natural = ValueDraft.from_node(self.prefix, self.field, node)
            fresh.pairs = natural.pairs if natural.kind == "pairs" else []
            if not fresh.pairs:
                fresh.pairs = [PairDraft("", ValueDraft(f"{self.prefix}-0", None, "path"))]
            return fresh
        if kind == "path" and self.kind == "template":
            fresh.text = _template_path(self.text) or ""
        elif kind == "template" and self.kind == "path" and self.text.strip():
            fresh.text = "{{" + self.text.strip().removeprefix("$.") + "}}"
        elif kind == "json" and node is not UNMAPPED and node is not None:
            fresh.text = json.dumps(node, indent=2, ensure_ascii=False)
        elif node is not UNMAPPED:
            natural = ValueDraft.from_node(self.prefix, self.field, node)
            if natural.kind == kind:
                fresh.text = natural.text
        return fresh

    def read(self) -> Any:
        """The mapping JSON this editor holds (``UNMAPPED`` for "Not mapped"); problems that
        stop it from being read go to ``errors``."""
        self.errors = []
        text = self.text
        if self.kind == "":
            return UNMAPPED
        if self.kind == "path":
            if not text.strip():
                self.errors.append("Enter a path, such as $.properties.total.")
            return {"@path": text.strip()}
        if self.kind == "template":
            if not text.strip():
                self.errors.append("Enter a template, such as {{properties.name}}.")
            return {"@template": text}
        if self.kind == "json":
            try:
                return json.loads(text)
            except json.JSONDecodeError as error:
                self.errors.append(
                    f"This is not valid JSON: {error.msg} at line {error.lineno}, "
                    f"column {error.colno}."
                )
                return UNMAPPED
        if self.kind == "pairs":
            return self._read_pairs()
        return self._read_literal()

    def _read_literal(self) -> Any:
        field, text = self.field, self.text
        if field is None or field.type == "string":
            if field is not None and field.choices and text not in field.choices:
                self.errors.append(f"Choose {' or '.join(field.choices)}.")
            elif field is not None and not text:
                self.errors.append("Enter a value, or choose “Not mapped”.")
            return text
        if field.type == "boolean":
            if text.strip().lower() not in ("true", "false"):
                self.errors.append("Enter true or false.")
            return text.strip().lower() == "true"
        number = _number_literal(text)
        if field.type == "number":
            if number is None:
                self.errors.append("Enter a number, such as 12 or 4.5.")
            return number
        if not text.strip():
            self.errors.append("Enter a date, such as 2024-05-01T12:00:00Z, or unix seconds.")
        return text.strip() if number is None else number

    def _read_pairs(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for number, pair in enumerate(self.pairs, 1):
            key = pair.key.strip()
            if not key and pair.value.kind in ("path", "template", "text") and not pair.value.text:
                continue
            node = pair.value.read()
            label = f"Row {number}" if not key else f"Row “{key}”"
            self.errors.extend(f"{label}: {message}" for message in pair.value.errors)
            if not key:
                self.errors.append(f"Row {number}: give it a key.")
            elif key in result:
                self.errors.append(f"Row {number}: the key “{key}” is used twice.")
            elif node is not UNMAPPED:
                result[key] = node
        return result

    def add_pair(self) -> None:
        prefix = f"{self.prefix}-{len(self.pairs)}"
        self.pairs.append(PairDraft("", ValueDraft(prefix, None, "path")))

    def remove_pair(self, index: int) -> None:
        if 0 <= index < len(self.pairs):
            del self.pairs[index]
        for i, pair in enumerate(self.pairs):
            pair.value = _with_prefix(pair.value, f"{self.prefix}-{i}")


def _with_prefix(draft: ValueDraft, prefix: str) -> ValueDraft:
    return dataclasses.replace(draft, prefix=prefix)


# --- The whole editor ----------------------------------------------------------------------


def _sorted_fields(action: Action) -> list[Field]:
    """Required fields first, each group in the catalog's order."""
    return sorted(action.fields, key=lambda field: not field.required)


def _default_editors(action: Action) -> dict[str, ValueDraft]:
    role = ROLE_CHOICES[0] if action.key == "identify_contact" else None
    defaults = default_fields(action.key, role=role)
    editors = {
        field.key: ValueDraft.from_node(f"v-{field.key}", field, defaults.get(field.key, UNMAPPED))
        for field in action.fields
    }
    if role is not None:
        # Identify Contact has no default role: the user picks one from the choices.
        editors["role"] = ValueDraft("v-role", action.field("role"), "text", "")
    return editors


@dataclasses.dataclass
class EditorRow:
    """One field of the editor: its catalog entry, its value editor, and the problems saving
    (or the live check) found with it."""

    field: Field
    editor: ValueDraft
    problems: list[str]

    @property
    def messages(self) -> list[str]:
        return [*self.editor.errors, *self.problems]


@dataclasses.dataclass
class EditorDraft:
    """Everything the editor shows: name, action, enabled, trigger and one value editor per
    field of the action; ``problems`` are the ones saving found, keyed as the services key
    them (``"name"``, ``"trigger"``, ``"fields.<key>"`` …)."""

    name: str
    action: Action
    enabled: bool
    trigger: TriggerDraft
    values: dict[str, ValueDraft]
    problems: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    notice: str = ""
    trigger_result: TriggerCheck | None = None
    refused: bool = False

    @classmethod
    def for_new(cls, action_key: str) -> EditorDraft:
        action = ACTIONS.get(action_key) or next(iter(ACTIONS.values()))
        return cls(
            name=action.title,
            action=action,
            enabled=False,
            trigger=TriggerDraft.from_fql(action.default_trigger),
            values=_default_editors(action),
        )

    @classmethod
    def for_mapping(
        cls, *, name: str, action: str, trigger: str, fields: Any, enabled: bool
    ) -> EditorDraft:
        catalog_action = ACTIONS.get(action)
        notice = ""
        if catalog_action is None:
            catalog_action = next(iter(ACTIONS.values()))
            notice = f"This mapping's action “{action}” does not exist: choose one and save."
        stored = fields if isinstance(fields, dict) else {}
        values = {}
        for field in catalog_action.fields:
            # An absent field runs with its default (``actions.effective_fields``).
            node = stored.get(field.key, field.default_mapping)
            values[field.key] = ValueDraft.from_node(
                f"v-{field.key}", field, UNMAPPED if node is None else node
            )
        draft = cls(name, catalog_action, enabled, TriggerDraft.from_fql(trigger), values)
        draft.notice = notice
        return draft

    @classmethod
    def from_post(cls, data: MappingType[str, str]) -> EditorDraft:
        action = ACTIONS.get(data.get("action", "")) or next(iter(ACTIONS.values()))
        values = {
            field.key: ValueDraft.from_post(f"v-{field.key}", field, data)
            for field in action.fields
        }
        return cls(
            name=data.get("name", ""),
            action=action,
            enabled=data.get("enabled") == "on",
            trigger=TriggerDraft.from_post(data),
            values=values,
        )

    @property
    def editors(self) -> list[EditorRow]:
        """The fields with their editors, required fields first."""
        return [
            EditorRow(
                field,
                self.values[field.key],
                self.problems.get(field_problem_key(field.key), []),
            )
            for field in _sorted_fields(self.action)
        ]

    def editor_row(self, field_key: str) -> EditorRow | None:
        return next((row for row in self.editors if row.field.key == field_key), None)

    def editor(self, prefix: str) -> ValueDraft | None:
        """The value editor with this prefix, a field's or a key-value row's."""
        for draft in self.values.values():
            if draft.prefix == prefix:
                return draft
            for pair in draft.pairs:
                if pair.value.prefix == prefix:
                    return pair.value
        return None

    def change_action(self, action_key: str, previous_key: str) -> None:
        """Switch to another action with its defaults; a trigger or name still at the old
        action's default follows too."""
        previous = ACTIONS.get(previous_key)
        action = ACTIONS.get(action_key)
        if action is None or previous is None or action is previous:
            return
        self.values = _default_editors(action)
        if previous.default_trigger == self.trigger_fql() or not self.trigger_fql():
            self.trigger = TriggerDraft.from_fql(action.default_trigger)
        if self.name.strip() in ("", previous.title):
            self.name = action.title
        self.action = action
        self.notice = f"The fields now show {action.title}'s defaults."

    def trigger_fql(self) -> str:
        return self.trigger.check().fql if self.trigger.mode == "builder" else self.trigger.fql

    def fields(self, *, unmap_invalid: bool = False) -> dict[str, Any]:
        """The field mapping JSON; fields whose editor cannot be read are left out (or, with
        ``unmap_invalid``, unmapped)."""
        fields: dict[str, Any] = {}
        for field in self.action.fields:
            node = self.values[field.key].read()
            if self.values[field.key].errors:
                node = UNMAPPED if unmap_invalid else node
                if not unmap_invalid:
                    continue
            if node is UNMAPPED:
                if field.default_mapping is not None:
                    fields[field.key] = None
                continue
            fields[field.key] = node
        return fields

    def refresh_trigger(self) -> TriggerCheck:
        self.trigger_result = self.trigger.check()
        return self.trigger_result

    def input_problems(self) -> bool:
        """Read everything as saving would; True when something cannot be read yet (the
        problems are then on the draft, to show)."""
        trigger_failed = bool(self.refresh_trigger().error)
        self.fields()
        changed = [row.field.label for row in self.editors if row.editor.changed_kind]
        if changed:
            self.notice = (
                f"You changed how {', '.join(changed)} is written: check the value below, "
                "then save again."
            )
        unreadable = any(editor.errors for editor in self.values.values())
        self.refused = trigger_failed or bool(changed) or unreadable
        return self.refused

    def apply(self, operation: str, data: MappingType[str, str]) -> None:
        """Run a structural button of the form: ``add_condition``, ``remove_condition:<i>``,
        ``to_raw``, ``to_builder``, ``add_pair:<key>``, ``remove_pair:<key>:<i>``,
        ``action``."""
        name, _, argument = operation.partition(":")
        if name == "add_condition" and len(self.trigger.rows) < _MAX_ROWS:
            self.trigger.rows.append(ConditionRow(kind="event", operator="="))
        elif name == "remove_condition" and argument.isdigit():
            index = int(argument)
            if 0 <= index < len(self.trigger.rows):
                del self.trigger.rows[index]
        elif name == "to_raw":
            self.trigger.to_raw()
        elif name == "to_builder":
            self.trigger.to_builder()
        elif name in ("add_pair", "remove_pair"):
            key, _, index = argument.partition(":")
            editor = self.values.get(key)
            if editor is not None and editor.kind == "pairs":
                if name == "add_pair" and len(editor.pairs) < _MAX_ROWS:
                    editor.add_pair()
                elif name == "remove_pair" and index.isdigit():
                    editor.remove_pair(int(index))
        elif name == "action":
            self.change_action(data.get("action", ""), data.get("previous_action", ""))

    def draft_json(self) -> dict[str, Any]:
        """The draft as ``manage.py test_mapping`` reads a mapping; what cannot be read yet
        is left unmapped."""
        return {
            "action": self.action.key,
            "trigger": self.trigger_fql(),
            "fields": self.fields(unmap_invalid=True),
        }


class QuickSetupForm(forms.Form):
    role = forms.ChoiceField(
        label="Identified people are",
        choices=[
            ("user", "Users (they have signed up)"),
            ("lead", "Leads (prospects who have not signed up)"),
        ],
        initial="user",
        widget=forms.RadioSelect,
    )
    enabled = forms.BooleanField(
        label="Enable the three mappings now (otherwise they start disabled)", required=False
    )


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class ImportForm(forms.Form):
    text = forms.CharField(
        label="JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )
    file = forms.FileField(label="Or a file", required=False)

    def import_text(self) -> str:
        """The pasted text, or the uploaded file's; ``ValueError`` when it is not text."""
        upload = self.cleaned_data.get("file")
        if upload is None:
            return self.cleaned_data.get("text", "")
        if upload.size > 1_000_000:
            raise ValueError("This file is larger than 1 MB; 50 mappings fit in far less.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("This file is not UTF-8 text; export it as JSON again.") from None
