"""Settings of the gunicorn processes bench/health.py starts (both sides use the same ones).

The devsite's settings, the dependencies pointed at the bench's counting proxies (environment
variables set by bench/health.py), and quiet logging so log I/O does not skew the figures.
"""

import os

from devsite.settings import *  # noqa: F403
from devsite.settings import EXPERIO_PLATFORM

DEBUG = False
ROOT_URLCONF = "bench.health_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["BENCH_DB_NAME"],
        "USER": os.environ.get("DB_USER", "postgres"),
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": "127.0.0.1",
        "PORT": os.environ["BENCH_DB_PORT"],
        "CONN_MAX_AGE": 60,  # as the devsite: persistent connections for the host's own views
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
    }
}
REDIS_URL = os.environ["BENCH_REDIS_URL"]
CELERY_BROKER_URL = os.environ["BENCH_AMQP_URL"]
EXPERIO_PLATFORM = {
    **EXPERIO_PLATFORM,
    "HEALTH_CHECKS": ["postgres", "redis", "rabbitmq"],
    # devsite's dict holds no floats, so mypy infers a narrower value type than the setting has.
    "HEALTH_CACHE_TTL": float(os.environ.get("BENCH_CACHE_TTL", "2.0")),  # type: ignore[dict-item]
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "CRITICAL"},
}
