from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.models import Membership


class OrganizationMiddleware:
    """Sets ``request.organization`` for a signed-in user. A signed-in account
    that belongs to no organisation (say, one made with ``createsuperuser``) is
    refused every console page instead of seeing an empty or shared console."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organization = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            membership = (
                Membership.objects.select_related("organization")
                .filter(user_id=request.user.pk)
                .first()
            )
            if membership is not None:
                request.organization = membership.organization  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: object,
        view_kwargs: object,
    ) -> HttpResponse | None:
        needs_organization = getattr(view_func, "login_required", True)
        if needs_organization and request.user.is_authenticated and not request.organization:  # type: ignore[attr-defined]
            return render(request, "console/no_organization.html", status=403)
        return None


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Every page may run only Ferry's own scripts and styles: an event payload or
    an Intercom response that smuggles HTML into a page cannot run anything."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
