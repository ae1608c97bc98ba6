from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from console.models import Organization, Workspace


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.CharField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class SourceForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class DestinationForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)
    source = forms.ModelChoiceField(queryset=None, empty_label=None)
    workspace = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="No workspace yet"
    )
    enabled = forms.BooleanField(required=False)

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["source"].queryset = organization.sources.all()  # type: ignore[attr-defined]
        self.fields["workspace"].queryset = organization.workspaces.all()  # type: ignore[attr-defined]


class DestinationSettingsForm(DestinationForm):
    """Editing keeps the source: events already routed stay where they are."""

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        del self.fields["source"]


class WorkspaceTokenForm(forms.Form):
    """An access token of a private Intercom app. The field never shows it back."""

    token = forms.CharField(
        label="Access token",
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="In Intercom's Developer Hub: your app → Configure → Authentication.",
    )
    region = forms.ChoiceField(
        label="Region where the workspace is hosted",
        choices=Workspace.Region.choices,
        initial=Workspace.Region.US,
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        strip=True,
        help_text="What uses the token, to recognise it later (say, “GDPR tool”).",
    )
