"""The contact cache shared by every worker: Django's cache (Redis in
production, files on the embedded default), one key space per workspace."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

CONTACT_TTL_SECONDS = 24 * 60 * 60


class WorkspaceContactCache:
    """Implements ``delivery.intercom.actions.ContactCache`` for one workspace.
    Values are hashed into the key, so no email address is a cache key."""

    def __init__(self, workspace_id: int) -> None:
        self.prefix = f"ferry:contact:{workspace_id}:"

    def _key(self, kind: str, value: str) -> str:
        return self.prefix + kind + ":" + hashlib.sha256(value.encode()).hexdigest()

    def get(self, kind: str, value: str) -> str | None:
        return cache.get(self._key(kind, value))

    def set(self, kind: str, value: str, contact_id: str) -> None:
        cache.set(self._key(kind, value), contact_id, CONTACT_TTL_SECONDS)

    def forget(self, kind: str, value: str) -> None:
        cache.delete(self._key(kind, value))
