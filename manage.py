#!/usr/bin/env python
"""Ferry's command-line entry point (Django's manage.py)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from console.env import ConfigurationError

    try:
        settings.INSTALLED_APPS  # noqa: B018 -- load settings now, so a bad variable stops here
    except ConfigurationError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
