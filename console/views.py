from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import selectors, services, throttle
from console.forms import (
    DestinationForm,
    DestinationSettingsForm,
    EmailAuthenticationForm,
    SourceForm,
)
from console.models import Destination, Source

REVEALED_KEY_SESSION = "revealed_write_key"


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
    return render(
        request,
        "console/destination_detail.html",
        {"destination": destination, "form": form},
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


@require_GET
def workspace_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/workspaces.html",
        {"workspaces": selectors.workspaces_of(organization=request.organization)},
    )
