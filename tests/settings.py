"""Test settings: the devsite's, pointed at the real services that `make test` starts.

scripts/services.sh writes their URLs to .run/test/env.sh; `make test` exports them. Run a
single test by hand with: `. .run/test/env.sh && .venv/bin/pytest tests/...`.
"""

from devsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation

# A fixed Fernet key, as production has one (EXPERIO_ENCRYPTION_KEYS): the suite runs with
# DEBUG off, where the SECRET_KEY-derived fallback is system-check error E030.
if not EXPERIO_PLATFORM.get("ENCRYPTION_KEYS"):  # noqa: F405
    EXPERIO_PLATFORM["ENCRYPTION_KEYS"] = ["dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA="]  # noqa: F405
