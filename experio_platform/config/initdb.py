"""``initdb``: the deploy job that prepares the database (issue 3, §3).

In order:

1. validate everything (settings-store values from the environment, the admin password against
   ``AUTH_PASSWORD_VALIDATORS``, the account emails) without touching the database;
2. wait for the database, retrying with a bounded back-off (``wait`` seconds in total);
3. run ``migrate`` under a session-level Postgres advisory lock (``skip_migrate`` for hosts that
   migrate elsewhere), so concurrent runners migrate one after the other;
4. in one transaction under a transaction-level advisory lock: the default accounts,
   ``seed_config`` (without ``--force``) and the autoscaling seed when it is installed.

It needs PostgreSQL only: it never connects to a graph database and never imports a graph
driver. On SQLite the locks are no-ops: run one initdb at a time there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    OperationalError,
    connections,
    transaction,
)

from experio_platform.config import seed
from experio_platform.config.accounts import (
    AccountPlan,
    ensure_default_accounts,
    plan_accounts,
    plan_fresh_accounts,
)
from experio_platform.exceptions import ExperioPlatformError
from experio_platform.reporting import SeedReport

COMMAND = "initdb"
MIGRATE_LOCK_ID = 0x45585043_0002  # session lock around migrate
INITDB_LOCK_ID = 0x45585043_0003  # transaction lock around accounts + seeds


class DatabaseUnavailable(ExperioPlatformError):
    """The database did not answer within the wait budget (exit code 1)."""


def wait_for_database(
    alias: str = DEFAULT_DB_ALIAS,
    *,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> int:
    """Connect to ``alias``, retrying with back-off (0.25 s doubling to 2 s) for up to
    ``timeout`` seconds; return the number of attempts. Raise DatabaseUnavailable after that.
    """
    deadline = time.monotonic() + timeout
    delay, attempts = 0.25, 0
    conn = connections[alias]
    while True:
        attempts += 1
        try:
            conn.ensure_connection()
            return attempts
        except OperationalError as exc:
            conn.close()
            left = deadline - time.monotonic()
            if left <= 0:
                settings = conn.settings_dict
                where = f"{settings.get('HOST') or 'local socket'}:{settings.get('PORT') or '-'}"
                raise DatabaseUnavailable(
                    f"Database {alias!r} ({where}) did not accept a connection within "
                    f"{timeout:g} s ({attempts} attempts): {str(exc).strip().splitlines()[0]}",
                    hint="Check DB_HOST/DB_PORT/DB_USER/DB_PASSWORD and that PostgreSQL is "
                    "healthy, or raise --wait.",
                ) from None
            if log:
                log(f"initdb: waiting for database {alias!r} (attempt {attempts})")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


@contextmanager
def session_lock(alias: str, lock_id: int) -> Iterator[None]:
    """Hold a session-level Postgres advisory lock (a no-op on other databases)."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        yield
        return
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [lock_id])
    try:
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def _xact_lock(alias: str, lock_id: int) -> None:
    conn = connections[alias]
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def _pending_migrations(alias: str) -> list[str]:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    targets = executor.loader.graph.leaf_nodes()
    return [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(targets)]


def _migrate(report: SeedReport, alias: str, dry_run: bool) -> bool:
    """Apply pending migrations under the advisory lock; return True when the schema is
    complete (always after a real run; in a dry run only when nothing was pending)."""
    from django.core.management import call_command

    if dry_run:
        pending = _pending_migrations(alias)
        _migration_line(report, pending)
        return not pending
    with session_lock(alias, MIGRATE_LOCK_ID):
        # Computed under the lock: a runner that waited sees what the first one applied.
        pending = _pending_migrations(alias)
        if pending:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
    _migration_line(report, pending)
    return True


def _migration_line(report: SeedReport, pending: list[str]) -> None:
    if pending:
        shown = ", ".join(pending[:3]) + (f", ... ({len(pending)})" if len(pending) > 3 else "")
        report.add("migrations", "updated", "code", detail=shown, section="migrate")
    else:
        report.add("migrations", "unchanged", "code", detail="none pending", section="migrate")


def _autoscaling_seed() -> Callable[..., SeedReport] | None:
    try:
        from experio_platform.scaling.seed import seed_autoscaling_config
    except ModuleNotFoundError as exc:
        # Only a missing scaling package is tolerated; a broken import inside it must surface.
        if exc.name not in ("experio_platform.scaling", "experio_platform.scaling.seed"):
            raise
        return None
    return seed_autoscaling_config


def _tables_exist(alias: str) -> bool:
    from django.contrib.auth import get_user_model

    from experio_platform.config.models import ConfigEntry

    names = set(connections[alias].introspection.table_names())
    return {ConfigEntry._meta.db_table, get_user_model()._meta.db_table} <= names


def _plan_fresh_database(
    report: SeedReport, plan: AccountPlan, environ: Mapping[str, str] | None
) -> None:
    """Dry run on an unmigrated database: every account, key and service would be created."""
    from experio_platform.config.registry import get_registry
    from experio_platform.config.store import display

    report.extend(plan_fresh_accounts(plan))
    registry = get_registry()
    desired, _errors = seed.desired_values(registry.values(), environ=environ)
    for name, want in desired.items():
        shown = display(registry[name], want.value)
        report.add(name, "created", want.source, None, shown, section="config")
    try:
        from experio_platform.scaling.defaults import effective_defaults
    except ModuleNotFoundError:
        return
    for service in effective_defaults()[0]:
        report.add(service, "created", "default", section="autoscaling")


def _validate_autoscaling_defaults() -> None:
    """Raise ConfigurationError for a malformed AUTOSCALING_DEFAULTS before any DB access."""
    try:
        from experio_platform.scaling.defaults import effective_defaults
    except ModuleNotFoundError as exc:
        if exc.name not in ("experio_platform.scaling", "experio_platform.scaling.defaults"):
            raise
        return
    effective_defaults()


def run_initdb(
    *,
    skip_migrate: bool = False,
    dry_run: bool = False,
    sync_passwords: bool = False,
    wait: float = 60.0,
    environ: Mapping[str, str] | None = None,
    alias: str = DEFAULT_DB_ALIAS,
    log: Callable[[str], None] | None = None,
) -> SeedReport:
    """Prepare the database: validate, wait, migrate, then accounts + seeds in one transaction.

    Returns:
        The combined SeedReport (sections ``migrate``, ``accounts``, ``config``,
        ``autoscaling``). Validation errors come back as ``error`` lines before any database
        access; with any error line nothing of step 4 was written.

    Raises:
        DatabaseUnavailable: the database did not answer within ``wait`` seconds.
        ConfigurationError: the host's settings are wrong (e.g. CONFIG_EXTRA_KEYS,
            AUTOSCALING_DEFAULTS); raised before any database access.
    """
    report = SeedReport(COMMAND, dry_run=dry_run)

    # 1. validate everything first, touching nothing
    plan, account_errors = plan_accounts(environ)
    for message in account_errors:
        report.add("accounts", "error", "env", detail=message, section="accounts")
    for name, origin, message in seed.validate(environ=environ):
        report.add(name, "error", origin, detail=message, section="config")
    if report.has_errors or plan is None:
        return report
    _validate_autoscaling_defaults()

    # 2. the database, bounded
    wait_for_database(alias, timeout=wait, log=log)

    # 3. migrate under a session advisory lock
    schema_ready = True
    if not skip_migrate:
        schema_ready = _migrate(report, alias, dry_run)
    if not schema_ready and not _tables_exist(alias):
        # A fresh database: nothing to read, so the plan is "create everything".
        _plan_fresh_database(report, plan, environ)
        return report

    # 4. one transaction, one transaction-level lock: accounts, settings store, autoscaling
    if not schema_ready:  # dry run with pending migrations on existing tables
        try:
            _seed_step(report, plan, alias, dry_run, sync_passwords, environ)
        except DatabaseError:
            report.add("data", "skipped", detail="dry run: pending migrations change the tables")
        return report
    _seed_step(report, plan, alias, dry_run, sync_passwords, environ)
    return report


def _seed_step(
    report: SeedReport,
    plan: AccountPlan,
    alias: str,
    dry_run: bool,
    sync_passwords: bool,
    environ: Mapping[str, str] | None,
) -> None:
    seed_autoscaling = _autoscaling_seed()
    with transaction.atomic(using=alias):
        if not dry_run:
            _xact_lock(alias, INITDB_LOCK_ID)
        report.extend(ensure_default_accounts(plan, sync_passwords=sync_passwords, dry_run=dry_run))
        config_report = seed.seed_config(dry_run=dry_run, environ=environ, actor=COMMAND)
        _extend(report, config_report, "config")
        if seed_autoscaling is None:
            report.add("autoscaling", "skipped", detail="experio_platform.scaling not installed")
        elif not config_report.has_errors:
            _extend(report, seed_autoscaling(dry_run=dry_run), "autoscaling")
        if report.has_errors and not dry_run:
            transaction.set_rollback(True, using=alias)


def _extend(report: SeedReport, other: SeedReport, section: str) -> None:
    for line in other.lines:
        report.add(
            line.name,
            line.action,
            line.source,
            line.old,
            line.new,
            line.detail,
            line.section or section,
        )
