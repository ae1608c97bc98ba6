from __future__ import annotations

import re

import pytest

from console import selectors
from console.models import Source

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_create_a_source_and_see_its_write_key(signed_in_page, live_server, organization):
    page = signed_in_page

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_label("Name").fill("Marketing site")
    page.get_by_role("button", name="Create source").click()

    page.get_by_role("heading", name="Marketing site").wait_for()
    assert page.get_by_text("shown only once").is_visible()
    write_key = page.get_by_test_id("write-key").inner_text().strip()
    source = Source.objects.get(organization=organization, name="Marketing site")
    assert selectors.source_for_write_key(write_key=write_key) == source

    page.reload()
    masked = page.get_by_test_id("write-key-masked").inner_text()
    assert re.fullmatch(r"•{12}" + re.escape(write_key[-4:]), masked.strip())
    assert write_key not in page.content()


def test_rename_happens_in_place_with_htmx(signed_in_page, live_server, organization):
    from console import services

    source, _ = services.source_create(organization=organization, name="Old name")
    page = signed_in_page
    page.goto(f"{live_server.url}/sources/{source.pk}/")
    page.on("framenavigated", lambda frame: pytest.fail("the page reloaded"))

    page.locator("#rename input[name=name]").fill("New name")
    page.get_by_role("button", name="Rename").click()

    page.get_by_text("Renamed to “New name”.").wait_for()
    source.refresh_from_db()
    assert source.name == "New name"
