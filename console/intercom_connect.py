"""Connecting Intercom workspaces: the OAuth round trip and the token check.

Public surface:

- ``start_authorization(request, redirect_uri=, next_url=)``: the redirect to Intercom's
  consent page, with a ``state`` kept in the session (authlib's Django client).
- ``authorization_next_url(request)``: where the user started the round trip, read from the
  session before ``finish_authorization`` consumes the ``state``.
- ``finish_authorization(request) -> token``: checks ``state`` (single use) and exchanges the
  code at Intercom's "eagle" token endpoint.
- ``identify(token=, api_base=) -> WorkspaceIdentity``: ``GET /me``, the workspace a token
  opens and the API host to use for it.
- ``api_base_for(region)``, ``api_base_is_allowed(url)``, ``oauth_configuration_problem()``.
- ``ConnectError`` and its subclasses: every failure a user can act on, ``str()`` being the
  sentence to show them. Tokens never appear in them, nor in logs.

With ``INTERCOM_SANDBOX_URL`` set, every call goes to the sandbox instead of Intercom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App, OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from console.intercom_facts import DEFAULT_VERSION, REGION_API_BASES, TIMEOUT_SECONDS, USER_AGENT

logger = logging.getLogger(__name__)

AUTHORIZE_URL = "https://app.intercom.com/oauth"
TOKEN_URL = "https://api.intercom.io/auth/eagle/token"
# The API host that answers for every region: the token endpoint and /me after OAuth.
GLOBAL_API_BASE = REGION_API_BASES["us"]
# Copies of delivery.sandbox.DEFAULT_CLIENT_ID / DEFAULT_CLIENT_SECRET: the console may not
# import delivery (dependencies point from delivery to console).
SANDBOX_CLIENT_ID = "ferry-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
OAUTH_CLIENT_NAME = "intercom"


class ConnectError(Exception):
    """Connecting or checking a workspace failed; ``str()`` says what happened and what to
    do, in a sentence a user can read."""

    default_message = "Ferry could not connect to Intercom."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class OAuthNotConfigured(ConnectError):
    pass


class ConsentDenied(ConnectError):
    default_message = (
        "You declined the connection in Intercom, so no workspace was connected. "
        "Choose “Connect Intercom” again and approve it if you meant to connect."
    )


class StateRefused(ConnectError):
    default_message = (
        "This connection attempt could not be verified: it was already used, or it was "
        "started in another browser or session. No workspace was connected; "
        "start again with “Connect Intercom”."
    )


class CodeRefused(ConnectError):
    default_message = (
        "Intercom refused the authorization code: it has expired (codes last about five "
        "minutes) or was already used. No workspace was connected; "
        "start again with “Connect Intercom”."
    )


class ClientRefused(ConnectError):
    default_message = (
        "Intercom refused Ferry's app credentials. Check INTERCOM_CLIENT_ID and "
        "INTERCOM_CLIENT_SECRET against your app's Basic Information page in Intercom's "
        "Developer Hub, then restart Ferry."
    )


class TokenRefused(ConnectError):
    default_message = "Intercom refused the access token (401 Unauthorized)."


class IntercomUnreachable(ConnectError):
    pass


class UnexpectedAnswer(ConnectError):
    pass


@dataclass(frozen=True)
class WorkspaceIdentity:
    """The workspace a token opens, as ``GET /me`` describes it, and the API host to call
    it at (``region`` is one of ``REGION_API_BASES``)."""

    id_code: str
    name: str
    region: str
    api_base: str


def sandbox_url() -> str:
    return str(settings.INTERCOM_SANDBOX_URL or "").rstrip("/")


def api_base_for(region: str) -> str:
    """The API host of a workspace in ``region``: the sandbox when Ferry runs against it."""
    return sandbox_url() or REGION_API_BASES[region]


def api_base_is_allowed(api_base: str) -> bool:
    """Tokens go only to Intercom's own API hosts, or to the configured sandbox."""
    allowed = set(REGION_API_BASES.values())
    if sandbox_url():
        allowed.add(sandbox_url())
    return api_base.rstrip("/") in allowed


def _client_credentials() -> tuple[str, str]:
    client_id = settings.INTERCOM_CLIENT_ID
    client_secret = settings.INTERCOM_CLIENT_SECRET
    if not client_id and sandbox_url():
        return SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
    if not client_id:
        raise OAuthNotConfigured(
            "Connecting with OAuth is not set up on this Ferry server. Set INTERCOM_CLIENT_ID "
            "and INTERCOM_CLIENT_SECRET (from your Intercom app's Basic Information page in "
            "the Developer Hub) and restart Ferry, or set INTERCOM_SANDBOX_URL to try the "
            "Intercom sandbox. Meanwhile you can connect with an access token."
        )
    if not client_secret:
        raise OAuthNotConfigured(
            "INTERCOM_CLIENT_ID is set but INTERCOM_CLIENT_SECRET is not. Set it (from your "
            "Intercom app's Basic Information page in the Developer Hub) and restart Ferry."
        )
    return client_id, client_secret


def oauth_configuration_problem() -> str | None:
    """Why "Connect Intercom" cannot work on this server, or None when it can."""
    try:
        _client_credentials()
    except OAuthNotConfigured as problem:
        return str(problem)
    return None


def _intercom_error_message(body: Any) -> str:
    """The first message of Intercom's error envelope, or ""."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code") or "")
    return ""


def _json_or_none(response: requests.Response | httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refuse_token_errors(response: requests.Response) -> requests.Response:
    """Intercom answers a bad code with 401 and its own error envelope, not OAuth's
    ``{"error": ...}``, which authlib would otherwise take for a token."""
    if response.ok:
        return response
    message = _intercom_error_message(_json_or_none(response))
    logger.warning("Intercom's token endpoint answered %s: %s", response.status_code, message)
    if response.status_code == 401:
        raise ClientRefused() if "client" in message.lower() else CodeRefused()
    raise UnexpectedAnswer(
        f"Intercom answered {response.status_code} when Ferry exchanged the authorization "
        f"code{': ' + message if message else ''}. No workspace was connected; "
        "try again in a few minutes."
    )


def _oauth_client() -> DjangoOAuth2App:
    client_id, client_secret = _client_credentials()
    sandbox = sandbox_url()
    oauth = OAuth()
    client: DjangoOAuth2App = oauth.register(
        OAUTH_CLIENT_NAME,
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{sandbox}/oauth" if sandbox else AUTHORIZE_URL,
        access_token_url=f"{sandbox}/auth/eagle/token" if sandbox else TOKEN_URL,
        client_kwargs={
            # Intercom reads client_id and client_secret from the form-encoded body.
            "token_endpoint_auth_method": "client_secret_post",
            "default_timeout": TIMEOUT_SECONDS,
        },
        compliance_fix=lambda session: session.register_compliance_hook(
            "access_token_response", _refuse_token_errors
        ),
        user_agent=USER_AGENT,
    )
    return client


def start_authorization(
    request: HttpRequest, *, redirect_uri: str, next_url: str | None
) -> HttpResponse:
    """Send the browser to Intercom's consent page. The ``state`` it carries is stored in
    this session with ``next_url``, where the user goes back to afterwards."""
    client = _oauth_client()
    authorization = client.create_authorization_url(redirect_uri)
    client.save_authorize_data(request, redirect_uri=redirect_uri, next=next_url, **authorization)
    return HttpResponseRedirect(authorization["url"])


def authorization_next_url(request: HttpRequest) -> str | None:
    """The ``next_url`` saved with this callback's ``state``, if the state is this session's."""
    state = request.GET.get("state")
    if not state:
        return None
    started = DjangoIntegration(OAUTH_CLIENT_NAME).get_state_data(request.session, state)
    return started.get("next") if started else None


def finish_authorization(request: HttpRequest) -> str:
    """The access token Intercom grants for this callback. The ``state`` is forgotten
    whatever happens, so a callback URL works at most once."""
    client = _oauth_client()
    try:
        token = client.authorize_access_token(request)
    except MismatchingStateError:
        raise StateRefused() from None
    except OAuthError as error:
        client.framework.clear_state_data(request.session, request.GET.get("state"))
        if error.error == "access_denied":
            raise ConsentDenied() from None
        raise ConnectError(
            f"Intercom did not connect the workspace ({error.error}"
            f"{': ' + error.description if error.description else ''}). "
            "Start again with “Connect Intercom”."
        ) from None
    except requests.RequestException as error:
        raise _unreachable(client.access_token_url, error) from None
    except ValueError:  # authlib: the answer is not a JSON object
        raise UnexpectedAnswer(
            "Intercom's token endpoint answered with something other than JSON. "
            "No workspace was connected; try again in a few minutes."
        ) from None
    access_token = token.get("access_token") or token.get("token")
    if not isinstance(access_token, str) or not access_token:
        raise UnexpectedAnswer(
            "Intercom's token endpoint answered without an access token. "
            "No workspace was connected; try again in a few minutes."
        )
    return access_token


def _unreachable(url: str, error: Exception) -> IntercomUnreachable:
    host = httpx.URL(url).host
    timed_out = "timeout" in type(error).__name__.lower()
    logger.warning("Intercom at %s is unreachable: %s", host, type(error).__name__)
    return IntercomUnreachable(
        f"Ferry could not reach Intercom at {host}"
        f"{f' (no answer within {TIMEOUT_SECONDS:g} seconds)' if timed_out else ''}. "
        "Check that this server can make outgoing HTTPS connections, then try again."
    )


def identify(*, token: str, api_base: str, version: str = DEFAULT_VERSION) -> WorkspaceIdentity:
    """Ask ``api_base`` which workspace ``token`` opens (``GET /me``). The identity's own
    ``api_base`` is the host for the region Intercom reports."""
    url = f"{api_base.rstrip('/')}/me"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Intercom-Version": version,
        "User-Agent": USER_AGENT,
    }
    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.TransportError as error:
        raise _unreachable(url, error) from None
    body = _json_or_none(response)
    if response.status_code == 401:
        raise TokenRefused()
    if response.status_code != 200:
        message = _intercom_error_message(body)
        logger.warning("GET /me answered %s: %s", response.status_code, message)
        raise UnexpectedAnswer(
            f"Intercom answered {response.status_code} to GET /me"
            f"{': ' + message if message else ''}. Try again in a few minutes."
        )
    app = body.get("app") if isinstance(body, dict) else None
    if not (
        isinstance(app, dict)
        and isinstance(app.get("id_code"), str)
        and app["id_code"]
        and isinstance(app.get("name"), str)
    ):
        raise UnexpectedAnswer("Intercom's answer to GET /me does not describe a workspace.")
    region = str(app.get("region") or "US").lower()
    if region not in REGION_API_BASES:
        raise UnexpectedAnswer(
            f"Intercom says this workspace is hosted in region “{app.get('region')}”, "
            "which Ferry does not know (only US, EU and AU)."
        )
    return WorkspaceIdentity(
        id_code=app["id_code"],
        name=app["name"] or app["id_code"],
        region=region,
        api_base=api_base_for(region),
    )
