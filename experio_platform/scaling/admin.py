"""Django admin: flip services between modes and watch desired vs observed converge."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from experio_platform.admin_base import ReadOnlyAdmin
from experio_platform.scaling import history
from experio_platform.scaling.models import (
    DESIRED_FIELDS,
    Mode,
    ScalingDecision,
    ServiceConfiguration,
    ServiceConfigurationChange,
)

_MODE_COLOURS: dict[str, str] = {
    Mode.KEEP_ALIVE: "#2e7d32",
    Mode.KEEP_DOWN: "#616161",
    Mode.AUTO: "#1565c0",
    Mode.PAUSED: "#ef6c00",
}


def _badge(text: str, colour: str) -> str:
    return format_html(
        '<span style="background:{};color:#fff;border-radius:3px;padding:1px 6px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        colour,
        text,
    )


def desired_replicas(obj: ServiceConfiguration) -> str:
    """What the operator asked for, as a short text (auto: the bounds)."""
    if obj.mode == Mode.KEEP_ALIVE:
        return str(obj.pinned_replicas)
    if obj.mode == Mode.KEEP_DOWN:
        return "0"
    if obj.mode == Mode.AUTO:
        return f"{obj.min_replicas}..{obj.max_replicas}"
    return "-"


def is_pending(obj: ServiceConfiguration) -> bool:
    """True while the platform has not yet reached a fixed desired count (or an op is open)."""
    if obj.pending_operation:
        return True
    if obj.mode == Mode.KEEP_ALIVE:
        return obj.observed_replicas != obj.pinned_replicas
    if obj.mode == Mode.KEEP_DOWN:
        return obj.observed_replicas != 0
    if obj.mode == Mode.AUTO and obj.observed_replicas is not None:
        return not obj.min_replicas <= obj.observed_replicas <= obj.max_replicas
    return False


class ScalingActionForm(ActionForm):
    hours = forms.FloatField(
        required=False, min_value=0.05, label="Hours", help_text="for Wake for N hours"
    )
    replicas = forms.IntegerField(
        required=False, min_value=1, label="Replicas", help_text="for Keep alive"
    )


class ServiceConfigurationForm(forms.ModelForm):
    change_reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Why (kept in the change history).",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = ServiceConfiguration
        fields = ("key", *(f for f in DESIRED_FIELDS if f != "previous_mode"))


class ChangeInline(admin.TabularInline):
    model = ServiceConfigurationChange
    fk_name = "service"
    extra = 0
    can_delete = False
    fields = ("changed_at", "actor", "source", "reason", "changes")
    readonly_fields = fields
    ordering = ("-changed_at",)
    verbose_name_plural = "change history (append-only)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceConfiguration)
class ServiceConfigurationAdmin(admin.ModelAdmin):
    form = ServiceConfigurationForm
    action_form = ScalingActionForm
    list_display = (
        "key",
        "display_name",
        "mode_badges",
        "desired_vs_observed",
        "platform_status",
        "last_action",
        "short_error",
        "observed_at",
    )
    list_filter = ("mode", "dry_run")
    search_fields = ("key", "display_name", "platform_resource")
    actions = ("keep_alive", "keep_down", "wake_for_hours", "pause", "resume")
    inlines = (ChangeInline,)
    readonly_fields = (
        "previous_mode",
        "observed_replicas",
        "platform_status",
        "observed_at",
        "last_action",
        "last_action_at",
        "last_error",
        "last_error_at",
        "consecutive_errors",
        "next_attempt_at",
        "pending_operation",
        "controller_state",
        "recent_decisions",
    )
    fieldsets = (
        (None, {"fields": ("key", "display_name", "platform_resource", "change_reason")}),
        ("Mode", {"fields": ("mode", "previous_mode", "pinned_replicas", "keep_alive_until")}),
        (
            "Autoscaling (auto mode)",
            {
                "fields": (
                    "queues",
                    ("min_replicas", "max_replicas"),
                    ("target_messages_per_replica", "activation_threshold"),
                    ("idle_seconds_before_zero", "min_warm_seconds"),
                    "scale_down_window_seconds",
                    ("max_scale_up_step", "max_scale_down_step"),
                    "scale_down_only_when_idle",
                    "dry_run",
                )
            },
        ),
        (
            "Observed (written by run_scaler)",
            {
                "fields": (
                    ("observed_replicas", "platform_status", "observed_at"),
                    ("last_action", "last_action_at"),
                    ("last_error", "last_error_at"),
                    ("consecutive_errors", "next_attempt_at"),
                    "pending_operation",
                    "controller_state",
                    "recent_decisions",
                )
            },
        ),
    )

    @admin.display(description="mode", ordering="mode")
    def mode_badges(self, obj: ServiceConfiguration) -> str:
        parts = [_badge(obj.get_mode_display(), _MODE_COLOURS.get(obj.mode, "#000"))]
        if obj.mode == Mode.KEEP_ALIVE and obj.keep_alive_until:
            parts.append(_badge(f"until {obj.keep_alive_until:%Y-%m-%d %H:%M} UTC", "#558b2f"))
        if obj.dry_run:
            parts.append(_badge("dry-run", "#6a1b9a"))
        return format_html(" ".join(["{}"] * len(parts)), *parts)

    @admin.display(description="desired / observed")
    def desired_vs_observed(self, obj: ServiceConfiguration) -> str:
        observed = "?" if obj.observed_replicas is None else str(obj.observed_replicas)
        text = f"{desired_replicas(obj)} / {observed}"
        if is_pending(obj):
            return format_html("{} {}", text, _badge("reconciling", "#f9a825"))
        return text

    @admin.display(description="recent decisions")
    def recent_decisions(self, obj: ServiceConfiguration) -> str:
        """The last 10 decisions (all of them: Scaling decisions in the admin index)."""
        if obj.pk is None:
            return "-"
        rows = [
            format_html(
                "<tr><td>{}</td><td>{} &rarr; {}</td><td>{}</td><td>{}</td></tr>",
                f"{d.decided_at:%Y-%m-%d %H:%M:%S}",
                "?" if d.observed_replicas is None else d.observed_replicas,
                d.desired_replicas,
                d.outcome,
                "; ".join(d.reasons),
            )
            for d in obj.decisions.order_by("-decided_at", "-id")[:10]
        ]
        if not rows:
            return "none yet"
        return format_html("<table>{}</table>", format_html("".join(["{}"] * len(rows)), *rows))

    @admin.display(description="last error")
    def short_error(self, obj: ServiceConfiguration) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        old_mode = ServiceConfiguration.objects.get(pk=obj.pk).mode if change else ""
        if change and old_mode != Mode.PAUSED and obj.mode == Mode.PAUSED:
            obj.previous_mode = old_mode
        reason = form.cleaned_data.get("change_reason", "")
        with history.attributed(request.user.get_username(), "admin", reason, request.user):
            super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A service's decisions go with it (CASCADE; they are pruned by age anyway). Their admin
        # is read-only, which must not stop a user who may delete services: Django would
        # otherwise refuse the delete for lack of "delete scaling decision".
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(ScalingDecision._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    # The model and its queryset record deletions; the admin says who (the page has no reason
    # box, the reason says where it happened). delete_queryset serves the bulk action.
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with history.attributed(
            request.user.get_username(), "admin", "deleted in the admin", request.user
        ):
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with history.attributed(
            request.user.get_username(), "admin", "deleted in the admin", request.user
        ):
            super().delete_queryset(request, queryset)

    # ---- actions -----------------------------------------------------------------------------

    def _apply(
        self, request: HttpRequest, queryset: QuerySet, func: Any, label: str, **kw: Any
    ) -> None:
        done, failed = 0, []
        for obj in queryset:
            try:
                func(obj, user=request.user, source="admin", **kw)
                done += 1
            except ValidationError as exc:
                failed.append(f"{obj.key}: {'; '.join(exc.messages)}")
        if done:
            self.message_user(
                request,
                f"{label}: {done} service(s). The sidecar reconciles on its next pass.",
                messages.SUCCESS,
            )
        for msg in failed:
            self.message_user(request, msg, messages.ERROR)

    @admin.action(description="Keep alive (pinned; Replicas field, default the row's)")
    def keep_alive(self, request: HttpRequest, queryset: QuerySet) -> None:
        replicas = request.POST.get("replicas")
        kw = {"replicas": int(replicas)} if replicas else {}
        self._apply(request, queryset, history.keep_alive, "Keep alive", **kw)

    @admin.action(description="Keep down (0 replicas)")
    def keep_down(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, history.keep_down, "Keep down")

    @admin.action(description="Wake for N hours (Hours field), then keep down")
    def wake_for_hours(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            hours = float(request.POST.get("hours") or 0)
        except ValueError:
            hours = 0
        if hours <= 0:
            self.message_user(
                request, "Enter the number of hours in the Hours field.", messages.ERROR
            )
            return
        self._apply(request, queryset, history.wake_for, f"Wake for {hours:g} h", hours=hours)

    @admin.action(description="Pause (observe and log only)")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, history.pause, "Paused")

    @admin.action(description="Resume (restore the mode before Pause)")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, history.resume, "Resumed")


@admin.register(ScalingDecision)
class ScalingDecisionAdmin(ReadOnlyAdmin):
    list_display = (
        "decided_at",
        "service",
        "mode",
        "observed_replicas",
        "desired_replicas",
        "outcome",
        "backend",
        "holder",
        "epoch",
    )
    list_filter = ("outcome", "backend", "mode")
    search_fields = ("service__key",)
    date_hierarchy = "decided_at"


@admin.register(ServiceConfigurationChange)
class ServiceConfigurationChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "service_key", "actor", "source", "reason")
    list_filter = ("source",)
    search_fields = ("service_key", "actor", "reason")
