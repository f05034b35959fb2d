"""Settings of the gunicorn/uvicorn processes that test_servers.py starts.

The devsite's settings plus, from the environment: a host check that hangs far beyond its
timeout, Redis behind a hung proxy and RabbitMQ on a closed port; SSL redirect on.
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
    ],
    "HEALTH_CHECK_TIMEOUT": 0.5,
    "HEALTH_DEADLINE": 0.8,
    "HEALTH_CACHE_TTL": 0,
    "HEALTH_DETAIL": "always",
}
