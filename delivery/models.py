from __future__ import annotations

from django.conf import settings
from django.db import models

from console.fields import OrderedJSONField
from console.models import Destination, Organization, Source


class Event(models.Model):
    """One message received from a source, stored once whatever happens to it."""

    class Type(models.TextChoices):
        IDENTIFY = "identify"
        TRACK = "track"
        GROUP = "group"
        PAGE = "page"
        SCREEN = "screen"
        ALIAS = "alias"
        DELETE = "delete"

    class Status(models.TextChoices):
        ROUTED = "routed", "Routed to mappings"
        NO_MATCH = "no_match", "No mapping matched"
        DUPLICATE = "duplicate", "Duplicate messageId"
        REJECTED = "rejected", "Rejected"
        TEST = "test", "Test send"
        DELETION = "deletion", "User deletion request"

    class Skip(models.TextChoices):
        """Why a mapping of the source made no delivery of a routed event."""

        TRIGGER = "trigger", "Trigger did not match"
        MAPPING_DISABLED = "mapping_disabled", "Mapping disabled"
        DESTINATION_DISABLED = "destination_disabled", "Destination disabled"
        NO_WORKSPACE = "no_workspace", "Destination has no workspace"
        INVALID = "invalid", "Mapping cannot run (invalid trigger or fields)"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="events")
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=Type.choices)
    event_name = models.CharField(max_length=255, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    payload = OrderedJSONField()
    timestamp = models.DateTimeField(null=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True)
    skipped = OrderedJSONField(default=dict)
    """For an event that was routed (or matched nothing): each mapping of the
    source's destinations that made no delivery, as ``{"<mapping id>": <Skip>}``,
    as things stood when the event arrived."""

    class Meta:
        indexes = [
            models.Index(fields=["source", "-received_at", "-id"], name="event_source_recent"),
            models.Index(fields=["received_at"], name="event_received"),
            models.Index(fields=["source", "message_id"], name="event_source_message"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class MessageKey(models.Model):
    """A messageId a source has sent, and when it was first seen: the
    deduplication window. Its unique constraint lets concurrent requests agree
    on which copy is the original."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=255)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="message_key_unique")
        ]
        indexes = [models.Index(fields=["seen_at"], name="message_key_seen")]

    def __str__(self) -> str:
        return self.message_id


class Delivery(models.Model):
    """One event sent through one mapping of a destination, over as many attempts
    as it takes."""

    class Status(models.TextChoices):
        PENDING = "pending"
        IN_FLIGHT = "in_flight", "In flight"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed"
        DISCARDED = "discarded"
        PAUSED = "paused"

    UNFINISHED = (Status.PENDING, Status.IN_FLIGHT, Status.RETRYING, Status.PAUSED)
    WAITING = (Status.PENDING, Status.RETRYING)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    mapping = models.ForeignKey(
        "mappings.Mapping", on_delete=models.SET_NULL, null=True, related_name="deliveries"
    )
    action = models.CharField(max_length=32)
    person = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True)
    lease_until = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)
    blocking = models.BooleanField(default=True)
    """Whether the person's later deliveries wait for this one. Not while it
    waits for Intercom to know the person: the Identify that creates them may
    be one of those later deliveries."""
    is_test = models.BooleanField(default=False)
    budget_from = models.DateTimeField(null=True)
    """When the retry budget started, if not at creation: the latest replay."""
    budget_attempts = models.PositiveIntegerField(default=0)
    """Attempts made before the latest replay, which do not count against its budget."""

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["destination", "-id"], name="delivery_destination_recent"),
            models.Index(
                fields=["destination", "status", "-id"], name="delivery_destination_status"
            ),
            models.Index(fields=["mapping", "-id"], name="delivery_mapping_recent"),
            models.Index(fields=["person", "-id"], name="delivery_person_recent"),
            models.Index(fields=["destination", "created_at"], name="delivery_destination_time"),
            models.Index(
                fields=["finished_at"],
                name="delivery_finished",
                condition=models.Q(is_test=False),
            ),
            models.Index(
                fields=["next_attempt_at", "id"],
                name="delivery_waiting",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            # A person's earlier unfinished delivery holds their later ones.
            models.Index(
                fields=["destination", "person", "id"],
                name="delivery_person_unfinished",
                condition=models.Q(
                    status__in=["pending", "in_flight", "retrying", "paused"], blocking=True
                ),
            ),
            models.Index(
                fields=["lease_until"],
                name="delivery_in_flight",
                condition=models.Q(status="in_flight"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} of event {self.event_id}: {self.status}"


class Attempt(models.Model):
    """One try of a delivery, with every HTTP exchange it made. Written before
    the first call and completed after, so a crash leaves a trace."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        DELIVERED = "delivered"
        RETRYABLE = "retryable"
        PERMANENT = "permanent"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnection"
        INTERRUPTED = "interrupted", "Interrupted (worker lost)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    warnings = OrderedJSONField(default=list)
    exchanges = OrderedJSONField(default=list)
    payload = OrderedJSONField(null=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class ReplayJob(models.Model):
    """Replaying every delivery that matched a filter, in batches, with progress
    the console polls."""

    class State(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filters = OrderedJSONField(default=dict)
    """The deliveries filter as the console's query string held it."""
    up_to = models.BigIntegerField()
    """The newest delivery id when the replay was confirmed: later ones are not replayed."""
    total = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"replay {self.pk}: {self.done} of {self.total}"


class DestinationHealth(models.Model):
    """A destination's latest health verdict, kept so a change can be noticed,
    logged and mailed once."""

    class State(models.TextChoices):
        HEALTHY = "healthy"
        FAILING = "failing", "Failing"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnection"

    destination = models.OneToOneField(Destination, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=16, choices=State.choices, default=State.HEALTHY)
    reason = models.TextField(blank=True)
    success_rate = models.FloatField(null=True)
    """Delivered over finished real deliveries of the last hour, when there were any."""
    changed_at = models.DateTimeField()
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.destination}: {self.state}"
