"""Circuit breaker and bounded jittered retries shared by the providers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from experio_platform.graph.exceptions import GraphError, GraphUnavailable

T = TypeVar("T")

__all__ = ["CircuitBreaker", "retry_call"]


class CircuitBreaker:
    """Fail fast for ``cooldown`` seconds after the graph was found unavailable.

    States: closed (calls pass), open (calls raise at once), half-open (after the cooldown one
    probe call passes; its success closes the breaker, its failure reopens it). Why: a cold or
    scaled-to-zero graph would otherwise make every request wait for the connect timeout.
    """

    def __init__(self, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._probing = False
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._clock() - self._opened_at >= self.cooldown:
                return "half-open"
            return "open"

    def before_call(self, what: str) -> bool:
        """Raise GraphUnavailable when open; return True when this call is the probe."""
        if self.cooldown <= 0:
            return False
        with self._lock:
            if self._opened_at is None:
                return False
            remaining = self.cooldown - (self._clock() - self._opened_at)
            if remaining <= 0 and not self._probing:
                self._probing = True
                return True
        raise GraphUnavailable(
            f"The graph ({what}) was unavailable moments ago; failing fast "
            f"(circuit open, retry in {max(remaining, 0):.1f} s). Last error: {self.last_error}",
            hint="Check that the graph server is running; writes can be deferred to the outbox.",
        )

    def record_success(self, probe: bool = False) -> None:
        with self._lock:
            self._opened_at = None
            self._probing = False
            self.last_error = None

    def record_failure(self, error: GraphError, probe: bool = False) -> None:
        with self._lock:
            if isinstance(error, GraphUnavailable):
                self._opened_at = self._clock()
                self.last_error = error.message
            if probe:
                self._probing = False

    def release_probe(self) -> None:
        """Let another call be the probe (this one ended without a verdict on the server)."""
        with self._lock:
            self._probing = False

    def reset(self) -> None:
        self.record_success()


def retry_call(
    func: Callable[[], T],
    *,
    attempts: int,
    base_delay: float,
    max_delay: float,
    deadline: float | None = None,
) -> T:
    """Call ``func`` up to ``attempts`` times while it raises a retryable GraphError.

    Full jitter (a uniform delay in [0, base * 2**n], capped), and never past ``deadline``
    (a ``time.monotonic()`` value), so a request path stays bounded.
    """
    attempt = 0
    while True:
        try:
            return func()
        except GraphError as exc:
            attempt += 1
            if not exc.retryable or attempt >= attempts:
                raise
            delay = random.uniform(0, min(max_delay, base_delay * (2 ** (attempt - 1))))
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise
            time.sleep(delay)
