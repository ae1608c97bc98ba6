"""Writes of the console app: organisations, sources, destinations, workspaces."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from console import intercom_connect
from console.crypto import UnreadableSecret, seal
from console.intercom_connect import ConnectError, TokenRefused, WorkspaceIdentity
from console.models import ApiToken, Destination, Membership, Organization, Source, Workspace
from console.signals import workspace_connected

WRITE_KEY_BYTES = 24
API_TOKEN_BYTES = 32
API_TOKEN_PREFIX = "ferry_"
# Marking a token used costs a write: once a minute tells the owner enough.
API_TOKEN_USE_PRECISION = timedelta(minutes=1)


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


def workspace_connect(
    *,
    organization: Organization,
    user: AbstractBaseUser | None,
    token: str,
    auth_method: str,
    region: str = "us",
    expected_app_id_code: str | None = None,
) -> tuple[Workspace, bool]:
    """Ask Intercom (``GET /me`` at ``region``'s host) which workspace ``token`` opens, then
    store it as :func:`workspace_store` does. Raises ``ConnectError`` (nothing stored) when
    Intercom refuses the token or cannot be reached, and ``ValidationError`` when the token
    opens another workspace than ``expected_app_id_code``."""
    api_base = intercom_connect.api_base_for(region)
    try:
        identity = intercom_connect.identify(token=token, api_base=api_base)
    except TokenRefused:
        if auth_method == Workspace.AuthMethod.OAUTH:
            raise TokenRefused(
                "Intercom refused the token it had just granted (401 Unauthorized), so "
                "nothing was saved. Try “Connect Intercom” again."
            ) from None
        raise TokenRefused(
            "Intercom refused this token (401 Unauthorized), so nothing was saved. Copy the "
            "whole access token from your app's Authentication page in Intercom's Developer "
            "Hub, and check the region."
        ) from None
    if expected_app_id_code and identity.id_code != expected_app_id_code:
        raise ValidationError(
            {
                "token": f"This token opens the workspace “{identity.name}” "
                f"({identity.id_code}), not {expected_app_id_code}. Nothing was saved."
            }
        )
    return workspace_store(
        organization=organization,
        user=user,
        identity=identity,
        token=token,
        auth_method=auth_method,
    )


def _mark_connected(workspace: Workspace, **changes: object) -> bool:
    """Save ``changes`` with the status back to connected; tell the other apps when the
    workspace was waiting to be reconnected. True if it was."""
    reconnected = workspace.status == Workspace.Status.NEEDS_RECONNECT
    for name, value in changes.items():
        setattr(workspace, name, value)
    workspace.status = Workspace.Status.CONNECTED
    workspace.verified_at = timezone.now()
    workspace.save()
    if reconnected:
        workspace_connected.send(sender=Workspace, workspace=workspace)
    return reconnected


def workspace_store(
    *,
    organization: Organization,
    user: AbstractBaseUser | None,
    identity: WorkspaceIdentity,
    token: str,
    auth_method: str,
) -> tuple[Workspace, bool]:
    """Save the workspace ``identity`` describes, with ``token`` encrypted, as a new
    workspace of ``organization`` or over the one it already has with that ID. Returns it,
    and whether it was waiting to be reconnected (``workspace_connected`` is then sent, so
    its paused deliveries resume)."""
    if not intercom_connect.api_base_is_allowed(identity.api_base):
        raise ValidationError(
            f"{identity.api_base} is not an Intercom API host: Ferry sends tokens only to "
            "api.intercom.io, api.eu.intercom.io, api.au.intercom.io or the configured "
            "sandbox."
        )
    if identity.region not in Workspace.Region.values:
        raise ValidationError(f"Unknown Intercom region “{identity.region}”.")
    with transaction.atomic():
        workspace = (
            Workspace.objects.select_for_update()
            .filter(organization=organization, app_id_code=identity.id_code)
            .first()
        ) or Workspace(organization=organization, app_id_code=identity.id_code)
        reconnected = _mark_connected(
            workspace,
            name=identity.name,
            region=identity.region,
            api_base=identity.api_base,
            intercom_version=intercom_connect.DEFAULT_VERSION,
            auth_method=auth_method,
            token_ciphertext=seal(token),
            connected_by=user,
            connected_at=timezone.now(),
        )
    return workspace, reconnected


@dataclass(frozen=True)
class WorkspaceCheck:
    """What "Test connection" found: whether the token works, in a sentence."""

    ok: bool
    message: str


def _needs_reconnect(workspace: Workspace, message: str) -> WorkspaceCheck:
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.NEEDS_RECONNECT)
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    return WorkspaceCheck(ok=False, message=message)


def workspace_check(*, workspace: Workspace) -> WorkspaceCheck:
    """Call ``GET /me`` with the workspace's token. A working token marks it verified (and
    connected again, if it was waiting); a refused one marks it as needing reconnection."""
    if not intercom_connect.api_base_is_allowed(workspace.api_base):
        return WorkspaceCheck(
            ok=False,
            message=f"{workspace.api_base} is not an Intercom API host, so Ferry did not send "
            "the token there. Connect the workspace again.",
        )
    try:
        identity = intercom_connect.identify(
            token=workspace.access_token,
            api_base=workspace.api_base,
            version=workspace.intercom_version,
        )
    except UnreadableSecret:
        return _needs_reconnect(
            workspace,
            "The token cannot be decrypted with this server's FERRY_ENCRYPTION_KEY. "
            "Connect the workspace again.",
        )
    except TokenRefused:
        return _needs_reconnect(
            workspace,
            "Intercom refused this workspace's token (401 Unauthorized): access was revoked. "
            "Deliveries to it are paused until you reconnect it.",
        )
    except ConnectError as problem:
        return WorkspaceCheck(ok=False, message=str(problem))
    if identity.id_code != workspace.app_id_code:
        return WorkspaceCheck(
            ok=False,
            message=f"This token now opens the workspace “{identity.name}” "
            f"({identity.id_code}), not {workspace.app_id_code}. Connect the workspace again.",
        )
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        _mark_connected(locked, name=identity.name)
    workspace.refresh_from_db()
    return WorkspaceCheck(ok=True, message=f"Connected: Intercom answered for “{identity.name}”.")


def api_token_create(
    *, organization: Organization, name: str, created_by: AbstractBaseUser | None
) -> tuple[ApiToken, str]:
    """A new API token and its secret: the only time the full secret is known
    (only its SHA-256 digest is kept, like a write key's)."""
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(API_TOKEN_BYTES)
    api_token = ApiToken.objects.create(
        organization=organization,
        name=name,
        digest=write_key_digest(secret),
        hint=secret[-4:],
        created_by=created_by,
    )
    return api_token, secret


def api_token_delete(*, api_token: ApiToken) -> None:
    """Revoke the token: calls made with it are refused from now on."""
    api_token.delete()


def api_token_mark_used(*, api_token: ApiToken, now: datetime | None = None) -> None:
    """Remember when the token was last used, to the minute."""
    now = now or timezone.now()
    if api_token.last_used_at and now - api_token.last_used_at < API_TOKEN_USE_PRECISION:
        return
    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    api_token.last_used_at = now
