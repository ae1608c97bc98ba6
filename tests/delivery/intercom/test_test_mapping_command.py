from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from console import crypto
from console.models import Workspace
from tests.delivery.conftest import api_calls

TRACK = {
    "action": "track_event",
    "trigger": 'type = "track" and event = "Order Completed"',
    "fields": {
        "event_name": {"@template": "order-{{properties.status}}"},
        "metadata": {
            "@if": {
                "exists": {"@path": "$.properties.coupon"},
                "then": {"coupon": {"@path": "$.properties.coupon"}},
                "else": {"coupon": "none"},
            }
        },
    },
}
EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "timestamp": "2026-11-29T10:00:00.000Z",
    "properties": {"status": "paid", "revenue": 12.5, "currency": "EUR"},
}


def _run(tmp_path, capsys, *arguments, mapping=TRACK, event=EVENT):
    (tmp_path / "mapping.json").write_text(json.dumps(mapping))
    (tmp_path / "event.json").write_text(json.dumps(event))
    exit_code = 0
    try:
        call_command(
            "test_mapping",
            "--mapping",
            str(tmp_path / "mapping.json"),
            "--event",
            str(tmp_path / "event.json"),
            *arguments,
        )
    except SystemExit as stop:
        exit_code = stop.code
    return exit_code, json.loads(capsys.readouterr().out)


def test_a_dry_run_maps_with_defaults_and_sends_nothing(tmp_path, capsys):
    code, output = _run(tmp_path, capsys, "--dry-run")

    assert code == 0
    assert output == {
        "matched": True,
        "payload": {
            "event_name": "order-paid",
            "created_at": 1795946400,
            "user_id": "u-1",
            "revenue": 12.5,
            "currency": "EUR",
            "metadata": {"coupon": "none"},
        },
        "warnings": [],
        "outcome": "dry_run",
        "error": None,
        "retry_at": None,
        "exchanges": [],
    }


def test_sending_to_an_api_base_with_a_token(tmp_path, capsys, sandbox):
    sandbox.add_contact(role="user", external_id="u-1")

    code, output = _run(
        tmp_path, capsys, "--api-base", sandbox.base_url, "--token", sandbox.access_token
    )

    assert code == 0
    assert output["outcome"] == "delivered"
    assert api_calls(sandbox) == [("POST", "/events")]
    [exchange] = output["exchanges"]
    assert exchange["method"] == "POST"
    assert exchange["url"] == f"{sandbox.base_url}/events"
    assert exchange["status"] == 202
    assert exchange["request_body"]["metadata"] == {
        "price": {"amount": 1250, "currency": "EUR"},
        "coupon": "none",
    }
    assert set(exchange) == {
        "method", "url", "request_body", "status", "response_body", "duration_ms"
    }  # fmt: skip
    assert sandbox.access_token not in json.dumps(output)


@pytest.mark.django_db
def test_sending_through_a_connected_workspace(tmp_path, capsys, sandbox, organization):
    workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="sandbox01",
        name="Sandbox",
        api_base=sandbox.base_url,
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal(sandbox.access_token),
        intercom_version="2.14",
    )

    code, output = _run(tmp_path, capsys, "--workspace", str(workspace.pk))

    assert code == 1
    assert output["outcome"] == "retryable"
    assert "User ID “u-1”" in output["error"]
    assert sandbox.requests[-1].headers["intercom-version"] == "2.14"


def test_a_trigger_that_does_not_match_sends_nothing(tmp_path, capsys, sandbox):
    code, output = _run(
        tmp_path,
        capsys,
        "--api-base",
        sandbox.base_url,
        "--token",
        sandbox.access_token,
        event={**EVENT, "event": "Order Refunded"},
    )

    assert code == 0
    assert output["matched"] is False
    assert output["outcome"] is None
    assert sandbox.requests == []


def test_an_invalid_payload_fails_permanently_without_a_request(tmp_path, capsys, sandbox):
    event = {**EVENT, "timestamp": "yesterday-ish"}

    code, output = _run(
        tmp_path,
        capsys,
        "--api-base",
        sandbox.base_url,
        "--token",
        sandbox.access_token,
        event=event,
    )

    assert code == 1
    assert output["outcome"] == "permanent"
    assert "Event Timestamp" in output["error"]
    assert sandbox.requests == []


def test_a_revoked_token_reports_needs_reconnect(tmp_path, capsys, sandbox):
    sandbox.revoke(sandbox.access_token)

    code, output = _run(
        tmp_path, capsys, "--api-base", sandbox.base_url, "--token", sandbox.access_token
    )

    assert code == 1
    assert output["outcome"] == "needs_reconnect"


def test_a_bad_mapping_file_is_explained(tmp_path, capsys):
    with pytest.raises(Exception, match='must be an object with "action"'):
        _run(tmp_path, capsys, "--dry-run", mapping={"action": "send_email"})
