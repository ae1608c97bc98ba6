"""Hostile input to the mapping editor's endpoints: never a 500, and a save that
is refused writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console import services
from mappings.models import Mapping

pytestmark = pytest.mark.django_db

FIELDS = ["role", "event_name", "metadata", "custom_attributes", "email", "created_at"]
KINDS = ["path", "template", "value", "json", "unmapped", "pairs", "", "???"]

# Surrogates cannot be form-encoded, by a browser or by the test client.
texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(
        [
            '{"@if": {"exists": {"@path": "$.a"}}}',
            '{"@path": 5}',
            "[" * 500 + "]" * 500,
            '{"@liquid": "' + "{{x}}" * 300 + '"}',
            'type = "track" and (event = "a" or',
            "properties." + "a." * 3000 + "b = 1",
            "\x00",
            "x" * 20_000,
            "99999999999999999999999",
        ]
    ),
)


def form_data():
    keys = st.one_of(
        st.sampled_from(
            ["name", "action", "enabled", "t-mode", "t-fql", "t-match", "t-rows", "_op", "field"]
        ),
        st.builds(
            lambda i, part: f"t-{i}-{part}",
            st.integers(-1, 3),
            st.sampled_from(["kind", "path", "op", "value", "vtype"]),
        ),
        st.builds(
            lambda field, part: f"v-{field}-{part}",
            st.sampled_from(FIELDS),
            st.sampled_from(["kind", "was", "text", "rows", "0-key", "0-kind", "0-text"]),
        ),
    )
    values = st.one_of(
        texts,
        st.sampled_from(
            ["track_event", "identify_contact", "identify_company", "raw", "builder", "any"]
        ),
        st.sampled_from(KINDS),
        st.sampled_from(["save", "add_condition", "to_raw", "to_builder", "remove_condition:0"]),
        st.integers(-5, 10**12).map(str),
    )
    return st.dictionaries(keys, values, max_size=12)


@pytest.fixture
def unlinked_destination(organization):
    source, _ = services.source_create(organization=organization, name="Fuzz")
    return services.destination_create(source=source, name="Fuzzed")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(
        [
            "mapping_check_trigger",
            "mapping_check_field",
            "mapping_value_editor",
            "mapping_draft",
            "mapping_create",
            "mapping_import",
            "mapping_test",
        ]
    ),
    data=form_data(),
    htmx=st.booleans(),
)
def test_no_form_breaks_the_editor(owner_client, unlinked_destination, endpoint, data, htmx):
    before = Mapping.objects.count()
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = owner_client.post(reverse(endpoint, args=[unlinked_destination.pk]), data, **headers)

    assert response.status_code < 500, response.content[:500]
    created = Mapping.objects.count() - before
    if endpoint == "mapping_create" and response.status_code == 302:
        assert created == 1
        Mapping.objects.all().delete()
    else:
        assert created == 0
