"""Record who changed a service, when and why; the operator actions shared by admin and API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from experio_platform.scaling.models import Mode, ServiceConfiguration, attributed

# The history itself is written by ServiceConfiguration.save() and its querysets (every path,
# the ORM included); callers only say who and why with ``attributed()``.
__all__ = ["attributed", "keep_alive", "keep_down", "pause", "resume", "set_mode", "wake_for"]


def actor_of(user: Any, default: str = "unknown") -> str:
    """Return the username of ``user`` for the history (``default`` when anonymous/None)."""
    return getattr(user, "get_username", lambda: "")() or default


@transaction.atomic
def set_mode(
    service: ServiceConfiguration,
    mode: str,
    *,
    replicas: int | None = None,
    until: datetime | None = None,
    user: Any = None,
    source: str = "admin",
    reason: str = "",
) -> ServiceConfiguration:
    """Change a service's mode (validated, saved and recorded in the history).

    Args:
        mode: one of ``Mode``; ``paused`` remembers the current mode for Resume.
        replicas: pinned replicas for keep_alive (default: the row's, at least 1).
        until: keep_alive expiry (keep_alive only; None clears it).

    Raises:
        django.core.exceptions.ValidationError: the result breaks an invariant.
    """
    service = ServiceConfiguration.objects.select_for_update().get(pk=service.pk)
    if mode == Mode.PAUSED:
        if service.mode != Mode.PAUSED:
            service.previous_mode = service.mode
    elif mode == Mode.KEEP_ALIVE:
        service.pinned_replicas = max(
            1, replicas if replicas is not None else service.pinned_replicas
        )
        service.keep_alive_until = until
        service.previous_mode = ""
    else:
        service.keep_alive_until = None
        service.previous_mode = ""
    service.mode = mode
    service.full_clean()
    with attributed(actor_of(user), source, reason, user):
        service.save()
    return service


def keep_alive(service: ServiceConfiguration, **kw: Any) -> ServiceConfiguration:
    return set_mode(service, Mode.KEEP_ALIVE, **kw)


def keep_down(service: ServiceConfiguration, **kw: Any) -> ServiceConfiguration:
    return set_mode(service, Mode.KEEP_DOWN, **kw)


def wake_for(service: ServiceConfiguration, hours: float, **kw: Any) -> ServiceConfiguration:
    """keep_alive until now + ``hours``; the reconciler reverts it to keep_down afterwards."""
    until = timezone.now() + timedelta(hours=hours)
    kw.setdefault("reason", f"wake for {hours:g} h")
    return set_mode(service, Mode.KEEP_ALIVE, until=until, **kw)


def pause(service: ServiceConfiguration, **kw: Any) -> ServiceConfiguration:
    return set_mode(service, Mode.PAUSED, **kw)


def resume(service: ServiceConfiguration, **kw: Any) -> ServiceConfiguration:
    """Restore the mode that was active before Pause (auto when unknown)."""
    if service.mode != Mode.PAUSED:
        return service
    target = service.previous_mode or Mode.AUTO
    if target == Mode.KEEP_ALIVE:
        return set_mode(service, target, until=service.keep_alive_until, **kw)
    return set_mode(service, target, **kw)
