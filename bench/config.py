"""Benchmark of the settings store: SQL queries and time of a no-op ``seed_config``.

Run (needs the test PostgreSQL: ``. .run/test/env.sh``)::

    .venv/bin/python bench/config.py [--runs 15]

It creates a fresh database ``experio_config_bench`` on the test server, migrates it, and
measures, with the registry at N built-in keys, 2N and 4N (host keys added through
``CONFIG_EXTRA_KEYS``):

* the SQL statements a no-op ``seed_config`` executes (goal: constant in the number of keys);
* its wall time (median of ``--runs`` in-process ``call_command`` runs);
* beside it, ``createsuperuser --noinput`` (in-process, Django's default PBKDF2 hasher, a new
  user each run) and ``initdb`` on an initialised database.

It prints the Markdown table, writes it into the ``## Settings store`` section of
docs/BENCHMARKS.md (the prose around it stays; ``--no-write`` skips that) and drops the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = "experio_config_bench"


def _admin_connection():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=os.environ["DB_HOST"],
        port=os.environ.get("DB_PORT", "5432"),
        user=os.environ.get("DB_USER", "postgres"),
        password=os.environ.get("DB_PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def _median_ms(func, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not os.environ.get("DB_HOST"):
        print("bench/config.py: run `. .run/test/env.sh` first (needs DB_HOST).", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ["DB_NAME"] = DB
    os.environ["DJANGO_SETTINGS_MODULE"] = "devsite.settings"
    os.environ["DJANGO_SUPERUSER_PASSWORD"] = "Bench-pass-4821x"
    if not os.environ.get("EXPERIO_ENCRYPTION_KEYS"):
        # DEBUG is off: without a key seed_config/initdb refuse the SECRET_KEY fallback (E030).
        from cryptography.fernet import Fernet

        os.environ["EXPERIO_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    try:
        return _run(args.runs, write=not args.no_write)
    finally:
        from django.db import connections

        connections.close_all()
        with _admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def _run(runs: int, *, write: bool) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from bench.common import replace_table
    from experio_platform.config import ConfigKey
    from experio_platform.config.registry import BUILTIN_KEYS

    call_command("migrate", verbosity=0)
    n = len(BUILTIN_KEYS)
    rows = []
    base = dict(settings.EXPERIO_PLATFORM)
    for factor in (1, 2, 4):
        extra = [
            ConfigKey(f"BENCH_{factor}_{i:03d}", "bench", default=i)
            for i in range((factor - 1) * n)
        ]
        with override_settings(EXPERIO_PLATFORM={**base, "CONFIG_EXTRA_KEYS": extra}):
            call_command("seed_config", stdout=StringIO())  # create the rows
            with CaptureQueriesContext(connection) as ctx:
                call_command("seed_config", stdout=StringIO())
            ms = _median_ms(lambda: call_command("seed_config", stdout=StringIO()), runs)
            rows.append(
                (
                    f"`seed_config` no-op, {factor}N = {n * factor} keys",
                    len(ctx.captured_queries),
                    ms,
                )
            )
    call_command("initdb", "--skip-migrate", stdout=StringIO())
    with CaptureQueriesContext(connection) as ctx:
        call_command("initdb", "--skip-migrate", stdout=StringIO())
    ms = _median_ms(lambda: call_command("initdb", "--skip-migrate", stdout=StringIO()), runs)
    rows.append(
        (
            f"`initdb --skip-migrate` no-op ({n} keys, admin account, autoscaling rows)",
            len(ctx.captured_queries),
            ms,
        )
    )

    counter = iter(range(10**6))

    def createsuperuser() -> None:
        i = next(counter)
        call_command(
            "createsuperuser",
            "--noinput",
            username=f"bench{i}@example.com",
            email=f"bench{i}@example.com",
            stdout=StringIO(),
        )

    createsuperuser()
    with CaptureQueriesContext(connection) as ctx:
        createsuperuser()
    ms = _median_ms(createsuperuser, runs)
    rows.append(("`createsuperuser --noinput` (new user, PBKDF2)", len(ctx.captured_queries), ms))

    table = "| run | SQL queries | median ms |\n|---|---:|---:|\n" + "".join(
        f"| {name} | {queries} | {ms:.1f} |\n" for name, queries, ms in rows
    )
    print(table, end="")
    if write:
        replace_table("Settings store", table)
        print("wrote the table of ## Settings store in docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
