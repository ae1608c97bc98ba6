"""Writes of the console app: organisations, sources, destinations."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.models import Destination, Membership, Organization, Source, Workspace

WRITE_KEY_BYTES = 24


def write_key_digest(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def organization_create(*, name: str) -> Organization:
    return Organization.objects.create(name=name)


def user_create(
    *, organization: Organization, email: str, password: str, is_superuser: bool = False
) -> AbstractBaseUser:
    """A user who signs in with their email address, member of ``organization``."""
    user_model = get_user_model()
    email = email.strip().lower()
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=email,
            email=email,
            password=password,
            is_staff=is_superuser,
            is_superuser=is_superuser,
        )
        Membership.objects.create(user=user, organization=organization)
    return user


def _unique_name_error(name: str) -> ValidationError:
    return ValidationError({"name": f"A source named “{name}” already exists."})


def _new_write_key() -> tuple[str, str, str]:
    write_key = secrets.token_urlsafe(WRITE_KEY_BYTES)
    return write_key, write_key_digest(write_key), write_key[-4:]


def source_create(*, organization: Organization, name: str) -> tuple[Source, str]:
    """A new source and its write key: the only time the full key is known."""
    write_key, digest, hint = _new_write_key()
    try:
        with transaction.atomic():
            source = Source.objects.create(
                organization=organization,
                name=name,
                write_key_digest=digest,
                write_key_hint=hint,
                write_key_rotated_at=timezone.now(),
            )
    except IntegrityError:
        raise _unique_name_error(name) from None
    return source, write_key


def source_rename(*, source: Source, name: str) -> Source:
    source.name = name
    try:
        with transaction.atomic():
            source.save(update_fields=["name"])
    except IntegrityError:
        raise _unique_name_error(name) from None
    return source


def source_rotate_write_key(*, source: Source) -> str:
    """Replace the write key; the old one stops working at once."""
    write_key, digest, hint = _new_write_key()
    source.write_key_digest = digest
    source.write_key_hint = hint
    source.write_key_rotated_at = timezone.now()
    source.save(update_fields=["write_key_digest", "write_key_hint", "write_key_rotated_at"])
    return write_key


def source_delete(*, source: Source) -> None:
    if source.destinations.exists():
        raise ValidationError(
            "This source still sends to destinations. Delete them first, "
            "so no event is left without a place to go."
        )
    source.delete()


def _check_destination(destination: Destination) -> None:
    if destination.enabled and destination.workspace is None:
        raise ValidationError(
            {"enabled": "Choose an Intercom workspace before enabling this destination."}
        )
    organization_id = destination.source.organization_id
    if destination.workspace and destination.workspace.organization_id != organization_id:
        raise ValidationError({"workspace": "That workspace belongs to another organisation."})


def destination_create(
    *,
    source: Source,
    name: str,
    workspace: Workspace | None = None,
    enabled: bool = False,
) -> Destination:
    destination = Destination(source=source, name=name, workspace=workspace, enabled=enabled)
    _check_destination(destination)
    destination.save()
    return destination


def destination_update(
    *,
    destination: Destination,
    name: str,
    workspace: Workspace | None,
    enabled: bool,
) -> Destination:
    destination.name = name
    destination.workspace = workspace
    destination.enabled = enabled
    _check_destination(destination)
    destination.save()
    return destination


def destination_set_enabled(*, destination: Destination, enabled: bool) -> Destination:
    destination.enabled = enabled
    _check_destination(destination)
    destination.save(update_fields=["enabled", "updated_at"])
    return destination


def destination_delete(*, destination: Destination) -> None:
    destination.delete()
