"""Ferry's user-deletion API, for programs (a GDPR tool, a support script):

- ``POST /api/v1/deletions`` with ``{"userId": "...", "destinations": [ids]}``
  (destinations optional: every destination with a workspace) answers 202 and
  one deletion per destination;
- ``GET /api/v1/deletions/<id>`` answers how that deletion stands.

Both authenticate with ``Authorization: Bearer <API token>`` (made on the
console's API tokens page) and only see the token's organisation. Errors are
JSON ``{"code", "message"}``, like the tracking API's.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from console import selectors as console_selectors
from console import services as console_services
from console.models import ApiToken
from delivery import deletions
from delivery.models import Delivery

BEARER = "bearer "


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _refused(refusal: _Refusal) -> JsonResponse:
    response = JsonResponse(
        {"code": refusal.code, "message": refusal.message}, status=refusal.status
    )
    if refusal.status == 401:
        error = ', error="invalid_token"' if refusal.code == "invalid_token" else ""
        response["WWW-Authenticate"] = f'Bearer realm="Ferry"{error}'
    return response


def _not_allowed(allowed: str) -> JsonResponse:
    response = _refused(
        _Refusal(405, "method_not_allowed", f"This address answers {allowed} only.")
    )
    response["Allow"] = allowed
    return response


def _authenticated(request: HttpRequest) -> ApiToken:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(BEARER) or not header[len(BEARER) :].strip():
        raise _Refusal(
            401,
            "missing_token",
            "Send an API token as “Authorization: Bearer <token>”. "
            "Make one on the console's API tokens page.",
        )
    api_token = console_selectors.api_token_for_secret(secret=header[len(BEARER) :].strip())
    if api_token is None:
        raise _Refusal(
            401, "invalid_token", "This API token is not known: it may have been deleted."
        )
    console_services.api_token_mark_used(api_token=api_token)
    return api_token


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except RequestDataTooBig:
        raise _Refusal(413, "too_large", "The request body is too large.") from None
    except (ValueError, UnicodeDecodeError):
        raise _Refusal(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _Refusal(400, "invalid_json", "The request body must be a JSON object.")
    return body


def _destination_ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(type(item) is int and item > 0 for item in value):
        raise _Refusal(
            400,
            "invalid_destinations",
            "“destinations” must be a list of destination ids (positive integers).",
        )
    return value


def _validation_refusal(error: ValidationError) -> _Refusal:
    first = next(iter(error.error_dict.values()))[0]
    return _Refusal(400, first.code or "invalid", " ".join(first.messages))


def _deletion_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "userId": delivery.person,
        "destination": delivery.destination_id,
        "status": delivery.status,
    }


@csrf_exempt
@login_not_required
def deletion_create(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return _not_allowed("POST")
    try:
        api_token = _authenticated(request)
        body = _json_body(request)
        if "userId" not in body:
            raise _Refusal(400, "invalid_user_id", "Give the person's “userId”.")
        organization = api_token.organization
        ids = _destination_ids(body.get("destinations"))
        try:
            chosen = (
                None
                if ids is None
                else deletions.deletion_destinations(organization=organization, ids=ids)
            )
            made = deletions.user_deletion_request(
                organization=organization,
                user_id=body["userId"],
                destinations=chosen,
                requested_by=f"api token {api_token.name}",
            )
        except ValidationError as error:
            raise _validation_refusal(error) from None
    except _Refusal as refusal:
        return _refused(refusal)
    return JsonResponse({"deletions": [_deletion_json(delivery) for delivery in made]}, status=202)


@csrf_exempt
@login_not_required
def deletion_status(request: HttpRequest, pk: str) -> JsonResponse:
    if request.method != "GET":
        return _not_allowed("GET")
    try:
        api_token = _authenticated(request)
    except _Refusal as refusal:
        return _refused(refusal)
    delivery = deletions.deletions_of(organization=api_token.organization).filter(pk=pk).first()
    if delivery is None:
        return _refused(_Refusal(404, "not_found", f"You have no deletion with the id {pk}."))
    return JsonResponse(
        {
            **_deletion_json(delivery),
            "attempts": delivery.attempts,
            "lastError": delivery.last_error,
            "warnings": delivery.latest_warnings or [],
            "createdAt": delivery.created_at.isoformat(),
            "nextAttemptAt": delivery.next_attempt_at and delivery.next_attempt_at.isoformat(),
            "finishedAt": delivery.finished_at and delivery.finished_at.isoformat(),
        }
    )
