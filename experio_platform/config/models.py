"""The settings store's tables: one row per key, an append-only change log, a version stamp."""

from __future__ import annotations

from typing import Any

from django.db import models

__all__ = ["ConfigChange", "ConfigEntry", "ConfigState"]

SOURCES = [
    ("default", "registry default"),
    ("settings", "host Django setting (CONFIG_OVERRIDES)"),
    ("env", "environment"),
    ("admin", "admin"),
    ("cli", "command line / API"),
]


class ConfigEntry(models.Model):
    """The current value of one settings-store key.

    Non-secret values live typed in ``value`` (JSON); secrets live only in ``ciphertext``
    (MultiFernet) and ``value`` stays null. ``fingerprint`` is the keyed HMAC of the value that
    was last *seeded* (by seed_config/initdb), so drift can be explained without plaintext.
    """

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(null=True, blank=True)
    ciphertext = models.TextField(blank=True, default="")
    is_secret = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=SOURCES, default="default")
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["key"]
        verbose_name = "setting"
        verbose_name_plural = "settings"

    def __str__(self) -> str:
        return self.key


class ConfigChange(models.Model):
    """One write to the store (append-only; holds fingerprints, never a secret's plaintext)."""

    key = models.CharField(max_length=100, db_index=True)
    action = models.CharField(max_length=10)  # created | updated | deleted | rotated
    source = models.CharField(max_length=10, choices=SOURCES)
    old_fingerprint = models.CharField(max_length=64, blank=True, default="")
    new_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # What an operator reads in the admin; "********" for secrets.
    old_display = models.TextField(blank=True, default="")
    new_display = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "setting change"

    def __str__(self) -> str:
        return f"{self.key} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("The settings change log is append-only; rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("The settings change log is append-only; rows are never deleted.")


class ConfigState(models.Model):
    """A single row (pk=1) bumped by every write, so readers notice changes with one query.

    ``epoch`` is random per write: after a rolled-back transaction reused a version number, a
    process whose cache saw the rolled-back write still notices the difference.
    """

    version = models.BigIntegerField(default=0)
    epoch = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name = "settings version"

    def __str__(self) -> str:
        return f"v{self.version}"
