from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from console import selectors as console_selectors
from console.models import Destination, Source
from delivery import selectors, testing
from delivery.models import Delivery
from mappings.actions import ACTIONS, new_mapping
from mappings.models import Mapping

PAGE_SIZE = 50
DESTINATION_PAGE_SIZE = 25


@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    events = selectors.events_of(organization=request.organization)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "delivery/events.html", {"page": page})


@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    deliveries = selectors.deliveries_of(organization=request.organization)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "delivery/deliveries.html", {"page": page})


def _destination(request: HttpRequest, pk: int) -> Destination:
    return get_object_or_404(
        console_selectors.destinations_of(organization=request.organization), pk=pk
    )


def _page(request: HttpRequest, template: str, part: str, context: dict[str, Any]) -> HttpResponse:
    """The fragment for htmx, the whole page otherwise."""
    return render(request, f"{template}#{part}" if request.htmx else template, context)


def _positive_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# --- Test mapping -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def mapping_test(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """The mapping editor's Test panel: the editor posts its draft (``action``,
    ``trigger``, ``fields``, and ``mapping``, the id of the saved mapping if
    any); the panel posts it again with its own fields (``event``, ``intent``,
    ``load_event``, ``sample_type``). A GET with ``mapping`` tests that saved
    mapping on a page of its own, where the draft can be edited too."""
    destination = _destination(request, destination_pk)
    data = request.POST if request.method == "POST" else request.GET
    mapping_pk = _positive_int(data.get("mapping"))
    mapping = get_object_or_404(destination.mappings.all(), pk=mapping_pk) if mapping_pk else None
    context = _test_panel(destination, mapping, data)
    # The page of its own shows the draft's inputs, also in the fragments it swaps in.
    context["standalone"] = not request.htmx or data.get("standalone") == "1"
    return _page(request, "delivery/mapping_test.html", "panel", context)


def _draft_inputs(mapping: Mapping | None, data: QueryDict) -> dict[str, str]:
    """The draft as the form holds it: posted, else the saved mapping, else a new one."""
    if "action" in data:
        return {
            "action": data.get("action", ""),
            "trigger": data.get("trigger", ""),
            "fields": data.get("fields", ""),
        }
    if mapping is not None:
        draft = testing.draft_of(mapping)
    else:
        template = new_mapping("track_event")
        draft = testing.Draft(template["action"], template["trigger"], template["fields"])
    return {
        "action": draft.action,
        "trigger": draft.trigger,
        "fields": json.dumps(draft.fields, indent=2, ensure_ascii=False),
    }


def _test_panel(
    destination: Destination, mapping: Mapping | None, data: QueryDict
) -> dict[str, Any]:
    source = destination.source
    inputs = _draft_inputs(mapping, data)
    context: dict[str, Any] = {
        "destination": destination,
        "source": source,
        "workspace": destination.workspace,
        "workspace_problem": testing.workspace_problem(destination),
        "mapping": mapping,
        "inputs": inputs,
        "actions": ACTIONS.values(),
        "sample_types": testing.SAMPLE_TYPES,
        "choices": testing.events_to_test(source=source, trigger=inputs["trigger"]),
    }
    try:
        draft = testing.draft_parse(
            action=inputs["action"], trigger=inputs["trigger"], fields_text=inputs["fields"]
        )
    except testing.CannotTest as problem:
        draft, context["draft_problem"] = None, str(problem)
    context["draft"] = draft
    context["sample_type"] = data.get("sample_type") or (
        testing.NATURAL_TYPES[draft.action] if draft else "track"
    )
    try:
        context["event_text"] = _event_text(source, draft, data, context)
    except testing.CannotTest as problem:
        context["event_text"], context["event_problem"] = data.get("event", ""), str(problem)
    intent = data.get("intent")
    if intent in ("preview", "send") and draft is not None:
        try:
            event = testing.event_parse(text=context["event_text"])
            if intent == "preview":
                preview = testing.mapping_preview(draft=draft, event=event)
                context.update(preview=preview, payload_text=_json_text(preview.payload))
            else:
                sent = testing.mapping_test_send(
                    destination=destination, draft=draft, event=event, mapping=mapping
                )
                context.update(
                    sent=sent,
                    payload_text=_json_text(sent.trial.payload),
                    exchanges=_shown_exchanges(sent.attempt.exchanges if sent.attempt else []),
                )
        except testing.CannotTest as problem:
            context["result_problem"] = str(problem)
    return context


def _event_text(
    source: Source, draft: testing.Draft | None, data: QueryDict, context: dict[str, Any]
) -> str:
    """The event in the panel's editor: one just loaded or generated, else the one
    posted; on opening, the newest matching event, else a sample that fits."""
    loaded = _positive_int(data.get("load_event"))
    if loaded is not None:
        event = get_object_or_404(source.events.all(), pk=loaded)
        return testing.event_text(event.payload)
    if data.get("intent") == "sample":
        sample = testing.event_sample(
            event_type=context["sample_type"], trigger=context["inputs"]["trigger"]
        )
        return testing.event_text(sample)
    if "event" in data:
        return data["event"]
    choices: testing.EventChoices = context["choices"]
    if choices.matching:
        return testing.event_text(choices.events[0].payload)
    return testing.event_text(testing.event_sample_for(draft=draft)) if draft else ""


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def _shown_exchanges(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded exchanges with their bodies laid out for reading."""
    return [
        {
            **exchange,
            "request_text": _json_text(exchange.get("request_body")),
            "response_text": _readable(exchange.get("response_body") or ""),
        }
        for exchange in exchanges
    ]


def _readable(body: str) -> str:
    """A JSON body indented; anything else (a body cut short, say) as it came."""
    try:
        return _json_text(json.loads(body))
    except ValueError:
        return body


# --- Path suggestions -----------------------------------------------------------------------


@require_GET
def source_paths(request: HttpRequest, source_pk: int) -> HttpResponse:
    source = get_object_or_404(
        console_selectors.sources_of(organization=request.organization), pk=source_pk
    )
    paths = selectors.event_paths(source=source, prefix=request.GET.get("q", ""))
    if request.accepts("application/json") and not request.accepts("text/html"):
        return JsonResponse({"paths": paths})
    return render(request, "delivery/source_paths.html", {"paths": paths})


# --- Deliveries of a destination, and of a mapping ------------------------------------------


@require_GET
def destination_deliveries(request: HttpRequest, destination_pk: int) -> HttpResponse:
    destination = _destination(request, destination_pk)
    status = request.GET.get("status")
    if status not in Delivery.Status.values:
        status = None
    before = _positive_int(request.GET.get("before"))
    page = selectors.destination_deliveries(
        destination=destination, before=before, status=status, size=DESTINATION_PAGE_SIZE
    )
    context = {
        "destination": destination,
        "rows": [
            (delivery, ACTIONS[delivery.action].title if delivery.action in ACTIONS else "")
            for delivery in page.deliveries
        ],
        "older_than": page.older_than,
        "counts": selectors.destination_delivery_counts(destination=destination),
        "status": status,
        "before": before,
    }
    return _page(request, "delivery/destination_deliveries.html", "deliveries", context)


@require_GET
def mapping_delivery_summary(request: HttpRequest, mapping_pk: int) -> HttpResponse:
    mapping = get_object_or_404(
        selectors.mappings_of(organization=request.organization), pk=mapping_pk
    )
    context = {"mapping": mapping, "summary": selectors.mapping_delivery_summary(mapping=mapping)}
    return _page(request, "delivery/mapping_summary.html", "summary", context)
