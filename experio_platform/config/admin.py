"""Admin of the settings store.

* Secrets are never shown: the list and the form show ``********`` and a keyed fingerprint;
  the secret input is a password field that renders empty, and a blank submission keeps the
  stored value.
* Env-managed keys are read-only, naming the variable(s) that manage them.
* Rows are created by ``seed_config``/``initdb`` (no "add") and removed by
  ``seed_config --prune`` (no "delete"). The change log is read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import router, transaction
from django.http import HttpRequest

from experio_platform.admin_base import ReadOnlyAdmin
from experio_platform.config import crypto, store
from experio_platform.config.models import ConfigChange, ConfigEntry
from experio_platform.config.registry import ConfigKey, ConfigValueError, get_registry

_KEEP = object()


def _key(obj: ConfigEntry | None) -> ConfigKey | None:
    return get_registry().get(obj.key) if obj is not None else None


def _current(obj: ConfigEntry, key: ConfigKey) -> Any:
    return store.decode_row(key, obj.ciphertext, obj.value, obj.is_secret)


class ConfigEntryForm(forms.ModelForm):
    new_value = forms.CharField(label="Value", required=False)

    class Meta:
        model = ConfigEntry
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = _key(self.instance)
        field = self.fields["new_value"]
        if key is None:
            return
        field.help_text = key.help
        if key.secret:
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            field.help_text = f"{key.help} Leave blank to keep the current value."
        elif key.type is bool:
            self.fields["new_value"] = forms.ChoiceField(
                label="Value", choices=[("true", "True"), ("false", "False")], help_text=key.help
            )
            self.initial["new_value"] = "true" if _current(self.instance, key) else "false"
        elif key.choices:
            self.fields["new_value"] = forms.ChoiceField(
                label="Value", choices=[(c, c) for c in key.choices], help_text=key.help
            )
            self.initial["new_value"] = _current(self.instance, key)
        else:
            value = _current(self.instance, key)
            self.initial["new_value"] = "" if value is None else str(value)

    def clean_new_value(self) -> Any:
        key = _key(self.instance)
        raw = self.cleaned_data.get("new_value", "")
        if key is None:
            return _KEEP
        if key.secret and raw == "":
            return _KEEP  # a blank secret field means "keep"
        if (raw == "" and key.type is not str) or (raw == "" and key.default is None):
            raw = None
        try:
            return key.parse(raw, origin="admin")
        except ConfigValueError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(ConfigEntry)
class ConfigEntryAdmin(admin.ModelAdmin):
    form = ConfigEntryForm
    list_display = ("key", "namespace", "shown_value", "source", "policy", "updated_at")
    list_filter = ("source",)
    search_fields = ("key",)
    ordering = ("key",)

    # ---- display helpers (never a secret's value) ---------------------------------------
    @admin.display(description="namespace")
    def namespace(self, obj: ConfigEntry) -> str:
        key = _key(obj)
        return key.namespace if key else "(unknown key)"

    @admin.display(description="value")
    def shown_value(self, obj: ConfigEntry) -> str:
        key = _key(obj)
        if key is None or obj.is_secret:
            return store.MASK if obj.is_secret else str(obj.value)
        return store.display(key, obj.value)

    @admin.display(description="policy")
    def policy(self, obj: ConfigEntry) -> str:
        key = _key(obj)
        if key is None:
            return "-"
        return "env-managed" if key.env_managed else "seed-once (editable)"

    @admin.display(description="managed by")
    def managed_by(self, obj: ConfigEntry) -> str:
        key = _key(obj)
        if key is None:
            return "not in the registry (seed_config --prune deletes it)"
        variables = ", ".join(f"{v} (or {v}_FILE)" for v in key.variables)
        if key.env_managed:
            return f"environment variable {variables}: set it and run seed_config or initdb"
        return f"seeded once from {variables}; editable here"

    @admin.display(description="fingerprint of the current value")
    def current_fingerprint(self, obj: ConfigEntry) -> str:
        key = _key(obj)
        if key is None:
            return "-"
        try:
            return crypto.fingerprint(_current(obj, key))
        except crypto.DecryptionError as exc:
            return exc.message

    def get_fields(self, request: HttpRequest, obj: ConfigEntry | None = None) -> tuple[str, ...]:
        key = _key(obj)
        base = ["key", "namespace", "policy", "managed_by", "shown_value", "source"]
        if key is not None and not key.env_managed:
            base.append("new_value")
        if obj is not None and obj.is_secret:
            base.append("current_fingerprint")
        return (*base, "version", "updated_at", "updated_by")

    def get_readonly_fields(
        self, request: HttpRequest, obj: ConfigEntry | None = None
    ) -> list[str]:
        return [
            "key",
            "namespace",
            "policy",
            "managed_by",
            "shown_value",
            "source",
            "current_fingerprint",
            "version",
            "updated_at",
            "updated_by",
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from seed_config / initdb

    def has_change_permission(self, request: HttpRequest, obj: ConfigEntry | None = None) -> bool:
        key = _key(obj)
        if obj is not None and (key is None or key.env_managed):
            return False  # the environment (or nobody) manages it: a view-only page
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ConfigEntry | None = None) -> bool:
        return False  # seed_config --prune removes unknown keys

    def save_model(self, request: HttpRequest, obj: ConfigEntry, form: Any, change: bool) -> None:
        key = _key(obj)
        value = form.cleaned_data.get("new_value", _KEEP)
        if key is None or key.env_managed or value is _KEEP:
            return
        alias = router.db_for_write(ConfigEntry)
        with transaction.atomic(using=alias):
            row = ConfigEntry.objects.using(alias).select_for_update().get(pk=obj.pk)
            try:
                current = _current(row, key)
            except crypto.DecryptionError:
                current = _KEEP
            if current == value and type(current) is type(value) and row.source == "admin":
                return
            actor = request.user.get_username() if request.user.is_authenticated else "admin"
            store.write(key, value, source="admin", actor=actor, existing=row, using=alias)
            store.bump_stamp(alias)
            transaction.on_commit(store.clear_cache, using=alias)


@admin.register(ConfigChange)
class ConfigChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "key",
        "action",
        "source",
        "old_display",
        "new_display",
        "old_fingerprint",
        "new_fingerprint",
        "actor",
    )
    list_filter = ("action", "source")
    search_fields = ("key", "actor")
    date_hierarchy = "at"
