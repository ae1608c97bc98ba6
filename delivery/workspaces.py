"""Turning a connected workspace into something that can call Intercom."""

from __future__ import annotations

from console.models import Workspace
from delivery.contact_cache import WorkspaceContactCache
from delivery.intercom.client import IntercomClient
from delivery.ratelimit import WorkspaceLimiter


def client_for(workspace: Workspace) -> IntercomClient:
    return IntercomClient(
        api_base=workspace.api_base,
        token=workspace.access_token,
        version=workspace.intercom_version,
        pacer=WorkspaceLimiter(workspace.pk),
    )


def contact_cache_for(workspace: Workspace) -> WorkspaceContactCache:
    return WorkspaceContactCache(workspace.pk)
