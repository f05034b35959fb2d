"""The contract every scaling backend follows (one contract test suite runs against each)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from experio_platform.exceptions import ExperioPlatformError


class BackendError(ExperioPlatformError):
    """The platform call failed; the reconciler records it on the row and retries with backoff."""


class BackendBusy(BackendError):
    """The platform refused because another operation is in progress (HTTP 409): retry later."""


class OutcomeUnknown(BackendError):
    """The request was sent but no answer came back: it may or may not have been applied.

    A delta backend must never resend it blindly; the reconciler re-reads the platform first.
    """


@dataclass(frozen=True)
class PlatformState:
    """What the platform reports for one resource."""

    replicas: int
    status: str = ""  # e.g. ACTIVE, STARTING, PAUSED, FAILED, UNKNOWN ("" when not reported)


@dataclass(frozen=True)
class ScaleResult:
    """``applied``: the new count is set (absolute APIs); ``accepted``: an asynchronous operation
    was accepted (HTTP 202) and the platform converges later."""

    outcome: str
    detail: str = ""


class ScalingBackend(ABC):
    """Reads and changes the replica count of a platform resource.

    ``delta`` is True for APIs that take "add N"/"remove N" (Omnistrate): the reconciler then
    records each operation before sending it, keeps one in flight per resource and re-reads
    before issuing another, because a blindly retried delta applies twice.
    """

    name: str = ""
    delta: bool = False

    @abstractmethod
    def read(self, resource: str) -> PlatformState:
        """Return the current state of ``resource``.

        Raises:
            BackendError: unreachable, refused, or unknown resource (message says which).
        """

    @abstractmethod
    def scale(self, resource: str, current: int, desired: int) -> ScaleResult:
        """Move ``resource`` from ``current`` (as just read) to ``desired`` replicas.

        Raises:
            BackendBusy: another operation is in progress (retry next pass).
            OutcomeUnknown: sent, but the answer was lost (delta backends: do not resend).
            BackendError: any other failure.
        """

    def prepare(self) -> None:
        """Load client libraries and configuration (no network), so a standby replica that
        becomes leader acts without delay. Raises ``BackendError`` when misconfigured."""
        return None

    def close(self) -> None:
        """Release connections (the reconciler calls it on shutdown)."""
        return None
