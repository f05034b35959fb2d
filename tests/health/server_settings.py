"""Settings of the gunicorn/uvicorn processes that test_servers.py starts.

The devsite's settings plus, from the environment: a host check that hangs far beyond its
timeout, Redis and PostgreSQL behind a proxy that accepts and never answers, RabbitMQ on a closed
port; SSL redirect on.
"""

import os

from devsite.settings import *  # noqa: F403
from devsite.settings import EXPERIO_PLATFORM

SECURE_SSL_REDIRECT = True
REDIS_URL = os.environ["TEST_HUNG_REDIS_URL"]
CELERY_BROKER_URL = os.environ["TEST_CLOSED_AMQP_URL"]
EXPERIO_PLATFORM = {
    **EXPERIO_PLATFORM,
    "HEALTH_CHECKS": [
        "postgres",  # the SQLite file here
        "redis",
        "rabbitmq",
        {"name": "stuck", "check": "tests.health.helpers.hang", "critical": True},
        # PostgreSQL behind the hung proxy: libpq's connect_timeout (2 s) outlasts the check's.
        {
            "name": "pg_hung",
            "check": "experio_platform.health.checks.Postgres",
            "options": {
                "database": {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": "experio_health",
                    "USER": "postgres",
                    "HOST": "127.0.0.1",
                    "PORT": os.environ["TEST_HUNG_PG_PORT"],
                }
            },
        },
    ],
    "HEALTH_CHECK_TIMEOUT": 0.5,
    "HEALTH_DEADLINE": 0.8,
    "HEALTH_CACHE_TTL": 0,
    "HEALTH_DETAIL": "always",
}
