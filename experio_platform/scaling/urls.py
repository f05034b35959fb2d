"""Mounted at ``api/platform/`` by ``experio_platform.urls``."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from experio_platform.scaling.api import ServiceConfigurationViewSet

app_name = "scaling"

router = SimpleRouter()
router.register("services", ServiceConfigurationViewSet, basename="service")

urlpatterns = router.urls
