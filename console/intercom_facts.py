"""Facts about Intercom's API that both connecting a workspace (console) and
delivering to it (delivery) rely on. Plain data, no Django."""

from __future__ import annotations

from importlib.metadata import version as package_version

REGION_API_BASES = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
# The Intercom-Version every request carries unless a workspace pins another.
DEFAULT_VERSION = "2.13"
TIMEOUT_SECONDS = 10.0
USER_AGENT = f"Ferry/{package_version('ferry')}"
