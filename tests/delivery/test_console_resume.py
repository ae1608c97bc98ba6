"""Reconnecting a workspace (the console's ``workspace_connected`` signal) resumes
the deliveries paused for it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from console import crypto
from console import services as console_services
from console.models import Workspace
from console.signals import workspace_connected
from delivery.models import Delivery
from delivery.pipeline import Incoming, accept_messages
from delivery.services import workspace_pause

pytestmark = pytest.mark.django_db


def test_paused_deliveries_resume_when_the_workspace_is_connected_again(
    source, destination, workspace, organization, add_mapping, django_capture_on_commit_callbacks
):
    other_workspace = Workspace.objects.create(
        organization=organization,
        app_id_code="other01",
        name="Other",
        api_base=workspace.api_base,
        auth_method=Workspace.AuthMethod.ACCESS_TOKEN,
        token_ciphertext=crypto.seal("other-token"),
    )
    elsewhere = console_services.destination_create(
        source=source, name="Elsewhere", workspace=other_workspace, enabled=True
    )
    add_mapping("track_event")
    add_mapping("track_event", destination=elsewhere)
    accept_messages(
        source=source,
        incoming=[Incoming({"type": "track", "messageId": "m-1", "userId": "u", "event": "E"})],
        received_at=timezone.now(),
    )
    workspace_pause(workspace=workspace)
    workspace_pause(workspace=other_workspace)
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.CONNECTED)

    with django_capture_on_commit_callbacks(execute=True):
        workspace_connected.send(sender=Workspace, workspace=workspace)

    mine = Delivery.objects.get(destination=destination)
    assert mine.status == Delivery.Status.PENDING
    assert mine.next_attempt_at is not None
    assert Delivery.objects.get(destination=elsewhere).status == Delivery.Status.PAUSED
