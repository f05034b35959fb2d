"""The package's exception hierarchy: each message says what is wrong and how to fix it."""

from __future__ import annotations


class ExperioPlatformError(Exception):
    """Base of every exception this package raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)


class ConfigurationError(ExperioPlatformError):
    """The host's settings or environment are wrong (exit code 2 in commands)."""
