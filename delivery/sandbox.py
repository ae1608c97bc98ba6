"""A stateful fake of Intercom's REST API, served over real HTTP, for Ferry's tests and
benchmarks and for trying Ferry without an Intercom account.

Public surface:

- :class:`IntercomSandbox`: ``start(host=, port=) -> base_url`` serves it on a background
  thread, ``stop()``; ``workspace`` and ``access_token`` (the default workspace and a valid
  token for it), ``add_workspace(...) -> token``, ``revoke(token)``; the state Intercom would
  hold (``contacts``, ``companies``, ``events``, ``snapshot(workspace)``), seeded with
  ``add_contact(...)`` and changed behind Ferry's back with ``delete_contact(id)``;
  ``requests`` (every :class:`RecordedRequest` received);
  ``fail(...)`` to inject failures; ``rate_limit`` and ``search_lag`` (settable);
  ``reset()``.
- :class:`RecordedRequest` and :class:`Workspace`, the values those return.

What it serves: OAuth (``GET /oauth`` approval page, ``POST /auth/eagle/token``), ``GET /me``,
contacts (create, get, update, delete, search with ``=`` filters in AND/OR groups), companies
(create-or-update by ``company_id``, fetch, attach to a contact) and ``POST /events``, with
Intercom's error envelope, per-workspace rate limiting in 10-second windows and its headers,
and search that lags behind writes by ``search_lag`` seconds. The same controls are served as
JSON under ``/_sandbox/`` (requests, reset, fail, config, state, contacts, revoke, workspaces)
for other processes and ``manage.py intercom_sandbox``; they are unauthenticated, so bind the
sandbox to 127.0.0.1.

Standard library only, no Django import: it starts without settings.
"""

from __future__ import annotations

import base64
import collections
import copy
import fnmatch
import html
import io
import json
import math
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from email.message import Message
from http.client import responses as STATUS_PHRASES
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

Json = Any
JsonObject = dict[str, Any]
Clock = Callable[[], float]

DEFAULT_CLIENT_ID = "ferry-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_WORKSPACE_ID = "sandbox01"
DEFAULT_WORKSPACE_NAME = "Sandbox Workspace"
WINDOW_SECONDS = 10
# Sent as X-RateLimit-Limit when no limit is set: Ferry still sees the headers it reads.
UNLIMITED_QUOTA = 1_000_000
CODE_LIFETIME_SECONDS = 300
# Oldest requests are forgotten past this, so a long-running sandbox keeps bounded memory.
RECORDED_REQUESTS_KEPT = 100_000

_DEFAULT_TOKEN = base64.b64encode(b"tok:sandbox01:ferry-sandbox-access-token").decode()
_REGION_TIMEZONES = {"US": "America/New_York", "EU": "Europe/Dublin", "AU": "Australia/Sydney"}
_CONTACT_FIELDS = frozenset({
    "role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at",
    "owner_id", "unsubscribed_from_emails", "custom_attributes",
})  # fmt: skip
_SEEDED_CONTACT_FIELDS = _CONTACT_FIELDS | {"id", "created_at"}
_COMPANY_FIELDS = frozenset({
    "company_id", "name", "plan", "size", "website", "industry", "custom_attributes",
    "remote_created_at", "monthly_spend",
})  # fmt: skip
_EVENT_FIELDS = frozenset({"event_name", "created_at", "user_id", "id", "email", "metadata"})
_SEARCHABLE_FIELDS = frozenset({
    "id", "external_id", "email", "email_domain", "role", "name", "phone",
})  # fmt: skip
_MAX_GROUP_DEPTH = 2
_MAX_GROUP_FILTERS = 15
_DEFAULT_PER_PAGE = 50
_MAX_PER_PAGE = 150
_MAX_MONTHLY_SPEND = 2**31 - 1
# Larger than any plausible unix time in seconds: such a created_at was sent in milliseconds.
_LATEST_SECONDS = 10**11
_FAILURE_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "action_forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limit_exceeded",
}
_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
_TRUNCATED_JSON = b'{"type": "list", "data": [{"type": "contact", "id": "'


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox received outside ``/_sandbox/``: the path without its query,
    header names lower-cased, the body parsed as JSON when it is JSON (else the raw text,
    ``None`` when empty), the status answered (0 when the connection was dropped instead),
    ``at``, the sandbox clock's time, and ``connection``, the client's address and port,
    the same for every request sent over one kept-alive connection."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Json
    status: int
    at: float
    connection: str

    def as_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class Workspace:
    """An Intercom workspace ("app") as ``GET /me`` describes it."""

    id_code: str
    name: str
    region: str
    timezone: str
    created_at: int

    def as_app(self) -> JsonObject:
        return {
            "type": "app",
            "id_code": self.id_code,
            "name": self.name,
            "region": self.region,
            "timezone": self.timezone,
            "created_at": self.created_at,
            "secure": False,
            "identity_verification": False,
        }


class _ApiError(ValueError):
    """An answer in Intercom's error envelope. Being a ValueError, it also tells Python
    callers what is wrong with the data they seed."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def envelope(self, request_id: str) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"type": "error.list", "request_id": request_id, "errors": [error]}


def _invalid(key: str, message: str) -> _ApiError:
    return _ApiError(400, "parameter_invalid", message, field=key)


def _missing(key: str, message: str) -> _ApiError:
    return _ApiError(400, "parameter_not_found", message, field=key)


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    connection: str

    def recorded_body(self) -> Json:
        if not self.body:
            return None
        text = self.body.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def json_object(self) -> JsonObject:
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError:
            raise _ApiError(
                400, "parameter_invalid", "There was a problem in the JSON you submitted"
            ) from None
        if not isinstance(value, dict):
            raise _ApiError(400, "parameter_invalid", "The request body must be a JSON object")
        return value

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_connection: bool = False


def _json_response(status: int, payload: Json) -> _Response:
    if payload is None:
        return _Response(status)
    body = json.dumps(payload, separators=(",", ":")).encode()
    return _Response(status, body, "application/json; charset=utf-8")


def _html_response(status: int, title: str, content: str) -> _Response:
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{content}\n"
        f"<p><small>Ferry's Intercom sandbox: nothing here reaches Intercom.</small></p>\n"
        f"</body></html>\n"
    )
    return _Response(status, page.encode(), "text/html; charset=utf-8")


@dataclass
class _Failure:
    remaining: int
    status: int | None
    path: str | None
    method: str | None
    body: Json
    headers: dict[str, str]
    delay: float | None
    drop_connection: bool
    html: bool
    garbage: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or fnmatch.fnmatchcase(path, self.path)
        )

    def response(self, request_id: str) -> _Response | None:
        """The answer replacing the real one, or None when only a delay was asked for."""
        if self.drop_connection:
            return _Response(0, drop_connection=True)
        if self.html:
            response = _Response(self.status or 502, _BAD_GATEWAY_PAGE, "text/html")
        elif self.garbage:
            response = _Response(self.status or 200, _TRUNCATED_JSON, "application/json")
        elif isinstance(self.body, str):
            response = _Response(self.status or 500, self.body.encode(), "text/plain")
        elif self.body is not None:
            response = _json_response(self.status or 500, self.body)
        elif self.status is None and self.delay:
            return None
        else:
            status = self.status or 500
            if status < 400:
                response = _Response(status)
            else:
                code = _FAILURE_CODES.get(
                    status, "server_error" if status >= 500 else "client_error"
                )
                error = _ApiError(status, code, STATUS_PHRASES.get(status, "Error"))
                response = _json_response(status, error.envelope(request_id))
        response.headers.update(self.headers)
        return response


@dataclass
class _IssuedCode:
    workspace_id: str
    issued_at: float


@dataclass
class _StoredContact:
    """A contact as it is now, and the versions search sees: each write becomes visible to
    search at its own time, and until then search answers with the version before it."""

    current: JsonObject
    search_versions: list[tuple[float, JsonObject]] = field(default_factory=list)

    def publish(self, visible_from: float) -> None:
        self.search_versions.append((visible_from, copy.deepcopy(self.current)))

    def as_searched(self, now: float) -> JsonObject | None:
        visible = [i for i, (since, _) in enumerate(self.search_versions) if since <= now]
        if not visible:
            return None
        del self.search_versions[: visible[-1]]
        return self.search_versions[0][1]


def _same_email(left: str | None, right: str | None) -> bool:
    return left is not None and right is not None and left.lower() == right.lower()


def _is_integer(value: Json) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reject_unknown_keys(body: JsonObject, allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            raise _invalid(key, f"bad '{key}' parameter")


def _custom_attributes(value: Json) -> JsonObject:
    if not isinstance(value, dict):
        raise _invalid("custom_attributes", "'custom_attributes' must be an object")
    for name, item in value.items():
        if isinstance(item, dict | list):
            raise _invalid(
                f"custom_attributes.{name}",
                f"Custom attribute '{name}' must be a string, number, boolean or null",
            )
    return value


def _contact_fields(body: JsonObject, *, allowed: frozenset[str], admin_id: int) -> JsonObject:
    """The contact fields of a create or update body, checked the way Intercom checks them."""
    _reject_unknown_keys(body, allowed)
    for key, value in body.items():
        if key == "custom_attributes":
            _custom_attributes(value)
        elif key == "unsubscribed_from_emails":
            if not isinstance(value, bool):
                raise _invalid(key, f"'{key}' must be a boolean")
        elif key in {"signed_up_at", "last_seen_at", "created_at"}:
            if value is not None and not _is_integer(value):
                raise _invalid(key, f"'{key}' must be a unix timestamp in seconds")
        elif key == "owner_id":
            if value is not None and (not _is_integer(value) or value != admin_id):
                raise _invalid(key, "The owner specified is not a member of the workspace")
        elif key == "role":
            if value not in {None, "user", "lead"}:
                raise _invalid(key, "'role' must be 'user' or 'lead'")
        elif value is not None and not isinstance(value, str):
            raise _invalid(key, f"'{key}' must be a string")
    return body


def _check_lead_has_no_external_id(role: str, external_id: str | None) -> None:
    if role == "lead" and external_id is not None:
        raise _invalid("external_id", "External IDs cannot be set for leads")


def _new_contact(contact_id: str, workspace_id: str, now: int) -> JsonObject:
    def sublist(name: str) -> JsonObject:
        return {
            "type": "list",
            "data": [],
            "url": f"/contacts/{contact_id}/{name}",
            "total_count": 0,
            "has_more": False,
        }

    return {
        "type": "contact",
        "id": contact_id,
        "workspace_id": workspace_id,
        "external_id": None,
        "role": "user",
        "email": None,
        "email_domain": None,
        "phone": None,
        "name": None,
        "avatar": None,
        "owner_id": None,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "created_at": now,
        "updated_at": now,
        "signed_up_at": None,
        "last_seen_at": None,
        "last_replied_at": None,
        "last_contacted_at": None,
        "custom_attributes": {},
        "tags": sublist("tags"),
        "notes": sublist("notes"),
        "companies": sublist("companies"),
        "location": {"type": "location", "country": None, "region": None, "city": None},
    }


def _apply_contact_fields(contact: JsonObject, fields: JsonObject) -> None:
    for key, value in fields.items():
        if key == "custom_attributes":
            contact["custom_attributes"].update(value)
        elif key != "role" or value is not None:
            contact[key] = value
    email = contact["email"]
    domain = email.rpartition("@")[2] if email and "@" in email else ""
    contact["email_domain"] = domain or None


def _compile_query(query: Json, *, depth: int) -> Callable[[JsonObject], bool]:
    """A search query as a test on a contact: ``=`` filters, in AND/OR groups."""
    if not isinstance(query, dict):
        raise _invalid("query", "Each query must be an object")
    operator = query.get("operator")
    if operator in {"AND", "OR"}:
        _reject_unknown_keys(query, frozenset({"operator", "value"}))
        if depth > _MAX_GROUP_DEPTH:
            raise _invalid("query", f"Queries can be nested at most {_MAX_GROUP_DEPTH} levels")
        parts = query.get("value")
        if not isinstance(parts, list) or not 1 <= len(parts) <= _MAX_GROUP_FILTERS:
            raise _invalid(
                "query", f"An {operator} group needs 1 to {_MAX_GROUP_FILTERS} queries in 'value'"
            )
        tests = [_compile_query(part, depth=depth + 1) for part in parts]
        combine = all if operator == "AND" else any
        return lambda contact: combine(test(contact) for test in tests)
    _reject_unknown_keys(query, frozenset({"field", "operator", "value"}))
    if operator != "=":
        raise _invalid("operator", f"The sandbox supports only the '=' operator, not {operator!r}")
    name = query.get("field")
    if name not in _SEARCHABLE_FIELDS:
        raise _invalid("field", f"{name!r} is not a field the sandbox can search")
    value = query.get("value")
    if value is not None and not isinstance(value, str):
        raise _invalid("value", "A filter's value must be a string or null")
    if name == "email" and value is not None:
        return lambda contact: _same_email(contact["email"], value)
    return lambda contact: contact[name] == value


def _pagination(value: Json) -> tuple[int, str | None]:
    if value is None:
        return _DEFAULT_PER_PAGE, None
    if not isinstance(value, dict):
        raise _invalid("pagination", "'pagination' must be an object")
    _reject_unknown_keys(value, frozenset({"per_page", "starting_after"}))
    per_page = value.get("per_page", _DEFAULT_PER_PAGE)
    if not _is_integer(per_page) or not 1 <= per_page <= _MAX_PER_PAGE:
        raise _invalid("per_page", f"'per_page' must be an integer from 1 to {_MAX_PER_PAGE}")
    starting_after = value.get("starting_after")
    if starting_after is not None and not isinstance(starting_after, str):
        raise _invalid("starting_after", "'starting_after' must be a string")
    return per_page, starting_after


@dataclass
class _WorkspaceState:
    """Everything one workspace holds; methods answer the API calls, raising _ApiError."""

    workspace: Workspace
    admin_id: int
    contacts: dict[str, _StoredContact] = field(default_factory=dict)
    companies: dict[str, JsonObject] = field(default_factory=dict)
    plan_ids: dict[str, str] = field(default_factory=dict)
    events: list[JsonObject] = field(default_factory=list)
    event_keys: set[tuple[str, str, int]] = field(default_factory=set)
    window_start: float = -math.inf
    window_calls: int = 0

    def me(self) -> JsonObject:
        return {
            "type": "admin",
            "id": str(self.admin_id),
            "email": f"admin@{self.workspace.id_code}.sandbox.test",
            "email_verified": True,
            "name": "Sandbox Admin",
            "job_title": None,
            "away_mode_enabled": False,
            "away_mode_reassign": False,
            "has_inbox_seat": True,
            "team_ids": [],
            "avatar": {"type": "avatar", "image_url": None},
            "app": self.workspace.as_app(),
        }

    def snapshot(self) -> JsonObject:
        return copy.deepcopy(
            {
                "workspace": self.workspace.as_app(),
                "contacts": [stored.current for stored in self.contacts.values()],
                "companies": list(self.companies.values()),
                "events": self.events,
            }
        )

    # Contacts

    def contact(self, contact_id: str) -> JsonObject:
        return self._stored(contact_id).current

    def _stored(self, contact_id: str) -> _StoredContact:
        stored = self.contacts.get(contact_id)
        if stored is None:
            raise _ApiError(404, "not_found", "User Not Found")
        return stored

    def create_contact(self, body: JsonObject, *, now: int, visible_from: float) -> JsonObject:
        fields = _contact_fields(body, allowed=_CONTACT_FIELDS, admin_id=self.admin_id)
        email, external_id = fields.get("email"), fields.get("external_id")
        role = fields.get("role") or "user"
        if email is None and external_id is None and fields.get("role") is None:
            raise _missing("email", "A contact needs an email, an external_id or a role")
        if role == "user" and email is None and external_id is None:
            raise _missing("email", "A user needs an email or an external_id")
        _check_lead_has_no_external_id(role, external_id)
        self._check_no_conflict(role=role, external_id=external_id, email=email, other_than=None)
        return self.insert_contact(fields, now=now, visible_from=visible_from)

    def insert_contact(self, fields: JsonObject, *, now: int, visible_from: float) -> JsonObject:
        contact_id = fields.get("id") or secrets.token_hex(12)
        if contact_id in self.contacts:
            raise _invalid("id", f"A contact with id={contact_id} already exists")
        contact = _new_contact(contact_id, self.workspace.id_code, fields.get("created_at") or now)
        _apply_contact_fields(contact, {k: v for k, v in fields.items() if k != "created_at"})
        stored = _StoredContact(contact)
        stored.publish(visible_from)
        self.contacts[contact_id] = stored
        return contact

    def update_contact(
        self, contact_id: str, body: JsonObject, *, now: int, visible_from: float
    ) -> JsonObject:
        stored = self._stored(contact_id)
        fields = _contact_fields(body, allowed=_CONTACT_FIELDS, admin_id=self.admin_id)
        contact = stored.current
        role = fields.get("role") or contact["role"]
        if contact["role"] == "user" and role == "lead":
            raise _invalid("role", "A user cannot be turned back into a lead")
        external_id = fields.get("external_id", contact["external_id"])
        email = fields.get("email", contact["email"])
        _check_lead_has_no_external_id(role, external_id)
        self._check_no_conflict(
            role=role, external_id=external_id, email=email, other_than=contact_id
        )
        _apply_contact_fields(contact, fields)
        contact["updated_at"] = now
        stored.publish(visible_from)
        return contact

    def _check_no_conflict(
        self, *, role: str, external_id: str | None, email: str | None, other_than: str | None
    ) -> None:
        for contact_id, stored in self.contacts.items():
            other = stored.current
            if contact_id == other_than:
                continue
            same_external_id = external_id is not None and other["external_id"] == external_id
            same_user_email = (
                role == "user" and other["role"] == "user" and _same_email(other["email"], email)
            )
            if same_external_id or same_user_email:
                raise _ApiError(
                    409,
                    "conflict",
                    f"A contact matching those details already exists with id={contact_id}",
                )

    def delete_contact(self, contact_id: str) -> JsonObject:
        contact = self._stored(contact_id).current
        del self.contacts[contact_id]
        for link in contact["companies"]["data"]:
            if company := self.companies.get(link["id"]):
                company["user_count"] -= 1
        # "object" is how older API versions name the type; both are sent.
        return {
            "type": "contact",
            "object": "contact",
            "id": contact_id,
            "external_id": contact["external_id"],
            "deleted": True,
        }

    def search_contacts(self, body: JsonObject, *, now: float) -> JsonObject:
        _reject_unknown_keys(body, frozenset({"query", "pagination"}))
        if "query" not in body:
            raise _missing("query", "'query' is required")
        matches = _compile_query(body["query"], depth=1)
        per_page, starting_after = _pagination(body.get("pagination"))
        found = [
            contact
            for stored in self.contacts.values()
            if (contact := stored.as_searched(now)) is not None and matches(contact)
        ]
        start = 0
        if starting_after is not None:
            ids = [contact["id"] for contact in found]
            if starting_after not in ids:
                raise _invalid("starting_after", "'starting_after' is not a cursor of this search")
            start = ids.index(starting_after) + 1
        page = found[start : start + per_page]
        pages: JsonObject = {
            "type": "pages",
            "page": start // per_page + 1,
            "per_page": per_page,
            "total_pages": math.ceil(len(found) / per_page),
        }
        if start + per_page < len(found):
            pages["next"] = {"per_page": per_page, "starting_after": page[-1]["id"]}
        return {"type": "list", "data": page, "total_count": len(found), "pages": pages}

    # Companies

    def save_company(self, body: JsonObject, *, now: int) -> JsonObject:
        for key in body:
            if key not in _COMPANY_FIELDS:
                raise _ApiError(400, "bad_request", f"bad '{key}' parameter", field=key)
        company_id = body.get("company_id")
        if company_id is None or company_id == "":
            raise _missing("company_id", "'company_id' is required")
        changes = self._company_fields(body)
        company = self._company_where("company_id", company_id)
        if company is None:
            company = self._new_company(company_id, now)
            self.companies[company["id"]] = company
        for key, value in changes.items():
            if key == "custom_attributes":
                company["custom_attributes"].update(value)
            else:
                company[key] = value
        company["updated_at"] = now
        return company

    def _company_fields(self, body: JsonObject) -> JsonObject:
        changes: JsonObject = {}
        for key, value in body.items():
            if key == "custom_attributes":
                changes[key] = _custom_attributes(value)
            elif key in {"size", "remote_created_at"}:
                if value is not None and not _is_integer(value):
                    raise _invalid(key, f"'{key}' must be an integer")
                changes[key] = value
            elif key == "monthly_spend":
                if value is not None and (not _is_number(value) or abs(value) > _MAX_MONTHLY_SPEND):
                    raise _invalid(key, f"'{key}' must be a number up to {_MAX_MONTHLY_SPEND}")
                changes[key] = None if value is None else int(value)
            elif value is not None and not isinstance(value, str):
                raise _invalid(key, f"'{key}' must be a string")
            elif key == "plan":
                changes[key] = self._plan(value)
            elif key != "company_id":
                changes[key] = value
        return changes

    def _plan(self, name: str | None) -> JsonObject:
        if not name:
            return {}
        plan_id = self.plan_ids.setdefault(name, str(len(self.plan_ids) + 1))
        return {"type": "plan", "id": plan_id, "name": name}

    def _new_company(self, company_id: str, now: int) -> JsonObject:
        return {
            "type": "company",
            "id": secrets.token_hex(12),
            "company_id": company_id,
            "app_id": self.workspace.id_code,
            "name": None,
            "created_at": now,
            "updated_at": now,
            "last_request_at": None,
            "remote_created_at": None,
            "monthly_spend": 0,
            "session_count": 0,
            "user_count": 0,
            "size": None,
            "website": None,
            "industry": None,
            "plan": {},
            "tags": {"type": "tag.list", "tags": []},
            "segments": {"type": "segment.list", "segments": []},
            "custom_attributes": {},
        }

    def _company_where(self, key: str, value: str) -> JsonObject | None:
        return next((c for c in self.companies.values() if c[key] == value), None)

    def find_companies(self, query: Mapping[str, str]) -> JsonObject:
        for key in ("company_id", "name"):
            if key in query:
                company = self._company_where(key, query[key])
                if company is None:
                    raise _ApiError(404, "company_not_found", "Company Not Found")
                return company
        companies = list(self.companies.values())
        return {
            "type": "list",
            "data": companies,
            "total_count": len(companies),
            "pages": {"type": "pages", "page": 1, "total_pages": 1},
        }

    def attach_company(
        self, contact_id: str, body: JsonObject, *, now: int, visible_from: float
    ) -> JsonObject:
        stored = self._stored(contact_id)
        _reject_unknown_keys(body, frozenset({"id"}))
        company_ref = body.get("id")
        if company_ref is None or company_ref == "":
            raise _missing("id", "company not specified")
        company = self.companies.get(company_ref) if isinstance(company_ref, str) else None
        if company is None:
            raise _ApiError(404, "company_not_found", "Company Not Found")
        links = stored.current["companies"]
        if all(link["id"] != company["id"] for link in links["data"]):
            links["data"].append(
                {"type": "company", "id": company["id"], "url": f"/companies/{company['id']}"}
            )
            links["total_count"] = len(links["data"])
            company["user_count"] += 1
            stored.current["updated_at"] = now
            stored.publish(visible_from)
        return company

    # Events

    def record_event(self, body: JsonObject) -> None:
        _reject_unknown_keys(body, _EVENT_FIELDS)
        event_name = body.get("event_name")
        if event_name is None:
            raise _missing("event_name", "'event_name' is required")
        if not isinstance(event_name, str) or not event_name.strip():
            raise _invalid("event_name", "'event_name' must be a non-empty string")
        created_at = body.get("created_at")
        if created_at is None:
            raise _missing("created_at", "'created_at' is required")
        if not _is_integer(created_at) or not 0 <= created_at < _LATEST_SECONDS:
            raise _invalid("created_at", "'created_at' must be a unix timestamp in seconds")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _invalid("metadata", "'metadata' must be an object")
        contact = self._event_contact(body)
        # Intercom drops duplicates by person, name and time, and still answers 202.
        key = (contact["id"], event_name, created_at)
        if key not in self.event_keys:
            self.event_keys.add(key)
            self.events.append(
                {
                    "type": "event",
                    "event_name": event_name,
                    "created_at": created_at,
                    "user_id": contact["external_id"],
                    "email": contact["email"],
                    "intercom_user_id": contact["id"],
                    "metadata": metadata or {},
                }
            )

    def _event_contact(self, body: JsonObject) -> JsonObject:
        """The contact an event names: by ``id``, else ``user_id`` (external id), else email
        (users only: an event for a lead must name the lead's id)."""
        identifiers = {key: body.get(key) for key in ("id", "user_id", "email")}
        for key, value in identifiers.items():
            if value is not None and not isinstance(value, str):
                raise _invalid(key, f"'{key}' must be a string")
        contact_id, user_id, email = identifiers.values()
        contacts = [stored.current for stored in self.contacts.values()]
        if contact_id is not None:
            found = self.contacts.get(contact_id)
            contact = found.current if found else None
        elif user_id is not None:
            contact = next((c for c in contacts if c["external_id"] == user_id), None)
        elif email is not None:
            contact = next(
                (c for c in contacts if c["role"] == "user" and _same_email(c["email"], email)),
                None,
            )
        else:
            raise _missing("user_id", "One of 'user_id', 'id' or 'email' is required")
        if contact is None:
            raise _ApiError(404, "not_found", "User Not Found")
        return contact


def _accepts_json(accept: str) -> bool:
    return any(
        media_range.split(";")[0].strip().lower() == "application/json"
        for media_range in accept.split(",")
    )


def _redirect_problem(redirect_uri: str) -> str | None:
    parts = urlsplit(redirect_uri)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return "redirect_uri must be an absolute http(s) URL."
    return None


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return quote(urlunsplit(parts._replace(query=query)), safe=":/?#[]@!$&'()*+,;=%~")


def _new_token() -> str:
    return base64.b64encode(f"tok:{uuid.uuid4()}:1:0".encode()).decode()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_rate_limit(rate_limit: Json) -> None:
    _check(
        rate_limit is None or (_is_integer(rate_limit) and rate_limit >= 1),
        "rate_limit must be a positive integer or None",
    )


def _check_search_lag(search_lag: Json) -> None:
    _check(_is_number(search_lag) and search_lag >= 0, "search_lag must be a number >= 0")


class IntercomSandbox:
    """A fake Intercom serving one default workspace (more with :meth:`add_workspace`).

    ``rate_limit`` is the number of calls each workspace may make per 10-second window
    (None: unlimited); ``search_lag`` the seconds before a write shows in
    ``/contacts/search``; ``clock`` returns unix time and is replaced in tests, so that rate
    windows, search lag and OAuth code expiry can be stepped through without sleeping.
    """

    def __init__(
        self,
        *,
        rate_limit: int | None = None,
        search_lag: float = 0.0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        clock: Clock = time.time,
    ) -> None:
        _check_rate_limit(rate_limit)
        _check_search_lag(search_lag)
        self.client_id = client_id
        self.client_secret = client_secret
        self._initial_rate_limit = rate_limit
        self._initial_search_lag = search_lag
        self._clock = clock
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the state just after construction: only the default workspace (with the
        same access token), no data, requests, failures, codes or other tokens."""
        with self._lock:
            self._rate_limit: int | None = self._initial_rate_limit
            self._search_lag: float = self._initial_search_lag
            self._workspaces: dict[str, _WorkspaceState] = {}
            self._tokens: dict[str, str] = {}
            self._codes: dict[str, _IssuedCode] = {}
            self._codes_issued = 0
            self._failures: list[_Failure] = []
            self._requests: collections.deque[RecordedRequest] = collections.deque(
                maxlen=RECORDED_REQUESTS_KEPT
            )
            self._add_workspace(
                DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME, "US", None, _DEFAULT_TOKEN
            )

    # Serving

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a background thread; port 0 picks a free port. Returns the base URL."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("The sandbox is already running.")
            server = _Server((host, port), self._respond)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="intercom-sandbox",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            self._base_url = f"http://{host}:{server.server_port}"
            return self._base_url

    def stop(self) -> None:
        """Stop serving and close open connections, cutting short injected delays."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = self._base_url = None
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        thread.join()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("The sandbox is not running: call start() first.")
        return self._base_url

    # Workspaces and tokens

    @property
    def workspace(self) -> Workspace:
        return self._workspaces[DEFAULT_WORKSPACE_ID].workspace

    @property
    def access_token(self) -> str:
        """A valid token for the default workspace; the same one every run, until revoked."""
        return _DEFAULT_TOKEN

    def add_workspace(
        self, *, id_code: str, name: str, region: str = "US", timezone: str | None = None
    ) -> str:
        """Add a workspace with its own data and rate window; returns a token for it."""
        _check(isinstance(id_code, str) and bool(id_code), "id_code must be a non-empty string")
        _check(isinstance(name, str) and bool(name), "name must be a non-empty string")
        _check(region in _REGION_TIMEZONES, f"region must be one of {sorted(_REGION_TIMEZONES)}")
        _check(timezone is None or isinstance(timezone, str), "timezone must be a string")
        token = _new_token()
        with self._lock:
            _check(id_code not in self._workspaces, f"workspace {id_code!r} already exists")
            self._add_workspace(id_code, name, region, timezone, token)
        return token

    def _add_workspace(
        self, id_code: str, name: str, region: str, timezone: str | None, token: str
    ) -> None:
        workspace = Workspace(
            id_code=id_code,
            name=name,
            region=region,
            timezone=timezone or _REGION_TIMEZONES[region],
            created_at=int(self._clock()),
        )
        admin_id = 7_000_001 + len(self._workspaces)
        self._workspaces[id_code] = _WorkspaceState(workspace, admin_id)
        self._tokens[token] = id_code

    def revoke(self, token: str) -> bool:
        """Make ``token`` invalid (401 from then on); False if it was not valid."""
        with self._lock:
            return self._tokens.pop(token, None) is not None

    def _workspace_state(self, id_code: str | None) -> _WorkspaceState:
        state = self._workspaces.get(id_code or DEFAULT_WORKSPACE_ID)
        if state is None:
            raise ValueError(f"No workspace {id_code!r} in the sandbox.")
        return state

    # Settings

    @property
    def rate_limit(self) -> int | None:
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: int | None) -> None:
        _check_rate_limit(value)
        with self._lock:
            self._rate_limit = value

    @property
    def search_lag(self) -> float:
        return self._search_lag

    @search_lag.setter
    def search_lag(self, value: float) -> None:
        _check_search_lag(value)
        with self._lock:
            self._search_lag = value

    # State

    def snapshot(self, workspace: str | None = None) -> JsonObject:
        """A copy of a workspace's state (default: the default workspace): its ``workspace``
        ("app" object), ``contacts``, ``companies`` and ``events``."""
        with self._lock:
            return self._workspace_state(workspace).snapshot()

    @property
    def contacts(self) -> list[JsonObject]:
        contacts: list[JsonObject] = self.snapshot()["contacts"]
        return contacts

    @property
    def companies(self) -> list[JsonObject]:
        companies: list[JsonObject] = self.snapshot()["companies"]
        return companies

    @property
    def events(self) -> list[JsonObject]:
        events: list[JsonObject] = self.snapshot()["events"]
        return events

    def add_contact(
        self, *, workspace: str | None = None, visible: bool = True, **fields: Json
    ) -> JsonObject:
        """Seed a contact (any field ``POST /contacts`` takes, plus ``id`` and ``created_at``).
        Unlike the API it skips the duplicate checks, so tests can seed several contacts
        sharing an email. ``visible=False`` keeps it out of search results until it is next
        written through the API (as when Intercom's index has not caught up: the search
        misses, the create conflicts). Raises ValueError for fields Intercom would refuse."""
        _check(isinstance(visible, bool), "visible must be a boolean")
        with self._lock:
            state = self._workspace_state(workspace)
            checked = _contact_fields(
                fields, allowed=_SEEDED_CONTACT_FIELDS, admin_id=state.admin_id
            )
            _check_lead_has_no_external_id(
                checked.get("role") or "user", checked.get("external_id")
            )
            visible_from = -math.inf if visible else math.inf
            contact = state.insert_contact(
                checked, now=int(self._clock()), visible_from=visible_from
            )
            return copy.deepcopy(contact)

    def delete_contact(self, contact_id: str, *, workspace: str | None = None) -> None:
        """Delete a contact as ``DELETE /contacts/{id}`` would (e.g. merged away in
        Intercom's UI behind Ferry's back). Raises ValueError for an unknown id."""
        with self._lock:
            self._workspace_state(workspace).delete_contact(contact_id)

    # Requests and failures

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def _record(self, request: _Request, status: int) -> None:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.recorded_body(),
            status=status,
            at=self._clock(),
            connection=request.connection,
        )
        with self._lock:
            self._requests.append(recorded)

    def fail(
        self,
        count: int = 1,
        *,
        status: int | None = None,
        path: str | None = None,
        method: str | None = None,
        body: Json = None,
        headers: Mapping[str, str] | None = None,
        delay: float | None = None,
        drop_connection: bool = False,
        html: bool = False,
        garbage: bool = False,
    ) -> None:
        """Make the next ``count`` requests matching ``method`` and ``path`` (a shell-style
        pattern such as ``/contacts/*``; None matches any) fail, before any authentication:

        - by default, ``status`` (500) with Intercom's error envelope, or with ``body``
          (sent as JSON, or as plain text when it is a string);
        - ``html``: an HTML error page (status 502 unless given);
        - ``garbage``: a body that is not JSON (status 200 unless given);
        - ``drop_connection``: the connection closes without an answer;
        - ``delay`` seconds before answering (with ``status`` or another kind above, that
          failure; alone, the real answer). The request is handled and recorded at once; only
          the answer waits, as when Intercom did the work but the client timed out.

        ``headers`` are added to the answer (e.g. ``Retry-After``). Failures are consumed in the
        order they were added."""
        _check(_is_integer(count) and count >= 1, "count must be a positive integer")
        _check(
            status is None or (_is_integer(status) and 100 <= status <= 599),
            "status must be from 100 to 599",
        )
        _check(path is None or isinstance(path, str), "path must be a string")
        _check(method is None or isinstance(method, str), "method must be a string")
        _check(delay is None or (_is_number(delay) and delay >= 0), "delay must be >= 0")
        flags = (drop_connection, html, garbage)
        _check(all(isinstance(flag, bool) for flag in flags), "flags must be booleans")
        _check(sum([html, garbage, body is not None]) <= 1, "choose one of body, html, garbage")
        extra_headers = dict(headers or {})
        _check(
            all(isinstance(k, str) and isinstance(v, str) for k, v in extra_headers.items()),
            "headers must map strings to strings",
        )
        failure = _Failure(
            count, status, path, method, body, extra_headers, delay, drop_connection, html, garbage
        )
        with self._lock:
            self._failures.append(failure)

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.matches(method, path):
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure
        return None

    # Answering

    def _respond(self, request: _Request) -> _Response:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        request_id = str(uuid.uuid4())
        failure = self._take_failure(request.method, request.path)
        response = failure.response(request_id) if failure else None
        if response is None:
            response = self._answer(request, request_id)
        if failure is not None and failure.delay:
            response.delay = failure.delay
        response.headers.setdefault("X-Request-Id", request_id)
        self._record(request, 0 if response.drop_connection else response.status)
        return response

    def _answer(self, request: _Request, request_id: str) -> _Response:
        try:
            match [request.method, request.path]:
                case ["GET", "/oauth"]:
                    return self._authorize_page(request)
                case ["POST", "/oauth"]:
                    return self._authorize_decision(request)
                case ["POST", "/auth/eagle/token"]:
                    return self._exchange_code(request)
            return self._api(request, request_id)
        except _ApiError as error:
            return _json_response(error.status, error.envelope(request_id))

    def _api(self, request: _Request, request_id: str) -> _Response:
        with self._lock:
            state = self._authenticated(request.headers.get("authorization", ""))
            if state is None:
                raise _ApiError(401, "unauthorized", "Access Token Invalid")
            limit_headers, over_limit = self._count_call(state)
            try:
                if over_limit:
                    quota = limit_headers["X-RateLimit-Limit"]
                    raise _ApiError(
                        429,
                        "rate_limit_exceeded",
                        f"Exceeded rate limit of {quota} in {WINDOW_SECONDS}_seconds",
                    )
                if not _accepts_json(request.headers.get("accept", "")):
                    raise _ApiError(
                        406,
                        "media_type_not_acceptable",
                        "The Accept header should send a media type of application/json",
                    )
                status, payload = self._route(state, request)
                response = _json_response(status, payload)
            except _ApiError as error:
                response = _json_response(error.status, error.envelope(request_id))
        response.headers.update(limit_headers)
        return response

    def _authenticated(self, authorization: str) -> _WorkspaceState | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        workspace_id = self._tokens.get(token.strip())
        return None if workspace_id is None else self._workspaces[workspace_id]

    def _count_call(self, state: _WorkspaceState) -> tuple[dict[str, str], bool]:
        window_start = math.floor(self._clock() / WINDOW_SECONDS) * WINDOW_SECONDS
        if window_start != state.window_start:
            state.window_start, state.window_calls = window_start, 0
        state.window_calls += 1
        quota = UNLIMITED_QUOTA if self._rate_limit is None else self._rate_limit
        headers = {
            "X-RateLimit-Limit": str(quota),
            "X-RateLimit-Remaining": str(max(0, quota - state.window_calls)),
            "X-RateLimit-Reset": str(window_start + WINDOW_SECONDS),
        }
        return headers, state.window_calls > quota

    def _route(self, state: _WorkspaceState, request: _Request) -> tuple[int, Json]:
        now = self._clock()
        visible_from = now + self._search_lag
        segments = [unquote(segment) for segment in request.path.strip("/").split("/")]
        match [request.method, *segments]:
            case ["GET", "me"]:
                return 200, state.me()
            case ["POST", "contacts"]:
                body = request.json_object()
                return 200, state.create_contact(body, now=int(now), visible_from=visible_from)
            case ["POST", "contacts", "search"]:
                return 200, state.search_contacts(request.json_object(), now=now)
            case ["GET", "contacts", contact_id]:
                return 200, state.contact(contact_id)
            case ["PUT", "contacts", contact_id]:
                body = request.json_object()
                return 200, state.update_contact(
                    contact_id, body, now=int(now), visible_from=visible_from
                )
            case ["DELETE", "contacts", contact_id]:
                return 200, state.delete_contact(contact_id)
            case ["POST", "contacts", contact_id, "companies"]:
                body = request.json_object()
                return 200, state.attach_company(
                    contact_id, body, now=int(now), visible_from=visible_from
                )
            case ["POST", "companies"]:
                return 200, state.save_company(request.json_object(), now=int(now))
            case ["GET", "companies"]:
                return 200, state.find_companies(request.query)
            case ["POST", "events"]:
                state.record_event(request.json_object())
                return 202, None
        raise _ApiError(404, "not_found", "Resource Not Found")

    # OAuth

    def _authorize_problem(self, client_id: str, redirect_uri: str) -> str | None:
        if client_id != self.client_id:
            return f"Unknown client_id {client_id!r}."
        return _redirect_problem(redirect_uri)

    def _authorize_page(self, request: _Request) -> _Response:
        client_id = request.query.get("client_id", "")
        redirect_uri = request.query.get("redirect_uri", "")
        problem = self._authorize_problem(client_id, redirect_uri)
        if problem:
            return _html_response(400, "Cannot connect", f"<p>{html.escape(problem)}</p>")
        with self._lock:
            workspaces = [state.workspace for state in self._workspaces.values()]
        fields = {"client_id": client_id, "redirect_uri": redirect_uri}
        if "state" in request.query:
            fields["state"] = request.query["state"]
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in fields.items()
        )
        if len(workspaces) == 1:
            heading = f"Connect “{html.escape(workspaces[0].name)}”?"
            picker = (
                f'<input type="hidden" name="workspace" '
                f'value="{html.escape(workspaces[0].id_code)}">'
            )
        else:
            heading = "Connect a workspace?"
            options = "".join(
                f'<option value="{html.escape(w.id_code)}">'
                f"{html.escape(w.name)} ({html.escape(w.region)})</option>"
                for w in workspaces
            )
            picker = f'<p><label>Workspace <select name="workspace">{options}</select></label></p>'
        content = (
            f"<h1>{heading}</h1>\n"
            f"<p>The app <code>{html.escape(client_id)}</code> wants to connect to your "
            f"workspace to read and write users, companies and events.</p>\n"
            f'<form method="post" action="/oauth">\n{hidden}\n{picker}\n'
            f'<button type="submit" name="decision" value="approve">Approve</button>\n'
            f'<button type="submit" name="decision" value="deny">Deny</button>\n</form>'
        )
        return _html_response(200, "Connect to Intercom (sandbox)", content)

    def _authorize_decision(self, request: _Request) -> _Response:
        form = request.form()
        redirect_uri = form.get("redirect_uri", "")
        problem = self._authorize_problem(form.get("client_id", ""), redirect_uri)
        if problem:
            return _html_response(400, "Cannot connect", f"<p>{html.escape(problem)}</p>")
        decision = form.get("decision")
        params: dict[str, str] = {}
        if decision == "approve":
            workspace_id = form.get("workspace", DEFAULT_WORKSPACE_ID)
            with self._lock:
                if workspace_id not in self._workspaces:
                    return _html_response(400, "Cannot connect", "<p>Unknown workspace.</p>")
                params["code"] = self._issue_code(workspace_id)
        elif decision == "deny":
            params["error"] = "access_denied"
        else:
            return _html_response(400, "Cannot connect", "<p>Approve or deny the request.</p>")
        if "state" in form:
            params["state"] = form["state"]
        return _Response(302, headers={"Location": _with_query(redirect_uri, params)})

    def _issue_code(self, workspace_id: str) -> str:
        # Every other code ends in "==", as Intercom's sometimes do: clients must keep it whole.
        self._codes_issued += 1
        size = 16 if self._codes_issued % 2 else 15
        code = base64.b64encode(secrets.token_bytes(size)).decode()
        self._codes[code] = _IssuedCode(workspace_id, self._clock())
        return code

    def _exchange_code(self, request: _Request) -> _Response:
        params: dict[str, Json] = dict(request.query)
        if "json" in request.headers.get("content-type", ""):
            params.update(request.json_object())
        else:
            params.update(request.form())
        with self._lock:
            if (params.get("client_id"), params.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                raise _ApiError(401, "unauthorized", "Unauthorized Client")
            code = params.get("code")
            issued = self._codes.pop(code, None) if isinstance(code, str) else None
            if issued is None or self._clock() - issued.issued_at > CODE_LIFETIME_SECONDS:
                raise _ApiError(401, "unauthorized", "Unauthorized Code")
            token = _new_token()
            self._tokens[token] = issued.workspace_id
        return _json_response(200, {"token_type": "Bearer", "token": token, "access_token": token})

    # Controls

    def _control(self, request: _Request) -> _Response:
        try:
            payload = self._control_answer(request)
        except ValueError as error:
            return _json_response(400, {"error": str(error)})
        if payload is None:
            return _json_response(404, {"error": f"No sandbox control at {request.path}"})
        return _json_response(200, payload)

    def _control_answer(self, request: _Request) -> JsonObject | None:
        match [request.method, request.path.rstrip("/")]:
            case ["GET", "/_sandbox/requests"]:
                return {"requests": [recorded.as_json() for recorded in self.requests]}
            case ["POST", "/_sandbox/reset"]:
                self.reset()
                return {"access_token": self.access_token}
            case ["POST", "/_sandbox/fail"]:
                self.fail(**_control_body(request, _FAIL_OPTIONS))
                return {"queued": True}
            case ["POST", "/_sandbox/config"]:
                settings = _control_body(request, frozenset({"rate_limit", "search_lag"}))
                if "rate_limit" in settings:
                    self.rate_limit = settings["rate_limit"]
                if "search_lag" in settings:
                    self.search_lag = settings["search_lag"]
                return {"rate_limit": self.rate_limit, "search_lag": self.search_lag}
            case ["GET", "/_sandbox/state"]:
                return self.snapshot(request.query.get("workspace"))
            case ["POST", "/_sandbox/contacts"]:
                return self.add_contact(**request.json_object())
            case ["POST", "/_sandbox/revoke"]:
                token = _control_body(request, frozenset({"token"})).get("token")
                if not isinstance(token, str):
                    raise ValueError("token must be a string")
                return {"revoked": self.revoke(token)}
            case ["POST", "/_sandbox/workspaces"]:
                options = _control_body(
                    request, frozenset({"id_code", "name", "region", "timezone"})
                )
                return {"access_token": self.add_workspace(**options)}
        return None


_FAIL_OPTIONS = frozenset({
    "count", "status", "path", "method", "body", "headers", "delay", "drop_connection", "html",
    "garbage",
})  # fmt: skip


def _control_body(request: _Request, allowed: frozenset[str]) -> JsonObject:
    body = request.json_object()
    unknown = sorted(set(body) - allowed)
    _check(not unknown, f"unknown option(s) {unknown}; expected some of {sorted(allowed)}")
    return body


def _read_chunked(stream: io.BufferedIOBase) -> bytes:
    chunks = []
    while size := int(stream.readline(65537).split(b";")[0].strip(), 16):
        chunks.append(stream.read(size))
        stream.readline()
    while stream.readline(65537) not in {b"\r\n", b"\n", b""}:
        continue  # trailers carry nothing the sandbox reads
    return b"".join(chunks)


def _lower_cased(headers: Message) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Head and body go out in one write, but keep-alive clients still must not wait on
        # Nagle's algorithm for the next answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.opened(self.connection)

    def finish(self) -> None:
        self.server.closed(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded, not logged."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "Unreadable request body")
            return
        request = _Request(
            method=self.command,
            path=url.path or "/",
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=_lower_cased(self.headers),
            body=body,
            connection="{}:{}".format(*self.client_address),
        )
        response = self.server.respond(request)
        if response.delay:
            self.server.stopping.wait(response.delay)
        if response.drop_connection:
            self.close_connection = True
            return
        self._write(response)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(self.rfile)
        size = int(self.headers.get("Content-Length", "0"))
        if size < 0:
            raise ValueError(size)
        return self.rfile.read(size)

    def _write(self, response: _Response) -> None:
        headers = dict(response.headers)
        if response.content_type:
            headers["Content-Type"] = response.content_type
        headers["Content-Length"] = str(len(response.body))
        if self.close_connection:
            headers["Connection"] = "close"
        phrase = STATUS_PHRASES.get(response.status, "Unknown")
        lines = [f"{self.protocol_version} {response.status} {phrase}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], respond: Callable[[_Request], _Response]):
        super().__init__(address, _Handler)
        self.respond = respond
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def opened(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def close_open_connections(self) -> None:
        """Kept-alive connections would otherwise go on being answered after stop()."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client hung up mid-exchange: nothing to report
        super().handle_error(request, client_address)
