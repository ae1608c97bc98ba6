from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console import env, services


class Command(BaseCommand):
    help = (
        "On first run, create the organisation and its admin user from FERRY_ADMIN_EMAIL and "
        "FERRY_ADMIN_PASSWORD (a password is generated and printed once when none is given). "
        "Does nothing once any user exists."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if get_user_model().objects.exists():
            return
        email = env.string("FERRY_ADMIN_EMAIL", "admin@example.com")
        password = env.string("FERRY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        organization = services.organization_create(
            name=env.string("FERRY_ORGANIZATION_NAME", "My organisation")
        )
        user = services.user_create(
            organization=organization, email=email, password=password, is_superuser=True
        )
        self.stdout.write(self.style.SUCCESS("Created the admin user. Sign in with:"))
        self.stdout.write(f"    email:    {user.email}")
        if env.string("FERRY_ADMIN_PASSWORD"):
            self.stdout.write("    password: the value of FERRY_ADMIN_PASSWORD")
        else:
            self.stdout.write(f"    password: {password}")
            self.stdout.write("This password is shown only once; change it after signing in.")
