"""Shims for the Django versions the package supports (4.2 LTS and 5.2 LTS)."""

from __future__ import annotations

from typing import Any

import django
from django.db import models


def check_constraint(*, condition: models.Q, name: str, **kwargs: Any) -> models.CheckConstraint:
    """Return a CheckConstraint on ``condition`` under both Django 4.2 and 5.1+.

    Django 5.1 renamed ``check=`` to ``condition=`` (the old name is gone in 6.0); models and
    migrations build their constraints through this so one migration file loads on both.
    """
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    kwargs[keyword] = condition
    return models.CheckConstraint(name=name, **kwargs)
