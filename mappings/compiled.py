"""Saved mappings compiled once per saved version.

``compiled(mapping)`` takes anything shaped like a saved mapping (``pk``,
``updated_at``, ``action``, ``trigger``, ``fields``) and returns its trigger and
field mapping as Python callables, built the first time that version is seen
in this process and reused after; a save (new ``updated_at``) compiles anew.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mappings.actions import effective_fields
from mappings.directives import compile_mapping
from mappings.triggers import Trigger, parse

CACHE_SIZE = 4096


class SavedMapping(Protocol):
    @property
    def pk(self) -> Any: ...
    @property
    def updated_at(self) -> Any: ...
    @property
    def action(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class CompiledMapping:
    trigger: Trigger
    transform: Callable[[object], Any]


_lock = threading.Lock()
_versions: OrderedDict[Hashable, CompiledMapping] = OrderedDict()


def compile_saved(action: str, trigger: str, fields: Mapping[str, Any]) -> CompiledMapping:
    """Compile without caching (an unsaved draft, say). Raises the languages' errors."""
    return CompiledMapping(
        trigger=parse(trigger), transform=compile_mapping(effective_fields(action, fields))
    )


def compiled(mapping: SavedMapping) -> CompiledMapping:
    version = (mapping.pk, mapping.updated_at)
    with _lock:
        found = _versions.get(version)
        if found is not None:
            _versions.move_to_end(version)
            return found
    built = compile_saved(mapping.action, mapping.trigger, mapping.fields)
    with _lock:
        _versions[version] = built
        while len(_versions) > CACHE_SIZE:
            _versions.popitem(last=False)
    return built
