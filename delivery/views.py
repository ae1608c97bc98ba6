from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from delivery import selectors

PAGE_SIZE = 50


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
