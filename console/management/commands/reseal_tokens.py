from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from console import crypto
from console.models import Workspace


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Intercom token with the newest FERRY_ENCRYPTION_KEY, after "
        "putting a new key first in that list. Then the old keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        resealed, unreadable = 0, []
        for workspace in Workspace.objects.all():
            try:
                workspace.token_ciphertext = crypto.reseal(workspace.token_ciphertext)
            except crypto.UnreadableSecret:
                unreadable.append(str(workspace))
                continue
            workspace.save(update_fields=["token_ciphertext"])
            resealed += 1
        self.stdout.write(f"Re-encrypted {resealed} token(s) with the newest key.")
        if unreadable:
            self.stderr.write(
                "Could not decrypt with any configured key (reconnect these workspaces): "
                + ", ".join(unreadable)
            )
