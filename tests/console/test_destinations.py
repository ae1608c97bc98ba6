from __future__ import annotations

import pytest
from django.urls import reverse

from console import crypto, services
from console.models import Destination, Workspace

pytestmark = pytest.mark.django_db


def _workspace(organization, name="Acme Support", code="abc123"):
    return Workspace.objects.create(
        organization=organization,
        app_id_code=code,
        name=name,
        api_base="https://api.intercom.io",
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal("token-for-" + code),
    )


def test_creating_a_destination_ties_it_to_a_source(owner_client, source):
    response = owner_client.post(
        reverse("destination_list"), {"name": "Intercom", "source": source.pk}, follow=True
    )

    destination = Destination.objects.get(name="Intercom")
    assert destination.source == source
    assert destination.workspace is None
    assert not destination.enabled
    page = response.content.decode()
    assert "Destination “Intercom” created." in page
    assert "Intercom Cloud Mode (Actions)" in page


def test_destinations_need_a_source_first(owner_client, organization):
    page = owner_client.get(reverse("destination_list")).content.decode()

    assert "Create a source" in page
    assert "Create destination" not in page


def test_a_destination_cannot_be_enabled_without_a_workspace(owner_client, source):
    response = owner_client.post(
        reverse("destination_list"), {"name": "Intercom", "source": source.pk, "enabled": "on"}
    )

    assert response.status_code == 400
    assert "Choose an Intercom workspace before enabling" in response.content.decode()
    assert not Destination.objects.exists()


def test_enabling_with_a_workspace(owner_client, organization, destination):
    workspace = _workspace(organization)

    owner_client.post(
        reverse("destination_detail", args=[destination.pk]),
        {"name": "Intercom EU", "workspace": workspace.pk, "enabled": "on"},
    )

    destination.refresh_from_db()
    assert destination.name == "Intercom EU"
    assert destination.workspace == workspace
    assert destination.enabled


def test_the_toggle_answers_htmx_with_its_fragment(owner_client, organization, destination):
    destination.workspace = _workspace(organization)
    destination.save()

    response = owner_client.post(
        reverse("destination_toggle", args=[destination.pk]),
        {"enabled": "on"},
        HTTP_HX_REQUEST="true",
    )

    page = response.content.decode()
    assert f'id="toggle-{destination.pk}"' in page
    assert "Enabled" in page
    assert "<html" not in page
    destination.refresh_from_db()
    assert destination.enabled


def test_the_toggle_explains_a_refusal(owner_client, destination):
    response = owner_client.post(
        reverse("destination_toggle", args=[destination.pk]),
        {"enabled": "on"},
        HTTP_HX_REQUEST="true",
    )

    assert "Choose an Intercom workspace before enabling" in response.content.decode()
    destination.refresh_from_db()
    assert not destination.enabled


def test_the_toggle_without_javascript_goes_back(owner_client, organization, destination):
    destination.workspace = _workspace(organization)
    destination.save()
    back = reverse("destination_detail", args=[destination.pk])

    response = owner_client.post(
        reverse("destination_toggle", args=[destination.pk]), {"enabled": "on", "next": back}
    )
    assert response.url == back

    response = owner_client.post(
        reverse("destination_toggle", args=[destination.pk]), {"next": "https://evil.test/"}
    )
    assert response.url == reverse("destination_list")
    destination.refresh_from_db()
    assert not destination.enabled


def test_another_organisations_workspace_cannot_be_chosen(
    owner_client, other_organization, destination
):
    foreign = _workspace(other_organization, name="Globex", code="zzz999")

    response = owner_client.post(
        reverse("destination_detail", args=[destination.pk]),
        {"name": "Intercom", "workspace": foreign.pk},
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    destination.refresh_from_db()
    assert destination.workspace is None


def test_the_service_refuses_a_foreign_workspace(other_organization, destination):
    foreign = _workspace(other_organization, name="Globex", code="zzz999")

    with pytest.raises(Exception, match="another organisation"):
        services.destination_update(
            destination=destination, name="x", workspace=foreign, enabled=False
        )


def test_another_organisations_source_cannot_be_chosen(outsider_client, other_organization, source):
    services.source_create(organization=other_organization, name="Globex site")

    response = outsider_client.post(
        reverse("destination_list"), {"name": "Sneaky", "source": source.pk}
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Destination.objects.filter(name="Sneaky").exists()


def test_deleting_a_destination(owner_client, destination):
    owner_client.get(reverse("destination_delete", args=[destination.pk]))
    assert Destination.objects.filter(pk=destination.pk).exists()

    response = owner_client.post(reverse("destination_delete", args=[destination.pk]), follow=True)

    assert "Destination “Intercom production” deleted." in response.content.decode()
    assert not Destination.objects.filter(pk=destination.pk).exists()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "destination_detail"),
        ("post", "destination_detail"),
        ("post", "destination_toggle"),
        ("get", "destination_delete"),
        ("post", "destination_delete"),
    ],
)
def test_another_organisation_is_refused(outsider_client, destination, method, name):
    response = getattr(outsider_client, method)(
        reverse(name, args=[destination.pk]), {"name": "Mine", "enabled": "on"}
    )

    assert response.status_code == 404
    destination.refresh_from_db()
    assert destination.name == "Intercom production"


def test_another_organisations_destinations_are_not_listed(outsider_client, destination):
    page = outsider_client.get(reverse("destination_list")).content.decode()

    assert "Intercom production" not in page
