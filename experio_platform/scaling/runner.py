"""The run_scaler loop: passes every ``interval`` seconds until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

from experio_platform.scaling.reconciler import PassReport, Reconciler

logger = logging.getLogger(__name__)


def default_holder() -> str:
    """Identify this sidecar replica: hostname (the pod name on Kubernetes) and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StopFlag:
    """Set by SIGTERM/SIGINT; the current pass finishes, then the loop returns."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        logger.info("run_scaler: signal %s, finishing the current pass", signum)
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def run_loop(
    reconciler: Reconciler,
    *,
    interval: float,
    stop: StopFlag,
    on_pass: Callable[[PassReport], None] | None = None,
    only: list[str] | None = None,
) -> int:
    """Run passes until ``stop`` is set; return the number of passes. Never raises."""
    passes = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            close_old_connections()  # drop connections a database blip left broken
            report = reconciler.run_pass(only=only)
            if on_pass:
                on_pass(report)
        except Exception:  # a database outage, a bug: log it, the loop goes on
            logger.exception("run_scaler: pass failed; retrying next interval")
        passes += 1
        remaining = interval - (time.monotonic() - started)
        if remaining > 0:
            stop.event.wait(remaining)
    if reconciler.lease is not None:
        try:
            reconciler.lease.release()
        except Exception:
            logger.warning("run_scaler: could not release the lease; it expires by itself")
    return passes
