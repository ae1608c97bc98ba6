from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from console import selectors as console_selectors
from console.models import Destination, Source
from delivery import replay, selectors, testing
from delivery.models import Delivery
from mappings.actions import ACTIONS, new_mapping
from mappings.models import Mapping

PAGE_SIZE = 50


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


# --- Deliveries: the organisation's, a destination's, a mapping's --------------------------


def _filter(request: HttpRequest, **fixed: str) -> selectors.DeliveryFilter:
    return selectors.DeliveryFilter.from_query({**request.GET.dict(), **fixed}, now=timezone.now())


def _action_title(action: str) -> str:
    if action == selectors.DELETION_ACTION:
        return "User deletion"
    return ACTIONS[action].title if action in ACTIONS else action


def _address(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def _deliveries_context(
    request: HttpRequest, filter: selectors.DeliveryFilter, here: str
) -> dict[str, Any]:
    """What the filter form, the status counts, the list and its pager show."""
    organization = request.organization
    before = _positive_int(request.GET.get("before"))
    page = selectors.deliveries_page(
        organization=organization, filter=filter, before=before, size=PAGE_SIZE
    )
    mappings = (
        selectors.mappings_of(organization=organization)
        .only("id", "name", "destination__name")
        .order_by("destination__name", "position", "id")
    )
    if filter.destination is not None:
        mappings = mappings.filter(destination_id=filter.destination)
    counts = selectors.delivery_status_counts(organization=organization, filter=filter)
    failed = next((count for count in counts if count.status == Delivery.Status.FAILED), None)
    return {
        "filter": filter,
        "here": here,
        "query": urlencode(filter.query()),
        "address": _address(here, filter.query(before=before)),
        "rows": [(delivery, _action_title(delivery.action)) for delivery in page.deliveries],
        "older_than": page.older_than,
        "before": before,
        "counts": counts,
        "status_links": [(count, urlencode(filter.query(status=count.status))) for count in counts],
        "all_statuses_query": urlencode(filter.query(status=None)),
        "status_choices": Delivery.Status.choices,
        "failed": failed if filter.status in (None, Delivery.Status.FAILED) else None,
        "mappings": mappings,
        "actions": [(key, _action_title(key)) for key in [*ACTIONS, selectors.DELETION_ACTION]],
        "windows": [
            ("", "Any time"),
            ("hour", "Last hour"),
            ("day", "Last 24 hours"),
            ("week", "Last 7 days"),
        ],
        "destinations": console_selectors.destinations_of(organization=organization),
    }


def _deliveries_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The page, or for htmx the list, whose address in the browser becomes the
    filter's own (values set only): short, and shareable."""
    response = _page(request, template, "deliveries", context)
    if request.htmx:
        push_url(response, context["address"])
    return response


@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    """Every delivery of the organisation, filtered; htmx swaps the list alone."""
    context = _deliveries_context(request, _filter(request), reverse("delivery_list"))
    return _deliveries_page(request, "delivery/deliveries.html", context)


@require_GET
def destination_deliveries(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """The destination's Deliveries tab: the same list, for that destination only."""
    destination = _destination(request, destination_pk)
    filter = _filter(request, destination=str(destination.pk))
    here = reverse("destination_deliveries", args=[destination.pk])
    context = {"destination": destination, **_deliveries_context(request, filter, here)}
    return _deliveries_page(request, "delivery/destination_deliveries.html", context)


@require_GET
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(selectors.deliveries_of(organization=request.organization), pk=pk)
    attempts = [
        {"attempt": attempt, "exchanges": _shown_exchanges(attempt.exchanges)}
        for attempt in selectors.delivery_attempts(delivery=delivery)
    ]
    latest = attempts[-1] if attempts else None
    return render(
        request,
        "delivery/delivery_detail.html",
        {
            "delivery": delivery,
            "action_title": _action_title(delivery.action),
            "is_deletion": delivery.action == selectors.DELETION_ACTION
            and delivery.mapping_id is None,
            "event_text": _json_text(delivery.event.payload),
            "attempts": attempts,
            "latest": latest,
            "payload_text": _json_text(latest["attempt"].payload) if latest else "",
            "next_attempt_soon": delivery.next_attempt_at is not None
            and delivery.next_attempt_at - timezone.now() < timedelta(minutes=1),
        },
    )


@require_POST
def delivery_replay(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(selectors.deliveries_of(organization=request.organization), pk=pk)
    try:
        replay.delivery_replay(delivery=delivery, user=request.user)
    except replay.NotReplayable as refusal:
        messages.error(request, f"Not replayed: {refusal}")
    else:
        messages.success(
            request, f"Replayed: attempt {delivery.attempts + 1} will be made in a moment."
        )
    return redirect("delivery_detail", pk=delivery.pk)


@require_http_methods(["GET", "POST"])
def deliveries_replay(request: HttpRequest) -> HttpResponse:
    """Replay every failed delivery the filter (in the query string) matches:
    a GET asks for confirmation with the count, the POST starts the job."""
    if request.method == "POST":
        filter = selectors.DeliveryFilter.from_query(request.POST.dict(), now=timezone.now())
        job = replay.replay_job_create(
            organization=request.organization, user=request.user, filter=filter
        )
        if job is None:
            messages.info(request, "No failed delivery matches this filter any more.")
            return redirect(f"{reverse('delivery_list')}?{urlencode(filter.query())}")
        return redirect("replay_job", pk=job.pk)
    filter = _filter(request)
    count = selectors.deliveries_to_replay(organization=request.organization, filter=filter).count()
    return render(
        request,
        "delivery/replay_confirm.html",
        {
            "filter": filter,
            "count": count,
            "fields": filter.pinned(),
            "query": urlencode(filter.query()),
            "destination": _filtered_destination(request, filter),
            "mapping": _filtered_mapping(request, filter),
        },
    )


def _filtered_destination(
    request: HttpRequest, filter: selectors.DeliveryFilter
) -> Destination | None:
    if filter.destination is None:
        return None
    destinations = console_selectors.destinations_of(organization=request.organization)
    return destinations.filter(pk=filter.destination).first()


def _filtered_mapping(request: HttpRequest, filter: selectors.DeliveryFilter) -> Mapping | None:
    if filter.mapping is None:
        return None
    return (
        selectors.mappings_of(organization=request.organization).filter(pk=filter.mapping).first()
    )


@require_GET
def replay_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk replay's progress; htmx polls the fragment until the job ends."""
    job = get_object_or_404(selectors.replay_jobs_of(organization=request.organization), pk=pk)
    context = {"job": job, "query": urlencode(job.filters)}
    return _page(request, "delivery/replay_job.html", "progress", context)


@require_GET
def mapping_delivery_summary(request: HttpRequest, mapping_pk: int) -> HttpResponse:
    mapping = get_object_or_404(
        selectors.mappings_of(organization=request.organization), pk=mapping_pk
    )
    context = {"mapping": mapping, "summary": selectors.mapping_delivery_summary(mapping=mapping)}
    return _page(request, "delivery/mapping_summary.html", "summary", context)
