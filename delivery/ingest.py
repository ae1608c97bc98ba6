"""From one request to Segment's HTTP tracking API to the messages Ferry stores.

``read_request(call=..., body=..., content_type=..., content_encoding=...,
authorization=...)`` authenticates the write key, decompresses and parses the
body, enforces the size and count limits and returns a ``Received``: the
source, and every message as an ``Incoming``, either normalised as Segment
normalises it or refused with a sentence saying why. A problem with the
request as a whole raises ``Refusal``, and then nothing of it is stored.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from django.utils import timezone

from console.models import Source
from console.selectors import source_for_write_key
from delivery.pipeline import IDENTIFIER_LIMIT, Incoming

BODY_LIMIT = 500 * 1024
MESSAGE_LIMIT = 32 * 1024
BATCH_LIMIT = 2500
MESSAGE_ID_LIMIT = 100
NESTING_LIMIT = 100
"""Deeper payloads are refused before anything walks them recursively (the JSON
encoder, the mapping language): Segment's payloads are a handful of levels deep."""

CALL_TYPES = ("identify", "track", "group", "page", "screen", "alias")
JSON_MEDIA_TYPES = ("application/json", "text/plain")
"""``text/plain`` is what browsers' ``sendBeacon`` clients send, to avoid a CORS preflight."""

_ALL_TYPES = ", ".join(CALL_TYPES)
_IDENTIFIER_FIELDS = ("userId", "anonymousId", "groupId", "previousId")
_OBJECT_FIELDS = ("context", "integrations", "properties", "traits")
_STAND_IN_FIELDS = ("type", "messageId", "userId", "anonymousId", "event")


class Refusal(Exception):
    """The request as a whole is refused: it is answered with ``status`` and a
    JSON ``{"code", "message"}``, and nothing of it is stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Received:
    source: Source
    incoming: list[Incoming]
    received_at: datetime


@dataclass(frozen=True)
class _BatchFields:
    """What a batch says once for all its messages."""

    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    sent_at: Any = None


@dataclass(frozen=True)
class _Unstorable:
    reason: str
    size: int | None = None


def read_request(
    *, call: str, body: Readable, content_type: str, content_encoding: str, authorization: str
) -> Received:
    """Read one request to ``/v1/<call>``, where ``call`` is ``batch`` or one of
    ``CALL_TYPES``. At most ``BODY_LIMIT`` + 1 bytes are read from ``body``.

    The write key is the HTTP Basic username when there is one, else the
    body's ``writeKey``; Basic credentials are checked before the body is read.
    """
    now = timezone.now()
    received_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    _check_media_type(content_type)
    gzipped = _is_gzipped(content_encoding)
    basic_write_key = _basic_write_key(authorization)
    source = _authenticated(basic_write_key) if basic_write_key else None
    raw = body.read(BODY_LIMIT + 1)
    if len(raw) > BODY_LIMIT:
        raise _body_too_large()
    document = _parsed(_gunzipped(raw) if gzipped else raw)
    body_write_key = document.pop("writeKey", None)
    if source is None:
        source = _authenticated(body_write_key)
    if call == "batch":
        incoming = _batch(document, received_at)
    else:
        incoming = [_single(document, call, received_at)]
    return Received(source=source, incoming=incoming, received_at=received_at)


def _check_media_type(content_type: str) -> None:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        shown = f"Content-Type {media_type!r}" if media_type else "A missing Content-Type"
        raise Refusal(
            415,
            "unsupported_media_type",
            f"{shown} is not accepted: send the body as application/json.",
        )


def _is_gzipped(content_encoding: str) -> bool:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return False
    if encoding in ("gzip", "x-gzip"):
        return True
    raise Refusal(
        415,
        "unsupported_media_type",
        f"Content-Encoding {encoding!r} is not accepted: send gzip or no encoding.",
    )


def _basic_write_key(authorization: str) -> str | None:
    """The username of HTTP Basic credentials; other schemes (Segment's OAuth
    Bearer tokens) carry the write key in the body instead."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Refusal(
            401, "unauthorized", "The Authorization header is not valid Basic credentials."
        ) from None
    # "key:" is the documented form; a bare "key" still works, as at Segment.
    write_key = decoded.partition(":")[0]
    return write_key or None


def _authenticated(write_key: Any) -> Source:
    if not isinstance(write_key, str) or not write_key:
        raise Refusal(
            401,
            "unauthorized",
            "No write key: send it as the HTTP Basic username or as writeKey in the body.",
        )
    source = source_for_write_key(write_key=write_key) if _storable_text(write_key) else None
    if source is None:
        raise Refusal(401, "unauthorized", "This write key belongs to no source.")
    return source


def _body_too_large() -> Refusal:
    return Refusal(400, "too_large", f"The body is larger than {BODY_LIMIT} bytes (500 KB).")


def _gunzipped(raw: bytes) -> bytes:
    """The decompressed body, never inflated beyond ``BODY_LIMIT`` + 1 bytes so
    that a small zip bomb costs nothing. Concatenated gzip members are joined."""
    output = bytearray()
    remaining = raw
    while remaining:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            output += inflater.decompress(remaining, BODY_LIMIT + 1 - len(output))
        except zlib.error as error:
            raise Refusal(400, "invalid_gzip", f"The body is not valid gzip: {error}.") from None
        if len(output) > BODY_LIMIT:
            raise _body_too_large()
        if not inflater.eof:
            raise Refusal(400, "invalid_gzip", "The gzip body ends before its end marker.")
        remaining = inflater.unused_data
    return bytes(output)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parsed(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise Refusal(400, "invalid_json", "The body is nested too deeply to be read.") from None
    except ValueError as error:
        raise Refusal(400, "invalid_json", f"The body is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise Refusal(400, "invalid_body", "The body must be a JSON object.")
    return document


def _batch(document: dict[str, Any], received_at: datetime) -> list[Incoming]:
    messages = document.get("batch")
    if not isinstance(messages, list):
        raise Refusal(400, "invalid_body", "batch must be a list of messages.")
    if len(messages) > BATCH_LIMIT:
        raise Refusal(
            400,
            "too_many_messages",
            f"The batch has {len(messages)} messages; the limit is {BATCH_LIMIT}.",
        )
    fields = {key: document.get(key) for key in ("context", "integrations", "sentAt")}
    for key in ("context", "integrations"):
        if fields[key] is not None and not isinstance(fields[key], dict):
            raise Refusal(400, "invalid_body", f"The batch's {key} must be a JSON object.")
    problem = _storage_problem(fields, subject="The batch")
    if problem is not None:
        raise Refusal(400, "invalid_body", problem)
    batch = _BatchFields(fields["context"], fields["integrations"], fields["sentAt"])
    return [
        _incoming(
            item, call=None, batch=batch, received_at=received_at, unstorable=_unstorable(item)
        )
        for item in messages
    ]


def _single(message: dict[str, Any], call: str, received_at: datetime) -> Incoming:
    unstorable = _unstorable(message)
    if unstorable is not None and unstorable.size is not None:
        raise Refusal(400, "too_large", unstorable.reason)
    return _incoming(
        message, call=call, batch=_BatchFields(), received_at=received_at, unstorable=unstorable
    )


def _unstorable(item: Any) -> _Unstorable | None:
    """Why ``item`` cannot be stored whole, if it cannot."""
    encoded = _compact_json(item)
    if encoded is None or _may_hide_a_problem(encoded):
        problem = _storage_problem(item, subject="The message")
        if problem is not None:
            return _Unstorable(problem)
    if encoded is not None and len(encoded) > MESSAGE_LIMIT:
        return _Unstorable(
            f"The message is {len(encoded)} bytes of JSON; "
            f"the limit is {MESSAGE_LIMIT} bytes (32 KB).",
            len(encoded),
        )
    return None


def _compact_json(item: Any) -> bytes | None:
    """``item`` as compact UTF-8 JSON, or None when it has no such form: it is
    too deep to write, or holds a non-finite number or an unpaired surrogate."""
    try:
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode()
    except (ValueError, RecursionError):
        return None


def _may_hide_a_problem(encoded: bytes) -> bool:
    """Whether walking the message is worth it: only a NUL or enough brackets
    to nest too deep can make JSON that encodes well unstorable."""
    return b"\\u0000" in encoded or encoded.count(b"[") + encoded.count(b"{") >= NESTING_LIMIT


def _storable_text(text: str) -> bool:
    """PostgreSQL refuses NUL characters and unpaired surrogates in text and jsonb."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _storage_problem(value: Any, *, subject: str) -> str | None:
    """Why the database could not hold ``value``, naming where the problem is."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if not _storable_text(item):
                return (
                    f"{_where(subject, path)} contains a NUL character or an unpaired "
                    "surrogate, which cannot be stored."
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{_where(subject, path)} is a number too large to store."
        elif isinstance(item, dict | list):
            if len(path) >= NESTING_LIMIT:
                return f"{subject} is nested more than {NESTING_LIMIT} levels deep."
            if isinstance(item, list):
                pending.extend((child, (*path, index)) for index, child in enumerate(item))
                continue
            for key, child in item.items():
                if not _storable_text(key):
                    return (
                        f"A key in {_where(subject, path)} contains a NUL character or an "
                        "unpaired surrogate, which cannot be stored."
                    )
                pending.append((child, (*path, key)))
    return None


def _where(subject: str, path: tuple[str | int, ...]) -> str:
    if not path:
        return subject
    shown = ""
    for segment in path:
        if isinstance(segment, int):
            shown += f"[{segment}]"
        else:
            shown += ("." if shown else "") + _shortened(segment)
    return shown


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _identifier(value: Any) -> str | None:
    """An id as Segment's libraries send it: numbers become strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _stand_in(item: Any, call: str | None, size: int | None) -> dict[str, Any]:
    """What is kept of a message that cannot be stored whole: enough to find it."""
    stand_in: dict[str, Any] = {}
    if isinstance(item, dict):
        for field in _STAND_IN_FIELDS:
            value = _identifier(item.get(field))
            if value is not None and _storable_text(value):
                stand_in[field] = value[:IDENTIFIER_LIMIT]
    if call is not None:
        stand_in["type"] = call
    if size is not None:
        stand_in["size"] = size
    return stand_in


def _incoming(
    item: Any,
    *,
    call: str | None,
    batch: _BatchFields,
    received_at: datetime,
    unstorable: _Unstorable | None,
) -> Incoming:
    if unstorable is not None:
        return Incoming(_stand_in(item, call, unstorable.size), rejection=unstorable.reason)
    if not isinstance(item, dict):
        return Incoming({"value": item}, rejection="The message is not a JSON object.")
    message = {key: value for key, value in item.items() if key != "writeKey"}
    if call is not None:
        message["type"] = call
    _stamp(message, batch_sent_at=batch.sent_at, received_at=received_at)
    rejection = _invalidity(message)
    if rejection is not None:
        return Incoming(message, rejection=rejection)
    for field in _IDENTIFIER_FIELDS:
        if message.get(field) is not None:
            message[field] = _identifier(message[field])
    for field, batch_value in (("context", batch.context), ("integrations", batch.integrations)):
        if batch_value:
            message[field] = _merged(batch_value, message.get(field))
    if not message.get("messageId"):
        message["messageId"] = f"ferry-{uuid.uuid4()}"
    return Incoming(message)


def _invalidity(message: dict[str, Any]) -> str | None:
    """The first reason Segment would drop ``message``, as a sentence."""
    kind = message.get("type")
    if kind is None:
        return f"The message has no type; it must be one of {_ALL_TYPES}."
    if kind not in CALL_TYPES:
        shown = _shortened(json.dumps(kind, ensure_ascii=False))
        return f"The type {shown} is not one of {_ALL_TYPES}."
    message_id = message.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        return "messageId must be a string."
    if message_id is not None and len(message_id) > MESSAGE_ID_LIMIT:
        return f"messageId is {len(message_id)} characters long; the limit is {MESSAGE_ID_LIMIT}."
    for field in _IDENTIFIER_FIELDS:
        if message.get(field) is not None and _identifier(message[field]) is None:
            return f"{field} must be a string or a number."
    for field in _OBJECT_FIELDS:
        if message.get(field) is not None and not isinstance(message[field], dict):
            return f"{field} must be a JSON object."

    def present(field: str) -> bool:
        return bool(_identifier(message.get(field)))

    if kind == "alias":
        if not present("userId"):
            return "An alias call needs a userId (the new id)."
        if not present("previousId"):
            return "An alias call needs a previousId (the id it replaces)."
        return None
    if not present("userId") and not present("anonymousId"):
        return "The message has neither a userId nor an anonymousId; a call needs one of them."
    if kind == "track" and not (isinstance(message.get("event"), str) and message["event"]):
        return "A track call needs an event name (a non-empty string)."
    if kind == "group" and not present("groupId"):
        return "A group call needs a groupId."
    return None


def _merged(batch_value: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
    """The batch's context or integrations under the message's own, one level deep."""
    merged = dict(batch_value)
    for key, value in (own or {}).items():
        base = merged.get(key)
        merged[key] = (
            {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
        )
    return merged


def _stamp(message: dict[str, Any], *, batch_sent_at: Any, received_at: datetime) -> None:
    """Set receivedAt, sentAt, originalTimestamp and timestamp as Segment does:
    the client's clock skew (sentAt against the server's clock) is taken out of
    the time it says the event happened."""
    message["receivedAt"] = _iso(received_at)
    if message.get("sentAt") is None and batch_sent_at is not None:
        message["sentAt"] = batch_sent_at
    if message.get("originalTimestamp") is None and message.get("timestamp") is not None:
        message["originalTimestamp"] = message["timestamp"]
    sent_at = _moment(message.get("sentAt"))
    original = _moment(message.get("originalTimestamp"))
    timestamp = _moment(message.get("timestamp")) or received_at
    if sent_at is not None and original is not None:
        # A skew that takes the time out of datetime's range leaves the client's own.
        with contextlib.suppress(OverflowError):
            timestamp = received_at - (sent_at - original)
    message["timestamp"] = _iso(timestamp)


def _moment(value: Any) -> datetime | None:
    """An ISO-8601 time in UTC, taken as UTC when it names no offset."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
