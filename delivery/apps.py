from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        from console.signals import workspace_connected

        workspace_connected.connect(_resume_deliveries, dispatch_uid="delivery.resume")


def _resume_deliveries(sender: Any, *, workspace: Any, **kwargs: Any) -> None:
    """Deliveries paused while Intercom refused the workspace's token go out again."""
    # Imported here: the services import models, which apps.py is loaded before.
    from delivery.services import workspace_resume

    workspace_resume(workspace=workspace)
