"""The mappings of a destination: the list (page and htmx fragment), the toggle, rename,
duplicate, reorder, delete, quick setup and the 50-mapping limit; refused to outsiders."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console import services as console_services
from mappings.actions import new_mapping
from mappings.models import MAPPINGS_PER_DESTINATION, Mapping

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def destination(source):
    return console_services.destination_create(source=source, name="Intercom")


@pytest.fixture
def orders(destination):
    return Mapping.objects.create(
        destination=destination,
        name="Orders",
        action="track_event",
        trigger='type = "track" and event = "Order Completed"',
        fields=new_mapping("track_event")["fields"],
        position=0,
    )


@pytest.fixture
def signups(destination):
    return Mapping.objects.create(
        destination=destination,
        name="Sign-ups",
        action="identify_contact",
        trigger='type = "identify" or (traits.plan = "pro" and !(userId = null))',
        fields=new_mapping("identify_contact", role="user")["fields"],
        position=1,
        enabled=True,
    )


def names(destination):
    return list(destination.mappings.values_list("name", flat=True))


def test_the_list_shows_each_mapping_with_its_trigger_in_words(
    owner_client, destination, orders, signups
):
    page = owner_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()

    assert "<strong>2 of 50</strong> mappings" in page
    assert "Orders" in page and "Track Event" in page
    assert "Event type is track and event name is Order Completed" in page
    # A trigger the builder cannot show is shown as written.
    assert "<code>type = &quot;identify&quot; or (traits.plan" in page
    assert f'id="toggle-mapping-{signups.pk}"' in page
    assert reverse("mapping_edit", args=[orders.pk]) in page
    assert reverse("mapping_export", args=[destination.pk]) in page


def test_each_row_loads_its_delivery_summary_from_the_delivery_app(
    owner_client, destination, orders
):
    page = owner_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()

    summary = reverse("mapping_delivery_summary", args=[orders.pk])
    assert f'hx-get="{summary}" hx-trigger="load"' in page


def test_htmx_gets_the_fragment_the_destination_page_loads(owner_client, destination, orders):
    response = owner_client.get(reverse("mapping_list", args=[destination.pk]), **HTMX)

    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="mappings"')
    assert "<html" not in fragment
    assert "Orders" in fragment


def test_an_empty_list_offers_quick_setup(owner_client, destination):
    page = owner_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()

    assert "<strong>0 of 50</strong>" in page
    assert "No mapping yet" in page
    assert "Add the three default mappings" in page


def test_the_toggle_works_in_place(owner_client, orders):
    response = owner_client.post(
        reverse("mapping_toggle", args=[orders.pk]), {"enabled": "on"}, **HTMX
    )

    orders.refresh_from_db()
    assert orders.enabled
    fragment = response.content.decode()
    assert fragment.lstrip().startswith(f'<form id="toggle-mapping-{orders.pk}"')
    assert "Enabled" in fragment

    owner_client.post(reverse("mapping_toggle", args=[orders.pk]), {}, **HTMX)
    orders.refresh_from_db()
    assert not orders.enabled


def test_the_toggle_works_without_javascript(owner_client, destination, orders):
    response = owner_client.post(
        reverse("mapping_toggle", args=[orders.pk]), {"enabled": "on"}, follow=True
    )

    assert "“Orders” enabled." in response.content.decode()
    orders.refresh_from_db()
    assert orders.enabled


def test_rename(owner_client, destination, orders):
    response = owner_client.post(
        reverse("mapping_rename", args=[orders.pk]), {"name": "  Purchases "}, **HTMX
    )

    assert "Renamed “Orders” to “Purchases”." in response.content.decode()
    assert names(destination) == ["Purchases"]


def test_rename_refuses_an_empty_name(owner_client, destination, orders):
    response = owner_client.post(reverse("mapping_rename", args=[orders.pk]), {"name": ""}, **HTMX)

    assert "Give the mapping a name" in response.content.decode()
    assert names(destination) == ["Orders"]


def test_duplicate_puts_a_disabled_copy_below(owner_client, destination, orders, signups):
    orders.enabled = True
    orders.save()

    response = owner_client.post(reverse("mapping_duplicate", args=[orders.pk]), **HTMX)

    assert "Made “Copy of Orders”, disabled until you enable it." in response.content.decode()
    assert names(destination) == ["Orders", "Copy of Orders", "Sign-ups"]
    assert not destination.mappings.get(name="Copy of Orders").enabled


def test_reorder_moves_up_and_down(owner_client, destination, orders, signups):
    owner_client.post(reverse("mapping_move", args=[signups.pk]), {"direction": "up"}, **HTMX)
    assert names(destination) == ["Sign-ups", "Orders"]

    response = owner_client.post(
        reverse("mapping_move", args=[signups.pk]), {"direction": "down"}, follow=True
    )
    assert names(destination) == ["Orders", "Sign-ups"]
    assert "Moved “Sign-ups” down." in response.content.decode()


def test_delete_asks_first_then_deletes(owner_client, destination, orders):
    confirmation = owner_client.get(reverse("mapping_delete", args=[orders.pk])).content.decode()
    assert "Delete “Orders”?" in confirmation
    assert destination.mappings.exists()

    response = owner_client.post(reverse("mapping_delete", args=[orders.pk]), follow=True)

    assert "Deleted “Orders”." in response.content.decode()
    assert not destination.mappings.exists()


def test_the_htmx_delete_button_confirms_in_the_browser(owner_client, destination, orders):
    page = owner_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()

    assert f'hx-post="{reverse("mapping_delete", args=[orders.pk])}"' in page
    assert 'hx-confirm="Delete the mapping “Orders”?' in page


def test_quick_setup_creates_the_three_defaults_disabled(owner_client, destination):
    response = owner_client.post(
        reverse("mapping_quick_setup", args=[destination.pk]), {"role": "lead"}, **HTMX
    )

    fragment = response.content.decode()
    assert "Added Identify Contact, Identify Company, Track Event, disabled until you" in fragment
    assert "Event type is identify" in fragment
    mappings = list(destination.mappings.all())
    assert [m.action for m in mappings] == ["identify_contact", "identify_company", "track_event"]
    assert mappings[0].fields["role"] == "lead"
    assert not any(m.enabled for m in mappings)


def test_quick_setup_can_enable_them(owner_client, destination):
    owner_client.post(
        reverse("mapping_quick_setup", args=[destination.pk]), {"role": "user", "enabled": "on"}
    )

    assert [m.enabled for m in destination.mappings.all()] == [True, True, True]
    assert destination.mappings.get(action="identify_contact").fields["role"] == "user"


def test_the_limit_is_shown_and_enforced(owner_client, destination):
    for number in range(MAPPINGS_PER_DESTINATION):
        Mapping.objects.create(
            destination=destination, name=f"Mapping {number}", **new_mapping("track_event")
        )
    first = destination.mappings.first()

    page = owner_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()
    assert "<strong>50 of 50</strong> mappings: the most a destination can have" in page
    assert reverse("mapping_create", args=[destination.pk]) not in page
    assert "There is room for 0 more mappings here" in page

    response = owner_client.post(reverse("mapping_duplicate", args=[first.pk]), follow=True)
    assert "already has 50 of 50 mappings" in response.content.decode()
    response = owner_client.post(
        reverse("mapping_quick_setup", args=[destination.pk]), {"role": "user"}, follow=True
    )
    assert "already has 50 of 50 mappings" in response.content.decode()
    assert destination.mappings.count() == 50


def test_a_teammate_manages_the_same_mappings(teammate_client, destination, orders):
    page = teammate_client.get(reverse("mapping_list", args=[destination.pk])).content.decode()

    assert "Orders" in page


def test_outsiders_get_404_everywhere(outsider_client, destination, orders):
    gets = [
        reverse("mapping_list", args=[destination.pk]),
        reverse("mapping_delete", args=[orders.pk]),
    ]
    posts = [
        (reverse("mapping_toggle", args=[orders.pk]), {"enabled": "on"}),
        (reverse("mapping_rename", args=[orders.pk]), {"name": "Mine"}),
        (reverse("mapping_duplicate", args=[orders.pk]), {}),
        (reverse("mapping_move", args=[orders.pk]), {"direction": "up"}),
        (reverse("mapping_delete", args=[orders.pk]), {}),
        (reverse("mapping_quick_setup", args=[destination.pk]), {"role": "user"}),
    ]

    for url in gets:
        assert outsider_client.get(url).status_code == 404, url
        assert outsider_client.get(url, **HTMX).status_code == 404, url
    for url, data in posts:
        assert outsider_client.post(url, data).status_code == 404, url
        assert outsider_client.post(url, data, **HTMX).status_code == 404, url
    orders.refresh_from_db()
    assert (orders.name, orders.enabled) == ("Orders", False)
    assert names(destination) == ["Orders"]


def test_anonymous_visitors_are_sent_to_sign_in(client, destination):
    response = client.get(reverse("mapping_list", args=[destination.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
