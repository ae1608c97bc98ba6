from __future__ import annotations

from django.conf import settings
from django.db import models

from console import crypto


class Organization(models.Model):
    """Everything a user sees belongs to exactly one organisation."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"


class Source(models.Model):
    """Where events come from. The write key itself is never stored: only its
    SHA-256 digest (to authenticate) and its last characters (to recognise it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    write_key_digest = models.CharField(max_length=64, unique=True)
    write_key_hint = models.CharField(max_length=8)
    write_key_rotated_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="source_name_unique_in_organization"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_write_key(self) -> str:
        return "•" * 12 + self.write_key_hint


class Workspace(models.Model):
    """A connected Intercom workspace and the token Ferry uses to call it."""

    class Region(models.TextChoices):
        US = "us", "United States"
        EU = "eu", "Europe"
        AU = "au", "Australia"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnection"

    class AuthMethod(models.TextChoices):
        OAUTH = "oauth", "OAuth"
        ACCESS_TOKEN = "access_token", "Access token"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="workspaces"
    )
    app_id_code = models.CharField("Workspace ID", max_length=64)
    name = models.CharField(max_length=200)
    region = models.CharField(max_length=2, choices=Region.choices, default=Region.US)
    api_base = models.URLField("API host")
    intercom_version = models.CharField(max_length=16, default="2.13")
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    token_ciphertext = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONNECTED)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    connected_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "app_id_code"],
                name="workspace_unique_in_organization",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id_code})"

    @property
    def access_token(self) -> str:
        return crypto.unseal(self.token_ciphertext)


class Destination(models.Model):
    """An instance of "Intercom Cloud Mode (Actions)": events of one source,
    delivered to one workspace."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="destinations")
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="destinations",
    )
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A secret for Ferry's own API (user deletion), owned by an organisation.
    Like a write key, only its SHA-256 digest and last characters are kept."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def masked(self) -> str:
        return "•" * 12 + self.hint


class WorkerHeartbeat(models.Model):
    """When each Celery worker last ran the periodic heartbeat task: proof that
    beat, the broker and a worker are all alive."""

    worker = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.worker
