"""Export a destination's mappings as JSON, and import Ferry's export or Segment's
subscriptions with a preview and an all-or-nothing confirm; refused to outsiders."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console import services as console_services
from mappings import services
from mappings.actions import new_mapping
from mappings.models import MAPPINGS_PER_DESTINATION, Mapping
from mappings.selectors import mapping_as_json

pytestmark = pytest.mark.django_db

# The subscriptions of an "Intercom Cloud Mode (Actions)" destination as Segment keeps them
# in a source's settings (one from "Intercom Web (Actions)" slipped in).
SEGMENT_SUBSCRIPTIONS = [
    {
        "id": "sQfUu5TPUAJCpJcaZk1dbc",
        "partnerAction": "identifyContact",
        "name": "Identify Contact",
        "enabled": True,
        "subscribe": 'type = "identify"',
        "mapping": {
            "role": "user",
            "external_id": {"@path": "$.userId"},
            "email": {"@path": "$.traits.email"},
            "name": {"@path": "$.traits.name"},
            "last_seen_at": {"@path": "$.timestamp"},
            "custom_attributes": {"plan": {"@path": "$.traits.plan"}},
        },
    },
    {
        "id": "tBW7ubvhgeyDgWvCMmNpeb",
        "partnerAction": "groupIdentifyContact",
        "name": "Identify Company",
        "enabled": True,
        "subscribe": 'type = "group"',
        "mapping": {
            "company_id": {"@path": "$.groupId"},
            "name": {"@path": "$.traits.name"},
            "plan": {"@path": "$.traits.plan"},
            "company_custom_attributes": {"@path": "$.traits.custom"},
        },
    },
    {
        "id": "6Rv3rKq1D8rSh1Hn3Hsb9Q",
        "partnerAction": "trackEvent",
        "name": "Order Completed",
        "enabled": False,
        "subscribe": 'type = "track" and event = "Order Completed"',
        "mapping": {
            "event_name": {"@path": "$.event"},
            "created_at": {"@path": "$.timestamp"},
            "user_id": {"@path": "$.userId"},
            "email": {
                "@if": {
                    "exists": {"@path": "$.properties.email"},
                    "then": {"@path": "$.properties.email"},
                    "else": {"@path": "$.context.traits.email"},
                }
            },
            "revenue": {"@path": "$.properties.revenue"},
            "currency": {"@path": "$.properties.currency"},
            "metadata": {"@path": "$.properties"},
        },
    },
    {
        "id": "pLd1dUu2k1P3Mg5nSbzMbg",
        "partnerAction": "showMessenger",
        "name": "Show Messenger",
        "enabled": True,
        "subscribe": 'type = "page"',
        "mapping": {},
    },
    {
        "id": "wjR9bcA6uCe3oLhkbVN1qq",
        "partnerAction": "trackEvent",
        "name": "Signed Up",
        "enabled": True,
        "subscribe": 'type = "track" and event = Signed Up',
        "mapping": {"event_name": {"@path": "$.event"}, "created_at": {"@path": "$.timestamp"}},
    },
]


@pytest.fixture
def destination(source):
    return console_services.destination_create(source=source, name="Intercom")


@pytest.fixture
def other_destination(source):
    return console_services.destination_create(source=source, name="Intercom EU")


def import_url(destination):
    return reverse("mapping_import", args=[destination.pk])


def preview(client, destination, text):
    return client.post(import_url(destination), {"text": text, "_op": "preview"})


def confirm(client, destination, text, expected):
    return client.post(
        import_url(destination),
        {"text": text, "expected": expected, "_op": "confirm"},
        follow=True,
    )


def test_export_downloads_the_mappings_as_json(owner_client, destination):
    services.mapping_quick_setup(destination=destination, role="lead")

    response = owner_client.get(reverse("mapping_export", args=[destination.pk]))

    assert response["Content-Disposition"] == 'attachment; filename="intercom-mappings.json"'
    exported = json.loads(response.content)
    assert [m["name"] for m in exported["mappings"]] == [
        "Identify Contact",
        "Identify Company",
        "Track Event",
    ]
    assert exported["mappings"][0] == {
        "name": "Identify Contact",
        "enabled": False,
        **new_mapping("identify_contact", role="lead"),
    }


def test_an_export_imported_elsewhere_gives_equal_mappings(
    owner_client, destination, other_destination
):
    services.mapping_quick_setup(destination=destination, role="user", enabled=True)
    services.mapping_create(
        destination=destination,
        name="Plan changes",
        action="identify_contact",
        trigger='type = "identify" and (traits.plan = "pro" or traits.plan = "team")',
        fields={
            "role": "user",
            "email": {
                "@if": {
                    "exists": {"@path": "$.traits.email"},
                    "then": {"@path": "$.traits.email"},
                    "else": {"@path": "$.context.traits.email"},
                }
            },
            "phone": None,
            "custom_attributes": {"plan": {"@path": "$.traits.plan"}, "source": "web"},
        },
    )
    text = owner_client.get(reverse("mapping_export", args=[destination.pk])).content.decode()

    page = preview(owner_client, other_destination, text).content.decode()
    assert "<strong>4</strong> mappings will be created" in page
    response = confirm(owner_client, other_destination, text, 4)

    assert "Imported 4 mappings." in response.content.decode()
    exported = [mapping_as_json(m) for m in destination.mappings.all()]
    imported = [mapping_as_json(m) for m in other_destination.mappings.all()]
    assert imported == exported


def test_a_segment_export_is_previewed_then_imported(owner_client, destination):
    text = json.dumps({"subscriptions": SEGMENT_SUBSCRIPTIONS})

    response = preview(owner_client, destination, text)

    page = response.content.decode()
    assert "<strong>3</strong> mappings will be created, <strong>2</strong> are refused" in page
    assert "Event type is track and event name is Order Completed" in page
    assert "Unknown action “showMessenger”: Ferry&#x27;s actions are" in page
    assert "Bad trigger: Unexpected &quot;Signed&quot; at position 27" in page
    assert (
        "type = &quot;track&quot; and event = Signed Up\n                           ^</pre>" in page
    )
    assert "Left out keys Identify Company does not have: “company_custom_attributes”." in page
    assert Mapping.objects.count() == 0

    response = confirm(owner_client, destination, text, 3)

    assert "Imported 3 mappings." in response.content.decode()
    contact, company, track = destination.mappings.all()
    assert (contact.name, contact.action, contact.enabled) == (
        "Identify Contact",
        "identify_contact",
        True,
    )
    assert contact.fields["custom_attributes"] == {"plan": {"@path": "$.traits.plan"}}
    # Segment runs only what a subscription maps: defaults it left out stay unmapped.
    assert contact.fields["phone"] is None and contact.fields["avatar"] is None
    assert company.action == "identify_company"
    assert "company_custom_attributes" not in company.fields
    assert (track.name, track.trigger, track.enabled) == (
        "Order Completed",
        'type = "track" and event = "Order Completed"',
        False,
    )
    assert track.fields["email"] == SEGMENT_SUBSCRIPTIONS[2]["mapping"]["email"]


def test_segment_action_names_are_read_in_every_spelling(owner_client, destination):
    subscriptions = [
        {
            "actionId": "Identify Company",
            "subscribe": 'type = "group"',
            "mapping": {"company_id": {"@path": "$.groupId"}},
        },
        {
            "partnerAction": "identify_contact",
            "subscribe": 'type = "identify"',
            "mapping": {"role": "lead"},
        },
        # Segment's Public API names the trigger and fields differently.
        {
            "actionSlug": "trackEvent",
            "actionId": "nPwk4cVKyAnZBgLZd6Gk4u",
            "trigger": 'type = "track"',
            "settings": {
                "event_name": {"@path": "$.event"},
                "created_at": {"@path": "$.timestamp"},
                "user_id": {"@path": "$.userId"},
            },
        },
    ]
    text = json.dumps({"data": {"subscriptions": subscriptions}})

    confirm(owner_client, destination, text, 3)

    assert [(m.name, m.action) for m in destination.mappings.all()] == [
        ("Identify Company", "identify_company"),
        ("Identify Contact", "identify_contact"),
        ("Track Event", "track_event"),
    ]


def test_a_file_can_be_uploaded(owner_client, destination):
    upload = SimpleUploadedFile(
        "subscriptions.json", json.dumps(SEGMENT_SUBSCRIPTIONS[:1]).encode(), "application/json"
    )

    page = owner_client.post(
        import_url(destination), {"file": upload, "_op": "preview"}
    ).content.decode()

    assert "<strong>1</strong> mapping will be created" in page
    assert "&quot;partnerAction&quot;: &quot;identifyContact&quot;" in page  # kept for the confirm


def test_text_that_is_not_an_export_is_explained(owner_client, destination):
    response = preview(owner_client, destination, '{"mappings": [')
    assert response.status_code == 400
    assert (
        "This is not valid JSON: Expecting value at line 1, column 15." in response.content.decode()
    )

    response = preview(owner_client, destination, '{"hello": "world"}')
    assert "Expected Ferry&#x27;s export" in response.content.decode()


def test_the_preview_refuses_what_does_not_fit(owner_client, destination):
    for number in range(MAPPINGS_PER_DESTINATION - 1):
        Mapping.objects.create(
            destination=destination, name=f"m{number}", **new_mapping("track_event")
        )
    text = json.dumps({"subscriptions": SEGMENT_SUBSCRIPTIONS[:3]})

    page = preview(owner_client, destination, text).content.decode()

    assert "This destination has 49 of 50 mappings now." in page
    assert page.count("Over the limit: the destination has 49 of 50 mappings") == 2
    confirm(owner_client, destination, text, 1)
    assert destination.mappings.count() == 50


def test_a_stale_confirm_creates_nothing(owner_client, destination):
    text = json.dumps({"subscriptions": SEGMENT_SUBSCRIPTIONS[:3]})

    response = confirm(owner_client, destination, text, 2)

    assert "changed since the preview" in response.content.decode()
    assert not destination.mappings.exists()


def test_outsiders_get_404(outsider_client, destination):
    services.mapping_quick_setup(destination=destination, role="user")
    text = json.dumps({"subscriptions": SEGMENT_SUBSCRIPTIONS[:1]})

    assert outsider_client.get(reverse("mapping_export", args=[destination.pk])).status_code == 404
    assert outsider_client.get(import_url(destination)).status_code == 404
    assert preview(outsider_client, destination, text).status_code == 404
    assert (
        outsider_client.post(
            import_url(destination), {"text": text, "expected": 1, "_op": "confirm"}
        ).status_code
        == 404
    )
    assert destination.mappings.count() == 3
