"""A TCP fault proxy: forward, hang (accept and never answer), reset, or refuse (closed port).

One thread and a selector serve every connection, so the proxy itself does not add a thread
per connection to the process under test (tests that count threads stay honest).

    with FaultProxy(("127.0.0.1", 6379)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        proxy.mode = "hang"      # new and existing connections stop getting any byte back
        proxy.mode = "forward"   # back to normal (existing hung connections are dropped)
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from typing import Literal

Mode = Literal["forward", "hang", "reset", "closed"]
MODES = ("forward", "hang", "reset", "closed")


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], *, port: int = 0) -> None:
        self.upstream = upstream
        self._requested_port = port
        self.port = 0
        self.accepted = 0  # connections accepted since start (what reached the "dependency")
        self._mode: Mode = "forward"
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._peers: dict[socket.socket, socket.socket | None] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._pending_mode: Mode | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._listen()
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._loop, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop = True
        self._wake()
        if self._thread:
            self._thread.join(5)
        for sock in list(self._peers):
            self._drop(sock)
        if self._listener:
            self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        done = threading.Event()
        with self._lock:
            self._pending_mode = value
            self._mode_done = done
        self._wake()
        if not done.wait(5):
            raise TimeoutError("the fault proxy did not switch modes")

    # ---- internals (loop thread only, except _listen at start) -----------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or self._requested_port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _apply_mode(self, mode: Mode) -> None:
        previous, self._mode = self._mode, mode
        if mode == "closed" and self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
        if mode != "closed" and self._listener is None:
            self._listen()
            assert self._listener is not None  # _listen() just bound it
            self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        if mode in ("reset", "closed") or (previous == "hang" and mode == "forward"):
            for sock in list(self._peers):
                self._drop(sock, reset=True)

    def _drop(self, sock: socket.socket, reset: bool = False) -> None:
        other = self._peers.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self._peers.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(s)
            if reset:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        self.accepted += 1
        if self._mode == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        upstream: socket.socket | None = None
        if self._mode == "forward":
            try:
                upstream = socket.create_connection(self.upstream, timeout=1.0)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                return
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.setblocking(False)
            self._peers[upstream] = client
            self._sel.register(upstream, selectors.EVENT_READ, "peer")
        # Without NODELAY, Nagle plus delayed ACKs add ~40 ms to chatty handshakes (AMQP).
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.setblocking(False)
        self._peers[client] = upstream
        self._sel.register(client, selectors.EVENT_READ, "peer")

    def _pump(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        other = self._peers.get(sock)
        if self._mode == "hang" or other is None:
            return  # swallowed: the peer never hears back
        try:
            other.setblocking(True)
            other.settimeout(2.0)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._drop(sock)

    def _loop(self) -> None:
        if self._listener is not None:
            self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        while not self._stop:
            for key, _ in self._sel.select(timeout=0.5):
                if key.data == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    with self._lock:
                        mode, self._pending_mode = self._pending_mode, None
                        done = getattr(self, "_mode_done", None)
                    if mode is not None:
                        self._apply_mode(mode)
                        if done is not None:
                            done.set()
                elif key.data == "accept":
                    if self._listener is not None:
                        self._accept()
                elif key.fileobj in self._peers:
                    self._pump(key.fileobj)
