from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from console import crypto, throttle
from console.models import Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_every_page_forbids_inline_scripts(owner_client, client):
    for response in (owner_client.get(reverse("overview")), client.get(reverse("login"))):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.content.decode())


def test_sign_in_is_refused_after_repeated_failures(client, owner):
    for _ in range(throttle.FAILURES_PER_ACCOUNT):
        response = client.post(reverse("login"), {"username": owner.email, "password": "wrong"})
        assert response.status_code == 200

    refused = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})

    assert refused.status_code == 429
    assert "Too many failed sign-ins from here" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_success_clears_the_account_s_failures(client, owner):
    for _ in range(throttle.FAILURES_PER_ACCOUNT - 1):
        client.post(reverse("login"), {"username": owner.email, "password": "wrong"})
    client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})
    client.post(reverse("logout"))

    for _ in range(throttle.FAILURES_PER_ACCOUNT - 1):
        client.post(reverse("login"), {"username": owner.email, "password": "wrong"})
    response = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})

    assert response.status_code == 302


def test_tokens_are_not_in_the_database_in_clear(organization):
    token = "dG9rOnNlY3JldC1pbnRlcmNvbS10b2tlbg=="
    Workspace.objects.create(
        organization=organization,
        app_id_code="abc",
        name="Acme",
        api_base="https://api.intercom.io",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal(token),
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM console_workspace")
        rows = cursor.fetchall()

    assert rows
    assert token not in repr(rows)
    assert Workspace.objects.get().access_token == token
