from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CONSOLE_PAGES = [
    "overview",
    "source_list",
    "destination_list",
    "workspace_list",
    "event_list",
    "delivery_list",
]


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_every_page_requires_signing_in(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_every_page_has_the_navigation(owner_client, name):
    page = owner_client.get(reverse(name)).content.decode()

    for label in ["Overview", "Sources", "Destinations", "Workspaces", "Events", "Deliveries"]:
        assert f">{label}</a>" in page
    assert 'aria-current="page"' in page
    assert "Acme" in page


def test_signing_in_with_email_and_password(client, owner):
    response = client.post(
        reverse("login"), {"username": " Owner@Acme.test", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("overview")
    assert "owner@acme.test" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("login"), {"username": "owner@acme.test", "password": "nope"})

    assert "That email and password do not match an account." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_out(owner_client):
    response = owner_client.post(reverse("logout"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("login")
    assert owner_client.get(reverse("overview")).status_code == 302


def test_an_account_without_organisation_sees_nothing(client):
    user = get_user_model().objects.create_user(username="lonely", password=PASSWORD)
    client.force_login(user)

    response = client.get(reverse("source_list"))

    assert response.status_code == 403
    assert "does not belong to an organisation" in response.content.decode()


def test_htmx_comes_from_django_htmx_and_nothing_from_elsewhere(owner_client):
    page = owner_client.get(reverse("overview")).content.decode()

    assert re.search(r'src="/static/django_htmx/htmx-2\.min\.js"', page)
    assert "hx-headers" in page and "X-CSRFToken" in page
    assert "https://" not in page and "http://" not in page


def test_the_overview_reports_a_missing_worker(owner_client):
    page = owner_client.get(reverse("overview")).content.decode()

    assert "No worker has reported yet." in page


def test_the_overview_reports_a_live_worker(owner_client):
    from console.tasks import record_worker_heartbeat

    record_worker_heartbeat.apply()

    page = owner_client.get(reverse("overview")).content.decode()
    assert "Workers are running" in page


def test_static_files_are_served_without_debug(settings, tmp_path):
    """What `make run` does: collectstatic, then whitenoise serves the hashed files."""
    assert settings.DEBUG is False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()

    page = client.get(reverse("login")).content.decode()
    stylesheet = re.search(r'href="(/static/css/ferry\.[0-9a-f]+\.css)"', page).group(1)
    script = re.search(r'src="(/static/django_htmx/htmx-2\.min\.[0-9a-f]+\.js)"', page).group(1)

    for url in (stylesheet, script):
        response = client.get(url)
        assert response.status_code == 200, url
    assert b"--accent" in b"".join(client.get(stylesheet).streaming_content)
