"""Path suggestions for the mapping editor, drawn from a source's recent events."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.pipeline import Incoming, accept_messages
from delivery.selectors import PATH_EVENTS

pytestmark = pytest.mark.django_db


def accept(source, *messages):
    accept_messages(
        source=source, incoming=[Incoming(m) for m in messages], received_at=timezone.now()
    )


ORDER = {
    "type": "track",
    "messageId": "m-1",
    "userId": "user-1",
    "event": "Order Completed",
    "properties": {
        "total": 27.5,
        "products": [{"sku": "45790-32", "price": 19}],
        "odd.key": 1,
    },
    "context": {"app": {"name": "Example Shop"}},
}
IDENTIFY = {
    "type": "identify",
    "messageId": "m-2",
    "userId": "user-1",
    "traits": {"email": "a@b.c"},
}


def paths(client, source, query="", **headers):
    return client.get(reverse("source_paths", args=[source.pk]) + query, **headers)


def test_paths_of_recent_events_are_offered_for_a_datalist(owner_client, source):
    accept(source, ORDER, IDENTIFY)

    page = paths(owner_client, source).content.decode()

    for path in (
        "$.properties.total",
        "$.properties.products",
        "$.properties.products.0.price",
        "$.context.app.name",
        "$.traits.email",
        "$.userId",
    ):
        assert f'<option value="{path}"></option>' in page
    assert page.count('<option value="$.type">') == 1
    assert "odd.key" not in page


def test_paths_are_filtered_by_prefix(owner_client, source):
    accept(source, ORDER, IDENTIFY)

    with_root = paths(owner_client, source, "?q=$.properties.pro").content.decode()
    without_root = paths(owner_client, source, "?q=Traits").content.decode()

    assert with_root.count("<option") == 4
    assert "$.properties.products.0.sku" in with_root
    assert "$.properties.total" not in with_root
    assert without_root.count("<option") == 2
    assert "$.traits.email" in without_root


def test_paths_come_as_json_when_asked(owner_client, source):
    accept(source, IDENTIFY)

    response = paths(owner_client, source, HTTP_ACCEPT="application/json")

    assert response.json() == {
        "paths": ["$.messageId", "$.traits", "$.traits.email", "$.type", "$.userId"]
    }


def test_only_the_latest_events_are_read(owner_client, source):
    accept(source, {**IDENTIFY, "messageId": "ancient", "traits": {"ancient_trait": 1}})
    accept(source, *({**IDENTIFY, "messageId": f"m-{n}"} for n in range(PATH_EVENTS)))

    page = paths(owner_client, source).content.decode()

    assert "$.traits.email" in page
    assert "ancient_trait" not in page


def test_paths_are_refused_outside_the_organisation(outsider_client, client, source):
    accept(source, IDENTIFY)

    assert paths(outsider_client, source).status_code == 404
    assert paths(client, source).status_code == 302
