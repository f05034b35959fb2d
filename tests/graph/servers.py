"""Test servers of the graph area that the shared ones (tests/support/servers.py) do not cover.

The private FalkorDB the fault tests kill and restart is ``tests.support.servers.PrivateRedis``
(``falkordb=True``/``bolt=True``, ``persist=True`` for a graceful stop that keeps the data).
"""

from __future__ import annotations

import socket
import threading


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
