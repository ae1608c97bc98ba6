"""Pages and htmx endpoints of the mappings app: a destination's mappings, the mapping
editor with its live checks, quick setup, import and export.

Every destination and mapping is looked up within the signed-in user's organisation, so
another organisation's objects answer 404 on every page and every endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console.models import Destination
from mappings import selectors, services
from mappings.actions import ACTIONS
from mappings.forms import (
    EVENT_TYPES,
    KIND_CHOICES,
    OPERATOR_CHOICES,
    EditorDraft,
    ImportForm,
    QuickSetupForm,
    RenameForm,
    TriggerCheck,
    TriggerDraft,
    trigger_in_words,
)
from mappings.models import MAPPINGS_PER_DESTINATION, Mapping

# Offered in every path box, before the source's own recent paths arrive.
COMMON_PATHS = (
    "$.userId",
    "$.anonymousId",
    "$.event",
    "$.name",
    "$.groupId",
    "$.timestamp",
    "$.messageId",
    "$.properties",
    "$.properties.email",
    "$.properties.revenue",
    "$.properties.currency",
    "$.traits",
    "$.traits.email",
    "$.traits.name",
    "$.traits.phone",
    "$.traits.createdAt",
    "$.context.traits.email",
    "$.context.ip",
    "$.context.page.url",
)


def _destination(request: HttpRequest, pk: int) -> Destination:
    return get_object_or_404(
        selectors.mapping_destinations_of(organization=request.organization), pk=pk
    )


def _mapping(request: HttpRequest, pk: int) -> Mapping:
    return get_object_or_404(selectors.mappings_of(organization=request.organization), pk=pk)


def _messages_of(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"general": error.messages}


# --- The list ------------------------------------------------------------------------------


@dataclass
class _Row:
    mapping: Mapping
    action_title: str
    trigger_words: str
    rename_error: str = ""


def _list_context(destination: Destination, **extra: Any) -> dict[str, Any]:
    mappings = list(selectors.mappings_of_destination(destination=destination))
    rename_errors = extra.pop("rename_errors", {})
    rows = [
        _Row(
            mapping,
            ACTIONS[mapping.action].title if mapping.action in ACTIONS else mapping.action,
            trigger_in_words(mapping.trigger),
            rename_errors.get(mapping.pk, ""),
        )
        for mapping in mappings
    ]
    return {
        "destination": destination,
        "rows": rows,
        "count": len(rows),
        "limit": MAPPINGS_PER_DESTINATION,
        "full": len(rows) >= MAPPINGS_PER_DESTINATION,
        "room": max(MAPPINGS_PER_DESTINATION - len(rows), 0),
        "quick_setup_form": extra.pop("quick_setup_form", None) or QuickSetupForm(),
        **extra,
    }


def _list_response(
    request: HttpRequest, destination: Destination, *, status: str = "", error: str = "", **extra
) -> HttpResponse:
    """The list fragment for htmx; otherwise a flash message and the list page."""
    if request.htmx:
        return render(
            request,
            "mappings/mapping_list.html#mappings",
            _list_context(destination, status=status, error=error, **extra),
        )
    if error:
        messages.error(request, error)
    elif status:
        messages.success(request, status)
    return redirect("mapping_list", destination_pk=destination.pk)


@require_GET
def mapping_list(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    template = "mappings/mapping_list.html"
    return render(
        request, f"{template}#mappings" if request.htmx else template, _list_context(destination)
    )


@require_POST
def mapping_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    services.mapping_set_enabled(mapping=mapping, enabled=request.POST.get("enabled") == "on")
    if request.htmx:
        return render(request, "mappings/mapping_list.html#toggle", {"mapping": mapping})
    state = "enabled" if mapping.enabled else "disabled"
    return _list_response(request, mapping.destination, status=f"“{mapping.name}” {state}.")


@require_POST
def mapping_rename(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    form = RenameForm(request.POST)
    old_name = mapping.name
    error = ""
    if form.is_valid():
        try:
            services.mapping_rename(mapping=mapping, name=form.cleaned_data["name"])
        except ValidationError as refusal:
            error = refusal.messages[0]
    else:
        error = "Give the mapping a name of at most 200 characters."
    if error:
        return _list_response(
            request, mapping.destination, error=error, rename_errors={mapping.pk: error}
        )
    return _list_response(
        request, mapping.destination, status=f"Renamed “{old_name}” to “{mapping.name}”."
    )


@require_POST
def mapping_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    try:
        copy = services.mapping_duplicate(mapping=mapping)
    except ValidationError as refusal:
        return _list_response(request, mapping.destination, error=refusal.messages[0])
    return _list_response(
        request, mapping.destination, status=f"Made “{copy.name}”, disabled until you enable it."
    )


@require_POST
def mapping_move(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("Move a mapping up or down.")
    services.mapping_move(mapping=mapping, direction=direction)
    return _list_response(
        request, mapping.destination, status=f"Moved “{mapping.name}” {direction}."
    )


@require_http_methods(["GET", "POST"])
def mapping_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    if request.method == "POST":
        services.mapping_delete(mapping=mapping)
        return _list_response(request, mapping.destination, status=f"Deleted “{mapping.name}”.")
    return render(request, "mappings/mapping_delete.html", {"mapping": mapping})


@require_POST
def mapping_quick_setup(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    form = QuickSetupForm(request.POST)
    if not form.is_valid():
        return _list_response(
            request,
            destination,
            error="Choose whether identified people are users or leads.",
            quick_setup_form=form,
        )
    try:
        created = services.mapping_quick_setup(destination=destination, **form.cleaned_data)
    except ValidationError as refusal:
        return _list_response(request, destination, error=refusal.messages[0])
    state = "enabled" if form.cleaned_data["enabled"] else "disabled until you enable them"
    names = ", ".join(mapping.name for mapping in created)
    return _list_response(request, destination, status=f"Added {names}, {state}.")


# --- The editor ----------------------------------------------------------------------------


def _draft_context(draft: EditorDraft, mapping: Mapping | None) -> dict[str, Any]:
    payload = draft.draft_json()
    return {
        "draft_mapping_pk": mapping.pk if mapping else None,
        "draft_payload": payload,
        "draft_fields_json": json.dumps(payload["fields"], ensure_ascii=False),
        "draft_pretty": json.dumps(payload, indent=2, ensure_ascii=False),
    }


def _editor(
    request: HttpRequest,
    destination: Destination,
    mapping: Mapping | None,
    draft: EditorDraft,
    *,
    status: int = 200,
) -> HttpResponse:
    if draft.trigger_result is None:
        draft.refresh_trigger()
    context = {
        "destination": destination,
        "mapping": mapping,
        "draft": draft,
        **_draft_context(draft, mapping),
        "actions": ACTIONS.values(),
        "kind_choices": KIND_CHOICES,
        "operator_choices": OPERATOR_CHOICES,
        "event_types": EVENT_TYPES,
        "common_paths": COMMON_PATHS,
        "editor_url": reverse("mapping_edit", args=[mapping.pk])
        if mapping
        else reverse("mapping_create", args=[destination.pk]),
    }
    if request.htmx:
        # htmx leaves 4xx answers unswapped; the problems are in the fragment.
        return render(request, "mappings/mapping_editor.html#editor", context)
    return render(request, "mappings/mapping_editor.html", context, status=status)


def _editor_post(
    request: HttpRequest, destination: Destination, mapping: Mapping | None
) -> HttpResponse:
    draft = EditorDraft.from_post(request.POST)
    operation = request.POST.get("_op", "save")
    if operation != "save":
        draft.apply(operation, request.POST)
        return _editor(request, destination, mapping, draft)
    if draft.input_problems():
        return _editor(request, destination, mapping, draft, status=400)
    changes = {
        "name": draft.name,
        "action": draft.action.key,
        "trigger": draft.trigger_fql(),
        "fields": draft.fields(),
        "enabled": draft.enabled,
    }
    try:
        if mapping is None:
            saved = services.mapping_create(destination=destination, **changes)
        else:
            saved = services.mapping_update(mapping=mapping, **changes)
    except ValidationError as refusal:
        draft.problems, draft.refused = _messages_of(refusal), True
        return _editor(request, destination, mapping, draft, status=400)
    messages.success(request, f"Mapping “{saved.name}” saved.")
    list_url = reverse("mapping_list", args=[destination.pk])
    if request.htmx:
        return HttpResponseClientRedirect(list_url)
    return redirect(list_url)


@require_http_methods(["GET", "POST"])
def mapping_create(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    if request.method == "POST":
        return _editor_post(request, destination, None)
    draft = EditorDraft.for_new(request.GET.get("action", ""))
    return _editor(request, destination, None, draft)


@require_http_methods(["GET", "POST"])
def mapping_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(request, pk)
    if request.method == "POST":
        return _editor_post(request, mapping.destination, mapping)
    draft = EditorDraft.for_mapping(
        name=mapping.name,
        action=mapping.action,
        trigger=mapping.trigger,
        fields=mapping.fields,
        enabled=mapping.enabled,
    )
    return _editor(request, mapping.destination, mapping, draft)


@require_POST
def mapping_check_trigger(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """The live check of the trigger: valid (in words, with the FQL the builder writes) or
    the error, with a caret under the character it points at."""
    _destination(request, destination_pk)
    trigger = TriggerDraft.from_post(request.POST)
    return render(
        request,
        "mappings/mapping_editor.html#trigger-feedback",
        {"trigger": trigger, "result": trigger.check()},
    )


@require_POST
def mapping_check_field(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """The live check of one field's value editor (``field`` names it)."""
    _destination(request, destination_pk)
    draft = EditorDraft.from_post(request.POST)
    row = draft.editor_row(request.POST.get("field", ""))
    if row is None:
        return HttpResponseBadRequest("Name a field of the action.")
    draft.problems = services.mapping_problems(
        action=draft.action.key, trigger=draft.trigger_fql(), fields=draft.fields()
    )
    row = draft.editor_row(row.field.key)
    return render(request, "mappings/mapping_editor.html#field-feedback", {"row": row})


@require_POST
def mapping_value_editor(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """One value editor again, switched to the kind the user picked (``editor`` names it)."""
    destination = _destination(request, destination_pk)
    draft = EditorDraft.from_post(request.POST)
    editor = draft.editor(request.POST.get("editor", ""))
    if editor is None:
        return HttpResponseBadRequest("Name a value editor of the form.")
    return render(
        request,
        "mappings/_value_editor.html",
        {"editor": editor, "destination": destination},
    )


@require_POST
def mapping_draft(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """The draft as the Test panel receives it: action, trigger and fields (JSON)."""
    destination = _destination(request, destination_pk)
    draft = EditorDraft.from_post(request.POST)
    mapping_pk = request.POST.get("mapping", "")
    mapping = (
        selectors.mappings_of_destination(destination=destination).filter(pk=mapping_pk).first()
        if mapping_pk.isdigit()
        else None
    )
    return render(
        request,
        "mappings/mapping_editor.html#draft",
        {"oob": True, **_draft_context(draft, mapping)},
    )


# --- Import and export ---------------------------------------------------------------------


@require_GET
def mapping_export(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    response = JsonResponse(
        selectors.mapping_export(destination=destination),
        json_dumps_params={"indent": 2, "ensure_ascii": False},
    )
    filename = f"{slugify(destination.name) or 'destination'}-mappings.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@dataclass
class _PreviewRow:
    item: services.ImportItem
    words: str
    trigger_check: TriggerCheck | None


@require_http_methods(["GET", "POST"])
def mapping_import(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    form = ImportForm(request.POST or None, request.FILES or None)
    plan = None
    error = ""
    text = ""
    if request.method == "POST" and form.is_valid():
        try:
            text = form.import_text()
        except ValueError as refusal:
            error = str(refusal)
        else:
            if request.POST.get("_op") == "confirm":
                try:
                    created = services.mapping_import(
                        destination=destination,
                        text=text,
                        expected=int(request.POST.get("expected") or -1),
                    )
                except ValidationError as refusal:
                    error = refusal.messages[0]
                else:
                    count = len(created)
                    messages.success(
                        request, f"Imported {count} mapping{'' if count == 1 else 's'}."
                    )
                    return redirect("mapping_list", destination_pk=destination.pk)
            plan = services.mapping_import_preview(destination=destination, text=text)
    rows = []
    if plan is not None:
        error = error or plan.error
        for item in plan.items:
            found = item.trigger_error
            check = TriggerCheck(item.trigger, found.message, found.position) if found else None
            rows.append(_PreviewRow(item, "" if found else trigger_in_words(item.trigger), check))
    return render(
        request,
        "mappings/mapping_import.html",
        {
            "destination": destination,
            "form": form,
            "plan": plan,
            "rows": rows,
            "text": text,
            "error": error,
            "limit": MAPPINGS_PER_DESTINATION,
        },
        status=400 if error else 200,
    )
