"""The mappings services: the 50-mapping limit (also under concurrency), checks before
saving, ordering, duplicating, quick setup and import planning."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection

from console import services as console_services
from mappings import services
from mappings.actions import new_mapping
from mappings.models import MAPPINGS_PER_DESTINATION, Mapping, MappingLimitReached

pytestmark = pytest.mark.django_db


@pytest.fixture
def destination(source):
    return console_services.destination_create(source=source, name="Intercom")


def create(destination, name="Orders", **changes):
    template = new_mapping("track_event")
    return services.mapping_create(
        destination=destination,
        name=name,
        action=changes.pop("action", template["action"]),
        trigger=changes.pop("trigger", template["trigger"]),
        fields=changes.pop("fields", template["fields"]),
        **changes,
    )


def fill(destination, count):
    template = new_mapping("track_event")
    for number in range(count):
        Mapping.objects.create(destination=destination, name=f"m{number}", **template)


def test_a_valid_mapping_is_saved_at_the_end_of_the_list(destination):
    first = create(destination, name="First")
    second = create(destination, name="Second", trigger='type = "track" and event = "Signed Up"')

    assert [m.name for m in Mapping.objects.filter(destination=destination)] == ["First", "Second"]
    assert second.position > first.position
    assert not second.enabled


def test_the_fifty_first_mapping_is_refused(destination):
    fill(destination, MAPPINGS_PER_DESTINATION - 1)
    create(destination, name="Fiftieth")

    with pytest.raises(MappingLimitReached, match="already has 50 of 50 mappings"):
        create(destination, name="Fifty-first")
    assert Mapping.objects.filter(destination=destination).count() == 50


def test_the_limit_holds_however_a_mapping_is_made(destination):
    fill(destination, MAPPINGS_PER_DESTINATION)

    with pytest.raises(MappingLimitReached):
        Mapping.objects.create(destination=destination, name="Sneaky", **new_mapping("track_event"))
    assert Mapping.objects.filter(destination=destination).count() == 50


def test_the_limit_is_per_destination(destination, source):
    other = console_services.destination_create(source=source, name="Intercom EU")
    fill(destination, MAPPINGS_PER_DESTINATION)

    create(other, name="Allowed")

    assert other.mappings.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_for_the_last_slot_make_one_mapping(destination, monkeypatch):
    # Given a destination with room for one more mapping, and a first request that has just
    # claimed that room and is still saving
    fill(destination, MAPPINGS_PER_DESTINATION - 1)
    claimed = threading.Event()
    claim = services.claim_mapping_slots

    def slow_claim(**arguments):
        held = claim(**arguments)
        if threading.current_thread().name == "first":
            claimed.set()
            time.sleep(0.5)
        return held

    monkeypatch.setattr(services, "claim_mapping_slots", slow_claim)
    outcomes: dict[str, str] = {}

    def add(name):
        if name == "second":
            claimed.wait(timeout=10)
        try:
            for _ in range(200):
                try:
                    create(destination, name=name)
                    outcomes[name] = "created"
                    return
                except MappingLimitReached:
                    outcomes[name] = "refused"
                    return
                except OperationalError as error:
                    # The test database (SQLite in memory, shared between threads) answers
                    # "locked" where a database file waits its turn: wait here instead.
                    if "locked" not in str(error):
                        raise
                    time.sleep(0.02)
        finally:
            connection.close()

    # When a second request adds a mapping meanwhile
    threads = [
        threading.Thread(target=add, args=(name,), name=name) for name in ("first", "second")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then it waits for the first and is refused: the destination holds 50, not 51
    assert outcomes == {"first": "created", "second": "refused"}
    assert Mapping.objects.filter(destination=destination).count() == MAPPINGS_PER_DESTINATION


def test_nothing_is_saved_when_a_check_fails(destination):
    with pytest.raises(ValidationError) as refusal:
        services.mapping_create(
            destination=destination,
            name=" ",
            action="track_event",
            trigger='type = "track" &&',
            fields={"event_name": {"@path": 3}, "revenue": "lots", "nonsense": 1},
        )

    problems = refusal.value.message_dict
    assert problems["name"] == ["Give the mapping a name."]
    assert problems["trigger"][0].startswith('Unexpected character "&" at position 15')
    assert problems["fields.event_name"] == [
        "/event_name/@path should be a string or a mapping directive but it is a number."
    ]
    assert problems["fields.revenue"] == ['Revenue must be a number (got "lots").']
    assert problems["fields.nonsense"] == ['Track Event has no field "nonsense".']
    assert not Mapping.objects.exists()


def test_required_fields_and_rules_must_be_mapped(destination):
    with pytest.raises(ValidationError) as refusal:
        services.mapping_create(
            destination=destination,
            name="Contacts",
            action="identify_contact",
            trigger='type = "identify"',
            fields={"role": "user", "external_id": None, "email": None},
        )

    assert refusal.value.message_dict == {
        "fields.external_id": [
            "Map External ID or Email Address: one of them is needed when Role is “user”."
        ]
    }
    services.mapping_create(
        destination=destination,
        name="Leads",
        action="identify_contact",
        trigger='type = "identify"',
        fields={"role": "lead", "external_id": None, "email": None},
    )


def test_an_unknown_action_is_refused(destination):
    with pytest.raises(ValidationError) as refusal:
        create(destination, action="delete_everything", fields={})

    assert refusal.value.message_dict["action"] == [
        "Choose an action: Identify Contact, Identify Company, Track Event."
    ]


def test_moving_swaps_neighbours_and_stops_at_the_ends(destination):
    a, _, c = (create(destination, name=name) for name in "ABC")

    assert services.mapping_move(mapping=c, direction="up")
    assert not services.mapping_move(mapping=a, direction="up")
    assert services.mapping_move(mapping=a, direction="down")

    assert [m.name for m in destination.mappings.all()] == ["C", "A", "B"]


def test_moving_orders_mappings_that_all_share_one_position(destination):
    fill(destination, 3)  # made outside the services: every position is 0
    last = destination.mappings.last()

    services.mapping_move(mapping=last, direction="up")

    assert [m.name for m in destination.mappings.all()] == ["m0", "m2", "m1"]


def test_a_duplicate_is_a_disabled_copy_below_the_original(destination):
    first = create(destination, name="First", enabled=True)
    create(destination, name="Second")

    copy = services.mapping_duplicate(mapping=first)

    assert [m.name for m in destination.mappings.all()] == ["First", "Copy of First", "Second"]
    assert not copy.enabled
    assert (copy.action, copy.trigger, copy.fields) == (first.action, first.trigger, first.fields)


def test_quick_setup_needs_room_for_all_three(destination):
    fill(destination, MAPPINGS_PER_DESTINATION - 2)

    with pytest.raises(MappingLimitReached, match="room for 2 more, not 3"):
        services.mapping_quick_setup(destination=destination, role="lead")
    assert destination.mappings.count() == 48


def test_quick_setup_makes_segments_three_defaults(destination):
    created = services.mapping_quick_setup(destination=destination, role="lead", enabled=True)

    assert [(m.name, m.action, m.trigger) for m in created] == [
        ("Identify Contact", "identify_contact", 'type = "identify"'),
        ("Identify Company", "identify_company", 'type = "group"'),
        ("Track Event", "track_event", 'type = "track"'),
    ]
    assert created[0].fields == new_mapping("identify_contact", role="lead")["fields"]
    assert all(m.enabled for m in created)


def test_an_import_over_the_limit_refuses_the_mappings_that_do_not_fit(destination):
    fill(destination, MAPPINGS_PER_DESTINATION - 1)
    track = {"action": "track_event", "trigger": 'type = "track"'}
    text = json.dumps({"mappings": [{"name": f"n{n}", **track} for n in range(3)]})

    plan = services.mapping_import_preview(destination=destination, text=text)

    assert [item.name for item in plan.accepted] == ["n0"]
    assert [item.problems for item in plan.refused] == [
        ["Over the limit: the destination has 49 of 50 mappings, so only 1 more fits."]
    ] * 2


def test_an_import_creates_nothing_when_the_destination_changed_since_the_preview(destination):
    text = '[{"action": "track_event", "trigger": "type = \\"track\\"", "fields": {}}]'
    plan = services.mapping_import_preview(destination=destination, text=text)
    fill(destination, MAPPINGS_PER_DESTINATION)  # meanwhile, someone filled it

    with pytest.raises(ValidationError, match="changed since the preview"):
        services.mapping_import(destination=destination, text=text, expected=len(plan.accepted))
    assert destination.mappings.count() == 50
