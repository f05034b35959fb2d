"""URLs of the health bench: ours (via the middleware), a bare view, django-health-check 4.x."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from health_check.checks import Database
from health_check.contrib.rabbitmq import RabbitMQ
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis


def bare(request: HttpRequest) -> JsonResponse:
    """The baseline: a Django view returning JsonResponse through the same middleware."""
    return JsonResponse({"status": "ok"})


def _redis_client() -> AsyncRedis:
    # The same 1 s socket timeouts our redis check uses.
    url = str(settings.REDIS_URL)  # bench/health_settings.py always sets it
    return AsyncRedis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


# django-health-check 4.x with the checks equivalent to ours: database SELECT 1, Redis PING,
# RabbitMQ connection open (1 s timeout, like HEALTH_CHECK_TIMEOUT).
peer = HealthCheckView.as_view(
    checks=[
        Database,
        (Redis, {"client_factory": _redis_client}),
        (RabbitMQ, {"amqp_url": settings.CELERY_BROKER_URL, "timeout": dt.timedelta(seconds=1)}),
    ]
)

urlpatterns = [
    path("bare/", bare),
    path("ht/", peer),
    path("", include("experio_platform.urls")),
]
