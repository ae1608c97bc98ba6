from __future__ import annotations

from django.core.cache import cache

from delivery.contact_cache import WorkspaceContactCache


def test_entries_are_kept_per_workspace(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    first, second = WorkspaceContactCache(1), WorkspaceContactCache(2)

    first.set("email", "ann@example.test", "c-1")

    assert first.get("email", "ann@example.test") == "c-1"
    assert second.get("email", "ann@example.test") is None
    assert first.get("external_id", "ann@example.test") is None
    first.forget("email", "ann@example.test")
    assert first.get("email", "ann@example.test") is None


def test_no_email_address_appears_in_a_cache_key():
    key = WorkspaceContactCache(1)._key("email", "ann@example.test")

    assert "ann" not in key and "example" not in key
    assert cache.make_and_validate_key(key)
