"""The devsite's Celery app (``celery -A devsite.celery:app worker -Q QUEUE``).

Importing this module only creates the app object: the configuration is read lazily from Django
settings (``CELERY_*``, e.g. ``CELERY_BROKER_URL``) when the worker starts, and Celery's Django
fix-up calls ``django.setup()`` because the images set ``DJANGO_SETTINGS_MODULE``.
"""

from __future__ import annotations

from celery import Celery

app = Celery("devsite")
# A string is resolved on first use, so no settings are read at import time.
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules are found when the worker finalises the app (lazy, no import here).
app.autodiscover_tasks()
