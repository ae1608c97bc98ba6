from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from console.fields import OrderedJSONField
from console.models import Destination

MAPPINGS_PER_DESTINATION = 50
"""Segment's limit for an Actions destination, kept so imported setups fit both ways."""


class MappingLimitReached(ValidationError):
    """Adding these mappings would take a destination past its limit."""


def claim_mapping_slots(*, destination_id: int, count: int) -> int:
    """Lock the destination row and check that ``count`` more mappings fit.

    Returns how many the destination holds now. Must run inside a transaction: the lock is
    held until it ends, so two requests adding the last mappings take turns instead of both
    seeing room for one more.
    """
    list(Destination.objects.select_for_update().filter(pk=destination_id).values_list("pk"))
    held = Mapping.objects.filter(destination_id=destination_id).count()
    if held + count > MAPPINGS_PER_DESTINATION:
        room = MAPPINGS_PER_DESTINATION - held
        if room <= 0:
            message = (
                f"This destination already has {held} of {MAPPINGS_PER_DESTINATION} mappings, "
                "the most it can have. Delete or reuse a mapping before adding another."
            )
        else:
            message = (
                f"This destination has {held} of {MAPPINGS_PER_DESTINATION} mappings, so "
                f"there is room for {room} more, not {count}. Delete some mappings first, or "
                "add fewer."
            )
        raise MappingLimitReached(message, code="mapping_limit")
    return held


class Mapping(models.Model):
    """A trigger (FQL), an action and the field mapping (Segment's mapping JSON)
    that turns a matching event into that action's payload."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="mappings")
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=32)
    trigger = models.TextField()
    fields = OrderedJSONField(default=dict)
    enabled = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The limit holds for every way a mapping is made (console, import, admin, shell),
        # so it is checked here, under the destination's row lock, and not only in a form.
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            claim_mapping_slots(destination_id=self.destination_id, count=1)
            super().save(*args, **kwargs)
