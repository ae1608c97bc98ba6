"""The API tokens page: tokens for Ferry's own API, made, shown once, listed
masked and deleted, within the organisation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from console import selectors, services
from console.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_token(organization, owner):
    return services.api_token_create(
        organization=organization, name="Erasure script", created_by=owner
    )


def test_a_new_token_is_shown_once_and_only_its_digest_kept(owner_client, organization):
    response = owner_client.post(reverse("api_token_list"), {"name": "Erasure script"}, follow=True)

    page = response.content.decode()
    secret = response.context["revealed"]["secret"]
    assert secret.startswith("ferry_") and secret in page
    assert "shown only once" in page
    api_token = ApiToken.objects.get(organization=organization)
    assert api_token.name == "Erasure script"
    assert api_token.created_by.email == "owner@acme.test"
    assert all(secret not in str(getattr(api_token, f.attname)) for f in ApiToken._meta.fields)
    assert selectors.api_token_for_secret(secret=secret) == api_token

    again = owner_client.get(reverse("api_token_list")).content.decode()
    assert secret not in again
    assert api_token.masked in again


def test_tokens_are_listed_masked_with_their_last_use(teammate_client, api_token):
    token, secret = api_token
    token.last_used_at = datetime(2026, 11, 29, 8, 30, 5, tzinfo=UTC)
    token.save()

    page = teammate_client.get(reverse("api_token_list")).content.decode()

    assert "Erasure script" in page
    assert token.masked in page
    assert secret[-4:] in token.masked
    assert secret not in page
    assert "2026-11-29 08:30:05" in page


def test_a_token_needs_a_name(owner_client):
    response = owner_client.post(reverse("api_token_list"), {"name": "  "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_deleting_asks_first_then_the_token_stops_working(owner_client, api_token):
    token, secret = api_token
    url = reverse("api_token_delete", args=[token.pk])

    confirm = owner_client.get(url).content.decode()
    assert "Delete the token “Erasure script”?" in confirm
    assert ApiToken.objects.exists()

    response = owner_client.post(url, follow=True)

    assert "API token “Erasure script” deleted" in response.content.decode()
    assert not ApiToken.objects.exists()
    assert selectors.api_token_for_secret(secret=secret) is None


def test_an_outsider_cannot_see_or_delete_a_token(outsider_client, api_token):
    token, _ = api_token

    page = outsider_client.get(reverse("api_token_list")).content.decode()
    confirm = outsider_client.get(reverse("api_token_delete", args=[token.pk]))
    deleted = outsider_client.post(reverse("api_token_delete", args=[token.pk]))

    assert "Erasure script" not in page
    assert "No API token yet." in page
    assert confirm.status_code == 404
    assert deleted.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_sidebar_links_to_tokens_and_user_deletion(owner_client):
    page = owner_client.get(reverse("overview")).content.decode()

    assert f'href="{reverse("api_token_list")}"' in page
    assert f'href="{reverse("user_deletion")}"' in page


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("api_token_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
