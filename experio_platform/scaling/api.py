"""The DRF API: list, retrieve and partially update services (staff only).

``PATCH /api/platform/services/{key}/`` accepts ``mode``, ``replicas`` (the keep_alive pinned
count), ``keep_alive_until``, ``min_replicas``, ``max_replicas``, ``dry_run`` and a write-only
``reason``; invariants come back as field errors (HTTP 400).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import mixins, permissions, serializers, viewsets

from experio_platform.scaling import history
from experio_platform.scaling.admin import desired_replicas, is_pending
from experio_platform.scaling.models import Mode, ServiceConfiguration

_FIELD_ALIASES = {"pinned_replicas": "replicas"}
_WRITABLE = frozenset(
    {"mode", "replicas", "keep_alive_until", "min_replicas", "max_replicas", "dry_run", "reason"}
)


class ServiceConfigurationSerializer(serializers.ModelSerializer):
    replicas = serializers.IntegerField(source="pinned_replicas", required=False, min_value=0)
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True)
    desired = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()

    class Meta:
        model = ServiceConfiguration
        fields = (
            "key",
            "display_name",
            "platform_resource",
            "mode",
            "previous_mode",
            "replicas",
            "keep_alive_until",
            "queues",
            "min_replicas",
            "max_replicas",
            "target_messages_per_replica",
            "activation_threshold",
            "idle_seconds_before_zero",
            "min_warm_seconds",
            "scale_down_window_seconds",
            "max_scale_up_step",
            "max_scale_down_step",
            "scale_down_only_when_idle",
            "dry_run",
            "desired",
            "pending",
            "observed_replicas",
            "platform_status",
            "observed_at",
            "last_action",
            "last_action_at",
            "last_error",
            "last_error_at",
            "reason",
        )
        read_only_fields = tuple(
            f for f in fields if f not in _WRITABLE and f not in ("desired", "pending")
        )

    def get_desired(self, obj: ServiceConfiguration) -> str:
        return desired_replicas(obj)

    def get_pending(self, obj: ServiceConfiguration) -> bool:
        return is_pending(obj)

    def update(self, instance: ServiceConfiguration, validated: dict[str, Any]) -> Any:
        reason = validated.pop("reason", "")
        request = self.context.get("request")
        user = getattr(request, "user", None)
        with transaction.atomic():
            obj = ServiceConfiguration.objects.select_for_update().get(pk=instance.pk)
            old_mode = obj.mode
            for name, value in validated.items():
                setattr(obj, name, value)
            new_mode = obj.mode
            if new_mode != old_mode:
                if new_mode == Mode.PAUSED:
                    obj.previous_mode = old_mode
                else:
                    obj.previous_mode = ""
                if new_mode != Mode.KEEP_ALIVE and "keep_alive_until" not in validated:
                    obj.keep_alive_until = None
                if new_mode == Mode.KEEP_ALIVE and "pinned_replicas" not in validated:
                    obj.pinned_replicas = max(1, obj.pinned_replicas)
            try:
                obj.full_clean()
            except DjangoValidationError as exc:
                raise serializers.ValidationError(
                    {_FIELD_ALIASES.get(k, k): v for k, v in exc.message_dict.items()}
                ) from exc
            with history.attributed(history.actor_of(user, "api"), "api", reason, user):
                obj.save()
        return obj


class ServiceConfigurationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Services and their replica state; staff only; PATCH changes mode and replicas."""

    queryset = ServiceConfiguration.objects.all()
    serializer_class = ServiceConfigurationSerializer
    permission_classes = (permissions.IsAdminUser,)
    lookup_field = "key"
    http_method_names = ["get", "patch", "head", "options"]
