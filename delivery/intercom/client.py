"""Ferry's HTTP client for Intercom's REST API.

Public surface:

- ``IntercomClient(api_base=..., token=..., version=..., pacer=...)`` and its
  ``request()``, which records every exchange and returns the answer or raises
  ``IntercomError``; a ``Pacer`` keeps the calls under the rate limit.
- ``Exchange``: one request and its response as data, never with the token.
- ``Outcome`` and ``classify()``: the one place where an HTTP status becomes
  delivered / retryable / permanent / needs-reconnect.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx

from console.intercom_facts import DEFAULT_VERSION, TIMEOUT_SECONDS, USER_AGENT

RESPONSE_BODY_LIMIT = 64 * 1024

RETRYABLE_STATUSES = frozenset({408, 423, 429, 500, 502, 503, 504})


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    NEEDS_RECONNECT = "needs_reconnect"


@dataclass
class RateLimit:
    """Intercom's rate-limit headers: the per-10-second quota, what is left of
    it, and when (unix seconds) the window resets."""

    limit: int | None
    remaining: int | None
    reset: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        values = [
            _int_or_none(headers.get(name))
            for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
        ]
        if all(value is None for value in values):
            return None
        return cls(*values)

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass
class Exchange:
    """One HTTP exchange with Intercom, as shown to users in delivery logs.
    Holds no credentials: the Authorization header is never recorded."""

    method: str
    url: str
    request_body: Any
    status: int | None = None
    response_body: str | None = None
    duration_ms: int = 0
    rate_limit: RateLimit | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Pacer(Protocol):
    """Keeps a workspace's calls under its rate limit: ``before_request`` may
    wait, or raise ``IntercomError`` to refuse the call; ``after_response``
    learns from Intercom's rate-limit headers."""

    def before_request(self) -> None: ...

    def after_response(self, exchange: Exchange) -> None: ...


@dataclass
class Response:
    status: int
    data: Any
    exchange: Exchange


@dataclass
class IntercomError(Exception):
    """A request that did not succeed, already classified."""

    outcome: Outcome
    message: str
    status: int | None = None
    retry_at: datetime | None = None
    data: Any = None
    exchange: Exchange | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.message


def classify(status: int) -> Outcome:
    """The outcome of an HTTP status from Intercom (the contract's outcome table)."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 401:
        return Outcome.NEEDS_RECONNECT
    if status in RETRYABLE_STATUSES or status >= 500:
        return Outcome.RETRYABLE
    return Outcome.PERMANENT


def retry_time(headers: Mapping[str, str], *, status: int, now: datetime) -> datetime | None:
    """The earliest moment a retry may go out: ``Retry-After`` (seconds or an
    HTTP date) if given, else ``X-RateLimit-Reset`` when the window is spent
    (a 429, or no calls remaining)."""
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _int_or_none(retry_after)
        if seconds is not None:
            return now + timedelta(seconds=max(seconds, 0))
        try:
            return parsedate_to_datetime(retry_after).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    rate_limit = RateLimit.from_headers(headers)
    spent = status == 429 or (rate_limit is not None and rate_limit.exhausted)
    if spent and rate_limit is not None and rate_limit.reset is not None:
        return datetime.fromtimestamp(rate_limit.reset, UTC)
    return None


def error_message(status: int, data: Any, text: str) -> str:
    """Intercom's own words from its error envelope, else a short description."""
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        parts = []
        for error in data["errors"]:
            if isinstance(error, dict):
                words = error.get("message") or error.get("code")
                if words:
                    parts.append(str(words))
        if parts:
            return f"Intercom answered {status}: {'; '.join(parts)}"
    if text.strip():
        snippet = " ".join(text.split())[:200]
        return f"Intercom answered {status}: {snippet}"
    return f"Intercom answered {status} with an empty body"


class IntercomClient:
    """Calls one workspace's API with its token. Not shared between workspaces;
    the connection pool underneath is shared by every client of the process."""

    def __init__(
        self,
        *,
        api_base: str,
        token: str,
        version: str = DEFAULT_VERSION,
        timeout: float = TIMEOUT_SECONDS,
        pacer: Pacer | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.version = version
        self.timeout = timeout
        self.pacer = pacer
        self.exchanges: list[Exchange] = []
        self._token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        accept: Collection[int] = (),
    ) -> Response:
        """Send one request. 2xx answers, and those whose status is in
        ``accept`` (for callers that handle e.g. a 409 themselves), are
        returned; any other outcome raises ``IntercomError``."""
        if self.pacer is not None:
            self.pacer.before_request()
        url = self.api_base + path
        exchange = Exchange(method=method, url=url, request_body=body)
        self.exchanges.append(exchange)
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "Intercom-Version": self.version,
            "User-Agent": USER_AGENT,
        }
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        started = time.perf_counter()
        try:
            answer = _http().request(
                method, url, headers=headers, content=content, timeout=self.timeout
            )
        except httpx.TimeoutException:
            exchange.error = f"No answer within {self.timeout:g} seconds"
            raise self._failure(exchange, started, Outcome.RETRYABLE, exchange.error) from None
        except httpx.TransportError as error:
            exchange.error = f"Connection failed: {error}" if str(error) else "Connection failed"
            raise self._failure(exchange, started, Outcome.RETRYABLE, exchange.error) from None
        exchange.duration_ms = _elapsed_ms(started)
        exchange.status = answer.status_code
        text = answer.text
        exchange.response_body = text[:RESPONSE_BODY_LIMIT]
        exchange.rate_limit = RateLimit.from_headers(answer.headers)
        if self.pacer is not None:
            self.pacer.after_response(exchange)
        data = _json_or_none(text)
        outcome = classify(answer.status_code)
        if outcome is Outcome.DELIVERED or answer.status_code in accept:
            return Response(status=answer.status_code, data=data, exchange=exchange)
        raise IntercomError(
            outcome=outcome,
            message=error_message(answer.status_code, data, text),
            status=answer.status_code,
            retry_at=retry_time(answer.headers, status=answer.status_code, now=datetime.now(UTC))
            if outcome is Outcome.RETRYABLE
            else None,
            data=data,
            exchange=exchange,
        )

    def _failure(
        self, exchange: Exchange, started: float, outcome: Outcome, message: str
    ) -> IntercomError:
        exchange.duration_ms = _elapsed_ms(started)
        return IntercomError(outcome=outcome, message=message, exchange=exchange)


_pool_lock = threading.Lock()
_pool: tuple[int, httpx.Client] | None = None


def _http() -> httpx.Client:
    """The process's connection pool, made anew after a fork (Celery's prefork
    workers must not share sockets with their parent)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (
                os.getpid(),
                httpx.Client(
                    limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                    follow_redirects=False,
                ),
            )
        return _pool[1]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _json_or_none(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
