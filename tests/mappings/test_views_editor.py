"""The mapping editor: defaults, the trigger builder and raw FQL (and the round trip
between them, on the page), value editors, key-value rows, live checks, saving all or
nothing, the Test panel slot; refused to outsiders."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from console import services as console_services
from mappings.actions import new_mapping
from mappings.models import Mapping

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class _FormReader(HTMLParser):
    """The values a browser would submit from ``<form id=...>`` (buttons left out)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, str] = {}
        self.select: str | None = None
        self.first_option: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") not in ("submit", "button"):
            if attributes.get("type") != "checkbox" or "checked" in attributes:
                self.data[name] = attributes.get("value") or (
                    "on" if "checked" in attributes else ""
                )
        elif tag == "select":
            self.select, self.first_option = name, None
        elif tag == "option" and self.select:
            value = attributes.get("value", "")
            if self.first_option is None:
                self.first_option = value
                self.data.setdefault(self.select, value)
            if "selected" in attributes:
                self.data[self.select] = value
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data


def form_data(page: str, form_id: str = "mapping-form") -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.data


@pytest.fixture
def destination(source):
    return console_services.destination_create(source=source, name="Intercom")


@pytest.fixture
def orders(destination):
    return Mapping.objects.create(
        destination=destination,
        name="Orders",
        action="track_event",
        trigger=(
            'type = "track" and event = "Order Completed" and properties.total > 100 '
            "and properties.test != true"
        ),
        fields=new_mapping("track_event")["fields"],
    )


def create_url(destination):
    return reverse("mapping_create", args=[destination.pk])


def edit_url(mapping):
    return reverse("mapping_edit", args=[mapping.pk])


def post(client, url, data, operation="save", **headers):
    return client.post(url, {**data, "_op": operation}, **headers)


# --- A new mapping -------------------------------------------------------------------------


def test_a_new_mapping_shows_the_actions_fields_required_first_with_defaults(
    owner_client, destination
):
    page = owner_client.get(create_url(destination) + "?action=track_event").content.decode()

    labels = ["Event Name", "Event Timestamp", "User ID", "Email Address", "Contact ID"]
    positions = [page.index(f'<span class="field-label">{label}</span>') for label in labels]
    assert positions == sorted(positions)
    assert page.count('<span class="badge required">Required</span>') == 2
    assert "The name of the event; periods and dollar signs are replaced with hyphens." in page
    data = form_data(page)
    assert data["name"] == "Track Event"
    assert (data["v-event_name-kind"], data["v-event_name-text"]) == ("path", "$.event")
    assert (data["v-metadata-kind"], data["v-metadata-text"]) == ("path", "$.properties")
    assert data["v-id-kind"] == ""
    assert (data["t-0-kind"], data["t-0-op"], data["t-0-value"]) == ("event-type", "=", "track")
    assert "Matches when: Event type is track" in page


def test_identify_contacts_role_is_a_choice_the_user_makes(owner_client, destination):
    url = create_url(destination)
    page = owner_client.get(url + "?action=identify_contact").content.decode()

    assert '<select name="v-role-text"' in page
    assert '<option value="" selected>Choose…</option>' in page
    response = post(owner_client, url, form_data(page))

    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert "Choose user or lead." in response.content.decode()
    assert not Mapping.objects.exists()

    data = form_data(page)
    data["v-role-text"] = "lead"
    response = post(owner_client, url, data)

    assert response.status_code == 302
    assert Mapping.objects.get().fields == new_mapping("identify_contact", role="lead")["fields"]


def test_building_a_trigger_and_saving(owner_client, destination):
    url = create_url(destination)
    page = owner_client.get(url + "?action=track_event").content.decode()

    page = post(owner_client, url, form_data(page), "add_condition").content.decode()
    data = form_data(page)
    assert data["t-rows"] == "2"
    data.update(
        {"name": "Orders", "t-1-kind": "event", "t-1-op": "=", "t-1-value": "Order Completed"}
    )
    data["enabled"] = "on"
    response = post(owner_client, url, data)

    assert response.status_code == 302
    mapping = Mapping.objects.get()
    assert mapping.name == "Orders"
    assert mapping.trigger == 'type = "track" and event = "Order Completed"'
    assert mapping.fields == new_mapping("track_event")["fields"]
    assert mapping.enabled
    listing = owner_client.get(response["Location"]).content.decode()
    assert "Event type is track and event name is Order Completed" in listing
    assert "Mapping “Orders” saved." in listing


def test_removing_a_condition(owner_client, orders):
    page = owner_client.get(edit_url(orders)).content.decode()

    page = post(
        owner_client, edit_url(orders), form_data(page), "remove_condition:1"
    ).content.decode()
    post(owner_client, edit_url(orders), form_data(page))

    orders.refresh_from_db()
    assert orders.trigger == 'type = "track" and properties.total > 100 and properties.test != true'


def test_any_condition_writes_or(owner_client, orders):
    data = form_data(owner_client.get(edit_url(orders)).content.decode())
    data["t-match"] = "any"

    post(owner_client, edit_url(orders), data)

    orders.refresh_from_db()
    assert orders.trigger.count(" or ") == 3


# --- Builder and FQL -----------------------------------------------------------------------


def test_the_builder_and_fql_keep_the_trigger_both_ways(owner_client, orders):
    original = orders.trigger
    page = owner_client.get(edit_url(orders)).content.decode()
    builder = form_data(page)
    assert [builder[f"t-{i}-kind"] for i in range(4)] == [
        "event-type",
        "event",
        "event-property",
        "event-property",
    ]
    assert (builder["t-2-path"], builder["t-2-op"], builder["t-2-value"]) == ("total", ">", "100")
    assert (builder["t-3-op"], builder["t-3-value"], builder["t-3-vtype"]) == (
        "!=",
        "true",
        "boolean",
    )

    raw_page = post(owner_client, edit_url(orders), builder, "to_raw").content.decode()
    raw = form_data(raw_page)
    assert raw["t-mode"] == "raw"
    assert raw["t-fql"] == original

    back = form_data(post(owner_client, edit_url(orders), raw, "to_builder").content.decode())
    assert {key: value for key, value in back.items() if key.startswith("t-")} == {
        key: value for key, value in builder.items() if key.startswith("t-")
    }

    post(owner_client, edit_url(orders), back)
    orders.refresh_from_db()
    assert orders.trigger == original


def test_raw_fql_is_saved_as_typed(owner_client, orders):
    data = form_data(
        post(
            owner_client,
            edit_url(orders),
            form_data(owner_client.get(edit_url(orders)).content.decode()),
            "to_raw",
        ).content.decode()
    )
    data["t-fql"] = 'type = "track" and (event = "A" or event = "B")'

    post(owner_client, edit_url(orders), data)

    orders.refresh_from_db()
    assert orders.trigger == 'type = "track" and (event = "A" or event = "B")'


def test_a_trigger_the_builder_cannot_show_stays_in_fql(owner_client, orders):
    orders.trigger = '!(type = "identify") and (event = "A" or event = "B")'
    orders.save()

    page = owner_client.get(edit_url(orders)).content.decode()
    assert "The builder cannot show this trigger" in page
    data = form_data(page)
    assert data["t-mode"] == "raw"

    page = post(owner_client, edit_url(orders), data, "to_builder").content.decode()
    assert form_data(page)["t-mode"] == "raw"
    assert form_data(page)["t-fql"] == orders.trigger
    assert "The builder cannot show this trigger" in page


def test_an_unfinished_condition_stays_in_the_builder(owner_client, orders):
    data = form_data(owner_client.get(edit_url(orders)).content.decode())
    data["t-2-path"] = ""

    page = post(owner_client, edit_url(orders), data, "to_raw").content.decode()

    assert form_data(page)["t-mode"] == "builder"
    assert "Fix the conditions before switching to FQL." in page
    assert "Enter the property&#x27;s path, such as plan or items.0.price." in page


def test_broken_fql_is_refused_with_a_caret_and_nothing_is_saved(owner_client, orders):
    original = orders.trigger
    raw = form_data(
        post(
            owner_client,
            edit_url(orders),
            form_data(owner_client.get(edit_url(orders)).content.decode()),
            "to_raw",
        ).content.decode()
    )
    raw["t-fql"] = 'type = "track" && event = "X"'

    response = post(owner_client, edit_url(orders), raw)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Unexpected character &quot;&amp;&quot; at position 15" in page
    assert (
        "type = &quot;track&quot; &amp;&amp; event = &quot;X&quot;\n               ^</pre>" in page
    )
    orders.refresh_from_db()
    assert orders.trigger == original


# --- Live checks ---------------------------------------------------------------------------


def test_the_live_fql_check_points_at_the_error(owner_client, destination):
    url = reverse("mapping_check_trigger", args=[destination.pk])

    response = owner_client.post(
        url, {"t-mode": "raw", "t-fql": 'type = "track"\nand event = Signed'}, **HTMX
    )

    fragment = response.content.decode()
    assert "Unexpected &quot;Signed&quot; at position 27: put text in double quotes" in fragment
    assert (
        '<pre class="fql-caret" data-testid="fql-caret">and event = Signed\n            ^</pre>'
        in fragment
    )


def test_the_live_fql_check_says_what_a_valid_trigger_means(owner_client, destination):
    url = reverse("mapping_check_trigger", args=[destination.pk])

    fragment = owner_client.post(
        url, {"t-mode": "raw", "t-fql": 'type = "track" and event = "Order Completed"'}, **HTMX
    ).content.decode()

    assert "✓ Matches when: Event type is track and event name is Order Completed" in fragment


def test_the_live_builder_check_shows_the_fql_it_writes_and_row_problems(owner_client, destination):
    url = reverse("mapping_check_trigger", args=[destination.pk])
    rows = {
        "t-mode": "builder",
        "t-match": "all",
        "t-rows": "2",
        "t-0-kind": "event",
        "t-0-op": "starts_with",
        "t-0-value": "Order ",
        "t-1-kind": "event-property",
        "t-1-path": "total",
        "t-1-op": ">=",
        "t-1-value": "100",
    }

    fragment = owner_client.post(url, rows, **HTMX).content.decode()
    assert "match(event, &quot;Order *&quot;) and properties.total &gt;= 100" in fragment
    assert "Event name starts with Order  and property total is at least 100" in fragment

    fragment = owner_client.post(url, {**rows, "t-1-value": "lots"}, **HTMX).content.decode()
    assert "Condition 2: Enter a number to compare with, such as 100 or 4.5." in fragment


def field_check(client, destination, data, field):
    url = reverse("mapping_check_field", args=[destination.pk])
    return client.post(url, {**data, "field": field}, **HTMX).content.decode()


def test_the_live_field_check_reports_directive_problems_with_their_path(owner_client, destination):
    data = form_data(
        owner_client.get(create_url(destination) + "?action=identify_contact").content.decode()
    )
    data["v-email-kind"] = data["v-email-was"] = "json"
    data["v-email-text"] = json.dumps(
        {
            "@if": {
                "exists": {"@path": "$.traits.email"},
                "then": {"@path": "$.traits.email"},
                "else": {"@template": 5},
            }
        }
    )

    fragment = field_check(owner_client, destination, data, "email")

    assert (
        "/email/@if/else/@template should be a string or a mapping directive but it is a number."
        in fragment
    )


def test_the_live_field_check_reads_json_literals_and_templates(owner_client, destination):
    data = form_data(
        owner_client.get(create_url(destination) + "?action=track_event").content.decode()
    )

    data.update({"v-metadata-kind": "json", "v-metadata-was": "json", "v-metadata-text": '{"a": '})
    assert "This is not valid JSON: Expecting value at line 1, column 7." in field_check(
        owner_client, destination, data, "metadata"
    )

    data.update({"v-revenue-kind": "text", "v-revenue-was": "text", "v-revenue-text": "lots"})
    assert "Enter a number, such as 12 or 4.5." in field_check(
        owner_client, destination, data, "revenue"
    )

    data.update({"v-email-kind": "text", "v-email-was": "text", "v-email-text": "nobody"})
    assert "Email Address must be a valid email address (got &quot;nobody&quot;)." in field_check(
        owner_client, destination, data, "email"
    )

    data.update({"v-event_name-kind": "", "v-event_name-was": ""})
    assert "Event Name is required: map it to a path, a template or a value." in field_check(
        owner_client, destination, data, "event_name"
    )

    data.update(
        {
            "v-event_name-kind": "template",
            "v-event_name-was": "template",
            "v-event_name-text": "{{event}} (web)",
        }
    )
    assert field_check(owner_client, destination, data, "event_name").strip() == ""


def test_switching_a_value_editor_keeps_the_value(owner_client, destination):
    data = form_data(
        owner_client.get(create_url(destination) + "?action=identify_contact").content.decode()
    )
    url = reverse("mapping_value_editor", args=[destination.pk])

    fragment = owner_client.post(
        url, {**data, "editor": "v-email", "v-email-kind": "template"}, **HTMX
    ).content.decode()
    assert 'name="v-email-text" value="{{traits.email}}"' in fragment
    assert 'name="v-email-was" value="template"' in fragment

    fragment = owner_client.post(
        url, {**data, "editor": "v-email", "v-email-kind": "json"}, **HTMX
    ).content.decode()
    assert "&quot;@path&quot;: &quot;$.traits.email&quot;" in fragment
    assert "<textarea" in fragment


def test_the_draft_for_the_test_panel_follows_the_form(owner_client, destination):
    data = form_data(
        owner_client.get(create_url(destination) + "?action=track_event").content.decode()
    )
    data["v-currency-kind"] = data["v-currency-was"] = "text"
    data["v-currency-text"] = "EUR"

    fragment = owner_client.post(
        reverse("mapping_draft", args=[destination.pk]), data, **HTMX
    ).content.decode()

    assert '<div id="mapping-draft" class="mapping-draft" hx-swap-oob="true">' in fragment
    reader = _FormReader("unused")
    reader.inside = True
    reader.feed(fragment)
    assert reader.data["action"] == "track_event"
    assert reader.data["trigger"] == 'type = "track"'
    assert json.loads(reader.data["fields"])["currency"] == "EUR"


def test_the_editor_has_a_test_panel_and_path_suggestions(owner_client, destination, orders):
    page = owner_client.get(edit_url(orders)).content.decode()

    test_url = reverse("mapping_test", args=[destination.pk])
    assert f'hx-post="{test_url}" hx-include="#mapping-draft"' in page
    assert f'<input type="hidden" name="mapping" value="{orders.pk}">' in page
    paths_url = reverse("source_paths", args=[destination.source.pk])
    assert f'<datalist id="source-paths" hx-get="{paths_url}" hx-trigger="load"' in page
    assert '<option value="$.properties.revenue"></option>' in page


# --- Fields --------------------------------------------------------------------------------


def test_changing_the_action_fills_in_its_defaults(owner_client, destination):
    url = create_url(destination)
    data = form_data(owner_client.get(url + "?action=track_event").content.decode())
    data["action"] = "identify_company"

    page = post(owner_client, url, data, "action", **HTMX).content.decode()

    assert "The fields now show Identify Company&#x27;s defaults." in page
    changed = form_data(page)
    assert changed["name"] == "Identify Company"
    assert changed["t-0-value"] == "group"
    assert changed["v-company_id-text"] == "$.groupId"
    assert "v-event_name-kind" not in changed


def test_key_value_rows_for_custom_attributes(owner_client, destination):
    url = create_url(destination)
    data = form_data(owner_client.get(url + "?action=identify_contact").content.decode())
    data["v-role-text"] = "user"
    data["v-custom_attributes-kind"] = "pairs"  # picked without JavaScript: "was" is still ""

    page = post(owner_client, url, data, "add_pair:custom_attributes").content.decode()
    data = form_data(page)
    assert data["v-custom_attributes-rows"] == "2"
    data.update(
        {
            "v-custom_attributes-0-key": "plan",
            "v-custom_attributes-0-kind": "path",
            "v-custom_attributes-0-text": "$.traits.plan",
            "v-custom_attributes-1-key": "source",
            "v-custom_attributes-1-kind": "text",
            "v-custom_attributes-1-was": "text",
            "v-custom_attributes-1-text": "web",
        }
    )
    assert post(owner_client, url, data).status_code == 302

    mapping = Mapping.objects.get()
    assert mapping.fields["custom_attributes"] == {
        "plan": {"@path": "$.traits.plan"},
        "source": "web",
    }

    page = owner_client.get(edit_url(mapping)).content.decode()
    page = post(
        owner_client, edit_url(mapping), form_data(page), "remove_pair:custom_attributes:0"
    ).content.decode()
    post(owner_client, edit_url(mapping), form_data(page))
    mapping.refresh_from_db()
    assert mapping.fields["custom_attributes"] == {"source": "web"}


def test_a_duplicate_key_is_refused(owner_client, destination):
    url = create_url(destination)
    data = form_data(owner_client.get(url + "?action=identify_company").content.decode())
    data.update(
        {
            "v-custom_attributes-kind": "pairs",
            "v-custom_attributes-was": "pairs",
            "v-custom_attributes-rows": "2",
            "v-custom_attributes-0-key": "tier",
            "v-custom_attributes-0-kind": "path",
            "v-custom_attributes-0-text": "$.traits.tier",
            "v-custom_attributes-1-key": "tier",
            "v-custom_attributes-1-kind": "text",
            "v-custom_attributes-1-text": "gold",
        }
    )

    response = post(owner_client, url, data)

    assert response.status_code == 400
    assert "Row 2: the key “tier” is used twice." in response.content.decode()
    assert not Mapping.objects.exists()


def test_saving_an_if_directive_and_unmapping_a_default(owner_client, orders):
    data = form_data(owner_client.get(edit_url(orders)).content.decode())
    directive = {
        "@if": {
            "exists": {"@path": "$.properties.sku"},
            "then": {"@template": "SKU {{properties.sku}}"},
            "else": "none",
        }
    }
    data.update(
        {
            "v-currency-kind": "json",
            "v-currency-was": "json",
            "v-currency-text": json.dumps(directive),
        }
    )
    data.update({"v-email-kind": "", "v-email-was": ""})
    data.update({"v-revenue-kind": "text", "v-revenue-was": "text", "v-revenue-text": "12.5"})

    assert post(owner_client, edit_url(orders), data).status_code == 302

    orders.refresh_from_db()
    assert orders.fields["currency"] == directive
    assert orders.fields["email"] is None  # unmapped, where an absent field would default
    assert orders.fields["revenue"] == 12.5


def test_a_bad_field_refuses_the_whole_save(owner_client, orders):
    before = (orders.name, orders.trigger, orders.fields)
    data = form_data(owner_client.get(edit_url(orders)).content.decode())
    data["name"] = "Renamed"
    data.update(
        {"v-metadata-kind": "json", "v-metadata-was": "json", "v-metadata-text": '{"@path": 4}'}
    )

    response = post(owner_client, edit_url(orders), data)

    assert response.status_code == 400
    page = response.content.decode()
    feedback = page[page.index('id="field-metadata"') :]
    assert (
        "/metadata/@path should be a string or a mapping directive but it is a number."
        in feedback[:4000]
    )
    orders.refresh_from_db()
    assert (orders.name, orders.trigger, orders.fields) == before


def test_htmx_saves_redirect_and_failures_stay_in_place(owner_client, orders):
    data = form_data(owner_client.get(edit_url(orders)).content.decode())

    response = post(owner_client, edit_url(orders), {**data, "name": ""}, **HTMX)
    assert response.status_code == 200
    assert "Give the mapping a name." in response.content.decode()

    response = post(owner_client, edit_url(orders), {**data, "name": "Purchases"}, **HTMX)
    assert response["HX-Redirect"] == reverse("mapping_list", args=[orders.destination.pk])
    orders.refresh_from_db()
    assert orders.name == "Purchases"


# --- Access --------------------------------------------------------------------------------


def test_outsiders_get_404_on_the_editor_and_its_endpoints(outsider_client, owner_client, orders):
    destination = orders.destination
    data = form_data(owner_client.get(edit_url(orders)).content.decode())
    gets = [create_url(destination), edit_url(orders)]
    posts = [
        create_url(destination),
        edit_url(orders),
        reverse("mapping_check_trigger", args=[destination.pk]),
        reverse("mapping_check_field", args=[destination.pk]),
        reverse("mapping_value_editor", args=[destination.pk]),
        reverse("mapping_draft", args=[destination.pk]),
    ]

    for url in gets:
        assert outsider_client.get(url).status_code == 404, url
    for url in posts:
        response = outsider_client.post(
            url, {**data, "field": "email", "editor": "v-email"}, **HTMX
        )
        assert response.status_code == 404, url
    orders.refresh_from_db()
    assert orders.name == "Orders"
    assert Mapping.objects.count() == 1
