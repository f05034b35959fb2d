"""Fixtures shared by the scaling tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def staff(db: Any) -> Any:
    """A staff superuser for the admin and API tests."""
    return get_user_model().objects.create_user(
        "ops", password="pw", is_staff=True, is_superuser=True
    )
