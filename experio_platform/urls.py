"""Mount with ``path("", include("experio_platform.urls"))`` in the host's root URLconf."""

from django.urls import include, path

urlpatterns = [
    path("health/", include("experio_platform.health.urls")),
    path("api/platform/", include("experio_platform.scaling.urls")),
]
