"""The console's "Delete a user" page: ask for a person to be deleted from
Intercom, and follow the requests made (from the page or the API)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console import selectors as console_selectors
from console.models import Organization
from delivery import deletions
from delivery.models import Delivery


class UserDeletionForm(forms.Form):
    # The service checks the userId, so the form and the API give the same reasons.
    user_id = forms.CharField(label="userId", required=False, strip=False)
    destination = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every destination with a workspace",
        label="Delete from",
    )

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["destination"].queryset = (  # type: ignore[attr-defined]
            console_selectors.destinations_of(organization=organization)
            .exclude(workspace=None)
            .order_by("name", "id")
        )


def _requester(request: HttpRequest) -> str:
    user = request.user
    return getattr(user, "email", "") or user.get_username()


def _attach(form: UserDeletionForm, error: ValidationError) -> None:
    for field, field_errors in error.error_dict.items():
        form.add_error("user_id" if field == "user_id" else None, field_errors)


@require_http_methods(["GET", "POST"])
def user_deletion(request: HttpRequest) -> HttpResponse:
    """The form, and the organisation's latest deletion requests; htmx polls the
    list alone while some are unfinished."""
    organization = request.organization
    form = UserDeletionForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["destination"]
        try:
            made = deletions.user_deletion_request(
                organization=organization,
                user_id=form.cleaned_data["user_id"],
                destinations=[chosen] if chosen else None,
                requested_by=_requester(request),
            )
        except ValidationError as refusal:
            _attach(form, refusal)
        else:
            user_id = made[0].person
            places = ", ".join(f"“{delivery.destination.name}”" for delivery in made)
            messages.success(
                request, f"Deletion of “{user_id}” requested from {places}. Its progress is below."
            )
            return redirect("user_deletion")
    requests_made = deletions.deletion_requests_recent(organization=organization)
    context = {
        "form": form,
        "deletions": requests_made,
        "unfinished": any(delivery.status in Delivery.UNFINISHED for delivery in requests_made),
    }
    template = "delivery/deletions.html"
    return render(
        request,
        f"{template}#requests" if request.htmx else template,
        context,
        status=400 if form.errors else 200,
    )
