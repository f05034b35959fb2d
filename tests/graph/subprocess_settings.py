"""Settings for a ``manage.py`` child process started by a graph test.

The child sees the test database (DB_NAME is set by the test to pytest-django's test database)
and the shared FalkorDB through the settings store's overrides.
"""

import os

from tests.settings import *  # noqa: F403

EXPERIO_PLATFORM = {
    **EXPERIO_PLATFORM,  # noqa: F405
    "CONFIG_OVERRIDES": {"FALKOR_URI": os.environ["EXPERIO_TEST_FALKOR_URI"]},
}
