"""The live events page: every message an organisation's sources sent, newest
first, new ones added as they arrive (htmx polling), and what became of each."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console import selectors as console_selectors
from console.models import Organization
from delivery import event_selectors
from delivery.event_selectors import EventFilter
from delivery.models import Event

PAGE_SIZE = 50
POLL_SECONDS = 2


def _positive_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _filters(organization: Organization, query: QueryDict) -> EventFilter:
    source_pk = _positive_int(query.get("source"))
    source = None
    if source_pk is not None:
        source = get_object_or_404(
            console_selectors.sources_of(organization=organization), pk=source_pk
        )
    event_type = query.get("type", "")
    return EventFilter(
        source=source,
        type=event_type if event_type in Event.Type.values else "",
        name=query.get("event", "").strip(),
        user=query.get("user", "").strip(),
    )


def _cursor(organization: Organization, value: str | None) -> Event | None:
    pk = _positive_int(value)
    if not pk:
        return None
    return get_object_or_404(Event.objects.filter(source__organization=organization), pk=pk)


def _filter_query(filters: EventFilter) -> QueryDict:
    query = QueryDict(mutable=True)
    if filters.source is not None:
        query["source"] = str(filters.source.pk)
    for key, value in (("type", filters.type), ("event", filters.name), ("user", filters.user)):
        if value:
            query[key] = value
    return query


@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    """The page, or with ``after`` (an event id, 0 for none) the events received
    since, for the page's poller to put on top."""
    organization = request.organization
    filters = _filters(organization, request.GET)
    query = _filter_query(filters)
    context = {
        "here": reverse("event_list"),
        "filters": filters,
        "filter_query": query.urlencode(),
        "sources": console_selectors.sources_of(organization=organization),
        "types": Event.Type.choices,
        "poll_seconds": POLL_SECONDS,
    }
    if "after" in request.GET:
        after = _cursor(organization, request.GET.get("after"))
        newer = event_selectors.events_newer(
            organization=organization, filters=filters, after=after, size=PAGE_SIZE
        )
        newest = newer.events[0] if newer.events else after
        context.update(
            events=newer.events, more=newer.more, newest_id=newest.pk if newest else 0, live=True
        )
        return render(request, "delivery/events.html#poll", context)
    before = _cursor(organization, request.GET.get("before"))
    page = event_selectors.events_page(
        organization=organization, filters=filters, before=before, size=PAGE_SIZE
    )
    context.update(
        events=page.events,
        older_than=page.older_than,
        before=before,
        # Older pages hold still; the newest one takes new events as they come.
        live=before is None,
        newest_id=page.events[0].pk if page.events else 0,
    )
    return render(request, "delivery/events.html", context)


@require_GET
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event's JSON and what happened to it: a page, or the fragment the
    events list unfolds."""
    event = get_object_or_404(
        Event.objects.filter(source__organization=request.organization).select_related("source"),
        pk=pk,
    )
    context = {"outcome": event_selectors.event_outcome(event=event)}
    template = "delivery/event.html"
    return render(request, f"{template}#outcome" if request.htmx else template, context)
