from __future__ import annotations

import pytest
from django.urls import reverse

from console import selectors, services
from console.models import Source

pytestmark = pytest.mark.django_db


def test_creating_a_source_shows_its_write_key_once(owner_client, organization):
    response = owner_client.post(reverse("source_list"), {"name": "Website"}, follow=True)

    source = Source.objects.get(organization=organization, name="Website")
    page = response.content.decode()
    key = response.context["write_key"]
    assert key and key in page
    assert "shown only once" in page
    assert selectors.source_for_write_key(write_key=key) == source

    again = owner_client.get(reverse("source_detail", args=[source.pk])).content.decode()
    assert key not in again
    assert source.masked_write_key in again


def test_the_write_key_is_not_stored(owner_client, organization):
    response = owner_client.post(reverse("source_list"), {"name": "Website"}, follow=True)
    key = response.context["write_key"]

    source = Source.objects.get(organization=organization)
    stored = [str(getattr(source, field.attname)) for field in Source._meta.concrete_fields]
    assert all(key not in value for value in stored)
    assert source.masked_write_key.endswith(key[-4:])


def test_rotating_replaces_the_write_key(owner_client, source_and_key):
    source, old_key = source_and_key

    response = owner_client.post(reverse("source_rotate", args=[source.pk]), follow=True)

    new_key = response.context["write_key"]
    assert new_key != old_key
    assert new_key in response.content.decode()
    assert selectors.source_for_write_key(write_key=old_key) is None
    assert selectors.source_for_write_key(write_key=new_key) == source


def test_sources_are_listed_with_masked_keys(owner_client, source_and_key):
    source, key = source_and_key

    page = owner_client.get(reverse("source_list")).content.decode()

    assert "Website" in page
    assert key not in page
    assert source.masked_write_key in page


def test_a_teammate_sees_the_organisations_sources(teammate_client, source):
    response = teammate_client.get(reverse("source_detail", args=[source.pk]))

    assert response.status_code == 200
    assert "Website" in response.content.decode()


def test_a_blank_name_is_refused(owner_client, organization):
    response = owner_client.post(reverse("source_list"), {"name": "   "})

    assert "This field is required." in response.content.decode()
    assert not Source.objects.filter(organization=organization).exists()


def test_two_sources_cannot_share_a_name(owner_client, source):
    response = owner_client.post(reverse("source_list"), {"name": "Website"})

    assert "A source named “Website” already exists." in response.content.decode()
    assert Source.objects.filter(name="Website").count() == 1


def test_another_organisation_may_reuse_a_name(outsider_client, outsider, source):
    outsider_client.post(reverse("source_list"), {"name": "Website"})

    assert Source.objects.filter(name="Website").count() == 2


def test_renaming_with_htmx_returns_the_fragment(owner_client, source):
    response = owner_client.post(
        reverse("source_rename", args=[source.pk]), {"name": "Mobile app"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert 'id="rename"' in page
    assert "Renamed to “Mobile app”." in page
    assert "<html" not in page
    source.refresh_from_db()
    assert source.name == "Mobile app"


def test_renaming_without_javascript_redirects(owner_client, source):
    response = owner_client.post(
        reverse("source_rename", args=[source.pk]), {"name": "Mobile app"}, follow=True
    )

    assert "Source renamed." in response.content.decode()
    source.refresh_from_db()
    assert source.name == "Mobile app"


def test_renaming_to_a_taken_name_keeps_the_old_one(owner_client, organization, source):
    services.source_create(organization=organization, name="Backend")

    response = owner_client.post(
        reverse("source_rename", args=[source.pk]), {"name": "Backend"}, HTTP_HX_REQUEST="true"
    )

    assert "A source named “Backend” already exists." in response.content.decode()
    source.refresh_from_db()
    assert source.name == "Website"


def test_deleting_asks_first_then_deletes(owner_client, source):
    confirm = owner_client.get(reverse("source_delete", args=[source.pk]))
    assert "Delete “Website”?" in confirm.content.decode()
    assert Source.objects.filter(pk=source.pk).exists()

    response = owner_client.post(reverse("source_delete", args=[source.pk]), follow=True)

    assert "Source “Website” deleted." in response.content.decode()
    assert not Source.objects.filter(pk=source.pk).exists()


def test_a_source_with_destinations_is_not_deleted(owner_client, source, destination):
    response = owner_client.post(reverse("source_delete", args=[source.pk]))

    assert response.status_code == 400
    assert "still sends to destinations" in response.content.decode()
    assert Source.objects.filter(pk=source.pk).exists()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "source_detail"),
        ("post", "source_rename"),
        ("post", "source_rotate"),
        ("get", "source_delete"),
        ("post", "source_delete"),
    ],
)
def test_another_organisation_is_refused(outsider_client, source_and_key, method, name):
    source, key = source_and_key

    response = getattr(outsider_client, method)(reverse(name, args=[source.pk]), {"name": "Mine"})

    assert response.status_code == 404
    source.refresh_from_db()
    assert source.name == "Website"
    assert selectors.source_for_write_key(write_key=key) == source


def test_another_organisations_sources_are_not_listed(outsider_client, source):
    page = outsider_client.get(reverse("source_list")).content.decode()

    assert "Website" not in page
    assert "No source yet." in page
