from __future__ import annotations

from django.db import models

from console.models import Destination


class Mapping(models.Model):
    """A trigger (FQL), an action and the field mapping (Segment's mapping JSON)
    that turns a matching event into that action's payload."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="mappings")
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=32)
    trigger = models.TextField()
    fields = models.JSONField(default=dict)
    enabled = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name
