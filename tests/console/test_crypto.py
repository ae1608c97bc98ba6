from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from console import crypto


def test_a_sealed_secret_reads_back_and_is_not_plain():
    sealed = crypto.seal("dG9rOmFiYzEyMw==")

    assert "dG9rOmFiYzEyMw" not in sealed
    assert crypto.unseal(sealed) == "dG9rOmFiYzEyMw=="


def test_old_keys_still_decrypt_after_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERRY_ENCRYPTION_KEYS = [old]
    sealed_with_old = crypto.seal("intercom-token")

    settings.FERRY_ENCRYPTION_KEYS = [new, old]

    assert crypto.unseal(sealed_with_old) == "intercom-token"
    resealed = crypto.reseal(sealed_with_old)
    settings.FERRY_ENCRYPTION_KEYS = [new]
    assert crypto.unseal(resealed) == "intercom-token"


def test_a_secret_under_a_forgotten_key_is_reported(settings):
    settings.FERRY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    sealed = crypto.seal("intercom-token")
    settings.FERRY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.UnreadableSecret, match="FERRY_ENCRYPTION_KEY"):
        crypto.unseal(sealed)


@pytest.mark.django_db
def test_reseal_tokens_moves_every_token_to_the_newest_key(settings, organization, capsys):
    from django.core.management import call_command

    from console.models import Workspace

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERRY_ENCRYPTION_KEYS = [old]
    Workspace.objects.create(
        organization=organization,
        app_id_code="abc",
        name="Acme",
        api_base="https://api.intercom.io",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal("intercom-token"),
    )
    settings.FERRY_ENCRYPTION_KEYS = [new, old]

    call_command("reseal_tokens")

    assert "Re-encrypted 1 token(s)" in capsys.readouterr().out
    settings.FERRY_ENCRYPTION_KEYS = [new]
    assert Workspace.objects.get().access_token == "intercom-token"
