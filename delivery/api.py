"""Segment's HTTP tracking API, served by Ferry: ``receive`` answers
``POST /v1/<call>`` as Segment does, so Segment's client libraries can send
their events here by changing only their host."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from delivery import ingest
from delivery.pipeline import accept_messages

logger = logging.getLogger(__name__)


def _refused(refusal: ingest.Refusal) -> JsonResponse:
    response = JsonResponse(
        {"code": refusal.code, "message": refusal.message}, status=refusal.status
    )
    if refusal.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="Ferry"'
    return response


@csrf_exempt
@login_not_required
def receive(request: HttpRequest, call: str) -> JsonResponse:
    if request.method != "POST":
        response = _refused(ingest.Refusal(405, "method_not_allowed", "Send events with POST."))
        response["Allow"] = "POST"
        return response
    try:
        received = ingest.read_request(
            call=call,
            body=request,
            content_type=request.headers.get("Content-Type", ""),
            content_encoding=request.headers.get("Content-Encoding", ""),
            authorization=request.headers.get("Authorization", ""),
        )
    except ingest.Refusal as refusal:
        return _refused(refusal)
    except DatabaseError:
        return _unavailable()
    try:
        accept_messages(
            source=received.source, incoming=received.incoming, received_at=received.received_at
        )
    except DatabaseError:
        return _unavailable()
    return JsonResponse({"success": True})


def _unavailable() -> JsonResponse:
    """The database cannot be reached: nothing was stored (the transaction rolled
    back), and Segment's libraries retry a 503, so nothing is lost either."""
    logger.exception("ingestion could not reach the database")
    response = _refused(
        ingest.Refusal(503, "unavailable", "Ferry cannot store events right now; retry shortly.")
    )
    response["Retry-After"] = "5"
    return response
