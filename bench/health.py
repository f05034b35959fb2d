"""Health endpoint benchmark, side by side with django-health-check 4.x on the same gunicorn.

    . .run/test/env.sh && .venv/bin/python -m bench.health [--storm-seconds 10] [--no-write]

Starts its own gunicorn (sync workers, bench/health_settings.py) and a private Redis (so the
PINGs it counts are only ours), uses the shared PostgreSQL (database experio_health_bench, made
if missing) and RabbitMQ, and puts a counting TCP proxy (tests/support/proxy.py) in front of
each dependency: the proxy also hangs a dependency on demand. Writes the medians and ratios to
the "## Health" section of docs/BENCHMARKS.md (only that section). Takes about 2-3 minutes.

Exit codes: 0 done, 2 the shared services' environment is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_section  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402
from tests.support.proxy import FaultProxy  # noqa: E402
from tests.support.servers import PrivateRedis, stop_process  # noqa: E402

BENCH_DB = "experio_health_bench"
WORKERS = 2
COMMAND = ". .run/test/env.sh && .venv/bin/python -m bench.health"


def log(msg: str) -> None:
    print(f"[bench.health] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# ---- the dependencies ---------------------------------------------------------------------------
class Deps:
    def __init__(self) -> None:
        import psycopg

        self.pg = (os.environ["DB_HOST"], int(os.environ["DB_PORT"]))
        amqp = urlsplit(os.environ["CELERY_BROKER_URL"])
        self.amqp_url = os.environ["CELERY_BROKER_URL"]
        self.redis = PrivateRedis().start()
        self.proxies = {
            "postgres": FaultProxy(self.pg).start(),
            "redis": FaultProxy(("127.0.0.1", self.redis.port)).start(),
            "rabbitmq": FaultProxy((amqp.hostname or "127.0.0.1", amqp.port or 5672)).start(),
        }
        self._admin = psycopg.connect(
            host=self.pg[0],
            port=self.pg[1],
            user=os.environ.get("DB_USER", "postgres"),
            password=os.environ.get("DB_PASSWORD", ""),
            dbname="postgres",
            autocommit=True,
        )
        exists = self._admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
        if not exists:
            self._admin.execute(f'CREATE DATABASE "{BENCH_DB}"')

    def env(self, ttl: float) -> dict[str, str]:
        amqp = urlsplit(self.amqp_url)
        netloc = amqp.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        return {
            "BENCH_DB_NAME": BENCH_DB,
            "BENCH_DB_PORT": str(self.proxies["postgres"].port),
            "BENCH_REDIS_URL": f"redis://127.0.0.1:{self.proxies['redis'].port}/0",
            "BENCH_AMQP_URL": amqp._replace(
                netloc=f"{auth}127.0.0.1:{self.proxies['rabbitmq'].port}"
            ).geturl(),
            "BENCH_CACHE_TTL": str(ttl),
        }

    def counters(self) -> dict[str, int]:
        import redis

        time.sleep(1.0)  # PostgreSQL flushes backend statistics about once a second
        row = self._admin.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (BENCH_DB,),
        ).fetchone()
        xacts = row[0] if row else 0
        stats = redis.Redis(port=self.redis.port).info("commandstats")
        return {
            "postgres_connections": self.proxies["postgres"].accepted,
            "postgres_transactions": int(xacts),
            "redis_connections": self.proxies["redis"].accepted,
            "redis_pings": int(stats.get("cmdstat_ping", {}).get("calls", 0)),
            "rabbitmq_connections": self.proxies["rabbitmq"].accepted,
        }

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
        self.redis.cleanup()
        self._admin.close()


class Gunicorn:
    def __init__(self, deps: Deps, ttl: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **deps.env(ttl),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.health_settings",
        }
        argv = [f"{Path(sys.executable).parent}/gunicorn", "devsite.wsgi:application"]
        argv += ["-k", "sync", "-w", str(WORKERS), "-b", f"127.0.0.1:{self.port}"]
        argv += ["--timeout", "60", "--graceful-timeout", "2", "--log-level", "error"]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        wait_port(self.port, timeout=30)
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for path in ("/health/simple/", "/bare/", "/health/", "/ht/?format=json") * 4:
                client.get(path)

    def close(self) -> None:
        stop_process(self.proc)


def wrk(url: str, *, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)

    def lat(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50_ms": lat("50"),
        "p99_ms": lat("99"),
        "requests": float(total.group(1)) if total else float("nan"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def timed(client: httpx.Client, path: str) -> tuple[float, int, Any]:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    try:
        body = response.json()
    except ValueError:
        body = None
    return elapsed, response.status_code, body


# ---- the phases ---------------------------------------------------------------------------------
def phase_simple(server: Gunicorn, runs: int, seconds: int) -> dict[str, Any]:
    ours, bare = [], []
    for _ in range(runs):  # alternate, so drift on a shared machine hits both alike
        ours.append(wrk(server.url + "/health/simple/", connections=16, seconds=seconds)["rps"])
        bare.append(wrk(server.url + "/bare/", connections=16, seconds=seconds)["rps"])
    o, b = statistics.median(ours), statistics.median(bare)
    return {"simple_rps": o, "bare_rps": b, "ratio": o / b, "runs": runs}


def phase_latency(server: Gunicorn, n: int) -> dict[str, Any]:
    ours, slowest, overhead, peer, bare = [], [], [], [], []
    per_check: dict[str, list[float]] = {}
    load = os.getloadavg()[0]  # the p99 on a shared machine mostly measures its other load
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(n):
            ms, code, body = timed(client, "/health/")
            assert code == 200, body
            for name, check in body["checks"].items():
                per_check.setdefault(name, []).append(check["latency_ms"])
            worst = max(c["latency_ms"] for c in body["checks"].values())
            ours.append(ms)
            slowest.append(worst)
            overhead.append(ms - worst)
            ms, code, _ = timed(client, "/ht/?format=json")
            assert code == 200
            peer.append(ms)
            bare.append(timed(client, "/bare/")[0])
    return {
        "check_p50_ms": {k: round(pct(v, 50), 2) for k, v in per_check.items()},
        "bare_p50_ms": pct(bare, 50),
        "ours_p50_ms": pct(ours, 50),
        "ours_p99_ms": pct(ours, 99),
        "slowest_check_p50_ms": pct(slowest, 50),
        "slowest_check_p99_ms": pct(slowest, 99),
        "overhead_p50_ms": pct(overhead, 50),
        "overhead_p99_ms": pct(overhead, 99),
        "peer_p50_ms": pct(peer, 50),
        "peer_p99_ms": pct(peer, 99),
        "n": n,
        "load_1min": round(load, 2),
    }


def phase_hung(server: Gunicorn, deps: Deps, name: str, ours_n: int, peer_n: int) -> dict:
    proxy = deps.proxies[name]
    proxy.mode = "hang"
    ours, peer = [], []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(ours_n):
                ms, code, _ = timed(client, "/health/")
                ours.append((ms, code))
            for _ in range(peer_n):
                try:
                    ms, code, _ = timed(client, "/ht/?format=json")
                except httpx.TimeoutException:
                    ms, code = 30000.0, 0
                peer.append((ms, code))
    finally:
        proxy.mode = "forward"
    return {
        "dependency": name,
        "ours_median_ms": statistics.median(ms for ms, _ in ours),
        "ours_max_ms": max(ms for ms, _ in ours),
        "ours_codes": sorted({c for _, c in ours}),
        "peer_median_ms": statistics.median(ms for ms, _ in peer),
        "peer_max_ms": max(ms for ms, _ in peer),
        "peer_codes": sorted({c for _, c in peer}),
    }


def phase_storm(server: Gunicorn, deps: Deps, seconds: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for label, path in (("ours", "/health/"), ("peer", "/ht/?format=json")):
        before = deps.counters()
        result: dict[str, Any] = dict(wrk(server.url + path, connections=64, seconds=seconds))
        after = deps.counters()
        result["reached"] = {k: after[k] - before[k] for k in after}
        found[label] = result
    return found


# ---- the report ---------------------------------------------------------------------------------
def render(r: dict[str, Any], storm_seconds: int) -> str:
    s, lat, storm = r["simple"], r["latency"], r["storm"]
    hung = r["hung"]
    deadline = 2500.0
    lines = [
        "## Health",
        "",
        f"Command: `{COMMAND}` (about 2-3 minutes). One run on {r['when']}: gunicorn "
        f"{r['gunicorn']} with {WORKERS} sync workers (bench/health_settings.py) serving both "
        "our endpoints and django-health-check "
        f"{r['peer_version']} (`HealthCheckView` with the equivalent `Database`, `Redis` (1 s "
        "socket timeouts), `RabbitMQ` (1 s) checks, bench/health_urls.py); shared PostgreSQL 15 "
        "and RabbitMQ 3.10, a private Redis; each dependency behind a counting TCP proxy "
        "(tests/support/proxy.py). Defaults: check timeout 1 s, deadline 2.5 s, TTL 2 s. A shared "
        "2-core machine (wrk runs on it too): the figures are indicative, the ratios matter.",
        "",
        "| measure | ours | baseline / peer | ratio or goal |",
        "|---|---:|---:|---|",
        f"| `/health/simple/` req/s vs bare `JsonResponse` view, same middleware (wrk -c16, "
        f"median of {s['runs']}) | {s['simple_rps']:.0f} | {s['bare_rps']:.0f} | "
        f"{s['ratio']:.2f} (goal >= 0.95) |",
        f"| `/health/` p50 / p99 ms, all up, cache off ({lat['n']} sequential) | "
        f"{lat['ours_p50_ms']:.1f} / {lat['ours_p99_ms']:.1f} | "
        f"{lat['peer_p50_ms']:.1f} / {lat['peer_p99_ms']:.1f} | "
        f"slowest single check p50 {lat['slowest_check_p50_ms']:.1f} / p99 "
        f"{lat['slowest_check_p99_ms']:.1f}; ours minus slowest check: p50 "
        f"{lat['overhead_p50_ms']:.1f}, p99 {lat['overhead_p99_ms']:.1f} (goal <= 5 ms; a "
        f"bare view's round trip alone: p50 {lat['bare_p50_ms']:.1f}; 1-min load average "
        f"at the start of this phase: {lat.get('load_1min', float('nan')):.1f} on 2 cores) |",
    ]
    for h in hung:
        lines.append(
            f"| time to answer with {h['dependency']} hung (accepts, never answers), median / "
            f"max ms | {h['ours_median_ms']:.0f} / {h['ours_max_ms']:.0f} (HTTP "
            f"{', '.join(map(str, h['ours_codes']))}) | {h['peer_median_ms']:.0f} / "
            f"{h['peer_max_ms']:.0f} (HTTP {', '.join(map(str, h['peer_codes']))}) | goal <= "
            f"deadline + 100 = {deadline + 100:.0f} ms |"
        )
    o, p = storm["ours"], storm["peer"]
    lines.append(
        f"| polling storm (wrk -c64, {storm_seconds} s): req/s, p50 / p99 ms | {o['rps']:.0f}, "
        f"{o['p50_ms']:.1f} / {o['p99_ms']:.1f} | {p['rps']:.0f}, {p['p50_ms']:.1f} / "
        f"{p['p99_ms']:.1f} | {o['rps'] / p['rps']:.1f}x |"
    )
    for key, label in (
        ("postgres_connections", "PostgreSQL connections"),
        ("postgres_transactions", "PostgreSQL transactions"),
        ("redis_pings", "Redis PINGs"),
        ("redis_connections", "Redis connections"),
        ("rabbitmq_connections", "RabbitMQ connections"),
    ):
        lines.append(
            f"| storm: {label} that reached the dependency | {o['reached'][key]} | "
            f"{p['reached'][key]} | ours over {o['requests']:.0f} polls, peer over "
            f"{p['requests']:.0f} |"
        )
    lines += [
        "",
        "Per-check p50 inside the probe threads, cache off: "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in lat["check_p50_ms"].items())
        + " (through the counting proxy, which adds a hop per round trip). With a dependency "
        "hung, a poll waits at most the check timeout (1 s), never the deadline or the "
        "driver's own timeout; a poll that reaches a worker whose probe of the hung dependency "
        "is still in flight past its cutoff answers at once (single-flight, no second probe). "
        "Which worker a poll reaches is the kernel's choice, so the median is 1 s or a few ms "
        "from run to run (the Redis probe ends at its 1 s socket timeout, so there every poll "
        "starts a fresh probe and waits 1 s).",
        "",
        "Reading it: the storm's probe counts are per dependency for the whole run; ours is at "
        "most one probe per check per TTL per worker process (2 workers x "
        f"{storm_seconds} s / 2 s TTL, plus the first), the peer probes every dependency on "
        "every poll. The peer answers a failure with HTTP 500 (ours: 503). Our probe "
        "opens a fresh connection each time (never reusing a broken one); the peer reuses "
        "Django's. Raw figures: .run/bench/health.json.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storm-seconds", type=int, default=10)
    parser.add_argument("--simple-seconds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per side for /simple/")
    parser.add_argument("--latency-n", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    missing = [n for n in ("DB_HOST", "DB_PORT", "CELERY_BROKER_URL") if not os.environ.get(n)]
    if missing:
        log(f"{', '.join(missing)} not set: run `. .run/test/env.sh` (make services-up) first")
        return 2
    import gunicorn
    import health_check

    started = time.monotonic()
    deps = Deps()
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "gunicorn": gunicorn.__version__,
        "peer_version": getattr(health_check, "__version__", "4.x"),
    }
    try:
        log("phase 1/4: /health/simple/ vs bare view (cache irrelevant)")
        server = Gunicorn(deps, ttl=0)
        try:
            result["simple"] = phase_simple(server, args.runs, args.simple_seconds)
            log(f"  {result['simple']}")
            log("phase 2/4: /health/ latency, cache off")
            result["latency"] = phase_latency(server, args.latency_n)
            log(f"  {result['latency']}")
            log("phase 3/4: one critical dependency hung")
            result["hung"] = [phase_hung(server, deps, "redis", 5, 5)]
            log(f"  {result['hung'][-1]}")
        finally:
            server.close()
        server = Gunicorn(deps, ttl=0)  # fresh workers: the peer's may still hold hung threads
        try:
            result["hung"].append(phase_hung(server, deps, "postgres", 3, 2))
            log(f"  {result['hung'][-1]}")
        finally:
            server.close()
        log("phase 4/4: polling storm, default TTL")
        server = Gunicorn(deps, ttl=2.0)
        try:
            result["storm"] = phase_storm(server, deps, args.storm_seconds)
            log(f"  {result['storm']}")
        finally:
            server.close()
    finally:
        deps.close()
    result["total_seconds"] = round(time.monotonic() - started, 1)
    out = ROOT / ".run" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "health.json").write_text(json.dumps(result, indent=2))
    text = render(result, args.storm_seconds)
    print(text)
    if not args.no_write:
        write_section("Health", text)
        log("wrote the ## Health section of docs/BENCHMARKS.md")
    log(f"done in {result['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
