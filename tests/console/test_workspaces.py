"""Connecting Intercom workspaces: the OAuth round trip run for real against the sandbox
over HTTP (the browser's part played with httpx), access tokens, and "Test connection"."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from console import crypto, intercom_connect, services
from console.intercom_connect import WorkspaceIdentity
from console.models import Workspace
from console.signals import workspace_connected
from delivery.sandbox import IntercomSandbox

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/workspaces/oauth/callback"


def _text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def use_sandbox(settings, sandbox):
    """Ferry configured as `make run` does without Intercom credentials."""
    settings.INTERCOM_SANDBOX_URL = sandbox.base_url
    settings.INTERCOM_CLIENT_ID = ""
    settings.INTERCOM_CLIENT_SECRET = ""
    return sandbox


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_sandbox(settings, clock):
    server = IntercomSandbox(clock=clock)
    server.start(host="127.0.0.1", port=0)
    settings.INTERCOM_SANDBOX_URL = server.base_url
    settings.INTERCOM_CLIENT_ID = ""
    yield server
    server.stop()


@pytest.fixture
def received_signals():
    received = []

    def receiver(sender, workspace, **kwargs):
        received.append((sender, workspace.pk, workspace.status))

    workspace_connected.connect(receiver)
    yield received
    workspace_connected.disconnect(receiver)


def _hidden_fields(page: str) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)
    }


def authorize(client, sandbox, *, decision="approve", next_url=None, workspace=None) -> str:
    """Start "Connect Intercom" in ``client``, approve or deny on the sandbox's consent page
    as a browser would, and return the callback URL (path and query) Intercom sends back."""
    start = client.get(reverse("workspace_connect"), {"next": next_url} if next_url else {})
    assert start.status_code == 302
    assert start.url.startswith(f"{sandbox.base_url}/oauth?")
    consent = httpx.get(start.url)
    assert consent.status_code == 200, consent.text
    fields = _hidden_fields(consent.text)
    if workspace:
        fields["workspace"] = workspace
    decided = httpx.post(f"{sandbox.base_url}/oauth", data={**fields, "decision": decision})
    assert decided.status_code == 302
    location = urlsplit(decided.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return f"{location.path}?{location.query}"


def _token_exchanges(sandbox):
    return [r for r in sandbox.requests if r.path == "/auth/eagle/token"]


# Connecting by OAuth


def test_connecting_by_oauth_stores_the_workspace(owner_client, owner, organization, use_sandbox):
    callback = authorize(owner_client, use_sandbox)

    response = owner_client.get(callback, follow=True)

    assert response.redirect_chain[-1][0] == reverse("workspace_list")
    page = _text(response)
    assert "Intercom workspace “Sandbox Workspace” (sandbox01) is connected." in page
    workspace = Workspace.objects.get(organization=organization)
    assert workspace.app_id_code == "sandbox01"
    assert workspace.name == "Sandbox Workspace"
    assert workspace.region == Workspace.Region.US
    assert workspace.api_base == use_sandbox.base_url
    assert workspace.auth_method == Workspace.AuthMethod.OAUTH
    assert workspace.status == Workspace.Status.CONNECTED
    assert workspace.connected_by == owner
    assert workspace.verified_at is not None
    token = workspace.access_token
    assert token not in workspace.token_ciphertext
    assert token not in page
    assert (
        httpx.get(
            f"{use_sandbox.base_url}/me",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ).json()["app"]["id_code"]
        == "sandbox01"
    )


def test_the_code_is_exchanged_form_encoded_and_the_token_checked_with_me(
    owner_client, use_sandbox
):
    callback = authorize(owner_client, use_sandbox)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    owner_client.get(callback)

    [exchange] = _token_exchanges(use_sandbox)
    assert exchange.method == "POST"
    assert exchange.headers["content-type"].startswith("application/x-www-form-urlencoded")
    sent = parse_qs(exchange.body)
    assert sent["code"] == [code]
    assert sent["client_id"] == [intercom_connect.SANDBOX_CLIENT_ID]
    assert sent["client_secret"] == [intercom_connect.SANDBOX_CLIENT_SECRET]
    assert exchange.status == 200
    [me] = [r for r in use_sandbox.requests if r.path == "/me"]
    token = Workspace.objects.get().access_token
    assert me.headers["authorization"] == f"Bearer {token}"
    assert me.headers["accept"] == "application/json"
    assert me.headers["intercom-version"] == "2.13"
    assert me.status == 200


def test_the_sandbox_credentials_copy_the_sandbox_defaults():
    from delivery import sandbox

    assert intercom_connect.SANDBOX_CLIENT_ID == sandbox.DEFAULT_CLIENT_ID
    assert intercom_connect.SANDBOX_CLIENT_SECRET == sandbox.DEFAULT_CLIENT_SECRET


def test_the_user_returns_to_the_page_they_came_from(owner_client, use_sandbox):
    destination_page = reverse("destination_list") + "?from=connect"
    callback = authorize(owner_client, use_sandbox, next_url=destination_page)

    response = owner_client.get(callback)

    assert response.status_code == 302
    assert response.url == destination_page


def test_a_next_url_off_this_site_is_ignored(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox, next_url="https://evil.example/phish")

    response = owner_client.get(callback)

    assert response.url == reverse("workspace_list")
    assert Workspace.objects.count() == 1


def test_denied_consent_connects_nothing(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox, decision="deny")
    assert "error=access_denied" in callback

    response = owner_client.get(callback, follow=True)

    assert response.status_code == 200
    assert "You declined the connection in Intercom" in _text(response)
    assert not Workspace.objects.exists()
    assert _token_exchanges(use_sandbox) == []


def test_denied_consent_also_returns_to_the_page_the_user_came_from(owner_client, use_sandbox):
    callback = authorize(
        owner_client, use_sandbox, decision="deny", next_url=reverse("destination_list")
    )

    response = owner_client.get(callback)

    assert response.url == reverse("destination_list")


def test_a_forged_state_is_refused(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)

    response = owner_client.get(forged, follow=True)

    assert "could not be verified" in _text(response)
    assert not Workspace.objects.exists()
    assert _token_exchanges(use_sandbox) == []


def test_a_callback_without_state_is_refused(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    without_state = re.sub(r"&?state=[^&]+", "", callback)

    response = owner_client.get(without_state, follow=True)

    assert "could not be verified" in _text(response)
    assert not Workspace.objects.exists()


def test_a_state_works_once(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    owner_client.get(callback)

    replay = owner_client.get(callback, follow=True)

    assert "could not be verified: it was already used" in _text(replay)
    assert Workspace.objects.count() == 1
    assert len(_token_exchanges(use_sandbox)) == 1


def test_a_state_belongs_to_the_session_that_started(owner_client, teammate_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)

    response = teammate_client.get(callback, follow=True)

    assert "could not be verified" in _text(response)
    assert not Workspace.objects.exists()


def test_an_expired_code_is_refused(owner_client, clocked_sandbox, clock):
    callback = authorize(owner_client, clocked_sandbox)
    clock.now += 301

    response = owner_client.get(callback, follow=True)

    assert response.status_code == 200
    assert "Intercom refused the authorization code: it has expired" in _text(response)
    assert not Workspace.objects.exists()
    assert [r.status for r in _token_exchanges(clocked_sandbox)] == [401]


def test_a_code_used_within_its_lifetime_works(owner_client, clocked_sandbox, clock):
    callback = authorize(owner_client, clocked_sandbox)
    clock.now += 299

    owner_client.get(callback)

    assert Workspace.objects.get().status == Workspace.Status.CONNECTED


def test_wrong_client_credentials_are_explained(owner_client, settings, use_sandbox):
    settings.INTERCOM_CLIENT_ID = intercom_connect.SANDBOX_CLIENT_ID
    settings.INTERCOM_CLIENT_SECRET = "not-the-secret"
    callback = authorize(owner_client, use_sandbox)

    response = owner_client.get(callback, follow=True)

    page = _text(response)
    assert "Intercom refused Ferry's app credentials" in page
    assert "INTERCOM_CLIENT_SECRET" in page
    assert not Workspace.objects.exists()


def test_intercom_unreachable_during_the_exchange(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    use_sandbox.stop()

    response = owner_client.get(callback, follow=True)

    assert response.status_code == 200
    assert "Ferry could not reach Intercom at 127.0.0.1" in _text(response)
    assert not Workspace.objects.exists()


def test_a_failing_token_endpoint_is_explained(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    use_sandbox.fail(path="/auth/eagle/token", status=503)

    response = owner_client.get(callback, follow=True)

    assert "Intercom answered 503 when Ferry exchanged the authorization code" in _text(response)
    assert not Workspace.objects.exists()


def test_a_token_endpoint_answering_garbage_is_explained(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    use_sandbox.fail(path="/auth/eagle/token", garbage=True)

    response = owner_client.get(callback, follow=True)

    assert response.status_code == 200
    assert "answered with something other than JSON" in _text(response)
    assert not Workspace.objects.exists()


def test_a_failing_me_after_the_exchange_is_explained(owner_client, use_sandbox):
    callback = authorize(owner_client, use_sandbox)
    use_sandbox.fail(path="/me", status=401)

    response = owner_client.get(callback, follow=True)

    assert "Intercom refused the token it had just granted (401 Unauthorized)" in _text(response)
    assert not Workspace.objects.exists()


def test_connecting_the_same_workspace_twice_updates_it(owner_client, owner, use_sandbox):
    owner_client.get(authorize(owner_client, use_sandbox))
    first = Workspace.objects.get()
    Workspace.objects.filter(pk=first.pk).update(name="Old name")

    owner_client.get(authorize(owner_client, use_sandbox))

    second = Workspace.objects.get()
    assert second.pk == first.pk
    assert second.name == "Sandbox Workspace"
    assert second.access_token != first.access_token


def test_several_workspaces_can_be_connected(owner_client, organization, use_sandbox):
    use_sandbox.add_workspace(id_code="euro01", name="Euro Support", region="EU")

    owner_client.get(authorize(owner_client, use_sandbox))
    owner_client.get(authorize(owner_client, use_sandbox, workspace="euro01"))

    by_code = {w.app_id_code: w for w in Workspace.objects.filter(organization=organization)}
    assert set(by_code) == {"sandbox01", "euro01"}
    assert by_code["euro01"].region == Workspace.Region.EU
    assert by_code["euro01"].name == "Euro Support"


def test_reconnecting_a_workspace_that_needs_it(
    owner_client, use_sandbox, workspace, received_signals
):
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.auth_method = Workspace.AuthMethod.OAUTH
    workspace.save()
    use_sandbox.revoke(workspace.access_token)

    response = owner_client.get(authorize(owner_client, use_sandbox), follow=True)

    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.CONNECTED
    assert received_signals == [(Workspace, workspace.pk, Workspace.Status.CONNECTED)]
    assert "Deliveries paused while it was disconnected resume now." in _text(response)
    assert Workspace.objects.count() == 1


def test_connecting_a_healthy_workspace_sends_no_signal(
    owner_client, use_sandbox, workspace, received_signals
):
    owner_client.get(authorize(owner_client, use_sandbox))

    assert Workspace.objects.get().pk == workspace.pk
    assert received_signals == []


def test_an_outsider_connecting_the_same_workspace_gets_their_own(
    owner_client, outsider_client, organization, other_organization, use_sandbox
):
    owner_client.get(authorize(owner_client, use_sandbox))
    owners = Workspace.objects.get(organization=organization)

    outsider_client.get(authorize(outsider_client, use_sandbox))

    theirs = Workspace.objects.get(organization=other_organization)
    assert theirs.pk != owners.pk
    owners_after = Workspace.objects.get(pk=owners.pk)
    assert owners_after.token_ciphertext == owners.token_ciphertext
    assert owners_after.connected_at == owners.connected_at


# Configuration


def test_without_oauth_settings_the_page_says_what_to_set(owner_client, settings):
    settings.INTERCOM_SANDBOX_URL = ""
    settings.INTERCOM_CLIENT_ID = ""

    page = _text(owner_client.get(reverse("workspace_list")))

    assert "Connecting with OAuth is not set up on this Ferry server." in page
    for variable in ["INTERCOM_CLIENT_ID", "INTERCOM_CLIENT_SECRET", "INTERCOM_SANDBOX_URL"]:
        assert variable in page
    assert ">Connect Intercom</a>" not in page
    assert "use an access token" in page


def test_connecting_without_oauth_settings_explains_instead_of_failing(owner_client, settings):
    settings.INTERCOM_SANDBOX_URL = ""
    settings.INTERCOM_CLIENT_ID = ""

    response = owner_client.get(reverse("workspace_connect"), follow=True)

    assert response.redirect_chain == [(reverse("workspace_list"), 302)]
    assert "Set INTERCOM_CLIENT_ID and INTERCOM_CLIENT_SECRET" in _text(response)


def test_a_callback_without_oauth_settings_explains_instead_of_failing(owner_client, settings):
    settings.INTERCOM_SANDBOX_URL = ""
    settings.INTERCOM_CLIENT_ID = ""

    response = owner_client.get(
        reverse("workspace_oauth_callback") + "?code=abc&state=xyz", follow=True
    )

    assert response.status_code == 200
    assert "Connecting with OAuth is not set up" in _text(response)


def test_a_client_id_without_its_secret_is_explained(owner_client, settings):
    settings.INTERCOM_SANDBOX_URL = ""
    settings.INTERCOM_CLIENT_ID = "my-app"
    settings.INTERCOM_CLIENT_SECRET = ""

    page = _text(owner_client.get(reverse("workspace_list")))

    assert "INTERCOM_CLIENT_ID is set but INTERCOM_CLIENT_SECRET is not." in page


def test_with_intercom_credentials_the_user_goes_to_intercom(owner_client, settings):
    settings.INTERCOM_SANDBOX_URL = ""
    settings.INTERCOM_CLIENT_ID = "my-app"
    settings.INTERCOM_CLIENT_SECRET = "my-secret"

    response = owner_client.get(reverse("workspace_connect"))

    url = urlsplit(response.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://app.intercom.com/oauth"
    query = parse_qs(url.query)
    assert query["client_id"] == ["my-app"]
    assert query["redirect_uri"] == [CALLBACK]
    assert len(query["state"][0]) >= 20
    assert "my-secret" not in response.url
    page = _text(owner_client.get(reverse("workspace_list")))
    assert CALLBACK in page


# Access tokens


def test_connecting_with_an_access_token(owner_client, owner, organization, use_sandbox):
    token = use_sandbox.add_workspace(id_code="priv01", name="Private App WS", region="AU")

    response = owner_client.post(
        reverse("workspace_token"), {"token": f"  {token} ", "region": "au"}, follow=True
    )

    assert "Intercom workspace “Private App WS” (priv01) is connected." in _text(response)
    assert token not in response.content.decode()
    workspace = Workspace.objects.get(organization=organization)
    assert workspace.auth_method == Workspace.AuthMethod.ACCESS_TOKEN
    assert workspace.region == Workspace.Region.AU
    assert workspace.api_base == use_sandbox.base_url
    assert workspace.access_token == token
    assert workspace.connected_by == owner
    [me] = [r for r in use_sandbox.requests if r.path == "/me"]
    assert me.headers["authorization"] == f"Bearer {token}"


def test_a_bad_access_token_is_refused_and_not_stored(owner_client, use_sandbox):
    response = owner_client.post(
        reverse("workspace_token"), {"token": "not-a-real-token", "region": "us"}
    )

    assert response.status_code == 400
    page = _text(response)
    assert "Intercom refused this token (401 Unauthorized), so nothing was saved." in page
    assert "not-a-real-token" not in page
    assert not Workspace.objects.exists()


def test_an_access_token_form_without_a_token(owner_client, use_sandbox):
    response = owner_client.post(reverse("workspace_token"), {"token": "  ", "region": "us"})

    assert response.status_code == 400
    assert "This field is required." in _text(response)
    assert not use_sandbox.requests


def test_an_unreachable_intercom_is_explained_on_the_token_form(owner_client, use_sandbox):
    use_sandbox.fail(path="/me", drop_connection=True)

    response = owner_client.post(
        reverse("workspace_token"), {"token": use_sandbox.access_token, "region": "us"}
    )

    assert response.status_code == 400
    assert "Ferry could not reach Intercom at 127.0.0.1" in _text(response)
    assert not Workspace.objects.exists()


def test_a_new_token_for_a_workspace_that_needs_reconnecting(
    owner_client, use_sandbox, workspace, received_signals, destination
):
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.save()
    use_sandbox.revoke(workspace.access_token)
    new_token = _new_token_for_default_workspace(use_sandbox)
    page = reverse("destination_detail", args=[destination.pk])

    form = owner_client.get(reverse("workspace_token"), {"workspace": workspace.pk, "next": page})
    assert "New access token for “Sandbox Workspace”" in _text(form)
    response = owner_client.post(
        reverse("workspace_token") + f"?workspace={workspace.pk}",
        {"token": new_token, "region": "us", "next": page},
    )

    assert response.url == page
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.CONNECTED
    assert workspace.access_token == new_token
    assert received_signals == [(Workspace, workspace.pk, Workspace.Status.CONNECTED)]


def _new_token_for_default_workspace(sandbox) -> str:
    """Another token for the sandbox's default workspace, as another app would get one."""
    decided = httpx.post(
        f"{sandbox.base_url}/oauth",
        data={
            "client_id": intercom_connect.SANDBOX_CLIENT_ID,
            "redirect_uri": "http://elsewhere.test/callback",
            "decision": "approve",
        },
    )
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    answer = httpx.post(
        f"{sandbox.base_url}/auth/eagle/token",
        data={
            "code": code,
            "client_id": intercom_connect.SANDBOX_CLIENT_ID,
            "client_secret": intercom_connect.SANDBOX_CLIENT_SECRET,
        },
    )
    return answer.json()["access_token"]


def test_a_token_for_another_workspace_does_not_replace_this_one(
    owner_client, use_sandbox, workspace
):
    other = use_sandbox.add_workspace(id_code="other01", name="Other WS")

    response = owner_client.post(
        reverse("workspace_token") + f"?workspace={workspace.pk}",
        {"token": other, "region": "us"},
    )

    assert response.status_code == 400
    assert "This token opens the workspace “Other WS” (other01), not sandbox01." in _text(response)
    assert Workspace.objects.count() == 1
    workspace.refresh_from_db()
    assert workspace.access_token == use_sandbox.access_token


# Test connection


def test_testing_a_working_connection(owner_client, use_sandbox, workspace):
    assert workspace.verified_at is None

    response = owner_client.post(
        reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true"
    )

    page = _text(response)
    assert page.lstrip().startswith(f'<tr id="workspace-{workspace.pk}">')
    assert "Connected: Intercom answered for “Sandbox Workspace”." in page
    assert "<html" not in page
    workspace.refresh_from_db()
    assert workspace.verified_at is not None
    assert workspace.status == Workspace.Status.CONNECTED
    [me] = use_sandbox.requests
    assert (me.method, me.path, me.status) == ("GET", "/me", 200)


def test_testing_a_revoked_token_marks_the_workspace(owner_client, use_sandbox, workspace):
    use_sandbox.revoke(workspace.access_token)

    response = owner_client.post(
        reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true"
    )

    page = _text(response)
    assert "Intercom refused this workspace's token (401 Unauthorized)" in page
    assert "Needs reconnection" in page
    assert "Give a new token" in page
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.NEEDS_RECONNECT
    assert workspace.access_token not in page


def test_a_working_test_reconnects_a_workspace_marked_by_mistake(
    owner_client, use_sandbox, workspace, received_signals
):
    workspace.status = Workspace.Status.NEEDS_RECONNECT
    workspace.save()

    owner_client.post(reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true")

    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.CONNECTED
    assert received_signals == [(Workspace, workspace.pk, Workspace.Status.CONNECTED)]


def test_testing_while_intercom_is_unreachable(owner_client, use_sandbox, workspace):
    use_sandbox.fail(path="/me", drop_connection=True)

    response = owner_client.post(
        reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true"
    )

    assert "Ferry could not reach Intercom" in _text(response)
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.CONNECTED
    assert workspace.verified_at is None


def test_testing_without_javascript_goes_back_with_a_message(owner_client, use_sandbox, workspace):
    use_sandbox.revoke(workspace.access_token)

    response = owner_client.post(reverse("workspace_test", args=[workspace.pk]), follow=True)

    assert response.redirect_chain == [(reverse("workspace_list"), 302)]
    assert "“Sandbox Workspace”: Intercom refused this workspace's token" in _text(response)


def test_the_workspaces_page_lists_with_test_and_reconnect(owner_client, use_sandbox, workspace):
    Workspace.objects.filter(pk=workspace.pk).update(
        status=Workspace.Status.NEEDS_RECONNECT, auth_method=Workspace.AuthMethod.OAUTH
    )

    page = _text(owner_client.get(reverse("workspace_list")))

    assert "Sandbox Workspace" in page
    assert f'hx-post="{reverse("workspace_test", args=[workspace.pk])}"' in page
    assert f'<a class="button" href="{reverse("workspace_connect")}">Reconnect</a>' in page
    assert f'<a class="button" href="{reverse("workspace_connect")}">Connect Intercom</a>' in page
    assert "Intercom sandbox at" in page


# Where tokens may go


def _identity(api_base: str, **overrides) -> WorkspaceIdentity:
    fields = {"id_code": "abc123", "name": "Acme", "region": "us", "api_base": api_base}
    return WorkspaceIdentity(**{**fields, **overrides})


@pytest.mark.parametrize(
    "api_base",
    ["https://api.intercom.io", "https://api.eu.intercom.io", "https://api.au.intercom.io"],
)
def test_intercoms_hosts_are_accepted(organization, settings, api_base):
    settings.INTERCOM_SANDBOX_URL = ""

    workspace, _ = services.workspace_store(
        organization=organization,
        user=None,
        identity=_identity(api_base),
        token="t0ken",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
    )

    assert workspace.api_base == api_base


@pytest.mark.parametrize(
    "api_base",
    [
        "https://attacker.example",
        "http://api.intercom.io",
        "https://api.intercom.io.attacker.example",
        "http://127.0.0.1:8999",
    ],
)
def test_any_other_api_host_is_refused(organization, settings, api_base):
    settings.INTERCOM_SANDBOX_URL = ""

    with pytest.raises(ValidationError, match="is not an Intercom API host"):
        services.workspace_store(
            organization=organization,
            user=None,
            identity=_identity(api_base),
            token="t0ken",
            auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        )

    assert not Workspace.objects.exists()


def test_the_sandbox_host_is_accepted_only_while_configured(organization, settings):
    settings.INTERCOM_SANDBOX_URL = "http://127.0.0.1:8999"
    store = {
        "organization": organization,
        "user": None,
        "identity": _identity("http://127.0.0.1:8999"),
        "token": "t0ken",
        "auth_method": Workspace.AuthMethod.ACCESS_TOKEN,
    }
    services.workspace_store(**store)

    settings.INTERCOM_SANDBOX_URL = ""
    with pytest.raises(ValidationError):
        services.workspace_store(**store)


def test_the_api_host_follows_the_region_intercom_reports(sandbox, settings):
    token = sandbox.add_workspace(id_code="euro01", name="Euro", region="EU")
    settings.INTERCOM_SANDBOX_URL = ""

    identity = intercom_connect.identify(token=token, api_base=sandbox.base_url)

    assert identity == WorkspaceIdentity(
        id_code="euro01", name="Euro", region="eu", api_base="https://api.eu.intercom.io"
    )


def test_a_token_is_never_sent_to_a_host_that_is_not_intercom(
    owner_client, organization, use_sandbox
):
    workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="abc123",
        name="Planted",
        api_base="https://attacker.example",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal("secret-token"),
    )

    response = owner_client.post(
        reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true"
    )

    assert "is not an Intercom API host, so Ferry did not send the token there" in _text(response)


# Who may do what


def test_a_teammate_can_test_the_organisations_workspace(teammate_client, use_sandbox, workspace):
    response = teammate_client.post(
        reverse("workspace_test", args=[workspace.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "Connected: Intercom answered" in _text(response)


def test_another_organisations_workspace_cannot_be_tested(outsider_client, use_sandbox, workspace):
    response = outsider_client.post(reverse("workspace_test", args=[workspace.pk]))

    assert response.status_code == 404
    assert use_sandbox.requests == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organisations_workspace_cannot_get_a_new_token(
    outsider_client, use_sandbox, workspace, method
):
    if method == "get":
        response = outsider_client.get(reverse("workspace_token"), {"workspace": workspace.pk})
    else:
        response = outsider_client.post(
            reverse("workspace_token") + f"?workspace={workspace.pk}",
            {"token": use_sandbox.access_token, "region": "us"},
        )

    assert response.status_code == 404
    assert Workspace.objects.get().pk == workspace.pk
    assert use_sandbox.requests == []


def test_another_organisations_workspaces_are_not_listed(outsider_client, workspace):
    page = _text(outsider_client.get(reverse("workspace_list")))

    assert "Sandbox Workspace" not in page
    assert "No Intercom workspace is connected to this organisation yet." in page


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "workspace_list", []),
        ("get", "workspace_connect", []),
        ("get", "workspace_oauth_callback", []),
        ("get", "workspace_token", []),
        ("post", "workspace_token", []),
        ("post", "workspace_test", [1]),
    ],
)
def test_anonymous_visitors_must_sign_in(client, method, name, args):
    response = getattr(client, method)(reverse(name, args=args))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_starting_oauth_needs_get(owner_client, use_sandbox):
    assert owner_client.post(reverse("workspace_connect")).status_code == 405
