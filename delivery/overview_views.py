"""The overview of how deliveries fare: for the whole install (a fragment the
console's Overview page loads) and for one destination (a tab of its page).
Charts are SVG drawn here, on the server: no chart library, no script."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console import selectors as console_selectors
from delivery import health, insights
from delivery.insights import Overview, Window

CHART_WIDTH = 600
CHART_HEIGHT = 150
DOT = 4
TIME_FORMATS = {"hour": "H:i", "day": "M j, H:i", "week": "D M j, H:i"}


def _window(request: HttpRequest) -> Window:
    return insights.WINDOWS.get(
        request.GET.get("range", ""), insights.WINDOWS[insights.DEFAULT_WINDOW]
    )


def _duration_text(value: timedelta | None) -> str:
    """A latency as people read it: 0.42 s, 12 s, 3.5 min, 2.1 h."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _charts(result: Overview) -> dict[str, Any]:
    """Bar geometry for delivered and failed per bucket, and the p95 line."""
    count = len(result.buckets)
    slot = CHART_WIDTH / count
    tallest = max((b.delivered + b.failed for b in result.buckets), default=0) or 1
    slowest = max((b.p95.total_seconds() for b in result.buckets if b.p95), default=0.0) or 1.0
    bars, points = [], []
    for index, bucket in enumerate(result.buckets):
        delivered_height = CHART_HEIGHT * bucket.delivered / tallest
        failed_height = CHART_HEIGHT * bucket.failed / tallest
        x = index * slot + slot * 0.1
        bars.append(
            {
                "bucket": bucket,
                "x": round(x, 1),
                "width": round(slot * 0.8, 1),
                "delivered_y": round(CHART_HEIGHT - delivered_height, 1),
                "delivered_height": round(delivered_height, 1),
                "failed_y": round(CHART_HEIGHT - delivered_height - failed_height, 1),
                "failed_height": round(failed_height, 1),
                "p95_text": _duration_text(bucket.p95),
            }
        )
        if bucket.p95 is not None:
            # Kept a dot's radius inside the frame at both ends.
            y = CHART_HEIGHT - DOT - (CHART_HEIGHT - 2 * DOT) * bucket.p95.total_seconds() / slowest
            points.append({"x": round(index * slot + slot / 2, 1), "y": round(y, 1)})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bars": bars,
        "tallest": tallest if any(b.delivered or b.failed for b in result.buckets) else 0,
        "points": points,
        "line": " ".join(f"{point['x']},{point['y']}" for point in points),
        "slowest_text": _duration_text(timedelta(seconds=slowest)) if points else "",
    }


def _render(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    result: Overview = context["overview"]
    context.update(
        windows=insights.WINDOWS.values(),
        charts=_charts(result),
        p95_text=_duration_text(result.p95),
        time_format=TIME_FORMATS[result.window.key],
    )
    template = "delivery/overview.html"
    return render(request, f"{template}#overview" if request.htmx else template, context)


@require_GET
def install_overview(request: HttpRequest) -> HttpResponse:
    """Every destination of the organisation together."""
    organization = request.organization
    window = _window(request)
    destinations = console_selectors.destinations_of(organization=organization)
    result = insights.overview_cached(
        key=f"organization-{organization.pk}",
        destination_ids=list(destinations.values_list("pk", flat=True)),
        source_ids=list(
            console_selectors.sources_of(organization=organization).values_list("pk", flat=True)
        ),
        window=window,
    )
    return _render(
        request,
        {
            "overview": result,
            "destination": None,
            "here": reverse("install_overview"),
            "deliveries_url": reverse("delivery_list"),
            "alerts": health.alerts_of(organization=organization),
        },
    )


@require_GET
def destination_overview(request: HttpRequest, destination_pk: int) -> HttpResponse:
    """One destination: the deliveries it made, the events of its source."""
    organization = request.organization
    destination = get_object_or_404(
        console_selectors.destinations_of(organization=organization), pk=destination_pk
    )
    window = _window(request)
    result = insights.overview_cached(
        key=f"destination-{destination.pk}",
        destination_ids=[destination.pk],
        source_ids=[destination.source_id],
        window=window,
    )
    return _render(
        request,
        {
            "overview": result,
            "destination": destination,
            "here": reverse("destination_overview", args=[destination.pk]),
            "deliveries_url": reverse("destination_deliveries", args=[destination.pk]),
            "alerts": health.alerts_of(organization=organization, destination=destination),
        },
    )
