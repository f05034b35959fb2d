"""The seeded ServiceConfiguration rows and how a host overrides them.

``AUTOSCALING_DEFAULTS`` (one setting) is merged over the built-in rows below:
``{"parser": {"max_replicas": 8}, "jupyterlab": None, "ocr": {"queues": ["ocr"]}}`` changes one
field of ``parser``, drops ``jupyterlab`` from seeding, and adds a new ``ocr`` worker (new keys get
the worker defaults, the platform resource and queue default to the key).
"""

from __future__ import annotations

from typing import Any

from experio_platform.exceptions import ConfigurationError

# Parameters of a queue-driven job worker (issue 5 §2). Documented in docs/scaling.md.
WORKER_DEFAULTS: dict[str, Any] = {
    "mode": "auto",
    "pinned_replicas": 1,  # used when an operator flips the worker to keep_alive
    "min_replicas": 0,
    "max_replicas": 4,
    "target_messages_per_replica": 20,
    "activation_threshold": 0,
    "idle_seconds_before_zero": 600,
    "min_warm_seconds": 300,
    "scale_down_window_seconds": 300,
    "max_scale_up_step": 4,
    "max_scale_down_step": 1,
    "scale_down_only_when_idle": True,
    "dry_run": False,
}

# The "economy" worker profile: fewer replica-minutes and 0<->1 flips than a KEDA+HPA model at
# its documented defaults, paid for in message wait (docs/scaling.md, "Worker profiles";
# figures in docs/BENCHMARKS.md, "Scaling"). Fields over WORKER_DEFAULTS; apply it with
# AUTOSCALING_DEFAULTS = {key: ECONOMY_WORKER_PROFILE for key in WORKERS}.
ECONOMY_WORKER_PROFILE: dict[str, Any] = {
    "target_messages_per_replica": 45,
    "idle_seconds_before_zero": 300,  # KEDA's default cooldownPeriod, counted the same way
}

# Stateful services scaled by hand (0 or 1 replica): Keep alive / Keep down / Wake for N hours.
MANUAL_DEFAULTS: dict[str, Any] = {
    **WORKER_DEFAULTS,
    "queues": [],
    "min_replicas": 0,
    "max_replicas": 1,
    "pinned_replicas": 1,
    "max_scale_up_step": 1,
}

WORKERS: tuple[str, ...] = (
    "reader",
    "structured_data",
    "enrichment",
    "coordinator",
    "downloader",
    "parser",
    "classifier",
    "ingestion_v2",
    "cleanup",
)

_DISPLAY = {
    "neo4j": "Neo4j",
    "falkordb": "FalkorDB",
    "jupyterlab": "JupyterLab",
    "ingestion_v2": "Ingestion v2 worker",
    "structured_data": "Structured data worker",
}

# Every field a default row (or a host override) may set.
SEEDED_FIELDS: tuple[str, ...] = (
    "display_name",
    "platform_resource",
    "mode",
    "pinned_replicas",
    "queues",
    "min_replicas",
    "max_replicas",
    "target_messages_per_replica",
    "activation_threshold",
    "idle_seconds_before_zero",
    "min_warm_seconds",
    "scale_down_window_seconds",
    "max_scale_up_step",
    "max_scale_down_step",
    "scale_down_only_when_idle",
    "dry_run",
)


def builtin_defaults() -> dict[str, dict[str, Any]]:
    """Return the built-in rows, keyed by service key (a fresh dict each call)."""
    rows: dict[str, dict[str, Any]] = {
        "neo4j": {**MANUAL_DEFAULTS, "mode": "keep_alive"},
        "falkordb": {**MANUAL_DEFAULTS, "mode": "keep_down"},
        "jupyterlab": {**MANUAL_DEFAULTS, "mode": "keep_down"},
    }
    for key in WORKERS:
        rows[key] = {**WORKER_DEFAULTS, "queues": [key]}
    rows["coordinator"]["min_replicas"] = 1
    for key, row in rows.items():
        row.setdefault(
            "display_name", _DISPLAY.get(key, f"{key.replace('_', ' ').capitalize()} worker")
        )
        row.setdefault("platform_resource", key)  # the compose service name
    return rows


def effective_defaults() -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Return the rows to seed (built-in merged with ``AUTOSCALING_DEFAULTS``) and the keys the
    host setting touched.

    Raises:
        ConfigurationError: the setting is not a dict of dicts/None, or names unknown fields.
    """
    from experio_platform.conf import platform_settings

    rows = builtin_defaults()
    override = platform_settings.AUTOSCALING_DEFAULTS
    if override is None:
        return rows, set()
    if not isinstance(override, dict):
        raise ConfigurationError(
            f"AUTOSCALING_DEFAULTS must be a dict of service key -> fields, "
            f"not {type(override).__name__}.",
            hint='e.g. {"AUTOSCALING_DEFAULTS": {"parser": {"max_replicas": 8}}}',
        )
    touched: set[str] = set()
    for key, fields in override.items():
        touched.add(key)
        if fields is None:
            rows.pop(key, None)
            continue
        if not isinstance(fields, dict):
            raise ConfigurationError(
                f"AUTOSCALING_DEFAULTS[{key!r}] must be a dict of fields or None.",
                hint="Use None to stop seeding a service, or a dict like {'max_replicas': 8}.",
            )
        unknown = sorted(set(fields) - set(SEEDED_FIELDS))
        if unknown:
            raise ConfigurationError(
                f"AUTOSCALING_DEFAULTS[{key!r}] has unknown field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(SEEDED_FIELDS)}.",
            )
        base = rows.get(key) or {
            **WORKER_DEFAULTS,
            "queues": [key],
            "display_name": f"{key.replace('_', ' ').capitalize()} worker",
            "platform_resource": key,
        }
        rows[key] = {**base, **fields}
    return rows, touched
