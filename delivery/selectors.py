"""Reads of the delivery app, always scoped to one organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from console.models import Organization
from delivery.models import Delivery, Event


def events_of(*, organization: Organization) -> QuerySet[Event]:
    return (
        Event.objects.filter(source__organization=organization)
        .select_related("source")
        .order_by("-received_at", "-id")
    )


def deliveries_of(*, organization: Organization) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(destination__source__organization=organization)
        .select_related("event", "destination", "mapping")
        .order_by("-id")
    )
