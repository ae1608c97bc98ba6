"""Encryption of secrets at rest (Intercom access tokens).

``seal(text)`` encrypts with the newest key of ``FERRY_ENCRYPTION_KEY``;
``unseal(token)`` decrypts with any of them, so keys can be rotated by putting
the new key first and keeping the old ones until ``manage.py reseal_tokens``
has re-encrypted everything.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UnreadableSecret(Exception):
    """Encrypted with a key that is no longer configured, or corrupted."""


@cache
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current_keyring() -> MultiFernet:
    return _keyring(tuple(settings.FERRY_ENCRYPTION_KEYS))


def seal(plaintext: str) -> str:
    return _current_keyring().encrypt(plaintext.encode()).decode()


def unseal(ciphertext: str) -> str:
    try:
        return _current_keyring().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret(
            "This secret cannot be decrypted with the configured FERRY_ENCRYPTION_KEY."
        ) from None


def reseal(ciphertext: str) -> str:
    """The same secret encrypted with the newest key."""
    try:
        return _current_keyring().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret(
            "This secret cannot be decrypted with the configured FERRY_ENCRYPTION_KEY."
        ) from None
