"""Reads of the mappings app, each scoped to the organisation that may see it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from console.models import Destination, Organization
from console.selectors import destinations_of
from mappings.models import Mapping


def mapping_destinations_of(*, organization: Organization) -> QuerySet[Destination]:
    return destinations_of(organization=organization)


def mappings_of(*, organization: Organization) -> QuerySet[Mapping]:
    return Mapping.objects.filter(destination__source__organization=organization).select_related(
        "destination", "destination__source"
    )


def mappings_of_destination(*, destination: Destination) -> QuerySet[Mapping]:
    return Mapping.objects.filter(destination=destination)


def mapping_as_json(mapping: Mapping) -> dict[str, Any]:
    """One mapping as the export (and ``manage.py test_mapping``) writes it."""
    return {
        "name": mapping.name,
        "action": mapping.action,
        "trigger": mapping.trigger,
        "fields": mapping.fields,
        "enabled": mapping.enabled,
    }


def mapping_export(*, destination: Destination) -> dict[str, Any]:
    """The destination's mappings, in list order, as ``{"mappings": [...]}``."""
    return {
        "mappings": [
            mapping_as_json(mapping) for mapping in mappings_of_destination(destination=destination)
        ]
    }
