"""The whole story of issue 6, in the browser, against the Intercom sandbox over HTTP:
sign in, create a source, connect the sandbox workspace by OAuth, create a destination,
quick-setup its mappings, edit Track Event with a template and an ``@if``, test it for
real, enable the mappings, send events with Segment's own Python library and find them
delivered, in the console and in the sandbox.

With ``FERRY_SCREENSHOTS=1`` it also saves the screenshots of docs/screenshots/."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from segment.analytics.client import Client

from console.models import Destination, Source, Workspace
from delivery import services as delivery_services
from delivery.models import Delivery
from mappings.models import Mapping
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EVENT_NAME_TEMPLATE = "{{event}} ({{properties.plan}})"
# The email of a track call may be in its properties or, from analytics.js, in context.traits.
EMAIL_FROM_PROPERTIES_OR_TRAITS = {
    "@if": {
        "exists": {"@path": "$.properties.email"},
        "then": {"@path": "$.properties.email"},
        "else": {"@path": "$.context.traits.email"},
    }
}
CURRENCY_OR_EUR = {
    "@if": {
        "exists": {"@path": "$.properties.currency"},
        "then": {"@path": "$.properties.currency"},
        "else": "EUR",
    }
}

expect.set_options(timeout=10_000)


class Camera:
    """Saves the screenshots of docs/screenshots/ when FERRY_SCREENSHOTS=1; never a page
    showing the write key in full."""

    def __init__(self, page: Page, secret: list[str]):
        self.page = page
        self.secret = secret
        self.enabled = os.environ.get("FERRY_SCREENSHOTS") == "1"

    def shoot(self, name: str, *, top: str | None = None) -> None:
        """The viewport, scrolled so that the element ``top`` (a selector) starts it."""
        for secret in self.secret:
            assert secret not in self.page.content(), f"{name} would show the write key"
        if not self.enabled:
            return
        if top is not None:
            self.page.locator(top).first.evaluate(
                "element => { element.scrollIntoView(); window.scrollBy(0, -16); }"
            )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / name), animations="disabled", caret="hide")


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def test_connect_map_test_and_deliver_an_event(
    page, page_problems, live_server, settings, sandbox, owner, organization
):
    settings.INTERCOM_SANDBOX_URL = sandbox.base_url
    settings.INTERCOM_CLIENT_ID = ""
    # The Test panel's send needs a person Intercom knows, as a real workspace would have.
    sandbox.add_contact(
        external_id="user-1815", email="ada.lovelace@example.com", name="Ada Lovelace"
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    secret: list[str] = []
    camera = Camera(page, secret)

    # Sign in.
    page.goto(f"{live_server.url}/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # A source, and its write key (shown once).
    _nav(page, "Sources")
    page.get_by_label("Name").fill("Marketing site")
    page.get_by_role("button", name="Create source").click()
    expect(page.get_by_role("heading", name="Marketing site")).to_be_visible()
    write_key = page.get_by_test_id("write-key").inner_text().strip()
    assert write_key
    secret.append(write_key)
    page.reload()
    expect(page.get_by_test_id("write-key-masked")).to_have_text(re.compile(write_key[-4:]))
    camera.shoot("source.png")

    # Connect the sandbox workspace by OAuth.
    _nav(page, "Workspaces")
    expect(page.get_by_text("No Intercom workspace is connected")).to_be_visible()
    page.get_by_role("link", name="Connect Intercom").click()
    expect(page.get_by_role("heading", name="Connect “Sandbox Workspace”?")).to_be_visible()
    assert page.url.startswith(f"{sandbox.base_url}/oauth?")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Intercom workspaces")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Intercom workspace “Sandbox Workspace” (sandbox01) is connected."
    )
    row = page.get_by_role("row", name=re.compile("Sandbox Workspace"))
    expect(row).to_contain_text("sandbox01")
    expect(row).to_contain_text("Connected")
    workspace = Workspace.objects.get(organization=organization)
    assert workspace.auth_method == Workspace.AuthMethod.OAUTH
    assert workspace.api_base == sandbox.base_url
    row.get_by_role("button", name="Test connection").click()
    expect(row.get_by_role("status")).to_contain_text("Sandbox Workspace")
    camera.shoot("workspaces.png")

    # A destination for the source, delivering to that workspace, enabled.
    _nav(page, "Destinations")
    page.get_by_label("Name").fill("Intercom")
    page.get_by_label("Source").select_option(label="Marketing site")
    page.get_by_label("Workspace").select_option(label="Sandbox Workspace (sandbox01)")
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Create destination").click()
    expect(page.get_by_role("heading", name="Intercom", exact=True)).to_be_visible()
    expect(page.get_by_text("Destination “Intercom” created.")).to_be_visible()
    destination = Destination.objects.get(source__organization=organization)
    assert destination.source == Source.objects.get(name="Marketing site")
    assert destination.workspace == workspace and destination.enabled

    # Mappings tab: quick setup, the three mappings created disabled.
    page.get_by_role("navigation", name="Destination").get_by_role("link", name="Mappings").click()
    expect(page.get_by_text("No mapping yet")).to_be_visible()
    page.get_by_label("Users (they have signed up)").check()
    page.get_by_role("button", name="Add the three default mappings").click()
    expect(page.get_by_role("status")).to_have_text(
        "Added Identify Contact, Identify Company, Track Event, disabled until you enable them."
    )
    expect(page.get_by_test_id("mapping-count")).to_have_text("3 of 50 mappings")
    track = Mapping.objects.get(destination=destination, action="track_event")

    # The Track Event editor: Event Name as a template, Email Address and Currency as @if.
    page.get_by_role("link", name="Track Event", exact=True).click()
    expect(page.get_by_role("heading", name="Edit “Track Event”")).to_be_visible()
    page.get_by_label("How Event Name is written").select_option(label="Template")
    event_name = page.get_by_label("Event Name: template")
    expect(event_name).to_have_value("{{event}}")
    event_name.fill(EVENT_NAME_TEMPLATE)
    page.get_by_label("How Email Address is written").select_option(label="JSON")
    email = page.get_by_label("Email Address: mapping JSON")
    expect(email).to_have_value(re.compile(r'"@path": "\$\.properties\.email"'))
    email.fill(json.dumps(EMAIL_FROM_PROPERTIES_OR_TRAITS, indent=2))
    page.get_by_label("How Currency is written").select_option(label="JSON")
    currency = page.get_by_label("Currency: mapping JSON")
    expect(currency).to_have_value(re.compile(r'"@path": "\$\.properties\.currency"'))
    currency.fill(json.dumps(CURRENCY_OR_EUR, indent=2))
    page.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_text("Mapping “Track Event” saved.")).to_be_visible()
    track.refresh_from_db()
    assert track.fields["event_name"] == {"@template": EVENT_NAME_TEMPLATE}
    assert track.fields["currency"] == CURRENCY_OR_EUR
    assert track.fields["email"] == EMAIL_FROM_PROPERTIES_OR_TRAITS
    assert not track.enabled

    # Back in the editor, the saved mapping reads the same.
    page.get_by_role("link", name="Track Event", exact=True).click()
    expect(page.get_by_label("Event Name: template")).to_have_value(EVENT_NAME_TEMPLATE)
    expect(page.get_by_label("Email Address: mapping JSON")).to_have_value(
        json.dumps(EMAIL_FROM_PROPERTIES_OR_TRAITS, indent=2)
    )
    expect(page.get_by_label("Currency: mapping JSON")).to_have_value(
        json.dumps(CURRENCY_OR_EUR, indent=2)
    )
    camera.shoot("mapping-editor.png", top="#field-event_name")

    # The Test panel: a generated track sample, edited to carry a plan.
    page.get_by_role("button", name="Test the current draft").click()
    event_box = page.get_by_label("Event (JSON)")
    expect(event_box).to_have_value(re.compile('"type": "track"'))
    first_sample = event_box.input_value()
    page.get_by_label("Sample of type").select_option("track")
    page.get_by_role("button", name="Generate sample event").click()
    # The panel opens with a sample already: wait for the new one (a new messageId).
    expect(event_box).not_to_have_value(first_sample)
    sample = json.loads(event_box.input_value())
    assert sample["event"] == "Order Completed"
    sample["properties"]["plan"] = "Pro"
    event_box.fill(json.dumps(sample, indent=2))

    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".test-result")
    expect(preview.get_by_role("heading", name="Payload for Track Event")).to_be_visible()
    expect(preview).to_contain_text('"event_name": "Order Completed (Pro)"')
    expect(preview).to_contain_text('"currency": "USD"')
    assert not sandbox.events

    page.get_by_role("button", name="Send test event").click()
    sent = page.locator(".test-result")
    expect(sent.get_by_role("heading", name="Test send")).to_be_visible()
    expect(sent).to_contain_text("Sent: Intercom accepted it")
    exchange = sent.locator(".exchange")
    expect(exchange).to_have_count(1)
    expect(exchange.locator(".exchange-line")).to_contain_text(f"POST {sandbox.base_url}/events")
    expect(exchange.locator(".exchange-line .badge")).to_have_text("202")
    expect(exchange.locator(".bodies")).to_contain_text('"event_name": "Order Completed (Pro)"')
    [tested] = sandbox.events
    assert tested["event_name"] == "Order Completed (Pro)"
    assert tested["user_id"] == "user-1815"
    assert tested["metadata"]["price"] == {"amount": 2500, "currency": "USD"}
    camera.shoot("test-panel.png", top=".test-result")

    # Enable the three mappings from the destination's Mappings tab, in place.
    page.get_by_role("link", name="Intercom", exact=True).click()
    page.get_by_role("navigation", name="Destination").get_by_role("link", name="Mappings").click()
    for name in ["Identify Contact", "Identify Company", "Track Event"]:
        mapping = Mapping.objects.get(destination=destination, name=name)
        page.get_by_label(f"Enable {name}").check()
        expect(page.locator(f"#toggle-mapping-{mapping.pk} .switch span")).to_have_text("Enabled")
    assert set(Mapping.objects.filter(destination=destination).values_list("enabled")) == {(True,)}

    # Real events, from Segment's own library, then what a worker would do.
    client = Client(write_key, host=live_server.url, sync_mode=True)
    client.identify(
        "user-42", {"email": "grace.hopper@example.com", "name": "Grace Hopper", "plan": "Team"}
    )
    client.track(
        "user-42",
        "Plan Upgraded",
        {"plan": "Team", "revenue": 49},
        context={"traits": {"email": "grace.hopper@example.com"}},
    )
    client.flush()
    delivery_services.deliveries_drain(seconds=5)
    real = Delivery.objects.filter(destination=destination, is_test=False)
    assert sorted(real.values_list("action", "status")) == [
        ("identify_contact", Delivery.Status.DELIVERED),
        ("track_event", Delivery.Status.DELIVERED),
    ]

    [grace] = [contact for contact in sandbox.contacts if contact["external_id"] == "user-42"]
    assert grace["email"] == "grace.hopper@example.com"
    delivered = [event for event in sandbox.events if event["user_id"] == "user-42"]
    assert [event["event_name"] for event in delivered] == ["Plan Upgraded (Team)"]
    assert delivered[0]["metadata"]["price"] == {"amount": 4900, "currency": "EUR"}
    assert delivered[0]["metadata"]["plan"] == "Team"
    [sent_event] = [
        request.body
        for request in sandbox.requests
        if request.path == "/events" and request.body["user_id"] == "user-42"
    ]
    assert sent_event["email"] == "grace.hopper@example.com"

    # The Deliveries tab shows them delivered, beside the test send.
    page.get_by_role("navigation", name="Destination").get_by_role(
        "link", name="Deliveries"
    ).click()
    table = page.locator("#destination-deliveries table")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    plan_upgraded = rows.filter(has_text="track · Plan Upgraded")
    expect(plan_upgraded).to_contain_text("Track Event")
    expect(plan_upgraded).to_contain_text("Delivered")
    expect(plan_upgraded).to_contain_text("user-42")
    expect(rows.filter(has_text="identify")).to_contain_text("Delivered")
    expect(rows.filter(has_text="Order Completed")).to_contain_text("Test")
    camera.shoot("deliveries.png")

    # And the Mappings tab, each mapping with its last delivery.
    page.get_by_role("navigation", name="Destination").get_by_role("link", name="Mappings").click()
    track_row = page.locator(f"#mapping-{track.pk}")
    expect(track_row.locator(".mapping-summary")).to_contain_text("Delivered")
    expect(track_row.locator(".mapping-summary")).to_contain_text("1 delivered")
    contact_row = page.get_by_role("row", name=re.compile("Identify Contact"))
    expect(contact_row.locator(".mapping-summary")).to_contain_text("1 delivered")
    expect(page.get_by_role("row", name=re.compile("Identify Company"))).to_contain_text(
        "No delivery yet"
    )
    camera.shoot("destination-mappings.png")

    # The one allowed: on the sandbox's consent page (Intercom's, in production) Chromium
    # asks for /favicon.ico, which the sandbox answers 401 as Intercom's API would.
    favicon = f"console.error from {sandbox.base_url}/favicon.ico: Failed to load resource"
    assert [problem for problem in page_problems if favicon not in problem] == []


def test_the_story_would_notice_a_csp_violation_or_a_console_error(
    page, page_problems, live_server
):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page_problems == []

    with page.expect_console_message(lambda message: "CSP violation" in message.text):
        page.evaluate(
            """() => {
            const script = document.createElement("script");
            script.textContent = "document.title = 'injected'";
            document.body.append(script);
        }"""
        )
    expect(page).not_to_have_title("injected")
    with page.expect_console_message(lambda message: "status of 404" in message.text):
        page.goto(f"{live_server.url}/static/js/missing.js")

    assert any("CSP violation: script-src" in problem for problem in page_problems)
    assert any("/static/js/missing.js" in problem for problem in page_problems)
