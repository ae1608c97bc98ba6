"""The destination page: its workspace and the reconnect banner, and its tabs (Mappings
and Deliveries are served by other apps and loaded with htmx)."""

from __future__ import annotations

import html
import types

import pytest
from django.http import HttpResponse
from django.urls import URLResolver, include, path, reverse

from console import services
from console import urls as project_urls
from console.models import Workspace
from tests.console.test_workspaces import authorize

pytestmark = pytest.mark.django_db

PANEL_VIEWS = {"mapping_list", "destination_deliveries"}


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _panel(request, pk):
    return HttpResponse(f"panel for {pk}")


def _urlconf(*, with_panels: bool) -> types.ModuleType:
    """The project's URLs without the views of the Mappings and Deliveries tabs, and, with
    ``with_panels``, stand-ins for them: the page must work before and after they exist."""
    patterns = []
    for pattern in project_urls.urlpatterns:
        if isinstance(pattern, URLResolver) and isinstance(pattern.urlconf_name, types.ModuleType):
            kept = [p for p in pattern.url_patterns if getattr(p, "name", None) not in PANEL_VIEWS]
            pattern = path(str(pattern.pattern), include(kept))
        patterns.append(pattern)
    if with_panels:
        patterns += [
            path("stand-in/<int:pk>/mappings", _panel, name="mapping_list"),
            path("stand-in/<int:pk>/deliveries", _panel, name="destination_deliveries"),
        ]
    module = types.ModuleType(f"urls_with_panels_{with_panels}")
    module.urlpatterns = patterns
    return module


@pytest.fixture
def with_panels(settings):
    settings.ROOT_URLCONF = _urlconf(with_panels=True)


@pytest.fixture
def without_panels(settings):
    settings.ROOT_URLCONF = _urlconf(with_panels=False)


@pytest.fixture
def destination(destination, workspace):
    """The destination, delivering to the sandbox workspace."""
    destination.workspace = workspace
    destination.save()
    return destination


def _tabs(page: str) -> str:
    return page.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]


def _page(client, destination, **query):
    return client.get(reverse("destination_detail", args=[destination.pk]), query)


def test_the_page_shows_its_workspace_and_status(owner_client, destination):
    page = _text(_page(owner_client, destination))

    assert "Workspace:" in page
    assert "<strong>Sandbox Workspace</strong> <code>sandbox01</code>" in page
    assert '<span class="badge on">Connected</span>' in page
    assert "deliveries are paused" not in page


def test_a_workspace_that_needs_reconnecting_shows_the_banner(owner_client, destination, workspace):
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.auth_method = Workspace.AuthMethod.OAUTH
    workspace.save()

    page = _text(_page(owner_client, destination))

    assert "Intercom refused this workspace's token: deliveries are paused" in page
    here = reverse("destination_detail", args=[destination.pk])
    reconnect = f"{reverse('workspace_connect')}?next={here.replace('/', '%2F')}"
    assert f'<a class="button" href="{reconnect}">Reconnect</a>' in page


def test_reconnect_from_the_banner_comes_back_to_the_destination(
    owner_client, settings, sandbox, destination, workspace
):
    settings.INTERCOM_SANDBOX_URL = sandbox.base_url
    settings.INTERCOM_CLIENT_ID = ""
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.auth_method = Workspace.AuthMethod.OAUTH
    workspace.save()
    here = reverse("destination_detail", args=[destination.pk])

    response = owner_client.get(authorize(owner_client, sandbox, next_url=here), follow=True)

    assert response.redirect_chain == [(here, 302)]
    page = _text(response)
    assert "Intercom workspace “Sandbox Workspace” (sandbox01) is connected." in page
    assert "deliveries are paused" not in page
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.CONNECTED


def test_an_access_token_workspace_asks_for_a_new_token(owner_client, destination, workspace):
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.save()

    page = _text(_page(owner_client, destination))

    assert "deliveries are paused" in page
    here = reverse("destination_detail", args=[destination.pk])
    link = f"{reverse('workspace_token')}?workspace={workspace.pk}&next={here.replace('/', '%2F')}"
    assert f'<a href="{link}">Give a new access token</a>' in page
    assert ">Reconnect</a>" not in page


def test_a_destination_without_workspace(owner_client, source):
    destination = services.destination_create(source=source, name="Later")

    page = _text(_page(owner_client, destination))

    assert "none chosen yet" in page
    assert "deliveries are paused" not in page


def test_the_settings_tab_keeps_the_form(owner_client, destination, with_panels):
    page = _text(_page(owner_client, destination))

    here = reverse("destination_detail", args=[destination.pk])
    tabs = _tabs(page)
    assert f'<a href="{here}" aria-current="page">Settings</a>' in tabs
    assert f'<a href="{here}?tab=mappings">Mappings</a>' in tabs
    assert f'<a href="{here}?tab=deliveries">Deliveries</a>' in tabs
    assert "Save</button>" in page
    assert 'hx-trigger="load"' not in page


@pytest.mark.parametrize(
    ("tab", "view"), [("mappings", "mapping_list"), ("deliveries", "destination_deliveries")]
)
def test_the_other_tabs_load_from_their_apps(owner_client, destination, with_panels, tab, view):
    page = _text(_page(owner_client, destination, tab=tab))

    panel = reverse(view, args=[destination.pk])
    assert f'<div hx-get="{panel}" hx-trigger="load">' in page
    assert f'<a href="{panel}">' in page
    assert f'aria-current="page">{tab.capitalize()}</a>' in _tabs(page)
    assert "Save</button>" not in page


def test_tabs_whose_views_do_not_exist_yet_are_left_out(owner_client, destination, without_panels):
    response = _page(owner_client, destination, tab="mappings")

    page = _text(response)
    assert response.status_code == 200
    tabs = _tabs(page)
    assert ">Settings</a>" in tabs
    assert ">Mappings</a>" not in tabs
    assert ">Deliveries</a>" not in tabs
    assert "Save</button>" in page


def test_an_unknown_tab_shows_the_settings(owner_client, destination, with_panels):
    page = _text(_page(owner_client, destination, tab="nonsense"))

    assert "Save</button>" in page


def test_saving_stays_on_the_settings_tab(owner_client, destination, workspace):
    response = owner_client.post(
        reverse("destination_detail", args=[destination.pk]) + "?tab=mappings",
        {"name": "", "workspace": workspace.pk},
    )

    assert response.status_code == 400
    assert "This field is required." in _text(response)


def test_another_organisation_is_refused_on_every_tab(outsider_client, destination, with_panels):
    for tab in ["settings", "mappings", "deliveries"]:
        assert _page(outsider_client, destination, tab=tab).status_code == 404
