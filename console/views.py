from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import intercom_connect, selectors, services, throttle
from console.forms import (
    ApiTokenForm,
    DestinationForm,
    DestinationSettingsForm,
    EmailAuthenticationForm,
    SourceForm,
    WorkspaceTokenForm,
)
from console.models import ApiToken, Destination, Source, Workspace

REVEALED_KEY_SESSION = "revealed_write_key"
REVEALED_TOKEN_SESSION = "revealed_api_token"


class LoginView(auth_views.LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def _who(self) -> dict[str, str]:
        return {
            "email": self.request.POST.get("username", ""),
            "address": self.request.META.get("REMOTE_ADDR", ""),
        }

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        who = self._who()
        if throttle.login_refused(**who):
            form = self.get_form_class()(request, initial={"username": who["email"]})
            refusal = "Too many failed sign-ins from here. Wait 15 minutes, then try again."
            context = self.get_context_data(form=form, refusal=refusal)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: EmailAuthenticationForm) -> HttpResponse:
        throttle.login_failed(**self._who())
        return super().form_invalid(form)

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        throttle.login_succeeded(**self._who())
        return super().form_valid(form)


def _attach_errors(form: Form, error: ValidationError) -> None:
    """Service-level validation errors shown on the form that caused them."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error)


def _source(request: HttpRequest, pk: int) -> Source:
    return get_object_or_404(selectors.sources_of(organization=request.organization), pk=pk)


def _destination(request: HttpRequest, pk: int) -> Destination:
    return get_object_or_404(selectors.destinations_of(organization=request.organization), pk=pk)


def _reveal_write_key_once(request: HttpRequest, source: Source, write_key: str) -> None:
    request.session[REVEALED_KEY_SESSION] = {"source": source.pk, "key": write_key}


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    return render(
        request,
        "console/overview.html",
        {
            "sources": selectors.sources_of(organization=organization).count(),
            "destinations": selectors.destinations_of(organization=organization),
            "workspaces": selectors.workspaces_of(organization=organization).count(),
            "worker": selectors.worker_last_seen(),
            "workers_alive": selectors.workers_alive(),
        },
    )


@require_http_methods(["GET", "POST"])
def source_list(request: HttpRequest) -> HttpResponse:
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, write_key = services.source_create(
                organization=request.organization, name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            _attach_errors(form, error)
        else:
            _reveal_write_key_once(request, source, write_key)
            return redirect("source_detail", pk=source.pk)
    return render(
        request,
        "console/sources.html",
        {"sources": selectors.sources_of(organization=request.organization), "form": form},
    )


@require_GET
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = _source(request, pk)
    revealed = request.session.get(REVEALED_KEY_SESSION)
    write_key = None
    if revealed and revealed["source"] == source.pk:
        write_key = revealed["key"]
        del request.session[REVEALED_KEY_SESSION]
    return render(
        request,
        "console/source_detail.html",
        {
            "source": source,
            "write_key": write_key,
            "rename_form": SourceForm(initial={"name": source.name}),
            "destinations": source.destinations.select_related("workspace"),
        },
    )


@require_POST
def source_rename(request: HttpRequest, pk: int) -> HttpResponse:
    source = _source(request, pk)
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            services.source_rename(source=source, name=form.cleaned_data["name"])
        except ValidationError as error:
            _attach_errors(form, error)
            source.refresh_from_db()
    if request.htmx:
        return render(
            request,
            "console/source_detail.html#rename",
            {"source": source, "rename_form": form, "renamed": form.is_valid() and not form.errors},
        )
    if not form.errors:
        messages.success(request, "Source renamed.")
        return redirect("source_detail", pk=source.pk)
    return render(
        request,
        "console/source_detail.html",
        {
            "source": source,
            "rename_form": form,
            "destinations": source.destinations.select_related("workspace"),
        },
        status=400,
    )


@require_POST
def source_rotate_write_key(request: HttpRequest, pk: int) -> HttpResponse:
    source = _source(request, pk)
    write_key = services.source_rotate_write_key(source=source)
    _reveal_write_key_once(request, source, write_key)
    messages.success(request, "New write key made. The old key no longer works.")
    return redirect("source_detail", pk=source.pk)


@require_http_methods(["GET", "POST"])
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    source = _source(request, pk)
    error = None
    if request.method == "POST":
        try:
            services.source_delete(source=source)
        except ValidationError as refusal:
            error = refusal.messages[0]
        else:
            messages.success(request, f"Source “{source.name}” deleted.")
            return redirect("source_list")
    return render(
        request,
        "console/source_delete.html",
        {"source": source, "error": error},
        status=400 if error else 200,
    )


@require_http_methods(["GET", "POST"])
def destination_list(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = DestinationForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            destination = services.destination_create(**form.cleaned_data)
        except ValidationError as error:
            _attach_errors(form, error)
        else:
            messages.success(request, f"Destination “{destination.name}” created.")
            return redirect("destination_detail", pk=destination.pk)
    return render(
        request,
        "console/destinations.html",
        {
            "destinations": selectors.destinations_of(organization=organization),
            "has_sources": selectors.sources_of(organization=organization).exists(),
            "form": form,
        },
        status=400 if form.errors else 200,
    )


def _url_or_none(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _destination_tabs(destination: Destination) -> list[dict[str, str | None]]:
    """The destination page's tabs. Overview, Mappings and Deliveries are served by other
    apps (and loaded with htmx); a tab whose view is not installed is left out."""
    page = reverse("destination_detail", args=[destination.pk])
    tabs: list[dict[str, str | None]] = [
        {"name": "settings", "label": "Settings", "url": page, "panel": None}
    ]
    for name, label, view in [
        ("overview", "Overview", "destination_overview"),
        ("mappings", "Mappings", "mapping_list"),
        ("deliveries", "Deliveries", "destination_deliveries"),
    ]:
        panel = _url_or_none(view, destination.pk)
        if panel is not None:
            tabs.append({"name": name, "label": label, "url": f"{page}?tab={name}", "panel": panel})
    return tabs


@require_http_methods(["GET", "POST"])
def destination_detail(request: HttpRequest, pk: int) -> HttpResponse:
    destination = _destination(request, pk)
    form = DestinationSettingsForm(
        request.POST or None,
        organization=request.organization,
        initial={
            "name": destination.name,
            "workspace": destination.workspace,
            "enabled": destination.enabled,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.destination_update(destination=destination, **form.cleaned_data)
        except ValidationError as error:
            _attach_errors(form, error)
            destination.refresh_from_db()
        else:
            messages.success(request, "Destination saved.")
            return redirect("destination_detail", pk=destination.pk)
    tabs = _destination_tabs(destination)
    current = request.GET.get("tab", "settings") if request.method == "GET" else "settings"
    return render(
        request,
        "console/destination_detail.html",
        {
            "destination": destination,
            "form": form,
            "tabs": tabs,
            "tab": next((tab for tab in tabs if tab["name"] == current), tabs[0]),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def destination_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    destination = _destination(request, pk)
    error = None
    try:
        services.destination_set_enabled(
            destination=destination, enabled=request.POST.get("enabled") == "on"
        )
    except ValidationError as refusal:
        error = refusal.messages[0]
        destination.refresh_from_db()
    if request.htmx:
        return render(
            request,
            "console/destinations.html#toggle",
            {"destination": destination, "toggle_error": error},
        )
    if error:
        messages.error(request, error)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("destination_list")


@require_http_methods(["GET", "POST"])
def destination_delete(request: HttpRequest, pk: int) -> HttpResponse:
    destination = _destination(request, pk)
    if request.method == "POST":
        services.destination_delete(destination=destination)
        messages.success(request, f"Destination “{destination.name}” deleted.")
        return redirect("destination_list")
    return render(request, "console/destination_delete.html", {"destination": destination})


def _workspace(request: HttpRequest, pk: int) -> Workspace:
    return get_object_or_404(selectors.workspaces_of(organization=request.organization), pk=pk)


def _safe_next(request: HttpRequest, url: str | None) -> str | None:
    """``url`` if it is a page of this site (so no one can bounce users elsewhere)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


@require_GET
def workspace_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/workspaces.html",
        {
            "workspaces": selectors.workspaces_of(organization=request.organization).select_related(
                "connected_by"
            ),
            "oauth_problem": intercom_connect.oauth_configuration_problem(),
            "sandbox_url": intercom_connect.sandbox_url(),
            "callback_url": request.build_absolute_uri(reverse("workspace_oauth_callback")),
        },
    )


@require_GET
def workspace_connect(request: HttpRequest) -> HttpResponse:
    """“Connect Intercom”: off to Intercom's consent page, back to ``next`` afterwards."""
    next_url = _safe_next(request, request.GET.get("next"))
    try:
        return intercom_connect.start_authorization(
            request,
            redirect_uri=request.build_absolute_uri(reverse("workspace_oauth_callback")),
            next_url=next_url,
        )
    except intercom_connect.ConnectError as problem:
        messages.error(request, str(problem))
        return redirect(next_url or "workspace_list")


@require_GET
def workspace_oauth_callback(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, intercom_connect.authorization_next_url(request))
    try:
        token = intercom_connect.finish_authorization(request)
        workspace, reconnected = services.workspace_connect(
            organization=request.organization,
            user=request.user,
            token=token,
            auth_method=Workspace.AuthMethod.OAUTH,
        )
    except intercom_connect.ConnectError as problem:
        messages.error(request, str(problem))
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, _connected_message(workspace, reconnected))
    return redirect(next_url or "workspace_list")


def _connected_message(workspace: Workspace, reconnected: bool) -> str:
    message = f"Intercom workspace “{workspace.name}” ({workspace.app_id_code}) is connected."
    if reconnected:
        message += " Deliveries paused while it was disconnected resume now."
    return message


@require_http_methods(["GET", "POST"])
def workspace_token(request: HttpRequest) -> HttpResponse:
    """“Use an access token”: a private app's token, checked with Intercom before it is
    saved. With ``?workspace=``, a new token for that workspace."""
    replacing = None
    if request.GET.get("workspace", "").isdigit():
        replacing = _workspace(request, int(request.GET["workspace"]))
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = WorkspaceTokenForm(
        request.POST or None, initial={"region": replacing.region} if replacing else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            workspace, reconnected = services.workspace_connect(
                organization=request.organization,
                user=request.user,
                token=form.cleaned_data["token"],
                auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
                region=form.cleaned_data["region"],
                expected_app_id_code=replacing.app_id_code if replacing else None,
            )
        except intercom_connect.ConnectError as problem:
            form.add_error("token", str(problem))
        except ValidationError as refusal:
            _attach_errors(form, refusal)
        else:
            messages.success(request, _connected_message(workspace, reconnected))
            return redirect(next_url or "workspace_list")
    return render(
        request,
        "console/workspace_token.html",
        {"form": form, "replacing": replacing, "next": next_url},
        status=400 if form.errors else 200,
    )


@require_POST
def workspace_test(request: HttpRequest, pk: int) -> HttpResponse:
    """“Test connection”: ``GET /me`` with the workspace's token, the result in its row."""
    workspace = _workspace(request, pk)
    check = services.workspace_check(workspace=workspace)
    if request.htmx:
        return render(
            request, "console/workspaces.html#row", {"workspace": workspace, "check": check}
        )
    if check.ok:
        messages.success(request, f"“{workspace.name}”: {check.message}")
    else:
        messages.error(request, f"“{workspace.name}”: {check.message}")
    return redirect("workspace_list")


# --- API tokens ---------------------------------------------------------------------------


def _api_tokens_page(
    request: HttpRequest, form: ApiTokenForm, *, confirm_delete: ApiToken | None = None
) -> HttpResponse:
    revealed = request.session.pop(REVEALED_TOKEN_SESSION, None)
    return render(
        request,
        "console/api_tokens.html",
        {
            "api_tokens": selectors.api_tokens_of(organization=request.organization),
            "form": form,
            "revealed": revealed,
            "confirm_delete": confirm_delete,
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def api_token_list(request: HttpRequest) -> HttpResponse:
    """The organisation's tokens for Ferry's API; a new token's secret is shown
    once, on the page the creation redirects to."""
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        api_token, secret = services.api_token_create(
            organization=request.organization,
            name=form.cleaned_data["name"],
            created_by=request.user,
        )
        request.session[REVEALED_TOKEN_SESSION] = {"name": api_token.name, "secret": secret}
        return redirect("api_token_list")
    return _api_tokens_page(request, form)


@require_http_methods(["GET", "POST"])
def api_token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation on the tokens page; POST revokes the token."""
    api_token = get_object_or_404(selectors.api_tokens_of(organization=request.organization), pk=pk)
    if request.method == "POST":
        services.api_token_delete(api_token=api_token)
        messages.success(request, f"API token “{api_token.name}” deleted: it no longer works.")
        return redirect("api_token_list")
    return _api_tokens_page(request, ApiTokenForm(), confirm_delete=api_token)
