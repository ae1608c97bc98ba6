"""Strict reading of configuration from the environment.

Every reader takes the variable's name and a default. A value that is present
but malformed raises ``ConfigurationError`` naming the variable, so a typo
stops start-up instead of silently falling back to a default. Any variable may
instead be given as ``<NAME>_FILE``: the path of a file holding the value
(for container secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ConfigurationError(Exception):
    """A malformed environment variable; the message names it."""


def raw(name: str) -> str | None:
    """The variable's text, from ``NAME`` or from the file named by ``NAME_FILE``."""
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name is not None:
        raise ConfigurationError(f"{name} and {name}_FILE are both set; set only one of them.")
    if file_name is not None:
        try:
            return Path(file_name).read_text().strip()
        except OSError as error:
            raise ConfigurationError(
                f"{name}_FILE points at {file_name!r}, which cannot be read: {error.strerror}."
            ) from error
    return value


def string(name: str, default: str = "") -> str:
    value = raw(name)
    return default if value is None else value.strip()


def boolean(name: str, default: bool) -> bool:
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(
        f"{name} must be a boolean (one of true, false, 1, 0, yes, no, on, off), got {value!r}."
    )


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {number}.")
    return number


def number(name: str, default: float, *, minimum: float, maximum: float) -> float:
    """A decimal number between ``minimum`` and ``maximum`` (both included)."""
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        parsed = float(value.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {value!r}.") from None
    if not minimum <= parsed <= maximum:
        raise ConfigurationError(f"{name} must be between {minimum} and {maximum}, got {parsed}.")
    return parsed


def string_list(name: str, default: list[str]) -> list[str]:
    value = raw(name)
    if value is None or value.strip() == "":
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ConfigurationError(f"{name} must be a comma-separated list without empty items.")
    return items


def url(name: str, default: str, *, schemes: dict[str, str], optional: bool = False) -> str:
    """A URL whose scheme is one of ``schemes`` (scheme -> what it is, for the
    message); with ``optional``, an unset or empty variable gives ""."""
    value = string(name, default)
    if optional and value == "":
        return ""
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        accepted = ", ".join(f"{key}:// ({what})" for key, what in schemes.items())
        raise ConfigurationError(f"{name} must start with one of {accepted}; got {value!r}.")
    return value


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (upper-case words), matched without regard to case."""
    value = string(name, default).upper()
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value
