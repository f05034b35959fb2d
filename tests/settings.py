"""Test settings: the devsite's, pointed at the real services that `make test` starts.

scripts/services.sh writes their URLs to .run/test/env.sh; `make test` exports them. Run a
single test by hand with: `. .run/test/env.sh && .venv/bin/pytest tests/...`.
"""

from devsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
