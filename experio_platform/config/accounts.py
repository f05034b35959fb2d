"""The default accounts initdb ensures: the admin and (optionally) the Playwright test user.

Everything goes through ``get_user_model()`` and its default manager (``create_superuser`` /
``create_user``), so host signals (e.g. DRF token creation) fire, and it works both with
Django's ``User`` (the username is the email) and with an email-as-username model
(``USERNAME_FIELD = "email"``, ``username = None``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from experio_platform.reporting import SeedReport

ADMIN_PASSWORD_VAR = "DJANGO_SUPERUSER_PASSWORD"  # noqa: S105 - a variable name
TEST_USER_PASSWORD_VAR = "PLAYWRIGHT_TEST_USER_PASS"  # noqa: S105
SECTION = "accounts"


@dataclass
class AccountPlan:
    """What ``ensure_default_accounts`` needs, validated before any database access."""

    admin_email: str
    admin_password: str = field(repr=False)
    test_email: str
    test_password: str | None = field(repr=False, default=None)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value not in (None, "") else None


def plan_accounts(environ: Mapping[str, str] | None = None) -> tuple[AccountPlan | None, list[str]]:
    """Validate the accounts' settings and passwords; return ``(plan, errors)``. No DB access.

    The admin password is required on every run (validation happens before initdb may look at
    the database, so it cannot know whether the admin exists) and must pass the host's
    ``AUTH_PASSWORD_VALIDATORS``.
    """
    from experio_platform.conf import platform_settings

    environ = os.environ if environ is None else environ
    errors: list[str] = []
    admin_email = str(platform_settings.DEFAULT_ADMIN_EMAIL or "").strip().lower()
    test_email = str(platform_settings.DEFAULT_TEST_USER_EMAIL or "").strip().lower()
    for what, email in (
        ("DEFAULT_ADMIN_EMAIL", admin_email),
        ("DEFAULT_TEST_USER_EMAIL", test_email),
    ):
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"EXPERIO_PLATFORM[{what!r}] is not an email address: {email!r}.")
    admin_password = _env(environ, ADMIN_PASSWORD_VAR)
    if admin_password is None:
        errors.append(
            f"{ADMIN_PASSWORD_VAR} is not set: the admin account {admin_email} needs a password "
            "(set the variable; it is validated on every run, used at creation and with "
            "--sync-passwords)."
        )
    else:
        errors.extend(_password_errors(admin_password, admin_email, ADMIN_PASSWORD_VAR))
    if errors:
        return None, errors
    plan = AccountPlan(
        admin_email, admin_password or "", test_email, _env(environ, TEST_USER_PASSWORD_VAR)
    )
    return plan, []


def _password_errors(password: str, email: str, var: str) -> list[str]:
    user_model = get_user_model()
    fields = {user_model.USERNAME_FIELD: email}
    email_field = user_model.get_email_field_name()
    fields[email_field] = email
    probe = user_model(**fields)  # unsaved: only for UserAttributeSimilarityValidator
    try:
        validate_password(password, user=probe)
    except ValidationError as exc:
        return [f"{var} fails AUTH_PASSWORD_VALIDATORS: {' '.join(exc.messages)}"]
    return []


def _find(email: str) -> Any:
    """Return the user whose login or email is ``email`` (case-insensitively), oldest first."""
    user_model = get_user_model()
    query = Q(**{f"{user_model.USERNAME_FIELD}__iexact": email})
    email_field = user_model.get_email_field_name()
    if email_field != user_model.USERNAME_FIELD:
        query |= Q(**{f"{email_field}__iexact": email})
    return user_model._default_manager.filter(query).order_by("pk").first()


def _identity(email: str) -> dict[str, Any]:
    user_model = get_user_model()
    fields: dict[str, Any] = {user_model.USERNAME_FIELD: email}
    email_field = user_model.get_email_field_name()
    if email_field != user_model.USERNAME_FIELD:
        fields[email_field] = email
    return fields


def _has_field(name: str) -> bool:
    user_model = get_user_model()
    return any(f.name == name for f in user_model._meta.get_fields())


def ensure_default_accounts(
    plan: AccountPlan, *, sync_passwords: bool = False, dry_run: bool = False
) -> SeedReport:
    """Create or repair the admin and the test user; return their report lines.

    The admin is kept active/staff/superuser; its password is changed only with
    ``sync_passwords``. The test user is created only when its password variable is set, and its
    password always follows the variable. Passwords never reach the report.
    """
    report = SeedReport("initdb", dry_run=dry_run)
    user_model = get_user_model()
    manager = user_model._default_manager

    # ---- admin
    admin = _find(plan.admin_email)
    if admin is None:
        if not dry_run:
            manager.create_superuser(**_identity(plan.admin_email), password=plan.admin_password)
        report.add(plan.admin_email, "created", "env", None, "superuser", section=SECTION)
    else:
        changes = [
            flag for flag in ("is_active", "is_staff", "is_superuser") if not getattr(admin, flag)
        ]
        if sync_passwords and not admin.check_password(plan.admin_password):
            changes.append("password")
        if changes and not dry_run:
            for flag in changes:
                if flag == "password":
                    admin.set_password(plan.admin_password)
                else:
                    setattr(admin, flag, True)
            admin.save()
        if changes:
            report.add(
                plan.admin_email,
                "updated",
                "env",
                detail="set " + ", ".join(changes),
                section=SECTION,
            )
        else:
            report.add(plan.admin_email, "unchanged", "env", section=SECTION)

    # ---- test user
    if plan.test_password is None:
        _skip_test_user(report, plan)
        return report
    verified = _has_field("email_verified")
    user = _find(plan.test_email)
    if user is None:
        if not dry_run:
            extra: dict[str, Any] = {"email_verified": True} if verified else {}
            manager.create_user(**_identity(plan.test_email), password=plan.test_password, **extra)
        report.add(plan.test_email, "created", "env", None, "user", section=SECTION)
        return report
    changes = []
    if not user.check_password(plan.test_password):
        changes.append("password")
    if not user.is_active:
        changes.append("is_active")
    if verified and not user.email_verified:
        changes.append("email_verified")
    if changes and not dry_run:
        if "password" in changes:
            user.set_password(plan.test_password)
        if "is_active" in changes:
            user.is_active = True
        if "email_verified" in changes:
            user.email_verified = True
        user.save()
    if changes:
        report.add(
            plan.test_email, "updated", "env", detail="set " + ", ".join(changes), section=SECTION
        )
    else:
        report.add(plan.test_email, "unchanged", "env", section=SECTION)
    return report


def _skip_test_user(report: SeedReport, plan: AccountPlan) -> None:
    report.add(
        plan.test_email,
        "skipped",
        "env",
        detail=f"{TEST_USER_PASSWORD_VAR} is not set",
        section=SECTION,
    )


def plan_fresh_accounts(plan: AccountPlan) -> SeedReport:
    """Return the dry-run lines for a database without tables: every account is created."""
    report = SeedReport("initdb", dry_run=True)
    report.add(plan.admin_email, "created", "env", None, "superuser", section=SECTION)
    if plan.test_password is None:
        _skip_test_user(report, plan)
    else:
        report.add(plan.test_email, "created", "env", None, "user", section=SECTION)
    return report
