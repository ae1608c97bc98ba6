"""The live events page: filters, polling for newer events, older pages, and
what became of each event."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from console.models import Destination
from delivery.bulk import insert_rows
from delivery.models import Delivery, Event
from delivery.pipeline import Incoming, accept_messages
from mappings.models import Mapping

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def track(message_id: str, *, event: str = "Order Completed", user: str = "u-1", **extra):
    return {"type": "track", "messageId": message_id, "userId": user, "event": event, **extra}


def accept(source, *messages, at=None):
    return accept_messages(
        source=source,
        incoming=[m if isinstance(m, Incoming) else Incoming(m) for m in messages],
        received_at=at or timezone.now(),
    )


def shown_message_ids(html: str) -> list[str]:
    """The events listed, top to bottom, by the ids of their rows."""
    ids = [int(pk) for pk in re.findall(r'id="event-(\d+)"', html)]
    by_pk = dict(Event.objects.filter(pk__in=ids).values_list("pk", "message_id"))
    return [by_pk[pk] for pk in ids]


def test_the_newest_events_come_first(owner_client, source):
    start = timezone.now() - timedelta(minutes=5)
    for number in range(3):
        accept(source, track(f"m-{number}"), at=start + timedelta(seconds=number))

    page = owner_client.get(reverse("event_list")).content.decode()

    assert shown_message_ids(page) == ["m-2", "m-1", "m-0"]
    assert "Website" in page
    # The newest page keeps asking for events after the newest one shown.
    newest = Event.objects.get(message_id="m-2")
    assert f"after={newest.pk}" in page
    assert 'hx-trigger="every 2s"' in page


def test_filters_narrow_the_list_by_source_type_name_and_user(owner_client, organization, source):
    other_source, _ = console_services.source_create(organization=organization, name="App")
    accept(source, track("m-order"), track("m-signup", event="Signed Up"))
    accept(source, {"type": "identify", "messageId": "m-identify", "userId": "u-2"})
    accept(source, {"type": "page", "messageId": "m-anon", "anonymousId": "anon-7", "name": "Home"})
    accept(other_source, track("m-app"))
    url = reverse("event_list")

    def shown(**query):
        return set(shown_message_ids(owner_client.get(url, query).content.decode()))

    assert shown(source=other_source.pk) == {"m-app"}
    assert shown(type="identify") == {"m-identify"}
    assert shown(event="Signed Up") == {"m-signup"}
    assert shown(user="u-2") == {"m-identify"}
    assert shown(user="anon-7") == {"m-anon"}
    assert shown(source=source.pk, type="track", event="Order Completed") == {"m-order"}
    assert (
        "No event matches these filters"
        in owner_client.get(url, {"user": "nobody"}).content.decode()
    )


def test_polling_returns_only_the_newer_events_that_pass_the_filters(owner_client, source):
    start = timezone.now() - timedelta(minutes=5)
    accept(source, track("m-seen"), at=start)
    seen = Event.objects.get()
    accept(
        source, track("m-new"), track("m-other", event="Signed Up"), at=start + timedelta(seconds=1)
    )

    fragment = owner_client.get(
        reverse("event_list"), {"event": "Order Completed", "after": seen.pk}, **HTMX
    ).content.decode()

    assert shown_message_ids(fragment) == ["m-new"]
    assert "<html" not in fragment
    # The poller comes back first, asking from the newest event now shown, with the filter.
    newest = Event.objects.get(message_id="m-new")
    assert re.search(
        rf'class="poller" hx-get="[^"]*event=Order\+Completed&amp;after={newest.pk}"', fragment
    )

    quiet = owner_client.get(
        reverse("event_list"), {"event": "Order Completed", "after": newest.pk}, **HTMX
    ).content.decode()
    assert shown_message_ids(quiet) == []
    assert f"after={newest.pk}" in quiet


def test_older_pages_are_found_by_keyset_and_do_not_poll(owner_client, source):
    start = timezone.now() - timedelta(hours=1)
    insert_rows(
        Event,
        [
            {
                "source_id": source.pk,
                "message_id": f"m-{number:03}",
                "type": "track",
                "event_name": "Order Completed",
                "payload": track(f"m-{number:03}"),
                "received_at": start + timedelta(seconds=number),
                "status": Event.Status.NO_MATCH,
            }
            for number in range(120)
        ],
    )

    first = owner_client.get(reverse("event_list")).content.decode()
    assert shown_message_ids(first)[0] == "m-119"
    assert len(shown_message_ids(first)) == 50
    older = re.search(r'href="([^"]*before=\d+)">Older', first).group(1).replace("&amp;", "&")

    second = owner_client.get(older).content.decode()
    assert shown_message_ids(second) == [f"m-{number:03}" for number in range(69, 19, -1)]
    assert 'class="poller"' not in second
    assert ">Newest<" in second


def test_an_outsider_is_refused_other_organisations_sources_and_events(outsider_client, source):
    accept(source, track("m-1"))
    event = Event.objects.get()
    url = reverse("event_list")

    assert outsider_client.get(url, {"source": source.pk}).status_code == 404
    assert outsider_client.get(url, {"after": event.pk}, **HTMX).status_code == 404
    assert outsider_client.get(url, {"before": event.pk}).status_code == 404
    assert outsider_client.get(reverse("event_detail", args=[event.pk])).status_code == 404
    assert "m-1" not in outsider_client.get(url).content.decode()


def outcome(client, event: Event) -> str:
    """The fragment the list unfolds for one event, whitespace collapsed."""
    html = client.get(reverse("event_detail", args=[event.pk]), **HTMX).content.decode()
    return " ".join(html.split())


def test_an_event_shows_its_json_escaped(owner_client, source):
    accept(source, track("m-1", properties={"note": "<script>alert(1)</script>"}))
    html = outcome(owner_client, Event.objects.get())

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert '"event": "Order Completed"' in html.replace("&quot;", '"')


def test_what_happened_to_a_routed_event_mapping_by_mapping(
    owner_client, source, destination, workspace, add_mapping
):
    orders = add_mapping("track_event", name="Orders", trigger='event = "Order Completed"')
    add_mapping("track_event", name="Signups", trigger='event = "Signed Up"')
    add_mapping("track_event", name="Paused one", enabled=False)
    broken = add_mapping("track_event", name="Broken", trigger='event = "Order Completed"')
    Mapping.objects.filter(pk=broken.pk).update(trigger="event = ")
    switched_off = console_services.destination_create(source=source, name="Staging")
    add_mapping("track_event", name="Staging orders", destination=switched_off)
    orphan = console_services.destination_create(source=source, name="Orphan", workspace=workspace)
    add_mapping("track_event", name="Orphan orders", destination=orphan)
    Destination.objects.filter(pk=orphan.pk).update(enabled=True, workspace=None)
    gone = add_mapping("track_event", name="Soon deleted", trigger='event = "Nothing"')

    accept(source, track("m-1"))
    gone.delete()
    event = Event.objects.get()
    delivery = Delivery.objects.get(mapping=orders)
    html = outcome(owner_client, event)

    assert "Routed" in html
    link = reverse("delivery_detail", args=[delivery.pk])
    assert f'<a href="{link}">Orders</a>' in html
    assert "Pending" in html
    for name, reason in [
        ("Signups", "trigger did not match"),
        ("Paused one", "mapping disabled"),
        ("Broken", "mapping cannot run (invalid trigger or fields)"),
        ("Staging orders", "destination disabled"),
        ("Orphan orders", "destination has no workspace"),
        ("(deleted mapping)", "trigger did not match"),
    ]:
        assert re.search(rf"{re.escape(name)}</?[^>]*>.*?Not sent: {re.escape(reason)}", html), name


def test_what_happened_to_an_event_no_mapping_matched(owner_client, source, add_mapping):
    add_mapping("identify_contact", role="user", name="People")
    accept(source, track("m-1"))
    html = outcome(owner_client, Event.objects.get())

    assert "No mapping matched" in html
    assert "People" in html
    assert "Not sent: trigger did not match" in html


def test_what_happened_to_rejected_duplicate_test_and_deletion_events(
    owner_client, source, add_mapping
):
    add_mapping("track_event")
    accept(
        source,
        Incoming(
            {"type": "track", "event": "Anonymous"},
            rejection="The message has neither a userId nor an anonymousId.",
        ),
    )
    accept(source, track("m-1"))
    accept(source, track("m-1"))
    now = timezone.now()
    for status, message_id in [(Event.Status.TEST, "m-test"), (Event.Status.DELETION, "m-del")]:
        Event.objects.create(
            source=source,
            message_id=message_id,
            type="track" if status == Event.Status.TEST else "delete",
            payload={"messageId": message_id},
            received_at=now,
            status=status,
        )
    by_id = {event.message_id: event for event in Event.objects.all()}
    rejected = next(event for event in by_id.values() if event.status == Event.Status.REJECTED)
    duplicate = Event.objects.filter(status=Event.Status.DUPLICATE).get()

    assert "Rejected" in outcome(owner_client, rejected)
    assert "neither a userId nor an anonymousId" in outcome(owner_client, rejected)
    assert "Duplicate messageId" in outcome(owner_client, duplicate)
    assert "not delivered again" in outcome(owner_client, duplicate)
    assert "Test send" in outcome(owner_client, by_id["m-test"])
    assert "User deletion request" in outcome(owner_client, by_id["m-del"])


def test_the_event_page_works_without_javascript(owner_client, source):
    accept(source, track("m-1"))
    event = Event.objects.get()

    page = owner_client.get(reverse("event_list")).content.decode()
    detail = reverse("event_detail", args=[event.pk])
    assert f'<a href="{detail}">' in page

    full = owner_client.get(detail).content.decode()
    assert "<html" in full
    assert "What happened" in full
    assert "m-1" in full
