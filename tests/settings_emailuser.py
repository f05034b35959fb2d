"""Test settings with an email-as-username user model (tests.emailuser.EmailUser)."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.emailuser"]  # noqa: F405
AUTH_USER_MODEL = "emailuser.EmailUser"
