"""System checks of the scaling settings (ids E070-E089 / W070-W089; no network I/O)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from experio_platform.exceptions import ConfigurationError


def check_scaling_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E070 backend, E071 AUTOSCALING_DEFAULTS, E072 lease vs interval, E073 numbers,
    W070 partial Omnistrate fleet credentials, W071 no queue metrics source, W072 short TTL."""
    from experio_platform.conf import platform_settings as ps
    from experio_platform.scaling.backends import BACKENDS
    from experio_platform.scaling.defaults import effective_defaults
    from experio_platform.scaling.settings import amqp_url, setting

    out: list[checks.CheckMessage] = []
    try:
        backend = ps.SCALER_BACKEND
    except ConfigurationError:
        return out  # E001 already says the dict is malformed
    if backend not in BACKENDS:
        out.append(
            checks.Error(
                f"SCALER_BACKEND is {backend!r}.",
                hint=f"Use one of: {', '.join(BACKENDS)}.",
                id="experio_platform.E070",
            )
        )
    try:
        effective_defaults()
    except ConfigurationError as exc:
        out.append(checks.Error(exc.message, hint=exc.hint, id="experio_platform.E071"))
    numbers = {
        "SCALER_INTERVAL": ps.SCALER_INTERVAL,
        "SCALER_LEASE_TTL": ps.SCALER_LEASE_TTL,
        "SCALER_BACKOFF_BASE": ps.SCALER_BACKOFF_BASE,
        "SCALER_BACKOFF_MAX": ps.SCALER_BACKOFF_MAX,
        "SCALER_OPERATION_TIMEOUT": ps.SCALER_OPERATION_TIMEOUT,
        "SCALER_DECISION_RETENTION_DAYS": ps.SCALER_DECISION_RETENTION_DAYS,
    }
    bad = [k for k, v in numbers.items() if not isinstance(v, int | float) or v <= 0]
    if bad:
        out.append(
            checks.Error(
                f"{', '.join(bad)} must be positive numbers.",
                hint="Seconds (days for the retention); see docs/scaling.md.",
                id="experio_platform.E073",
            )
        )
        return out
    interval, ttl = float(ps.SCALER_INTERVAL), float(ps.SCALER_LEASE_TTL)
    if ttl <= interval:
        out.append(
            checks.Error(
                f"SCALER_LEASE_TTL ({ttl:g}s) must exceed SCALER_INTERVAL ({interval:g}s).",
                hint="Otherwise the leader's lease lapses between passes and leaders flap; "
                "use about 3x the interval.",
                id="experio_platform.E072",
            )
        )
    elif ttl < 2 * interval:
        out.append(
            checks.Warning(
                f"SCALER_LEASE_TTL ({ttl:g}s) is under twice SCALER_INTERVAL ({interval:g}s).",
                hint="One slow pass would cost the leader its lease; use about 3x the interval.",
                id="experio_platform.W072",
            )
        )
    if backend == "omnistrate":
        ids = ["OMNISTRATE_SERVICE_ID", "OMNISTRATE_ENVIRONMENT_ID", "OMNISTRATE_INSTANCE_ID"]
        # Credentials: e-mail + password (documented sign-in), or an API key.
        login = bool(setting("OMNISTRATE_USER")) and bool(setting("OMNISTRATE_PASSWORD"))
        credentials = login or bool(setting("OMNISTRATE_API_KEY"))
        half_login = bool(setting("OMNISTRATE_USER")) != bool(setting("OMNISTRATE_PASSWORD"))
        present = [name for name in ids if setting(name)]
        missing = [n for n in ids if n not in present]
        if not credentials:
            missing.append("OMNISTRATE_USER + OMNISTRATE_PASSWORD (or OMNISTRATE_API_KEY)")
        if (present or credentials or half_login) and missing:
            out.append(
                checks.Warning(
                    f"Omnistrate fleet API partly configured: {', '.join(missing)} unset, so "
                    "run_scaler uses the in-instance sidecar API instead.",
                    hint="Set the three ids and the credentials for the fleet API, or none of "
                    "them for the sidecar.",
                    id="experio_platform.W070",
                )
            )
    # The log backend is for development: no broker there is normal, so no warning.
    if backend != "log" and not setting("RABBITMQ_MANAGEMENT_URL") and not amqp_url():
        out.append(
            checks.Warning(
                "No queue metrics source: RABBITMQ_MANAGEMENT_URL and CELERY_BROKER_URL are unset.",
                hint="Workers in auto mode then hold their replica count; set "
                "RABBITMQ_MANAGEMENT_URL (http://user:pass@host:15672).",
                id="experio_platform.W071",
            )
        )
    return out


CHECKS = [check_scaling_settings]
