"""Settings for the test suite: production settings, with plain-HTTP cookies
(the test client and the browser tests' live server speak HTTP)."""

import os

os.environ.setdefault("FERRY_HTTPS", "false")

from console.settings import *  # noqa: F403
